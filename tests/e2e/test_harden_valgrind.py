#!/usr/bin/env python3
"""tallowd under valgrind for a short run: UDP and TCP answers, malformed
input, a rate-limited flood, pipelining, a slow TCP client closed by the
read timeout, a commit served at once, then a clean SIGTERM shutdown.
valgrind must report no memory error and no definite or indirect leak.

Skipped (with a message) when valgrind is not installed.
"""

import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags
import dns.message
import dns.rcode

import harness
from server_harness import Tallowd, make_db, frame, read_frame, ZONE

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class ValgrindTallowd(Tallowd):
    def __init__(self, db, vgout, **kw):
        super().__init__(db, **kw)
        self.vgout = vgout

    def argv(self):
        return ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect", "--track-origins=yes",
                "--log-file=" + self.vgout] + super().argv()


def main():
    if shutil.which("valgrind") is None:
        print("# SKIP valgrind is not installed")
        print("skipped: 0 passed, 0 failed")
        return
    with open(harness.binary("tallowd"), "rb") as f:
        if b"__asan_init" in f.read():
            print("# SKIP tallowd is built with AddressSanitizer, which valgrind cannot run")
            print("skipped: 0 passed, 0 failed")
            return
    db = make_db(csv="example.com,%s\nexample.org,none\n" % TENANT)
    # valgrind cannot map tallowd's default 64 GiB of address space (mmap
    # fails with EINVAL under it); the data needs a few pages.
    os.environ["TALLOW_MAP_SIZE"] = "256M"
    vgout = os.path.join(harness.tmpdir(), "valgrind.log")
    args = ["--rrl-rate", "50", "--rrl-loopback", "--tcp-read-timeout", "1", "-v"]
    with ValgrindTallowd(db, vgout, threads=2, args=args, ready_timeout=60) as srv:
        r = srv.query("example.com." + ZONE, "TXT")
        harness.check(r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1,
                      "a TXT policy is answered under valgrind")
        r = srv.query("nothing.example." + ZONE, "TXT", tcp=True)
        harness.check(r.rcode() == dns.rcode.NXDOMAIN, "NXDOMAIN over TCP")
        harness.check(srv.raw_udp(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07exa")
                      is not None, "a truncated question gets an answer (FORMERR)")
        srv.raw_udp(b"\x00")

        # A flood past the rate limit: drops and truncated answers.
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(0.5)
        q = dns.message.make_query("example.com." + ZONE, "TXT").to_wire()
        for _ in range(300):
            u.sendto(q, ("127.0.0.1", srv.port))
        got, tc = 0, 0
        try:
            while True:
                m = dns.message.from_wire(u.recv(4096))
                got += 1
                tc += bool(m.flags & dns.flags.TC)
        except socket.timeout:
            pass
        u.close()
        harness.check(0 < got < 300 and tc > 0,
                      "a flood is rate limited (%d replies, %d truncated)" % (got, tc))

        t = srv.tcp_connect(timeout=20)
        t.sendall(b"".join(frame(dns.message.make_query("example.org." + ZONE, "TXT",
                                                        id=i).to_wire())
                           for i in range(20)))
        ids = [dns.message.from_wire(read_frame(t)).id for _ in range(20)]
        t.close()
        harness.check(ids == list(range(20)), "pipelined TCP queries are answered in order")

        slow = srv.tcp_connect(timeout=10)
        slow.sendall(b"\x00")
        try:
            closed = slow.recv(1) == b""
        except ConnectionResetError:
            closed = True
        slow.close()
        harness.check(closed, "a slow TCP client is closed by the read timeout")

        harness.tallowctl(db, "add", "new.example", TENANT, check_rc=0)
        r = srv.query("new.example." + ZONE, "TXT")
        harness.check(r.rcode() == dns.rcode.NOERROR and r.answer, "a commit is served at once")
        rc = srv.stop(timeout=60)
    with open(vgout, encoding="utf-8", errors="replace") as f:
        report = f.read()
    harness.check(rc == 0, "tallowd exits 0 under valgrind, with no error reported (%s)" % rc,
                  report + srv.log())
    harness.check(report.strip() == "", "valgrind's report is empty", report)
    harness.done()


if __name__ == "__main__":
    main()
