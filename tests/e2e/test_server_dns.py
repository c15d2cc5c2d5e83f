"""tallowd answers as an authoritative server, seen through dig, kdig, drill
and dnspython: AA answers for both views, NXDOMAIN/NODATA with the SOA and
the negative TTL, REFUSED outside its zones, the question's case echoed,
EDNS(0) (payload 1232, BADVERS, DO, unknown options), truncation over UDP
and the full answer over TCP, NOTIMP/REFUSED for what it does not serve,
and IPv6.  Data is made with the real tallowctl.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.update  # noqa: E402

import harness  # noqa: E402
import server_harness as sh  # noqa: E402
from harness import check  # noqa: E402
from server_harness import tool  # noqa: E402

Z = sh.ZONE
NEG_TTL = 60


def tid(i):
    return "%08x-0000-4000-8000-%012x" % (0x10000000 + i, i)


EXAMPLE = [tid(1), tid(2)]
BIG = [tid(100 + i) for i in range(22)]  # about 1.4 KB of TXT: over 1232 octets
MID = [tid(200 + i) for i in range(12)]  # about 750 octets: over 512, under 1232
csv = "".join("example.com,%s\n" % t for t in EXAMPLE)
csv += "".join("big.example,%s\n" % t for t in BIG)
csv += "".join("mid.example,%s\n" % t for t in MID)
csv += "deny.example,none\n"
csv += "mail.corp.example,%s\n" % tid(3)

db = sh.make_db(csv=csv, negative_ttl=NEG_TTL)


def soa_auth_ttl(r):
    """TTL of the SOA in the authority section, or None."""
    for rrset in r.authority:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == dns.name.from_text(Z):
            return rrset.ttl
    return None


def txt_strings(r):
    out = []
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            for rd in rrset:
                out.append(b"".join(rd.strings).decode())
    return sorted(out)


with sh.Tallowd(db, threads=2, v6=True) as srv:
    P = str(srv.port)

    # The TXT view, through three independent clients.
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "example.com." + Z, "TXT"])
    check(rc == 0 and "status: NOERROR" in out, "dig: NOERROR", out)
    check(re.search(r"flags: qr aa;", out) is not None, "dig: flags qr aa, no ra", out)
    for t in EXAMPLE:
        check('"v=TAL1; tid=%s"' % t in out, "dig: TXT lists %s" % t, out)

    rc, out = tool(["kdig", "@127.0.0.1", "-p", P, "+norec", "example.com." + Z, "TXT"])
    check(rc == 0 and "status: NOERROR" in out and re.search(r"Flags: qr aa;", out),
          "kdig: NOERROR, qr aa", out)
    check(all('"v=TAL1; tid=%s"' % t in out for t in EXAMPLE), "kdig: both tenants", out)

    rc, out = tool(["drill", "-p", P, "-o", "rd", "example.com." + Z, "@127.0.0.1", "TXT"])
    check(rc == 0 and "rcode: NOERROR" in out and re.search(r"flags: qr aa ;", out),
          "drill: NOERROR, qr aa", out)
    check(all('"v=TAL1; tid=%s"' % t in out for t in EXAMPLE), "drill: both tenants", out)

    r = srv.query("example.com." + Z, "TXT")
    check(r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
          and not r.flags & dns.flags.RA, "TXT: AA, NOERROR, no RA")
    check(txt_strings(r) == sorted("v=TAL1; tid=%s" % t for t in EXAMPLE),
          "TXT: exactly the tenants", txt_strings(r))
    r = srv.query("deny.example." + Z, "TXT")
    check(txt_strings(r) == ["v=TAL1"], "deny-all policy: TXT v=TAL1", r)

    # The A view.
    r = srv.query("%s.example.com.%s" % (EXAMPLE[1], Z), "A")
    check(r.rcode() == 0 and r.flags & dns.flags.AA and len(r.answer) == 1
          and [rd.address for rd in r.answer[0]] == ["127.0.0.2"], "A view hit: 127.0.0.2", r)
    r = srv.query("%s.example.com.%s" % (tid(99), Z), "A")
    check(r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA and not r.answer,
          "A view miss: NXDOMAIN", r)
    check(soa_auth_ttl(r) == NEG_TTL, "A view miss: SOA in authority, negative TTL", r)
    r = srv.query("%s.deny.example.%s" % (EXAMPLE[0], Z), "A")
    check(r.rcode() == dns.rcode.NXDOMAIN, "A view under a deny-all policy: NXDOMAIN", r)

    # Negative answers.
    r = srv.query("no-policy.example." + Z, "TXT")
    check(r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA and not r.answer,
          "no policy: NXDOMAIN, AA", r)
    check(soa_auth_ttl(r) == NEG_TTL, "NXDOMAIN: SOA with TTL = negative TTL", r)
    r = srv.query("example.com." + Z, "AAAA")
    check(r.rcode() == dns.rcode.NOERROR and not r.answer and r.flags & dns.flags.AA,
          "NODATA: NOERROR, empty answer", r)
    check(soa_auth_ttl(r) == NEG_TTL, "NODATA: SOA with TTL = negative TTL", r)
    r = srv.query("corp.example." + Z, "TXT")
    check(r.rcode() == dns.rcode.NOERROR and not r.answer and soa_auth_ttl(r) == NEG_TTL,
          "empty non-terminal: NODATA, not NXDOMAIN", r)
    r = srv.query("example.org", "TXT")
    check(r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.AA and not r.answer,
          "outside the zones: REFUSED", r)
    r = srv.query(Z, "SOA")
    check(r.rcode() == 0 and len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.SOA,
          "apex SOA", r)
    r = srv.query(Z, "NS")
    check(r.rcode() == 0 and len(r.answer) == 1
          and r.answer[0][0].target.to_text() == "ns1.%s." % Z, "apex NS", r)

    # The question name comes back with the client's case.
    mixed = "ExAmPlE.CoM.TeNaNtS.eXaMpLe.NeT."
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+nocookie", mixed, "TXT"])
    check(re.search(r";%s\s+IN\s+TXT" % re.escape(mixed), out) is not None, "dig: question section echoes 0x20 case", out)
    r = srv.query(mixed, "TXT")
    check(r.question[0].name.to_text() == mixed and r.answer
          and r.answer[0].name.to_text() == mixed, "case kept in question and answer owner",
          r)

    # EDNS(0).
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "example.com." + Z, "TXT"])
    check("; EDNS: version: 0, flags:; udp: 1232" in out, "EDNS: OPT with udp 1232", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+edns=1", "+noednsneg",
                    "example.com." + Z, "TXT"])
    check("status: BADVERS" in out and "EDNS: version: 0" in out, "EDNS version 1: BADVERS",
          out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+dnssec", "example.com." + Z,
                    "TXT"])
    check(re.search(r"EDNS: version: 0, flags: do;", out) is not None, "DO bit echoed", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "example.com." + Z, "TXT"])
    check(re.search(r"EDNS: version: 0, flags:;", out) is not None, "DO not set when not asked",
          out)
    rc, out = tool(["kdig", "@127.0.0.1", "-p", P, "+norec", "+ednsopt=65001:c0ffee",
                    "example.com." + Z, "TXT"])
    check("status: NOERROR" in out and out.count("v=TAL1; tid=") == 2,
          "kdig: unknown EDNS option ignored", out)
    q = dns.message.make_query("example.com." + Z, "TXT", use_edns=0, payload=4096,
                               options=[dns.edns.GenericOption(65002, b"\x01\x02")])
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=2)
    check(r.rcode() == 0 and r.edns == 0 and r.payload == 1232 and len(r.answer) == 1,
          "dnspython: EDNS 4096 asked, 1232 advertised, unknown option ignored", r)
    check(not r.options, "no options echoed back", r.options)
    r = srv.query("example.com." + Z, "TXT", use_edns=False)
    check(r.edns == -1, "no OPT in the query: none in the answer", r)

    # Truncation and TCP.
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+noedns", "+ignore",
                    "big.example." + Z, "TXT"])
    check(re.search(r"flags: qr aa tc;", out) is not None, "22 tenants, no EDNS: TC set", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+noedns", "+ignore",
                    "mid.example." + Z, "TXT"])
    check(re.search(r"flags: qr aa tc;", out) is not None, "12 tenants, no EDNS: TC set", out)
    r = srv.query("mid.example." + Z, "TXT", use_edns=0, payload=1232)
    check(not r.flags & dns.flags.TC and len(txt_strings(r)) == 12,
          "12 tenants fit 1232 octets with EDNS", r)
    r = srv.query("big.example." + Z, "TXT", use_edns=0, payload=4096)
    check(r.flags & dns.flags.TC, "22 tenants with EDNS 4096: still TC (1232 cap)", r)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+tcp", "big.example." + Z, "TXT"])
    check("status: NOERROR" in out and out.count("v=TAL1; tid=") == 22
          and not re.search(r"flags:[^;]* tc", out), "over TCP: all 22 tenants", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "+noedns", "big.example." + Z,
                    "TXT"])
    check(out.count("v=TAL1; tid=") == 22, "dig retries the truncated answer over TCP", out)
    r = srv.query("big.example." + Z, "TXT", tcp=True)
    check(len(txt_strings(r)) == 22 and r.flags & dns.flags.AA, "dnspython TCP: 22 tenants")

    # What an authoritative-only server refuses.
    q = dns.message.make_query(Z, "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    q.flags |= dns.flags.AA
    r = dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=2)
    check(r.rcode() == dns.rcode.NOTIMP and r.opcode() == dns.opcode.NOTIFY,
          "NOTIFY: NOTIMP", r)
    u = dns.update.UpdateMessage(Z)
    u.add("x", 300, "A", "192.0.2.1")
    r = dns.query.udp(u, "127.0.0.1", port=srv.port, timeout=2)
    check(r.rcode() == dns.rcode.NOTIMP, "UPDATE: NOTIMP", r)
    r = srv.query(Z, "AXFR", tcp=True)
    check(r.rcode() == dns.rcode.REFUSED and not r.answer, "AXFR: REFUSED", r)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+norec", "CH", "TXT", "version.bind"])
    check("status: REFUSED" in out and "ANSWER: 0" in out, "CH TXT version.bind: REFUSED", out)

    # Responses (QR=1) are never answered: no reflection loops.
    q = dns.message.make_query("example.com." + Z, "TXT")
    q.flags |= dns.flags.QR
    check(srv.raw_udp(q.to_wire(), timeout=0.5) is None, "a response (QR=1) is dropped")

    # IPv6 on ::1, both transports.
    rc, out = tool(["dig", "@::1", "-p", P, "+norec", "example.com." + Z, "TXT"])
    check("status: NOERROR" in out and out.count("v=TAL1; tid=") == 2 and "(UDP)" in out,
          "dig over ::1 UDP", out)
    rc, out = tool(["kdig", "@::1", "-p", P, "+norec", "+tcp", "big.example." + Z, "TXT"])
    check("status: NOERROR" in out and out.count("v=TAL1; tid=") == 22, "kdig over ::1 TCP",
          out)

    check(srv.alive(), "server alive after the whole run")
    status = srv.stop()
check(status == 0, "clean exit", srv.log())

harness.done()
