"""A real resolver in front of tallowd: Unbound with a stub zone.

What relays see in production: they ask their resolver, not tallowd.  Unbound
(iterator only, loopback ports) forwards to tallowd and must return the TXT
policy, the A view, NXDOMAIN with a negative TTL no longer than the zone's,
and a policy too large for UDP, which Unbound fetches over TCP after the TC
answer.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import server_harness as sh  # noqa: E402
from harness import check  # noqa: E402
from server_harness import tool  # noqa: E402

Z = sh.ZONE
NEG_TTL = 30


def tid(i):
    return "%08x-0000-4000-8000-%012x" % (0x40000000 + i, i)


csv = "example.com,%s\n" % tid(1)
csv += "".join("big.example,%s\n" % tid(100 + i) for i in range(25))
db = sh.make_db(csv=csv, negative_ttl=NEG_TTL)

UNBOUND_CONF = """server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    domain-insecure: "{zone}"

remote-control:
    control-enable: no

stub-zone:
    name: "{zone}"
    stub-addr: 127.0.0.1@{tallowd_port}
"""

unbound = "/usr/sbin/unbound"
if not os.path.exists(unbound):
    check(False, "unbound is installed")
    harness.done()

with sh.Tallowd(db, args=["-v"]) as srv:
    udir = harness.tmpdir("unbound-")
    uport = harness.free_port()
    conf = os.path.join(udir, "unbound.conf")
    with open(conf, "w") as f:
        f.write(UNBOUND_CONF.format(port=uport, dir=udir, zone=Z, tallowd_port=srv.port))
    ub = harness.spawn([unbound, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    P = str(uport)
    ready = False
    for _ in range(100):
        if ub.poll() is not None:
            break
        rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+time=1", "+tries=1", Z, "SOA"])
        if "status: NOERROR" in out:
            ready = True
            break
        time.sleep(0.1)
    check(ready, "unbound resolves the zone through tallowd",
          ub.stderr.read().decode() if ub.poll() is not None else None)

    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "example.com." + Z, "TXT"])
    check("status: NOERROR" in out and '"v=TAL1; tid=%s"' % tid(1) in out,
          "via unbound: TXT policy", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+short", "%s.example.com.%s" % (tid(1), Z),
                    "A"])
    check(out.strip() == "127.0.0.2", "via unbound: A view hit", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "%s.example.com.%s" % (tid(2), Z), "A"])
    check("status: NXDOMAIN" in out, "via unbound: A view miss is NXDOMAIN", out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "nothing.example." + Z, "TXT"])
    m = re.search(r"^%s\.\s+(\d+)\s+IN\s+SOA" % re.escape(Z), out, re.M)
    check("status: NXDOMAIN" in out and m is not None and int(m.group(1)) <= NEG_TTL,
          "via unbound: NXDOMAIN, negative TTL at most %d" % NEG_TTL, out)
    rc, out = tool(["dig", "@127.0.0.1", "-p", P, "+tcp", "big.example." + Z, "TXT"])
    check("status: NOERROR" in out and out.count("v=TAL1; tid=") == 25,
          "via unbound: a 25-tenant policy (TC over UDP, then TCP upstream)", out)

    harness.stop(ub)
    check(srv.stop() == 0, "tallowd clean exit", srv.log())
    m = re.search(r"stats, tcp: connections (\d+)", srv.log())
    check(m is not None and int(m.group(1)) >= 1, "unbound reached tallowd over TCP",
          srv.log())

harness.done()
