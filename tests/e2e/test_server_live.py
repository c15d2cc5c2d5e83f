"""A change committed by tallowctl is served by the very next query.

While a background loop keeps tallowd's workers busy with queries, each
`tallowctl add`/`remove` is followed at once (no sleep, no retry) by a query
that must see it, over UDP and TCP, on every worker; the SOA serial rises
with each change.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.exception  # noqa: E402
import dns.rcode  # noqa: E402

import harness  # noqa: E402
import server_harness as sh  # noqa: E402
from harness import check  # noqa: E402

Z = sh.ZONE


def tid(i):
    return "%08x-0000-4000-8000-%012x" % (0x30000000 + i, i)


db = sh.make_db(csv="steady.example,%s\n" % tid(0))

with sh.Tallowd(db, threads=2) as srv:
    stop = threading.Event()
    loop_stats = {"ok": 0, "bad": 0}

    def background():
        while not stop.is_set():
            try:
                r = srv.query("steady.example." + Z, "TXT", timeout=1)
                loop_stats["ok" if r.rcode() == 0 and r.answer else "bad"] += 1
            except dns.exception.Timeout:
                loop_stats["bad"] += 1

    th = threading.Thread(target=background, daemon=True)
    th.start()

    serial0 = srv.query(Z, "SOA").answer[0][0].serial
    fresh_ok = True
    for i in range(1, 9):
        domain = "live%d.example" % i
        r = srv.query(domain + "." + Z, "TXT")
        fresh_ok = fresh_ok and r.rcode() == dns.rcode.NXDOMAIN
        harness.tallowctl(db, "add", domain, tid(i), check_rc=0)
        # No sleep: the first query after the command returns must see it.
        r = srv.query(domain + "." + Z, "TXT", tcp=bool(i % 2))
        check(r.rcode() == 0 and len(r.answer) == 1
              and b"".join(r.answer[0][0].strings).decode() == "v=TAL1; tid=" + tid(i),
              "add %s: served by the next query (%s)" % (domain, "TCP" if i % 2 else "UDP"),
              r)
        r = srv.query("%s.%s.%s" % (tid(i), domain, Z), "A")
        check(r.rcode() == 0 and len(r.answer) == 1, "add %s: A view at once" % domain, r)
    check(fresh_ok, "each domain was NXDOMAIN before its add")

    # Several queries in a row: both workers (SO_REUSEPORT spreads source
    # ports) must see the commit, not only the one that happened to answer.
    harness.tallowctl(db, "add", "steady.example", tid(50), check_rc=0)
    counts = [len(srv.query("steady.example." + Z, "TXT").answer[0]) for _ in range(20)]
    check(counts == [2] * 20, "20 queries after an add all see it", counts)

    harness.tallowctl(db, "remove", "live1.example", check_rc=0)
    r = srv.query("live1.example." + Z, "TXT")
    check(r.rcode() == dns.rcode.NXDOMAIN, "remove: NXDOMAIN at once", r)
    r = srv.query("%s.live1.example.%s" % (tid(1), Z), "A")
    check(r.rcode() == dns.rcode.NXDOMAIN, "remove: A view gone at once", r)

    serial1 = srv.query(Z, "SOA").answer[0][0].serial
    check(serial1 == serial0 + 10, "SOA serial rose by one per change (%d -> %d)"
          % (serial0, serial1))

    stop.set()
    th.join(timeout=5)
    check(loop_stats["bad"] == 0 and loop_stats["ok"] > 0,
          "background loop: %d answers, %d failures" % (loop_stats["ok"], loop_stats["bad"]))
    check(srv.stop() == 0, "clean exit", srv.log())

harness.done()
