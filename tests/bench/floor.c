/*
 * tests/bench/floor.c -- the floor of the server benchmark: the cheapest
 * UDP responder that still answers every query.
 *
 * Model: one thread, one socket, blocking recvmmsg of up to FLOOR_BATCH
 * datagrams (MSG_WAITFORONE), each answered from a fixed buffer (a header
 * with QR and AA set, rcode NOERROR, no records) with the query's ID and
 * question copied in, and all answers sent with one sendmmsg.  No parsing,
 * no lookup, no event loop: what is left is the kernel's cost of moving
 * the datagrams, the cost every server pays.  bench_suite.py builds it
 * with cc and runs it under the same load as the real servers.
 *
 * Usage: floor ADDRESS PORT   (IPv4; runs until SIGTERM or SIGINT)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOR_BATCH 64 /* as tallowd's TAL_UDP_BATCH */
#define FLOOR_SLOT  4096

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static uint8_t rx[FLOOR_BATCH][FLOOR_SLOT];
	static uint8_t tx[FLOOR_BATCH][FLOOR_SLOT];
	static struct mmsghdr rx_msgs[FLOOR_BATCH], tx_msgs[FLOOR_BATCH];
	static struct iovec rx_iov[FLOOR_BATCH], tx_iov[FLOOR_BATCH];
	static struct sockaddr_in addr[FLOOR_BATCH];
	/* ID, flags QR|AA, QDCOUNT 1, no other records. */
	static const uint8_t header[12] = { 0, 0, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct sockaddr_in sa;
	struct sigaction act;

	if (argc != 3) {
		fprintf(stderr, "usage: floor ADDRESS PORT\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "floor: bad address %s\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("floor: socket");
		return 1;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns EINTR */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);

	for (int i = 0; i < FLOOR_BATCH; i++) {
		rx_iov[i].iov_base = rx[i];
		rx_iov[i].iov_len = FLOOR_SLOT;
		memcpy(tx[i], header, sizeof(header));
	}
	while (!stop) {
		for (int i = 0; i < FLOOR_BATCH; i++) {
			rx_msgs[i].msg_hdr.msg_name = &addr[i];
			rx_msgs[i].msg_hdr.msg_namelen = sizeof(addr[i]);
			rx_msgs[i].msg_hdr.msg_iov = &rx_iov[i];
			rx_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, rx_msgs, FLOOR_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("floor: recvmmsg");
			return 1;
		}
		int nout = 0;
		for (int i = 0; i < n; i++) {
			size_t len = rx_msgs[i].msg_len;
			if (len < sizeof(header) || len > FLOOR_SLOT) {
				continue;
			}
			/* The question is everything after the header in a plain query. */
			memcpy(tx[nout], rx[i], 2);
			memcpy(tx[nout] + sizeof(header), rx[i] + sizeof(header),
			       len - sizeof(header));
			tx_iov[nout].iov_base = tx[nout];
			tx_iov[nout].iov_len = len;
			memset(&tx_msgs[nout].msg_hdr, 0, sizeof(tx_msgs[nout].msg_hdr));
			tx_msgs[nout].msg_hdr.msg_name = &addr[i];
			tx_msgs[nout].msg_hdr.msg_namelen = rx_msgs[i].msg_hdr.msg_namelen;
			tx_msgs[nout].msg_hdr.msg_iov = &tx_iov[nout];
			tx_msgs[nout].msg_hdr.msg_iovlen = 1;
			nout++;
		}
		for (int sent = 0; sent < nout;) {
			int r = sendmmsg(fd, tx_msgs + sent, (unsigned)(nout - sent), 0);
			if (r < 0) {
				if (errno == EINTR) {
					continue;
				}
				break;
			}
			sent += r;
		}
	}
	close(fd);
	return 0;
}
