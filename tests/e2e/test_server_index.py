"""tallowd answers the same with its in-memory index as from the B-tree alone.

Two tallowd processes serve one database: one with the nodes index (the
default), one with --no-index.  Once the first logs that its index is
built, bursts of UDP queries (so the workers get receive batches of many
queries and take the prefetching path) go to both, and every answer must be
identical, octet for octet: policies, the A view (listed and unlisted
tenants), empty non-terminals, unknown names, a policy too big for one LMDB
page, mixed case.  After `tallowctl add` and `remove` the change is served
at once by both, and again identically once the index is rebuilt.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.message  # noqa: E402

import harness  # noqa: E402
import server_harness as sh  # noqa: E402
from harness import check  # noqa: E402

Z = sh.ZONE
N = 1500


def tid(i):
    return "%08x-0000-4000-8000-%012x" % (0x50000000 + i, i)


lines = []
for i in range(N):
    for t in range(1 + i % 3):
        lines.append("d%d.group%d.example,%s" % (i, i % 7, tid(i * 3 + t)))
for t in range(150):  # about 9 KB of TXT: LMDB keeps it on overflow pages
    lines.append("big.example,%s" % tid(100000 + t))
db = sh.make_db(csv="\n".join(lines) + "\n")


def names():
    out = []
    for i in range(0, N, 7):
        d = "d%d.group%d.example.%s" % (i, i % 7, Z)
        out += [(d, "TXT"), (d.upper(), "TXT"), (d, "A"), (d, "ANY"),
                ("%s.%s" % (tid(i * 3), d), "A"),
                ("%s.%s" % (tid(i * 3 + 2), d), "A"),
                ("%s.%s" % (tid(999999), d), "A"),
                ("x.%s" % d, "TXT"), ("nobody%d.example.%s" % (i, Z), "TXT")]
    for g in range(8):
        out += [("group%d.example.%s" % (g, Z), "TXT")]
    out += [("example." + Z, "TXT"), ("big.example." + Z, "TXT"),
            ("%s.big.example.%s" % (tid(100007), Z), "A"), (Z, "SOA"), (Z, "NS"),
            ("example.org", "TXT"), ("late.example." + Z, "TXT")]
    return out


def burst_answers(port, queries, burst=32):
    """Sends the queries in bursts without waiting; answers by query index."""
    got = {}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        for start in range(0, len(queries), burst):
            chunk = range(start, min(start + burst, len(queries)))
            for _ in range(3):  # a lost datagram is resent, at most twice
                missing = [i for i in chunk if i not in got]
                if not missing:
                    break
                for i in missing:
                    s.sendto(queries[i], ("127.0.0.1", port))
                try:
                    while any(i not in got for i in missing):
                        data = s.recv(65535)
                        got[int.from_bytes(data[:2], "big")] = data
                except socket.timeout:
                    pass
    finally:
        s.close()
    return got


def wire_queries():
    out = []
    for i, (name, rdtype) in enumerate(names()):
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=4096)
        q.id = i
        out.append(q.to_wire())
    return out


def index_builds(srv):
    return len(re.findall(r"index: \d+ names", srv.log()))


def wait_builds(srv, n, timeout=30):
    deadline = time.monotonic() + timeout
    while index_builds(srv) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return index_builds(srv) >= n


def compare(a, b, what):
    qs = wire_queries()
    ga = burst_answers(a.port, qs)
    gb = burst_answers(b.port, qs)
    check(len(ga) == len(qs) and len(gb) == len(qs),
          "%s: all %d queries answered by both" % (what, len(qs)), (len(ga), len(gb)))
    differ = [names()[i] for i in range(len(qs)) if ga.get(i) != gb.get(i)]
    check(not differ, "%s: every answer identical with and without the index" % what,
          differ[:5])
    return ga


with sh.Tallowd(db, threads=2, args=["-v"]) as fast, \
        sh.Tallowd(db, threads=1, args=["--no-index"]) as tree:
    check(wait_builds(fast, 1), "the index is built and logged", fast.log()[-2000:])
    check(index_builds(tree) == 0, "--no-index builds none", tree.log()[-2000:])
    ga = compare(fast, tree, "indexed")
    rcodes = {ga[i][3] & 0x0F for i in ga}
    check(rcodes >= {0, 3, 5}, "the set covers NOERROR, NXDOMAIN and REFUSED", rcodes)

    # A change is served at once (from the B-tree until the index catches up).
    harness.tallowctl(db, "add", "late.example", tid(7), check_rc=0)
    harness.tallowctl(db, "remove", "d7.group0.example", check_rc=0)
    for srv in (fast, tree):
        r = srv.query("late.example." + Z, "TXT")
        check(r.rcode() == 0 and len(r.answer) == 1, "add served at once (port %d)" % srv.port, r)
        r = srv.query("d7.group0.example." + Z, "TXT")
        check(r.rcode() == 3, "remove served at once (port %d)" % srv.port, r)
    check(wait_builds(fast, 2), "the index is rebuilt after the change", fast.log()[-2000:])
    compare(fast, tree, "after the change")

    out = harness.run([harness.binary("tallowd"), "-d", db, "--no-index", "--check"],
                      check_rc=0).stdout
    check("index: no" in out, "--check shows the index setting", out)

harness.done()
