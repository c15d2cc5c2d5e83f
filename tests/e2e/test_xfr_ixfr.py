"""NOTIFY and IXFR: NSD and Knot follow tallowctl's commits within seconds.

- with `tallowctl notify add`, tallowd notifies both secondaries of every
  new serial (and they acknowledge); they pull the change by IXFR from the
  journal (tallowd logs each transfer as incremental) and answer the new
  policy within a few seconds, far ahead of their one-hour refresh;
- an IXFR from a client that is up to date gets the single SOA;
- after the journal is trimmed past their serial, their IXFR is answered
  with the whole zone and they converge again;
- a signed NOTIFY from tallowd is accepted by secondaries that require the key.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring

import harness
import server_harness as sh
import xfr_peers

ZONE = sh.ZONE
G = ["%08x-aaaa-4bbb-8ccc-%012x" % (i, i) for i in range(1, 20)]


def txt(port, name):
    q = dns.message.make_query(name, "TXT")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1)
    except Exception:
        return None
    return (dns.rcode.to_text(r.rcode()),
            sorted(rr.to_text() for rrset in r.answer for rr in rrset))


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def count(log, pattern):
    return len(re.findall(pattern, log))


def main():
    csv = "".join("base%02d.example,%s\n" % (i, G[i % 5]) for i in range(30))
    db = sh.make_db(csv=csv)
    harness.tallowctl(db, "tsig", "add", "xfr-key", check_rc=0)
    keyname, alg, secret = harness.tallowctl(db, "tsig", "show", "xfr-key",
                                             check_rc=0).stdout.split()
    key = (keyname, alg, secret)
    harness.tallowctl(db, "transfer", "allow", "--key", "xfr-key", "127.0.0.1", check_rc=0)

    with sh.Tallowd(db, args=["-v"]) as t:
        # Up to date: one SOA, over TCP and UDP.
        serial = xfr_peers.soa_serial(t.port, ZONE)
        ring = dns.tsigkeyring.from_text({keyname: secret})
        def ixfr_query():
            q = dns.message.make_query(ZONE, "IXFR")
            q.authority.append(dns.rrset.from_text(
                ZONE + ".", 0, "IN", "SOA",
                "ns1.%s. hostmaster.example.net. %d 1 1 1 1" % (ZONE, serial)))
            return q

        q = ixfr_query()
        q.use_tsig(ring, keyname=keyname, algorithm="hmac-sha256")
        r = dns.query.tcp(q, "127.0.0.1", port=t.port, timeout=3)
        harness.check(r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
                      and r.answer[0].rdtype == dns.rdatatype.SOA
                      and r.answer[0][0].serial == serial,
                      "IXFR from the current serial over TCP: one SOA", r)
        r = dns.query.udp(ixfr_query(), "127.0.0.1", port=t.port, timeout=3)
        harness.check(r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
                      and r.answer[0].rdtype == dns.rdatatype.SOA,
                      "IXFR over UDP: one SOA (RFC 1995 §2)", r)

        # One small change: the difference; a large one: the zone.
        def ixfr_from(old):
            msgs = list(dns.query.xfr("127.0.0.1", ZONE, rdtype="IXFR", port=t.port,
                                      serial=old, keyring=ring, keyname=keyname,
                                      keyalgorithm="hmac-sha256", timeout=5, lifetime=10))
            return [rrset for m in msgs for rrset in m.answer]

        harness.tallowctl(db, "add", "small.example", G[3], check_rc=0)
        rrsets = ixfr_from(serial)
        harness.check(len(rrsets) >= 4 and rrsets[0].rdtype == dns.rdatatype.SOA
                      and rrsets[1].rdtype == dns.rdatatype.SOA
                      and rrsets[1][0].serial == serial
                      and rrsets[0][0].serial == serial + 1,
                      "IXFR after one change: the difference (new SOA, old SOA, ...)",
                      [r.to_text() for r in rrsets][:6])
        big = "".join("tmp%03d.example,%s\n" % (i, G[i % 5]) for i in range(100))
        harness.tallowctl(db, "import", "-", input=big, check_rc=0)
        harness.tallowctl(db, "import", "--replace", "-",
                          input=csv + "small.example,%s\n" % G[3], check_rc=0)
        rrsets = ixfr_from(serial + 1)
        harness.check(len(rrsets) >= 2 and rrsets[0].rdtype == dns.rdatatype.SOA
                      and rrsets[1].rdtype != dns.rdatatype.SOA
                      and rrsets[-1].rdtype == dns.rdatatype.SOA,
                      "IXFR across a difference larger than the zone: the zone",
                      [r.to_text() for r in rrsets][:4])
        harness.check("full (difference larger than the zone)" in t.log(),
                      "tallowd logs why it sent the zone", t.log()[-1000:])
        serial = xfr_peers.soa_serial(t.port, ZONE)

        with xfr_peers.Nsd(t.port, ZONE, key=key) as nsd, \
                xfr_peers.Knot(t.port, ZONE, key=key) as knot:
            peers = (nsd, knot)
            for s in peers:
                harness.tallowctl(db, "notify", "add", "127.0.0.1@%d" % s.port,
                                  "--key", "xfr-key", check_rc=0)
            lst = harness.tallowctl(db, "notify", "list", check_rc=0).stdout
            harness.check(lst == "".join("127.0.0.1@%d key xfr-key\n" % s.port for s in peers),
                          "notify list shows both secondaries", lst)
            for s in peers:
                harness.check(s.wait_serial(serial) == serial,
                              "%s has the zone at serial %d" % (s.name, serial),
                              s.all_logs()[-1500:])

            # A change: NOTIFY, then IXFR, within seconds.
            name = "fresh.example.%s" % ZONE
            harness.tallowctl(db, "add", "fresh.example", G[7], check_rc=0)
            want = txt(t.port, name)
            t0 = time.monotonic()
            for s in peers:
                ok = wait_for(lambda: txt(s.port, name) == want, timeout=10)
                harness.check(ok and want[0] == "NOERROR",
                              "%s answers the new policy %.1f s after the commit"
                              % (s.name, time.monotonic() - t0),
                              "%s vs %s\n%s" % (txt(s.port, name), want,
                                                s.all_logs()[-1500:]))
            wait_for(lambda: count(t.log(), r"IXFR of %s to 127\.0\.0\.1#\d+, key xfr-key: "
                                   r"incremental" % re.escape(ZONE)) >= 2, timeout=5)
            log = t.log()
            harness.check(count(log, r"IXFR of %s to 127\.0\.0\.1#\d+, key xfr-key: incremental"
                                % re.escape(ZONE)) >= 2,
                          "both secondaries pulled the change by IXFR", log[-2500:])
            harness.check(count(log, r"notify, %s serial %d to 127\.0\.0\.1@\d+: acknowledged"
                                % (re.escape(ZONE), serial + 1)) == 2,
                          "both acknowledged the signed NOTIFY of serial %d" % (serial + 1),
                          log[-2500:])
            harness.check("NOTIFY" in knot.log() or "notify" in knot.log().lower(),
                          "knot logged the NOTIFY", knot.log()[-800:])

            # Behind the journal: the whole zone, then back in step.
            for s in peers:
                harness.tallowctl(db, "notify", "remove", "127.0.0.1@%d" % s.port,
                                  "--key", "xfr-key", check_rc=0)
            time.sleep(1.5)  # let the sender see the targets gone
            harness.tallowctl(db, "add", "gone1.example", G[8], check_rc=0)
            harness.tallowctl(db, "add", "gone2.example", G[9], check_rc=0)
            cp = harness.tallowctl(db, "-v", "transfer", "trim", "0", check_rc=0)
            harness.check("journal records dropped" in cp.stderr, "transfer trim reports",
                          cp.stderr)
            jr = harness.tallowctl(db, "journal", check_rc=0).stdout
            harness.check(jr.strip() == "", "the journal is empty after trim 0", jr)
            for s in peers:
                harness.tallowctl(db, "notify", "add", "127.0.0.1@%d" % s.port,
                                  "--key", "xfr-key", check_rc=0)
            time.sleep(1.5)
            harness.tallowctl(db, "add", "last.example", G[10], check_rc=0)
            new_serial = xfr_peers.soa_serial(t.port, ZONE)
            for s in peers:
                got = s.wait_serial(new_serial, timeout=15)
                harness.check(got == new_serial,
                              "%s converges to serial %d after the journal was trimmed"
                              % (s.name, new_serial), s.all_logs()[-1500:])
                n = "gone1.example.%s" % ZONE
                harness.check(txt(s.port, n) == txt(t.port, n),
                              "%s answers a change it never saw in the journal" % s.name)
            log = t.log()
            harness.check(count(log, r"IXFR of %s to 127\.0\.0\.1#\d+, key xfr-key: full "
                                r"\(journal does not reach\)" % re.escape(ZONE)) >= 2,
                          "both were answered with the whole zone", log[-2500:])
    harness.check(t.returncode == 0 and "runtime error" not in t.log()
                  and "Sanitizer" not in t.log(), "tallowd exits cleanly, status 0",
                  t.log()[-1500:])
    harness.done()


if __name__ == "__main__":
    main()
