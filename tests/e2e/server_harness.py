"""Running a real tallowd in end-to-end tests.

`Tallowd(db, zone)` is a context manager: it starts the built tallowd on a
free loopback port (127.0.0.1, and ::1 with v6=True), waits until it answers
an SOA query for `zone` (bounded), and on exit stops it by PID with SIGTERM,
recording the exit status and the log.  Start-up failures raise with the
log attached.

Also here: small DNS helpers on top of dnspython for the tests
(`query()`, `raw_udp()`, `tcp_frames()`), and `make_db()`, which builds a
database with the real tallowctl.
"""

import os
import signal
import socket
import struct
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import harness

ZONE = "tenants.example.net"


def make_db(zone=ZONE, csv=None, negative_ttl=None, extra_init=()):
    """A fresh database with `zone` (NS with glue) and the CSV lines given."""
    db = os.path.join(harness.tmpdir(), "db")
    args = ["init", zone, "--ns", "ns1.%s=127.0.0.1" % zone,
            "--mbox", "hostmaster@example.net"]
    if negative_ttl is not None:
        args += ["--negative-ttl", str(negative_ttl)]
    harness.tallowctl(db, *(args + list(extra_init)), check_rc=0)
    if csv:
        harness.tallowctl(db, "import", "-", input=csv, check_rc=0)
    return db


def free_port_v4v6():
    """A port free for UDP and TCP on both 127.0.0.1 and ::1."""
    for _ in range(50):
        port = harness.free_port()
        try:
            for fam, typ in ((socket.AF_INET6, socket.SOCK_STREAM),
                             (socket.AF_INET6, socket.SOCK_DGRAM)):
                s = socket.socket(fam, typ)
                try:
                    s.bind(("::1", port))
                finally:
                    s.close()
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1")


class Tallowd:
    """A tallowd process for the duration of a `with` block."""

    def __init__(self, db, zone=ZONE, threads=1, v6=False, args=(), port=None,
                 ready_timeout=10.0):
        self.db = db
        self.zone = zone
        self.threads = threads
        self.v6 = v6
        self.args = list(args)
        self.port = port
        self.ready_timeout = ready_timeout
        self.proc = None
        self.returncode = None
        self.dir = harness.tmpdir("tallowd-run-")
        self.pidfile = os.path.join(self.dir, "tallowd.pid")
        self.logfile = os.path.join(self.dir, "tallowd.log")

    def argv(self):
        a = [harness.binary("tallowd"), "-d", self.db, "-t", str(self.threads),
             "-l", "127.0.0.1:%d" % self.port]
        if self.v6:
            a += ["-l", "[::1]:%d" % self.port]
        return a + ["--pidfile", self.pidfile] + self.args

    def log(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        if self.port is None:
            self.port = free_port_v4v6() if self.v6 else harness.free_port()
        self._log = open(self.logfile, "w")
        self.proc = harness.spawn(self.argv(), stdout=subprocess.DEVNULL,
                                  stderr=self._log)
        deadline = time.monotonic() + self.ready_timeout
        q = dns.message.make_query(self.zone, "SOA")
        while True:
            if self.proc.poll() is not None:
                self._log.close()
                raise RuntimeError("tallowd exited %d at start-up:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.2)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    return self
            except (dns.exception.Timeout, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("tallowd did not answer within %.0f s:\n%s"
                                   % (self.ready_timeout, self.log()))
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is not None and self.returncode is None:
            self.returncode = harness.stop(self.proc, sig=sig, timeout=timeout)
            self._log.close()
        return self.returncode

    def __exit__(self, *exc):
        self.stop()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # DNS helpers bound to this server.

    def query(self, name, rdtype="A", tcp=False, v6=False, timeout=2.0, **kw):
        """dnspython query (no RD); returns the response message."""
        q = dns.message.make_query(name, rdtype, **kw)
        q.flags &= ~dns.flags.RD
        host = "::1" if v6 else "127.0.0.1"
        if tcp:
            return dns.query.tcp(q, host, port=self.port, timeout=timeout)
        return dns.query.udp(q, host, port=self.port, timeout=timeout,
                             ignore_trailing=False)

    def raw_udp(self, data, timeout=0.5):
        """Sends raw bytes over UDP; returns the reply bytes or None."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(data, ("127.0.0.1", self.port))
            return s.recv(65535)
        except socket.timeout:
            return None
        finally:
            s.close()

    def tcp_connect(self, timeout=5.0):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


def frame(wire):
    """A DNS message with its RFC 1035 §4.2.2 two-octet length."""
    return struct.pack("!H", len(wire)) + wire


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d octets" % (len(buf), n))
        buf += chunk
    return buf


def read_frame(sock):
    (n,) = struct.unpack("!H", read_exact(sock, 2))
    return read_exact(sock, n)


def tool(argv, timeout=20):
    """Runs dig/kdig/drill; returns (exit status, stdout)."""
    cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True, timeout=timeout)
    return cp.returncode, cp.stdout
