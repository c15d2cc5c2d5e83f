"""tallowd as a hidden primary: zone transfers to dig, kdig, NSD and Knot.

- transfers are refused until allowed; an address outside the allowed
  prefix gets REFUSED; a request without the required key gets REFUSED; a
  wrong secret gets NOTAUTH/BADSIG, an unknown key NOTAUTH/BADKEY;
- a signed AXFR through kdig and dig returns the zone, and named-checkzone
  accepts it;
- NSD and Knot, configured from `tallowctl tsig show --format nsd|knot`,
  pull the zone by AXFR with TSIG and answer a sample of queries exactly as
  tallowd does (hits, misses, NXDOMAIN, NODATA).
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.message
import dns.query
import dns.rcode

import harness
import server_harness as sh
import xfr_peers

ZONE = sh.ZONE
GUIDS = ["%08x-1111-4222-8333-%012x" % (i * 7919, i) for i in range(1, 41)]


def csv():
    lines = []
    for i in range(60):
        d = "d%03d.example" % i
        if i % 10 == 9:
            lines.append("%s,none" % d)
        else:
            for g in GUIDS[i % 7:(i % 7) + 1 + i % 3]:
                lines.append("%s,%s" % (d, g))
    return "\n".join(lines) + "\n"


def kdig(port, *args, src=None):
    argv = ["kdig", "@127.0.0.1", "-p", str(port), "+tcp", "+time=3", "+retry=0"]
    if src:
        argv += ["-b", src]
    return sh.tool(argv + list(args))


def sample_queries():
    q = [(ZONE, "SOA"), (ZONE, "NS"), ("ns1." + ZONE, "A")]
    for i in (0, 1, 5, 9, 19, 33):
        d = "d%03d.example.%s" % (i, ZONE)
        q.append((d, "TXT"))
        q.append((d, "AAAA"))  # NODATA
        q.append(("%s.%s" % (GUIDS[i % 7], d), "A"))  # hit, or NXDOMAIN for deny-all
        q.append(("%s.%s" % (GUIDS[39], d), "A"))  # a tenant not listed: NXDOMAIN
    q.append(("nosuch.example." + ZONE, "TXT"))  # NXDOMAIN
    q.append(("example." + ZONE, "TXT"))  # empty non-terminal: NODATA
    return q


def answer_of(port, name, rdtype):
    """(rcode, sorted answer RRs as text, sorted authority RR types)."""
    q = dns.message.make_query(name, rdtype)
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    ans = sorted(line for rrset in r.answer for line in rrset.to_text().splitlines())
    auth = sorted(line for rrset in r.authority for line in rrset.to_text().splitlines())
    return (dns.rcode.to_text(r.rcode()), ans, auth)


def compare(primary_port, secondary, label):
    diffs = []
    for name, t in sample_queries():
        a = answer_of(primary_port, name, t)
        b = answer_of(secondary.port, name, t)
        if a != b:
            diffs.append("%s %s:\n  tallowd %s\n  %s %s" % (name, t, a, label, b))
    harness.check(not diffs, "%s answers %d sample queries exactly as tallowd"
                  % (label, len(sample_queries())), "\n".join(diffs[:5]))


def main():
    db = sh.make_db(csv=csv())
    harness.tallowctl(db, "tsig", "add", "xfr-key", check_rc=0)
    show = harness.tallowctl(db, "tsig", "show", "xfr-key", check_rc=0).stdout.split()
    keyname, alg, secret = show
    harness.check(alg == "hmac-sha256", "a new key is hmac-sha256")
    lst = harness.tallowctl(db, "tsig", "list", check_rc=0).stdout
    harness.check(lst.strip() == "xfr-key hmac-sha256" and secret not in lst,
                  "tsig list shows names and algorithms, never the secret", lst)
    key = (keyname, alg, secret)
    with sh.Tallowd(db, v6=False, args=["-v"]) as t:
        # Refused until allowed.
        rc, out = kdig(t.port, "AXFR", ZONE)
        harness.check("REFUSED" in out, "AXFR is refused by default", out)
        rc, out = kdig(t.port, "AXFR", ZONE, "-y", "hmac-sha256:%s:%s" % (keyname, secret))
        harness.check("REFUSED" in out, "a signed AXFR is refused by default too", out)

        harness.tallowctl(db, "transfer", "allow", "--key", "xfr-key", "127.0.0.1/32",
                          check_rc=0)
        rules = harness.tallowctl(db, "transfer", "list", check_rc=0).stdout
        harness.check(rules == "127.0.0.1/32 key xfr-key\n", "transfer list shows the rule",
                      rules)
        rc, out = kdig(t.port, "AXFR", ZONE)
        harness.check("REFUSED" in out, "without the key: REFUSED", out)
        rc, out = kdig(t.port, "AXFR", ZONE, "-y", "hmac-sha256:%s:%s" % (keyname, secret),
                       src="127.0.0.2")
        harness.check("REFUSED" in out, "from an address outside the prefix: REFUSED", out)
        bad = "hmac-sha256:%s:%s" % (keyname, "A" * 43 + "=")
        rc, out = kdig(t.port, "AXFR", ZONE, "-y", bad)
        harness.check("BADSIG" in out, "a wrong secret: TSIG error BADSIG", out)
        rc, out = kdig(t.port, "AXFR", ZONE, "-y", "hmac-sha256:other-key:%s" % secret)
        harness.check("BADKEY" in out, "an unknown key: NOTAUTH with TSIG error BADKEY", out)
        rc, out = kdig(t.port, "AXFR", "nosuch.example", "-y",
                       "hmac-sha256:%s:%s" % (keyname, secret))
        harness.check("NOTAUTH" in out, "AXFR of a name that is no zone: NOTAUTH", out)

        # Signed AXFR with kdig and dig.
        rc, out = kdig(t.port, "AXFR", ZONE, "-y", "hmac-sha256:%s:%s" % (keyname, secret))
        m = re.search(r"Received \d+ B \((\d+) messages?, (\d+) records\)", out)
        exp = harness.tallowctl(db, "export", "--format", "zone", check_rc=0).stdout
        exp_rrs = [l for l in exp.splitlines() if l and not l.startswith(";")
                   and not l.startswith("$")]
        harness.check(rc == 0 and m is not None and int(m.group(2)) == len(exp_rrs) + 1,
                      "signed kdig AXFR: every record of the export, SOA at both ends",
                      "%s\nexport has %d records" % (out[-400:], len(exp_rrs)))
        rc, out = sh.tool(["dig", "@127.0.0.1", "-p", str(t.port), "AXFR", ZONE, "-y",
                           "hmac-sha256:%s:%s" % (keyname, secret)])
        harness.check(rc == 0 and "XFR size" in out and "tsig verify failure" not in out
                      and "Transfer failed" not in out, "signed dig AXFR verifies", out[-400:])
        zf = os.path.join(harness.tmpdir(), "axfr.zone")
        with open(zf, "w") as f:
            # The transfer's TSIG RRs are dig's transport detail, not zone data.
            f.write("".join(l + "\n" for l in out.splitlines() if "\tTSIG\t" not in l))
        cp = subprocess.run(["named-checkzone", ZONE, zf], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
        harness.check(cp.returncode == 0 and "OK" in cp.stdout,
                      "named-checkzone accepts the zone received by AXFR", cp.stdout)

        serial = xfr_peers.soa_serial(t.port, ZONE)
        for cls in (xfr_peers.Nsd, xfr_peers.Knot):
            with cls(t.port, ZONE, key=key) as s:
                got = s.wait_serial(serial)
                if not harness.check(got == serial, "%s pulls the zone (serial %s)"
                                     % (s.name, serial), "%s\n%s" % (got, s.all_logs()[-2000:])):
                    continue
                compare(t.port, s, s.name)
    harness.check(t.returncode == 0 and "runtime error" not in t.log()
                  and "Sanitizer" not in t.log(), "tallowd exits cleanly, status 0",
                  t.log()[-1500:])
    log = t.log()
    harness.check("xfr, AXFR of %s from 127.0.0.1" % ZONE in log or "refused" in log,
                  "tallowd logs refused transfers", log[-1500:])
    harness.check("key xfr-key" in log and secret not in log,
                  "tallowd logs the key name of a transfer, never the secret", log[-1500:])
    harness.done()


if __name__ == "__main__":
    main()
