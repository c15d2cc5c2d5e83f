"""tallowd's command line, start-up failures, signals and pidfile.

What an operator sees when starting and stopping the server: --help,
--version, --check, a clear message and the documented exit status for each
start-up failure (missing directory, not a tallow database, no zone, a port
in use by another program or another tallowd, a malformed -l), and a clean
exit 0 on SIGTERM/SIGINT with the pidfile removed.
"""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import server_harness as sh  # noqa: E402
from harness import check  # noqa: E402

TALLOWD = harness.binary("tallowd")


def run(args, env=None, timeout=20):
    return harness.run([TALLOWD] + args, env=env, timeout=timeout)


def db_without_zones(db):
    """A copy of `db` with its zones and nodes emptied, via mdb_dump/mdb_load."""
    dump = subprocess.run(["mdb_dump", "-a", db], stdout=subprocess.PIPE, check=True,
                          text=True).stdout
    out, name, in_data = [], None, False
    for line in dump.splitlines(keepends=True):
        if line.startswith("database="):
            name = line.strip().split("=", 1)[1]
        if line.startswith("HEADER=END"):
            in_data = True
            out.append(line)
            continue
        if line.startswith("DATA=END"):
            in_data = False
        if in_data and name in ("zones", "nodes"):
            continue
        out.append(line)
    empty = os.path.join(harness.tmpdir(), "empty-db")
    os.mkdir(empty)
    subprocess.run(["mdb_load", empty], input="".join(out), text=True, check=True,
                   stderr=subprocess.DEVNULL)
    return empty


# --help, --version, usage errors.
cp = run(["--help"])
check(cp.returncode == 0, "--help exits 0")
for part in ("Usage: tallowd", "-l, --listen ADDRESS[:PORT]", "Default: 10",
             "Signals:", "SIGTERM", "Exit status:", "64", "Examples:", "TALLOW_DB"):
    check(part in cp.stdout, "--help mentions %r" % part, cp.stdout)
cp = run(["--version"])
check(cp.returncode == 0 and cp.stdout.startswith("tallowd "), "--version", cp.stdout)

for bad in ("1.2.3", "[::1", "[::1]x", "127.0.0.1:0", "127.0.0.1:70000", "host.example:53",
            "127.0.0.1:", "[127.0.0.1]:53"):
    cp = run(["-d", "/nonexistent", "-l", bad])
    check(cp.returncode == 64, "-l %s: exit 64" % bad, cp.stderr)
    check(cp.stderr.startswith("tallowd: -l: '%s'" % bad), "-l %s: message names it" % bad,
          cp.stderr)
cp = run(["--no-such-option"])
check(cp.returncode == 64 and "--no-such-option" in cp.stderr, "unknown option: exit 64",
      cp.stderr)
cp = run(["-t", "0"])
check(cp.returncode == 64 and "--threads" in cp.stderr, "-t 0: exit 64", cp.stderr)
cp = run(["extra-argument"])
check(cp.returncode == 64, "stray argument: exit 64", cp.stderr)

# Database failures: each names the directory and exits 1.
tmp = harness.tmpdir()
missing = os.path.join(tmp, "x")
cp = run(["-d", missing, "-l", "127.0.0.1:%d" % harness.free_port()])
check(cp.returncode == 1, "missing directory: exit 1", cp.stderr)
check(cp.stderr == "tallowd: %s: no such file or directory\n" % missing,
      "missing directory: message", cp.stderr)
cp = run(["-l", "127.0.0.1:%d" % harness.free_port()], env={"TALLOW_DB": missing})
check(cp.returncode == 1 and missing in cp.stderr, "$TALLOW_DB is the default directory",
      cp.stderr)

empty_dir = os.path.join(tmp, "empty")
os.mkdir(empty_dir)
cp = run(["-d", empty_dir])
check(cp.returncode == 1 and cp.stderr.startswith("tallowd: %s: no database" % empty_dir),
      "empty directory: no database", cp.stderr)

foreign = os.path.join(tmp, "foreign")
os.mkdir(foreign)
with open(os.path.join(foreign, "data.mdb"), "wb") as f:
    f.write(b"this is not an LMDB file" * 300)
cp = run(["-d", foreign])
check(cp.returncode == 1 and cp.stderr == "tallowd: %s: not a tallow database\n" % foreign,
      "a foreign file: not a tallow database", cp.stderr)

db = sh.make_db()
nozone = db_without_zones(db)
cp = run(["-d", nozone, "-l", "127.0.0.1:%d" % harness.free_port()])
check(cp.returncode == 1 and "holds no zone" in cp.stderr and nozone in cp.stderr,
      "a database without zones: refused", cp.stderr)

