"""tallow-milter behind a real Postfix.

The test starts its own Postfix instance (its own config, queue and data
directories in a temporary directory; smtpd on a free 127.0.0.1 port with
smtpd_milters pointing at tallow-milter and XCLIENT allowed from loopback),
relaying everything to smtp-sink on another free loopback port, which
writes each received message to a file.  Policies are served by NSD from a
hand-written zone (see test_relay_check.py).  Mail is sent with swaks, using
XCLIENT to appear to come from Microsoft 365's outbound ranges.  Assertions
are on what swaks was answered and on what smtp-sink received.
"""

import atexit
import glob
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402
from test_relay_check import T_A, T_B, T_C, ZONE, ZONE_TEXT, start_nsd  # noqa: E402

MS_ADDR = "40.107.1.2"
OTHER_ADDR = "192.0.2.7"
SOURCE_DIR = harness.SOURCE_DIR

MASTER_CF = """\
127.0.0.1:%(sport)d inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
mail_owner = postfix
setgid_group = postdrop
queue_directory = %(d)s/queue
data_directory = %(d)s/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
myhostname = relay.tallow.test
mydomain = tallow.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:%(sink)d
smtp_host_lookup = native
smtpd_peername_lookup = no
# XCLIENT makes clients appear at Microsoft addresses: relay by recipient
# domain instead of by client address.
relay_domains = dest.example
smtpd_relay_restrictions = reject_unauth_destination
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_milters = inet:127.0.0.1:%(mport)d
non_smtpd_milters =
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 20s
maillog_file = %(d)s/maillog
maillog_file_prefixes = %(d)s
smtpd_tls_security_level = may
smtpd_tls_cert_file = %(tls)s/server.pem
smtpd_tls_key_file = %(tls)s/server.key
smtpd_tls_CAfile = %(tls)s/ca.pem
smtpd_tls_ask_ccert = yes
smtp_tls_security_level = none
biff = no
notify_classes =
smtputf8_enable = no
"""


