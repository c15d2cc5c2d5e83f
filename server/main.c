/*
 * server/main.c -- tallowd, tallow's authoritative DNS server.  See
 * server/server.h for the process model and tallowd(8) for its use.
 */
#include "server/server.h"

int main(int argc, char **argv)
{
	return tal_server_main(argc, argv);
}
