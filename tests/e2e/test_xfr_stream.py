"""AXFR of a zone that needs many messages: signed, consistent, non-blocking.

- kdig verifies the TSIG of every message of a multi-message AXFR;
- a client that reads its AXFR slowly gets the zone of the moment it asked,
  SOA first and last with one serial, although tallowctl commits meanwhile
  (the stream reads one snapshot; on loopback the kernel may buffer much of
  it, which this test does not depend on);
- while that client has not read its answer, the single worker answers
  other queries over UDP and TCP;
- dnspython's AXFR reader (an independent parser) gets the same records as
  `tallowctl export --format zone`.
"""

import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.zone

import harness
import server_harness as sh

ZONE = sh.ZONE
N = 8000


def main():
    lines = ["bulk%05d.example,%08x-0000-4000-8000-%012x" % (i, i, i) for i in range(N)]
    db = sh.make_db(csv="\n".join(lines) + "\n")
    harness.tallowctl(db, "tsig", "add", "k", check_rc=0)
    keyname, alg, secret = harness.tallowctl(db, "tsig", "show", "k", check_rc=0).stdout.split()
    harness.tallowctl(db, "transfer", "allow", "--key", "k", "127.0.0.0/8", check_rc=0)
    harness.tallowctl(db, "transfer", "allow", "::1", check_rc=0)

    with sh.Tallowd(db, threads=1, v6=True, args=["-v"]) as t:
        serial = t.query(ZONE, "SOA").answer[0][0].serial
        rc, out = sh.tool(["kdig", "@127.0.0.1", "-p", str(t.port), "AXFR", ZONE, "-y",
                           "hmac-sha256:%s:%s" % (keyname, secret), "+time=10"], timeout=60)
        m = re.search(r"Received (\d+) B \((\d+) messages?, (\d+) records\)", out)
        harness.check(rc == 0 and m and int(m.group(2)) > 10 and int(m.group(3)) == 2 * N + 4,
                      "kdig verifies TSIG on every message of a %s-message AXFR"
                      % (m.group(2) if m else "?"), out[-600:])

        # Unsigned, from ::1 (allowed by address alone): dnspython parses it all.
        z = dns.zone.Zone(ZONE + ".")
        dns.query.inbound_xfr("::1", z, port=t.port, timeout=30, lifetime=60)
        exp = harness.tallowctl(db, "export", "--format", "zone", check_rc=0).stdout
        ez = dns.zone.from_text(exp, origin=ZONE + ".", relativize=False, check_origin=True)
        za = z.to_text(relativize=False, sorted=True).splitlines()
        zb = ez.to_text(relativize=False, sorted=True).splitlines()
        harness.check(sorted(za) == sorted(zb), "the AXFR equals the master file export, record for record",
                      "\n".join([l for l in za if l not in zb][:5] + ["---"] +
                                 [l for l in zb if l not in za][:5]))

        # A slow reader: ask, read one message, commit, then read the rest.
        q = dns.message.make_query(ZONE, "AXFR")
        s = socket.create_connection(("::1", t.port), timeout=10)
        s.sendall(sh.frame(q.to_wire()))
        first = dns.message.from_wire(sh.read_frame(s))
        harness.tallowctl(db, "add", "during.example", "11111111-2222-4333-8444-555555555555",
                          check_rc=0)
        harness.check(t.query(ZONE, "SOA").answer[0][0].serial == serial + 1,
                      "the commit is served at once while the AXFR is stalled")
        # The one worker answers others while this AXFR waits for its reader.
        t0 = time.monotonic()
        ok_udp = all(t.query("bulk%05d.example.%s" % (i, ZONE), "TXT").rcode()
                     == dns.rcode.NOERROR for i in range(0, N, 997))
        ok_tcp = t.query("during.example." + ZONE, "TXT", tcp=True).answer != []
        harness.check(ok_udp and ok_tcp,
                      "UDP and TCP queries are answered while an AXFR client does not read (%.0f ms)"
                      % ((time.monotonic() - t0) * 1000))
        rrs = [rr for rrset in first.answer for rr in rrset]
        names = set()
        soas = [rrs[0]] if rrs and rrs[0].rdtype == dns.rdatatype.SOA else []
        msgs = 1
        last = None
        while True:
            msg = dns.message.from_wire(sh.read_frame(s))
            msgs += 1
            for rrset in msg.answer:
                for rr in rrset:
                    if rrset.rdtype == dns.rdatatype.SOA:
                        soas.append(rr)
                names.add(rrset.name.to_text())
            last = msg.answer[-1] if msg.answer else None
            if last is not None and last.rdtype == dns.rdatatype.SOA:
                break
        s.close()
        harness.check(len(soas) == 2 and soas[0].serial == serial and soas[1].serial == serial,
                      "the stalled AXFR ends with the serial it started with (%d messages)"
                      % msgs, [x.to_text() for x in soas])
        harness.check("during.example.%s." % ZONE not in names,
                      "and holds none of the change committed meanwhile")
    harness.check(t.returncode == 0 and "runtime error" not in t.log()
                  and "Sanitizer" not in t.log(), "tallowd exits cleanly, status 0",
                  t.log()[-1500:])
    harness.done()


if __name__ == "__main__":
    main()
