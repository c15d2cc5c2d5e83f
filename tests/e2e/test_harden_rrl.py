#!/usr/bin/env python3
"""Response rate limiting against a real tallowd.

A UDP flood from one loopback source (127.0.0.2) is limited to the
configured rate, with every second limited answer slipping out truncated
(TC=1, question only) so a real client can retry over TCP, where it gets the
whole answer; a second source (127.0.0.3) querying at the same time is
answered normally when the prefix is /32, and shares the limit under the
default /24.  The limit refills after a quiet second, --rrl-rate 0 turns it
off, and the counters logged at shutdown match what the clients saw.
Loopback clients are exempt unless --rrl-loopback is given (no other host
can send from 127.0.0.0/8), so every limited run here passes it, and one
run without it checks the exemption.
"""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags
import dns.message
import dns.rcode

import harness
import server_harness
from server_harness import Tallowd, make_db, ZONE

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
QNAME = "example.com." + ZONE
RATE = 20


def udp_socket(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setblocking(False)
    return s


def query_wire(qid):
    q = dns.message.make_query(QNAME, "TXT", id=qid)
    q.flags &= ~dns.flags.RD
    return q.to_wire()


def collect(socks, quiet=0.7, limit=10.0):
    """Replies per socket until nothing arrives for `quiet` seconds."""
    got = {s: [] for s in socks}
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r, _, _ = select.select(socks, [], [], quiet)
        if not r:
            break
        for s in r:
            try:
                while True:
                    got[s].append(dns.message.from_wire(s.recv(65535)))
            except BlockingIOError:
                pass
    return got


def flood(srv, n_flood, n_calm, src_flood="127.0.0.2", src_calm="127.0.0.3"):
    """n_flood queries from one source at full speed, n_calm spread among
    them from another.  Returns (flood replies, calm replies, seconds)."""
    fs, cs = udp_socket(src_flood), udp_socket(src_calm)
    every = max(1, n_flood // max(1, n_calm))
    t0 = time.monotonic()
    sent_calm = 0
    for i in range(n_flood):
        fs.sendto(query_wire(i), ("127.0.0.1", srv.port))
        if i % every == 0 and sent_calm < n_calm:
            cs.sendto(query_wire(50000 + sent_calm), ("127.0.0.1", srv.port))
            sent_calm += 1
    elapsed = time.monotonic() - t0
    got = collect([fs, cs])
    fs.close()
    cs.close()
    return got[fs], got[cs], elapsed


def split(replies):
    full = [r for r in replies if not r.flags & dns.flags.TC]
    tc = [r for r in replies if r.flags & dns.flags.TC]
    return full, tc


def main():
    db = make_db(csv="example.com,%s\n" % TENANT)

    # /32: the flooder is limited, its neighbour is not.
    with Tallowd(db, args=["-v", "--rrl-rate", str(RATE), "--rrl-slip", "2",
                           "--rrl-ipv4-prefix", "32", "--rrl-loopback"]) as srv:
        time.sleep(1.1)  # the readiness probes' tokens are back
        n = 400
        fl, calm, elapsed = flood(srv, n, 10)
        full, tc = split(fl)
        allowed = RATE + int(RATE * elapsed) + 2
        harness.check(RATE - 2 <= len(full) <= allowed,
                      "a flood of %d answers gets about the rate: %d full answers "
                      "(at most %d in %.2f s)" % (n, len(full), allowed, elapsed))
        limited = n - len(full)
        harness.check(abs(len(tc) - limited // 2) <= 2,
                      "every second limited answer slips out truncated: %d of %d"
                      % (len(tc), limited))
        harness.check(all(r.rcode() == dns.rcode.NOERROR and r.answer for r in full),
                      "the full answers carry the TXT records")
        harness.check(all(len(r.question) == 1 and not r.answer and not r.authority
                          and not r.additional for r in tc),
                      "a truncated answer holds the question only")
        calm_full, calm_tc = split(calm)
        harness.check(len(calm_full) == 10 and not calm_tc,
                      "a second source querying meanwhile is answered normally (%d/10)"
                      % len(calm_full))

        # The truncated client retries over TCP, which is not rate limited.
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.settimeout(5)
        t.bind(("127.0.0.2", 0))
        t.connect(("127.0.0.1", srv.port))
        wire = query_wire(7)
        answers = 0
        for _ in range(5):
            t.sendall(server_harness.frame(wire))
            r = dns.message.from_wire(server_harness.read_frame(t))
            answers += bool(r.answer) and not r.flags & dns.flags.TC
        t.close()
        harness.check(answers == 5, "the limited source gets whole answers over TCP")

        time.sleep(1.1)
        fl2, _, _ = flood(srv, 5, 0)
        harness.check(len(split(fl2)[0]) == 5,
                      "after a quiet second the limit has refilled")
        slipped_seen = len(tc)
        srv.stop()
        log = srv.log()
        harness.check(srv.returncode == 0, "tallowd stops cleanly", log)
        line = [l for l in log.splitlines() if "stats, rrl, worker 0:" in l]
        harness.check(bool(line), "the rate limiter's counters are logged at shutdown", log)
        if line:
            words = line[0].replace(",", "").split()
            truncated = int(words[words.index("truncated") + 1])
            dropped = int(words[words.index("dropped") + 1])
            harness.check(truncated == slipped_seen and dropped >= limited - truncated - 2,
                          "the counters match what the clients saw: %s" % line[0])

    # Default /24: 127.0.0.2 and 127.0.0.3 share one limit.
    with Tallowd(db, args=["--rrl-rate", str(RATE), "--rrl-loopback"]) as srv:
        time.sleep(1.1)
        fl, calm, _ = flood(srv, 400, 10)
        calm_full, _ = split(calm)
        harness.check(len(calm_full) < 10,
                      "under the default /24 a neighbour of the flooder shares its "
                      "limit (%d/10 answered)" % len(calm_full))

    # --rrl-rate 0: no limit.
    with Tallowd(db, args=["--rrl-rate", "0", "--rrl-loopback"]) as srv:
        n = 300
        fl, _, _ = flood(srv, n, 0)
        full, tc = split(fl)
        harness.check(len(full) == n and not tc,
                      "with --rrl-rate 0 every answer goes out (%d/%d)" % (len(full), n))

    # Without --rrl-loopback, loopback clients are exempt.
    with Tallowd(db, args=["--rrl-rate", str(RATE)]) as srv:
        n = 300
        fl, _, _ = flood(srv, n, 0)
        full, tc = split(fl)
        harness.check(len(full) == n and not tc,
                      "by default a loopback client is not limited (%d/%d)" % (len(full), n))

    harness.done()


if __name__ == "__main__":
    main()