# --check.
cp = run(["-d", db, "-l", "127.0.0.1:5300", "-l", "[::1]:5300", "-t", "3", "--check"])
check(cp.returncode == 0, "--check on a good database: exit 0", cp.stderr)
check("zones: 1 (%s)" % sh.ZONE in cp.stdout and "listen: [::1]:5300" in cp.stdout
      and "threads: 3" in cp.stdout, "--check prints the settings and zones", cp.stdout)
cp = run(["-d", nozone, "--check"])
check(cp.returncode == 1 and "holds no zone" in cp.stderr, "--check without zones: exit 1",
      cp.stderr)
cp = run(["--check"], env={"TALLOW_DB": db})
check(cp.returncode == 0 and "directory: %s" % db in cp.stdout, "--check with $TALLOW_DB",
      cp.stdout + cp.stderr)

cp = run(["-d", db, "-u", "no-such-user-tallow", "-l", "127.0.0.1:%d" % harness.free_port()])
check(cp.returncode == 1 and "no-such-user-tallow: no such user" in cp.stderr,
      "-u unknown user: exit 1", cp.stderr)

# Occupied ports: by a plain UDP socket, a plain TCP listener, another tallowd.
port = harness.free_port()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", port))
cp = run(["-d", db, "-l", "127.0.0.1:%d" % port])
u.close()
check(cp.returncode == 1
      and cp.stderr == "tallowd: 127.0.0.1:%d (udp): address already in use\n" % port,
      "UDP port held by another program: exit 1 naming the address", cp.stderr)

port = harness.free_port()
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
t.bind(("127.0.0.1", port))
t.listen(1)
cp = run(["-d", db, "-l", "127.0.0.1:%d" % port])
t.close()
check(cp.returncode == 1 and "127.0.0.1:%d (tcp): address already in use" % port in cp.stderr,
      "TCP port held (even with SO_REUSEPORT): exit 1", cp.stderr)

with sh.Tallowd(db, threads=2, args=["-v"]) as srv:
    cp = run(["-d", db, "-l", "127.0.0.1:%d" % srv.port])
    check(cp.returncode == 1 and "127.0.0.1:%d" % srv.port in cp.stderr
          and "address already in use" in cp.stderr,
          "a second tallowd on the same port: exit 1", cp.stderr)
    r = srv.query(sh.ZONE, "SOA")
    check(r.rcode() == 0 and len(r.answer) == 1, "the first tallowd still answers")
    with open(srv.pidfile) as f:
        pid_text = f.read()
    check(pid_text == "%d\n" % srv.proc.pid, "pidfile holds the PID", pid_text)
    status = srv.stop(signal.SIGTERM)
check(status == 0, "SIGTERM: exit 0", srv.log())
check(not os.path.exists(srv.pidfile), "SIGTERM: pidfile removed")
log = srv.log()
check("serving 1 zone (%s)" % sh.ZONE in log and "127.0.0.1:%d" % srv.port in log
      and "2 workers" in log, "start-up line: zones, addresses, workers", log)
check("stats, queries" in log and "stats, tcp" in log, "-v: counters logged at shutdown", log)

with sh.Tallowd(db, v6=True) as srv:
    r = srv.query(sh.ZONE, "SOA", v6=True)
    check(r.rcode() == 0 and len(r.answer) == 1, "answers on ::1 (UDP)")
    r = srv.query(sh.ZONE, "SOA", v6=True, tcp=True)
    check(r.rcode() == 0 and len(r.answer) == 1, "answers on ::1 (TCP)")
    status = srv.stop(signal.SIGINT)
check(status == 0 and not os.path.exists(srv.pidfile), "SIGINT: exit 0, pidfile removed",
      srv.log())
check("stats, queries" not in srv.log(), "default level: no counters", srv.log())

# SIGHUP is not fatal.
with sh.Tallowd(db) as srv:
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    check(srv.alive() and srv.query(sh.ZONE, "SOA").rcode() == 0, "SIGHUP: still serving")

# -u: privileges dropped after binding (only testable as root).
if os.geteuid() == 0:
    import pwd
    nobody = pwd.getpwnam("nobody")
    srv = sh.Tallowd(db, args=["-u", "nobody"])
    os.chmod(srv.dir, 0o1777)  # so that nobody may remove its pidfile
    with srv:
        with open("/proc/%d/status" % srv.proc.pid) as f:
            status_lines = f.read()
        uid_line = [ln for ln in status_lines.splitlines() if ln.startswith("Uid:")][0]
        check(uid_line.split()[1:] == [str(nobody.pw_uid)] * 4, "-u nobody: runs as nobody",
              uid_line)
        check(srv.query(sh.ZONE, "SOA").rcode() == 0, "-u nobody: answers")
        status = srv.stop()
    check(status == 0 and not os.path.exists(srv.pidfile), "-u nobody: clean exit", srv.log())

harness.done()