def wait_port(port, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def make_certs():
    """A CA, a server certificate and two client certificates (openssl)."""
    d = harness.tmpdir("tallow-tls-")
    os.chmod(d, 0o755)

    def ossl(*args):
        cp = subprocess.run(["openssl"] + list(args), cwd=d, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=60)
        if cp.returncode != 0:
            raise RuntimeError("openssl %s: %s" % (" ".join(args), cp.stderr))

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=tallow test CA")
    for name, cn in (("server", "relay.tallow.test"), ("ms", "mail.protection.outlook.com"),
                     ("evil", "mail.evil.example")):
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
        ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", name + ".pem", "-days", "2")
        os.chmod(os.path.join(d, name + ".key"), 0o644)
    return d


def postfix_ids():
    import pwd
    pw = pwd.getpwnam("postfix")
    return pw.pw_uid, pw.pw_gid


class Postfix:
    def __init__(self, mport):
        self.d = harness.tmpdir("tallow-postfix-")
        os.chmod(self.d, 0o755)
        self.sport = harness.free_port()
        self.sinkport = harness.free_port()
        # smtp-sink runs as postfix; Postfix warns about a writable
        # directory inside its own, so the sink gets a directory of its own.
        self.sinkdir = harness.tmpdir("tallow-sink-")
        os.chmod(self.sinkdir, 0o777)
        self.tls = make_certs()
        vals = {"d": self.d, "sport": self.sport, "sink": self.sinkport, "mport": mport,
                "tls": self.tls}
        with open(os.path.join(self.d, "main.cf"), "w") as f:
            f.write(MAIN_CF % vals)
        with open(os.path.join(self.d, "master.cf"), "w") as f:
            f.write(MASTER_CF % vals)
        self.sink = harness.spawn(["smtp-sink", "-u", "postfix", "-d",
                                   os.path.join(self.sinkdir, "%M."),
                                   "127.0.0.1:%d" % self.sinkport, "10"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.mkdir(os.path.join(self.d, "queue"), 0o755)
        os.mkdir(os.path.join(self.d, "data"), 0o700)
        os.chown(os.path.join(self.d, "data"), *postfix_ids())
        self.started = False
        atexit.register(self.stop)
        cp = harness.run(["postfix", "-c", self.d, "start"], timeout=60)
        self.started = cp.returncode == 0
        if not self.started or not wait_port(self.sport) or not wait_port(self.sinkport):
            raise RuntimeError("postfix did not start: %s %s %s" % (
                cp.stdout, cp.stderr, self.maillog()))

    def maillog(self):
        try:
            return open(os.path.join(self.d, "maillog")).read()
        except OSError:
            return ""

    def stop(self):
        if self.started:
            harness.run(["postfix", "-c", self.d, "stop"], timeout=60)
            self.started = False
            # The master exits after its children; wait for its pid file to go.
            pid = os.path.join(self.d, "queue", "pid", "master.pid")
            end = time.time() + 15
            while os.path.exists(pid) and time.time() < end:
                time.sleep(0.1)
        if self.sink is not None:
            harness.stop(self.sink)
            self.sink = None

    def received(self, marker, timeout=20.0):
        """Text of the message smtp-sink received with `marker`, or None."""
        end = time.time() + timeout
        while time.time() < end:
            for fn in glob.glob(os.path.join(self.sinkdir, "*")):
                try:
                    text = open(fn, errors="replace").read()
                except OSError:
                    continue
                if marker in text:
                    return text
            time.sleep(0.2)
        return None


class Milter:
    def __init__(self, port, *args):
        self.port = port
        self.p = harness.spawn([harness.binary("tallow-milter"),
                                "--socket", "inet:%d@127.0.0.1" % port] + list(args),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_port(port):
            harness.stop(self.p)
            raise RuntimeError("tallow-milter did not listen: %s" % self.p.stderr.read())

    def stop(self):
        rc = harness.stop(self.p)
        return rc, self.p.stderr.read().decode(errors="replace")


def send(pf, frm="sender@allowed.com", tenants=(T_A,), addr=MS_ADDR, headers=(),
         envelope=None, cert=None):
    """Sends one message; returns (swaks output, marker)."""
    marker = "tallow-" + uuid.uuid4().hex
    argv = ["swaks", "--server", "127.0.0.1:%d" % pf.sport, "--xclient-addr", addr,
            "--from", envelope or "bounce@allowed.com", "--to", "rcpt@dest.example",
            "--header", "From: %s" % frm, "--header", "Subject: %s" % marker,
            "--timeout", "15", "--body", "body of " + marker]
    for t in tenants:
        argv += ["--add-header", "X-MS-Exchange-CrossTenant-Id: %s" % t]
    for h in headers:
        argv += ["--add-header", h]
    if cert is not None:
        argv += ["--tls", "--tls-cert", os.path.join(pf.tls, cert + ".pem"),
                 "--tls-key", os.path.join(pf.tls, cert + ".key")]
    cp = harness.run(argv, timeout=60)
    return cp.stdout + cp.stderr, marker


def accepted(out):
    # swaks marks server lines "<-" in clear text and "<~" inside TLS.
    return "<-  250 2.0.0 Ok: queued" in out or "<~  250 2.0.0 Ok: queued" in out


def main():
    # A SIGTERM (ctest's timeout) must still stop Postfix: exit through atexit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    nsd, nport, _ = start_nsd({ZONE: ZONE_TEXT})
    srv = "127.0.0.1@%d" % nport
    ranges = os.path.join(SOURCE_DIR, "tools", "tallow-milter", "microsoft-outbound.example")
    mport = harness.free_port()
    pf = Postfix(mport)
    common = ["--zone", ZONE, "--server", srv, "--ms-ranges", ranges, "--timeout", "3"]

    # ---- default actions, with on-none tagging ----
    m = Milter(mport, *(common + ["--on-none", "tag"]))
    out, mk = send(pf)
    got = pf.received(mk)
    if not check(accepted(out) and got is not None and "X-Tallow-Result" not in got,
                 "allowed tenant relayed untouched", out + pf.maillog()[-3000:]):
        harness.done()  # Postfix or the milter is not working: the rest would only time out
    out, mk = send(pf, tenants=(T_B.upper(),))
    check(accepted(out) and pf.received(mk) is not None, "upper-case tenant header relayed",
          out)

    out, mk = send(pf, tenants=(T_C,))
    check("<** 550 5.7.1 tenant %s may not send as allowed.com: tenant not listed" % T_C in out
          and pf.received(mk, timeout=2) is None, "foreign tenant: 550 5.7.1, not relayed", out)

    out, mk = send(pf, frm="Denied <x@denyall.com>")
    check("<** 550 5.7.1 tenant %s may not send as denyall.com: policy at "
          "denyall.com.tenants.example.net allows no tenant" % T_A in out,
          "deny-all policy: 550 5.7.1", out)

    out, mk = send(pf, frm='"Someone, Else" <Someone@NoPolicy.com> (comment, here)')
    got = pf.received(mk)
    check(accepted(out) and got is not None and
          "X-Tallow-Result: none tenant=%s domain=nopolicy.com" % T_A in got,
          "domain without policy: configured default (tag)", out + (got or ""))

    out, mk = send(pf, tenants=())
    check("<** 550 5.7.1 no Microsoft 365 tenant ID in the message" in out
          and pf.received(mk, timeout=2) is None, "missing tenant header: 550 5.7.1", out)

    out, mk = send(pf, tenants=(T_A, T_B))
    check("<** 550 5.7.1" in out and "several different X-MS-Exchange-CrossTenant-Id" in out,
          "two different tenant headers: 550 5.7.1", out)
    out, mk = send(pf, tenants=(T_A, T_A.upper()))
    check(accepted(out), "the same tenant twice is one tenant", out)
    out, mk = send(pf, tenants=("not-a-guid",))
    check("<** 550 5.7.1" in out and '"not-a-guid" is not a tenant ID' in out,
          "tenant header that is not a GUID: 550 5.7.1", out)

    out, mk = send(pf, frm="a@allowed.com, b@allowed.com")
    check("<** 550 5.7.1" in out and "several or ambiguous From: addresses" in out,
          "two From addresses: 550 5.7.1", out)

    out, mk = send(pf, addr=OTHER_ADDR, tenants=(),
                   headers=("X-Tallow-Result: allow tenant=%s domain=allowed.com" % T_A,))
    got = pf.received(mk)
    check(accepted(out) and got is not None and "X-Tallow-Result" not in got,
          "outside the ranges, no tenant header: relayed, forged result header removed",
          out + (got or ""))
    out, mk = send(pf, addr=OTHER_ADDR, tenants=(T_C,))
    check("<** 550 5.7.1" in out, "tenant header outside the ranges is judged too", out)
    rc, log = m.stop()
    check(rc == 0, "milter stops cleanly on SIGTERM", log)
    check("decision allow, action accept" in log and "decision deny, action reject" in log
          and "decision none, action tag" in log and "decision notenant, action reject" in log,
          "one log line per judged message", log)
    judged = [line for line in log.splitlines() if "judged" in line]
    # Eleven messages above were judged; the one from outside the ranges was not.
    check(len(judged) == 11 and all(
        re.search(r"judged, queue [0-9A-F]{6,}, domain \S+, tenant \S+, decision \w+, "
                  r"action \w+, reason .+", line) for line in judged),
          "log lines: queue id, domain, tenant, decision, action, reason",
          log)

    # ---- dry run: tag only ----
    m = Milter(mport, *(common + ["--dry-run"]))
    out, mk = send(pf, tenants=(T_C,))
    got = pf.received(mk)
    check(accepted(out) and got is not None and
          "X-Tallow-Result: deny tenant=%s domain=allowed.com action=reject" % T_C in got,
          "dry run: foreign tenant relayed and tagged", out + (got or ""))
    out, mk = send(pf)
    got = pf.received(mk)
    check(accepted(out) and got is not None and
          "X-Tallow-Result: allow tenant=%s domain=allowed.com action=accept" % T_A in got,
          "dry run: allowed tenant tagged", got or out)
    m.stop()

    # ---- DKIM check against the published dkim= domain ----
    m = Milter(mport, *(common + ["--dkim-authserv-id", "mx.tallow.test"]))
    out, mk = send(pf)
    check("<** 550 5.7.1" in out and
          "no dkim=pass header.d=contoso.onmicrosoft.com from mx.tallow.test" in out,
          "dkim= published, no Authentication-Results: 550", out)
    out, mk = send(pf, headers=("Authentication-Results: mx.tallow.test; dkim=pass "
                                "(2048-bit key) header.d=Contoso.onmicrosoft.com "
                                "header.s=selector1",))
    check(accepted(out), "dkim=pass from the trusted authserv-id: relayed", out)
    out, mk = send(pf, headers=("Authentication-Results: evil.example; dkim=pass "
                                "header.d=contoso.onmicrosoft.com",))
    check("<** 550 5.7.1" in out, "dkim=pass from another authserv-id: 550", out)
    out, mk = send(pf, headers=("Authentication-Results: mx.tallow.test; dkim=fail "
                                "header.d=contoso.onmicrosoft.com",))
    check("<** 550 5.7.1" in out, "dkim=fail: 550", out)
    out, mk = send(pf, tenants=(T_B,))
    check(accepted(out), "tenant without a published dkim= domain: no DKIM needed", out)
    m.stop()

    # ---- the envelope sender, too ----
    m = Milter(mport, *(common + ["--check-envelope-sender"]))
    out, mk = send(pf, envelope="bounce@denyall.com")
    check("<** 550 5.7.1" in out and "envelope sender: policy at denyall.com" in out,
          "envelope sender's domain denies", out)
    out, mk = send(pf, envelope="bounce@nopolicy.com")
    check(accepted(out), "envelope sender without policy, From: allowed", out)
    m.stop()

    # ---- the client certificate's CN ----
    cp = harness.run(["swaks", "--support"])
    tls = check("=== TLS supported" in cp.stdout + cp.stderr,
                "swaks can speak STARTTLS (Debian: libnet-ssleay-perl)", cp.stdout + cp.stderr)
    if tls:
        m = Milter(mport, *(common + ["--cert-cn", "mail.protection.outlook.com"]))
        out, mk = send(pf, cert="ms")
        check(accepted(out) and pf.received(mk) is not None,
              "client certificate CN=mail.protection.outlook.com: relayed",
              out + pf.maillog()[-2000:])
        out, mk = send(pf, cert="evil")
        check("<~* 550 5.7.1" in out and
              'client certificate CN "mail.evil.example" is not mail.protection.outlook.com'
              in out, "client certificate with another CN: 550", out)
        out, mk = send(pf)
        check("<** 550 5.7.1" in out and 'client certificate CN "" is not' in out,
              "no client certificate: 550", out)
        m.stop()
        m = Milter(mport, *(common + ["--cert-cn", "*.outlook.com"]))
        out, mk = send(pf, cert="ms")
        check(accepted(out), "wildcard CN *.outlook.com matches", out)
        out, mk = send(pf, cert="evil")
        check("<~* 550 5.7.1" in out, "wildcard CN does not match another domain", out)
        m.stop()

    # ---- policies served by tallowd, published with tallowctl ----
    try:
        harness.binary("tallowd")
        harness.binary("tallowctl")
        have_tallowd = True
    except FileNotFoundError as e:
        print("# tallowd scenario skipped: %s" % e)
        have_tallowd = False
    if have_tallowd:
        import server_harness
        db = server_harness.make_db(ZONE, csv="allowed.com,%s\ndenyall.com,none\n" % T_A)
        with server_harness.Tallowd(db, ZONE) as td:
            m = Milter(mport, "--zone", ZONE, "--server", "127.0.0.1@%d" % td.port,
                       "--ms-ranges", ranges, "--timeout", "3", "--on-none", "tag")
            out, mk = send(pf)
            check(accepted(out) and pf.received(mk) is not None, "tallowd: allowed tenant relayed",
                  out)
            out, mk = send(pf, tenants=(T_C,))
            check("<** 550 5.7.1 tenant %s may not send as allowed.com" % T_C in out,
                  "tallowd: foreign tenant 550 5.7.1", out)
            # A tenant added with tallowctl is allowed at once (not cached yet).
            harness.tallowctl(db, "add", "denyall.com", T_C, check_rc=0)
            out, mk = send(pf, frm="x@denyall.com", tenants=(T_C,))
            check(accepted(out), "tallowd: tenant added by tallowctl relayed", out)
            out, mk = send(pf, frm="x@unlisted.example")
            got = pf.received(mk)
            check(accepted(out) and got is not None and
                  "X-Tallow-Result: none tenant=%s domain=unlisted.example" % T_A in got,
                  "tallowd: domain without policy tagged", out + (got or ""))
            m.stop()

    # ---- the policy server stops: 451 4.7.1 ----
    m = Milter(mport, *(common[:-2] + ["--timeout", "1"]))
    harness.stop(nsd)
    out, mk = send(pf)
    check("<** 451 4.7.1 cannot check tenant %s for allowed.com now" % T_A in out
          and pf.received(mk, timeout=2) is None, "server stopped: 451 4.7.1", out)
    rc, log = m.stop()
    check("decision tempfail, action tempfail" in log, "tempfail logged", log)

    # ---- the milter's own checks ----
    mb = harness.binary("tallow-milter")
    cp = harness.run([mb, "--sample-config"])
    shipped = open(os.path.join(SOURCE_DIR, "tools", "tallow-milter",
                                "tallow-milter.conf")).read()
    check(cp.returncode == 0 and cp.stdout == shipped,
          "shipped tallow-milter.conf is the option table's sample")
    cp = harness.run([mb, "-c", os.path.join(SOURCE_DIR, "tools", "tallow-milter",
                                             "tallow-milter.conf"),
                      "--ms-ranges", ranges, "--check"])
    check(cp.returncode == 0 and "# 6 address ranges loaded" in cp.stdout,
          "sample config with the example ranges passes --check", cp.stdout + cp.stderr)
    bad = os.path.join(harness.tmpdir(), "bad.conf")
    with open(bad, "w") as f:
        f.write("zone tenants.example.net\non-deny maybe\n")
    cp = harness.run([mb, "-c", bad, "--check"])
    check(cp.returncode == 1 and 'bad.conf:2: on-deny "maybe": expected accept, reject, '
          'tempfail or tag' in cp.stderr, "bad config value named with file:line", cp.stderr)
    badr = os.path.join(harness.tmpdir(), "ranges")
    with open(badr, "w") as f:
        f.write("40.107.0.0/16\n40.107.0.0/33\n")
    cp = harness.run([mb, "--zone", ZONE, "--ms-ranges", badr, "--check"])
    check(cp.returncode == 1 and ':2: "40.107.0.0/33" is not an address range' in cp.stderr,
          "bad range named with file:line", cp.stderr)
    names = set()
    for line in shipped.splitlines():
        opt = re.match(r"^#?([a-z][a-z-]+) \S", line)
        if opt and not line.startswith("# "):
            names.add(opt.group(1))
    manpage = open(os.path.join(SOURCE_DIR, "tools", "tallow-milter", "tallow-milter.8")).read()
    missing = sorted(n for n in names if n.replace("-", "\\-") not in manpage)
    check(len(names) >= 18 and not missing, "every option is named in tallow-milter.8",
          "missing: %s" % missing)
    cp = harness.run([mb, "--help"])
    check(cp.returncode == 0 and "--on-notenant ACTION" in cp.stdout, "--help", cp.stderr)

    pf.stop()
    harness.done()


if __name__ == "__main__":
    main()
