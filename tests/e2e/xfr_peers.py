"""NSD and Knot as secondaries of tallowd, for the zone transfer tests.

`Nsd(primary_port, zone, key)` and `Knot(...)` are context managers: each
writes its own configuration, pid file, database and log into a temporary
directory, starts the daemon in the foreground on a free loopback port,
pulling `zone` from tallowd at 127.0.0.1:primary_port (signed with `key`,
a (name, algorithm, base64 secret) triple, when given), and accepting
NOTIFY from 127.0.0.1 with that key.  On exit the daemon is stopped by its
PID.  `wait_serial()` polls (bounded) until the secondary serves a serial.
"""

import os
import subprocess
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode

import harness


def soa_serial(port, zone, host="127.0.0.1", timeout=0.5):
    """The serial a server answers for `zone`, or None."""
    q = dns.message.make_query(zone, "SOA")
    try:
        r = dns.query.udp(q, host, port=port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return r.answer[0][0].serial


class Secondary:
    name = "?"

    def __init__(self, primary_port, zone, key=None, ixfr=True):
        self.primary_port = primary_port
        self.zone = zone
        self.key = key
        self.ixfr = ixfr
        self.dir = harness.tmpdir("tallow-%s-" % self.name)
        self.port = harness.free_port()
        self.logfile = os.path.join(self.dir, "%s.log" % self.name)
        self.proc = None

    def log(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        self.write_config()
        self._out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = harness.spawn(self.argv(), stdout=self._out, stderr=subprocess.STDOUT)
        # Generous: on a loaded machine (sanitizer builds, two shared cores) a
        # peer can take several seconds before its first answer.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %d at start-up:\n%s\n%s" % (
                    self.name, self.proc.returncode, self.log(), self.stdout()))
            q = dns.message.make_query("version.server", "TXT", rdclass="CH")
            try:
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
                return self
            except (dns.exception.Timeout, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start:\n%s" % (self.name, self.log()))

    def stdout(self):
        try:
            with open(os.path.join(self.dir, "stdout.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            harness.stop(self.proc, timeout=10)
            self.proc = None
            self._out.close()

    def __exit__(self, *exc):
        self.stop()
        return False

    def serial(self):
        return soa_serial(self.port, self.zone)

    def wait_serial(self, serial, timeout=15.0):
        """Polls until the secondary serves `serial`; returns the last seen one."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.serial()
            if seen == serial:
                return seen
            time.sleep(0.1)
        return seen

    def all_logs(self):
        return self.log() + self.stdout()


class Nsd(Secondary):
    name = "nsd"

    def write_config(self):
        d = self.dir
        os.makedirs(os.path.join(d, "xfr"), exist_ok=True)
        key_line = ""
        keyname = "NOKEY"
        if self.key:
            keyname = self.key[0]
            key_line = 'key:\n\tname: "%s"\n\talgorithm: %s\n\tsecret: "%s"\n' % self.key
        conf = (
            "server:\n"
            "\tip-address: 127.0.0.1@%d\n"
            "\tport: %d\n"
            "\tzonesdir: \"%s\"\n"
            "\tdatabase: \"\"\n"
            "\tpidfile: \"%s/nsd.pid\"\n"
            "\txfrdfile: \"%s/xfrd.state\"\n"
            "\tzonelistfile: \"%s/zone.list\"\n"
            "\txfrdir: \"%s/xfr\"\n"
            "\tlogfile: \"%s\"\n"
            "\tusername: \"\"\n"
            "\tchroot: \"\"\n"
            "\tverbosity: 2\n"
            "\tserver-count: 1\n"
            "\thide-version: yes\n"
            "\tminimal-responses: yes\n"
            "remote-control:\n\tcontrol-enable: no\n"
            "%s"
            "zone:\n"
            "\tname: \"%s\"\n"
            "\tzonefile: \"%s/%s.zone\"\n"
            "\trequest-xfr: %s127.0.0.1@%d %s\n"
            "\tallow-notify: 127.0.0.1 %s\n"
        ) % (self.port, self.port, d, d, d, d, d, self.logfile, key_line, self.zone, d,
             self.zone, "" if self.ixfr else "AXFR ", self.primary_port, keyname, keyname)
        self.conf = os.path.join(d, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def argv(self):
        return ["/usr/sbin/nsd", "-d", "-c", self.conf]


class Knot(Secondary):
    name = "knot"

    def write_config(self):
        d = self.dir
        os.makedirs(os.path.join(d, "zones"), exist_ok=True)
        key = ""
        keyref = ""
        if self.key:
            key = "key:\n  - id: %s\n    algorithm: %s\n    secret: %s\n" % self.key
            keyref = "    key: %s\n" % self.key[0]
        conf = (
            "server:\n"
            "    rundir: \"%s\"\n"
            "    pidfile: \"%s/knot.pid\"\n"
            "    listen: 127.0.0.1@%d\n"
            "    background-workers: 1\n"
            "    udp-workers: 1\n"
            "    tcp-workers: 1\n"
            "database:\n"
            "    storage: \"%s/db\"\n"
            "log:\n"
            "  - target: \"%s\"\n"
            "    any: info\n"
            "%s"
            "remote:\n"
            "  - id: primary\n"
            "    address: 127.0.0.1@%d\n"
            "%s"
            "acl:\n"
            "  - id: notify_from_primary\n"
            "    address: 127.0.0.1\n"
            "    action: notify\n"
            "%s"
            "template:\n"
            "  - id: default\n"
            "    storage: \"%s/zones\"\n"
            "zone:\n"
            "  - domain: %s\n"
            "    master: primary\n"
            "    acl: notify_from_primary\n"
        ) % (d, d, self.port, d, self.logfile, key, self.primary_port, keyref, keyref, d,
             self.zone)
        self.conf = os.path.join(d, "knot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def argv(self):
        return ["/usr/sbin/knotd", "-c", self.conf]
