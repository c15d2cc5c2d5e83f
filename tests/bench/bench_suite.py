#!/usr/bin/python3
"""tallowd against NSD and Knot on the same data, with the floor, side by side.

One command (not a ctest test; run it on an otherwise idle machine):

    TALLOW_BUILD_DIR=build tests/bench/bench_suite.py \\
        [--sizes 100000,1000000,10000000] [--duration 10] [--rounds 3] [--rate 60000]

For each size N it:
  1. generates N domains with 1 to 3 tenants each, deterministically (the
     same N gives the same files on every machine), and five query files:
     txt (TXT of listed domains), a-hit (A view of a listed tenant), a-miss
     (A view of an unlisted tenant: NXDOMAIN), unknown (TXT of a domain with
     no policy: NXDOMAIN) and mix (40/30/20/10 of the four);
  2. imports the pairs with `tallowctl init` + `tallowctl import` (timed:
     pairs per second end to end) and exports the zone as a master file;
  3. starts tallowd (-t 1), NSD (server-count 1) and Knot (one UDP worker)
     on loopback, each pinned to CPU 0, and the floor: tests/bench/floor.c,
     a responder that answers from a fixed buffer with recvmmsg/sendmmsg
     (built here with cc); times start to first answer and reads PSS
     (/proc/PID/smaps_rollup, summed over NSD's processes);
  4. for each query file runs dnsperf pinned to CPU 1 against each server in
     turn (the runs alternate, so background load hits all alike): closed
     loop (the maximum) and at a fixed offered rate (dnsperf -Q RATE, below
     every server's saturation), and takes the server's CPU time from its own
     /proc/PID/stat (utime + stime of the process and its children);
  5. measures how long a change takes to be served while the server is under
     the mixed load at half the fixed rate: tallowd from the moment
     `tallowctl add` returns, NSD and Knot from the start of their reload
     (SIGHUP for NSD, `knotc zone-reload` for Knot) of the edited zone file;
  6. reads PSS again after the load.
Every figure is the median of --rounds runs.  dnsperf 2.10 prints no
percentiles, so the fixed-rate runs use dnsperf -v and the tail (p99, p99.9)
is computed from its per-query latencies.

Peers at 10,000,000 domains need ~18 GiB (NSD) of memory: by default NSD
and Knot only run up to --peers-max (1,000,000); above it tallowd and the
floor run alone.  --work DIR keeps generated data and databases between
invocations (generation of 10M takes a few minutes); --tallowd/--tallowctl
run other binaries; --before PATH runs a second tallowd binary (e.g. the build
before an optimisation) as server "before", side by side with the others;
--servers ...,tree adds tallowd --no-index (its B-tree only) as server "tree".
tallowd answers at once and builds its in-memory index in the background;
the runs start once the index is built (the time is printed), so no run
pays for the build.
--cold evicts each server's data from the page cache before it starts, as
after a reboot: tallowd then reads data.mdb in through its map as it
answers (its index build reads it all in), NSD and Knot read their
master files.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("TALLOW_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
ZONE = "tenants.bench.example"
NS = "ns1." + ZONE
LOADS = ("txt", "a-hit", "a-miss", "unknown", "mix")
QUERIES_PER_FILE = 200000
M64 = (1 << 64) - 1
SERVER_CPU = "0"
CLIENT_CPU = "1"


# ---------------------------------------------------------------- data

def mix64(x):
    """splitmix64's finaliser: a cheap deterministic 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def domain(i):
    return "d%08d.example%d.com" % (i, i % 50)


def ntenants(i):
    return 1 + mix64(i ^ 0x5A5A5A5A) % 3


def tenant(i, k):
    x = "%016x%016x" % (mix64(4 * i + k), mix64((4 * i + k) ^ 0xA5A5A5A5A5A5))
    return "%s-%s-%s-%s-%s" % (x[0:8], x[8:12], x[12:16], x[16:20], x[20:32])


def write_csv(path, n):
    pairs = 0
    with open(path + ".tmp", "w") as f:
        buf = []
        for i in range(n):
            d = domain(i)
            for k in range(ntenants(i)):
                buf.append("%s,%s\n" % (d, tenant(i, k)))
            if len(buf) >= 65536:
                pairs += len(buf)
                f.write("".join(buf))
                buf = []
        pairs += len(buf)
        f.write("".join(buf))
    os.rename(path + ".tmp", path)
    return pairs


def query_line(kind, n, rng):
    i = rng.randrange(n)
    if kind == "txt":
        return "%s.%s TXT\n" % (domain(i), ZONE)
    if kind == "a-hit":
        return "%s.%s.%s A\n" % (tenant(i, rng.randrange(ntenants(i))), domain(i), ZONE)
    if kind == "a-miss":
        return "%s.%s.%s A\n" % (tenant(i, 3), domain(i), ZONE)  # k=3 is never listed
    return "u%08d.example%d.com.%s TXT\n" % (i, i % 50, ZONE)


def write_queries(path, kind, n, count=QUERIES_PER_FILE):
    rng = random.Random("%s/%d" % (kind, n))
    with open(path, "w") as f:
        for j in range(count):
            if kind == "mix":
                r = j % 10
                k = "txt" if r < 4 else "a-hit" if r < 7 else "a-miss" if r < 9 else "unknown"
            else:
                k = kind
            f.write(query_line(k, n, rng))


# ---------------------------------------------------------------- processes

def binary(name, override=None):
    if override:
        return override
    for sub in ("tools/" + name, "server", "tools", ""):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    sys.exit("bench: %s not built under %s (set TALLOW_BUILD_DIR)" % (name, BUILD_DIR))


def free_port():
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        u.close()
        s.close()
        return port
    raise RuntimeError("no free port")


def tree_pids(pid):
    pids = [pid]
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                for k in f.read().split():
                    pids.extend(tree_pids(int(k)))
    except OSError:
        pass
    return pids


def tree_cpu(pid):
    """CPU seconds (utime + stime) of pid and its descendants (NSD forks)."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def tree_pss(pid):
    """PSS in bytes of pid and its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- DNS probe

def dns_query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


class Probe:
    """Asks one name over UDP, as fast as answers come, until it exists."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.qid = 0

    def close(self):
        self.sock.close()

    def answered(self, name, qtype, timeout=0.005, any_reply=False):
        """True when the name has an answer (NOERROR with ANCOUNT > 0), or any reply."""
        self.qid = (self.qid + 1) & 0xFFFF
        try:
            self.sock.send(dns_query(self.qid, name, qtype))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                r = self.sock.recv(4096)
                if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == self.qid:
                    flags, _, an = struct.unpack(">HHH", r[2:8])
                    return any_reply or ((flags & 0xF) == 0 and an > 0)
        except (ConnectionRefusedError, socket.timeout, OSError):
            return False

    def wait(self, name, qtype, limit, each=0.005):
        """Seconds until answered, or None after `limit` seconds."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self.answered(name, qtype, each):
                return time.monotonic() - t0
            time.sleep(0.0005)
        return None


# ---------------------------------------------------------------- servers

NSD_CONF = """server:
    port: {port}
    ip-address: 127.0.0.1
    do-ip6: no
    server-count: 1
    tcp-count: 10
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    logfile: "{dir}/nsd.log"
    verbosity: 0
    hide-version: yes
    hide-identity: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "{zone}"
    zonefile: "{zone}.zone"
"""

KNOT_CONF = """server:
    listen: 127.0.0.1@{port}
    rundir: "{dir}"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{dir}"
control:
    listen: "{dir}/knot.sock"
log:
  - target: "{dir}/knot.log"
    any: warning
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: {zone}
    file: "{zone}.zone"
"""


def evict(path):
    """Drops a file's pages from the page cache, as after a reboot (no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Server:
    def __init__(self, name, argv, port, workdir=None, zonefile=None, db=None, cold=(),
                 log=None):
        self.name, self.argv, self.port = name, argv, port
        self.workdir, self.zonefile, self.db = workdir, zonefile, db
        self.cold = cold  # files evicted from the page cache before the start
        self.log = log  # tallowd's stderr, to see when its index is ready
        self.proc = None
        self.start_s = None
        self.index_s = None
        self.pss_start = self.pss_end = None
        self.change_s = []

    def start(self, probe_name, limit):
        for path in self.cold:
            evict(path)
        t0 = time.monotonic()
        err = open(self.log, "w") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + self.argv,
                                     stdout=subprocess.DEVNULL, stderr=err)
        if self.log:
            err.close()
        self.t0 = t0
        p = Probe(self.port)
        try:
            while time.monotonic() - t0 < limit:
                if self.proc.poll() is not None:
                    return False
                if p.answered(probe_name, 16, 0.002, any_reply=self.name == "floor"):
                    self.start_s = time.monotonic() - t0
                    return True
                time.sleep(0.0005)
        finally:
            p.close()
        return False


    def wait_index(self, limit):
        """tallowd answers at once from its B-tree; its index follows in the
        background.  Runs start once it is built, so no run pays for the build."""
        if not self.log:
            return
        while time.monotonic() - self.t0 < limit and self.proc.poll() is None:
            with open(self.log, errors="replace") as f:
                if "index: " in f.read():
                    self.index_s = time.monotonic() - self.t0
                    return
            time.sleep(0.01)


def make_servers(n, work, data, db, want, args):
    servers = []
    cold = lambda d: (os.path.join(d, "data.mdb"),) if args.cold else ()  # noqa: E731
    if "tallowd" in want:
        port = free_port()
        servers.append(Server("tallowd", [binary("tallowd", args.tallowd), "-d", db, "-l",
                                          "127.0.0.1:%d" % port, "-t", "1", "-v"], port,
                              db=db, cold=cold(db),
                              log=os.path.join(work, "tallowd-%d.log" % n)))
    if "tree" in want:
        # tallowd without its index: what the index buys, measured in the same run.
        port = free_port()
        servers.append(Server("tree", [binary("tallowd", args.tallowd), "-d", db, "-l",
                                       "127.0.0.1:%d" % port, "-t", "1", "-q", "--no-index"],
                              port, db=db, cold=cold(db)))
    if args.before:
        # With --cold the two binaries get a copy each: pages one reads in, in
        # whatever page size, would otherwise serve the other.
        bdb = db
        if args.cold:
            bdb = db + "-before"
            shutil.rmtree(bdb, ignore_errors=True)
            shutil.copytree(db, bdb)
        port = free_port()
        servers.append(Server("before", [args.before, "-d", bdb, "-l", "127.0.0.1:%d" % port,
                                         "-t", "1", "-q"], port, db=bdb, cold=cold(bdb)))
    if "nsd" in want:
        d = os.path.join(work, "nsd-%d" % n)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        zf = os.path.join(d, ZONE + ".zone")
        shutil.copyfile(data["zonefile"], zf)
        port = free_port()
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write(NSD_CONF.format(port=port, dir=d, zone=ZONE))
        servers.append(Server("nsd", ["nsd", "-c", conf, "-d"], port, d, zf,
                              cold=(zf,) if args.cold else ()))
    if "knot" in want:
        d = os.path.join(work, "knot-%d" % n)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        zf = os.path.join(d, ZONE + ".zone")
        shutil.copyfile(data["zonefile"], zf)
        port = free_port()
        conf = os.path.join(d, "knot.conf")
        with open(conf, "w") as f:
            f.write(KNOT_CONF.format(port=port, dir=d, zone=ZONE))
        servers.append(Server("knot", ["knotd", "-c", conf], port, d, zf,
                              cold=(zf,) if args.cold else ()))
    if "floor" in want:
        port = free_port()
        servers.append(Server("floor", [data["floor"], "127.0.0.1", str(port)], port))
    return servers


# ---------------------------------------------------------------- dnsperf

def dnsperf(port, qfile, duration, rate=None):
    argv = ["taskset", "-c", CLIENT_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d",
            qfile, "-l", str(duration), "-c", "4", "-q", "256", "-t", "2"]
    if rate:
        argv += ["-Q", str(rate), "-v"]
    cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = cp.stdout
    res = {}
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    res["qps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)", out)
    res["avg_ms"] = float(m.group(1)) * 1000 if m else 0.0
    res["max_ms"] = float(m.group(3)) * 1000 if m else 0.0
    m = re.search(r"Queries lost:\s+(\d+)", out)
    res["lost"] = int(m.group(1)) if m else -1
    m = re.search(r"Queries completed:\s+(\d+)", out)
    res["done"] = int(m.group(1)) if m else 0
    m = re.search(r"Response codes:\s+(.*)", out)
    res["rcodes"] = m.group(1).strip() if m else "?"
    if rate:
        # dnsperf -v: "> RCODE name type latency" per answer.
        lat = sorted(float(x) for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", out, re.M))
        if lat:
            res["p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            res["p999_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.999))] * 1000
    return res


def measure(server, qfile, duration, rate=None):
    cpu0 = tree_cpu(server.proc.pid)
    res = dnsperf(server.port, qfile, duration, rate)
    cpu = tree_cpu(server.proc.pid) - cpu0
    res["cpu_s"] = cpu
    res["us_per_q"] = 1e6 * cpu / res["done"] if res["done"] else float("nan")
    return res


def median_of(runs):
    out = {}
    for key in runs[0]:
        vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        if vals:
            out[key] = statistics.median(vals)
    out["rcodes"] = runs[0].get("rcodes", "?")
    return out


# ---------------------------------------------------------------- change latency

def bump_zonefile(path, name, txt):
    """Raises the SOA serial in place (same width) and appends a TXT record."""
    with open(path, "r+b") as f:
        head = f.read(4096).decode()
        m = re.search(r"\bSOA\s+\S+\s+\S+\s+\(?\s*(\d+)", head)
        if not m:
            raise RuntimeError("no SOA serial in " + path)
        old = m.group(1)
        new = str(int(old) + 1)
        if len(new) != len(old):
            raise RuntimeError("serial width changes")
        f.seek(len(head[:m.start(1)].encode()))
        f.write(new.encode())
        f.seek(0, os.SEEK_END)
        f.write(('%s.%s. 3600 IN TXT "%s"\n' % (name, ZONE, txt)).encode())


def change_latency(server, ctl, db, n, round_no, qfile, rate, limit):
    """Seconds from the change (add returned / reload started) to the first answer."""
    name = "chg%d-%d-%s.example.com" % (round_no, n, server.name)
    guid = "00000000-0000-4000-8000-%012x" % round_no
    load = subprocess.Popen(["taskset", "-c", CLIENT_CPU, "dnsperf", "-s", "127.0.0.1", "-p",
                             str(server.port), "-d", qfile, "-l", "30", "-c", "4", "-q", "256",
                             "-Q", str(rate)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    probe = Probe(server.port)
    try:
        time.sleep(1.0)  # the load is running
        if server.name in ("tallowd", "tree", "before"):
            subprocess.run([ctl, "-d", db, "add", name, guid], check=True)
        elif server.name == "nsd":
            bump_zonefile(server.zonefile, name, "v=TAL1; tid=" + guid)
        else:
            bump_zonefile(server.zonefile, name, "v=TAL1; tid=" + guid)
        t0 = time.monotonic()
        if server.name == "nsd":
            os.kill(server.proc.pid, signal.SIGHUP)
        elif server.name == "knot":
            subprocess.run(["knotc", "-s", os.path.join(server.workdir, "knot.sock"),
                            "zone-reload", ZONE], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        while time.monotonic() - t0 < limit:
            if probe.answered("%s.%s" % (name, ZONE), 16, 0.005):
                return time.monotonic() - t0
        return None
    finally:
        probe.close()
        stop(load)


# ---------------------------------------------------------------- one size

def prepare(n, work, args):
    """Generates data, imports it, exports the master file.  Returns paths and timings."""
    ctl = binary("tallowctl", args.tallowctl)
    data = {}
    csv = os.path.join(work, "pairs-%d.csv" % n)
    t = time.monotonic()
    if not os.path.exists(csv):
        write_csv(csv, n)
    data["pairs"] = sum(ntenants(i) for i in range(n))
    for kind in LOADS:
        q = os.path.join(work, "q-%s-%d.txt" % (kind, n))
        if not os.path.exists(q):
            write_queries(q, kind, n)
        data[kind] = q
    print("  data: %d domains, %d pairs (%.1f s)" % (n, data["pairs"], time.monotonic() - t),
          flush=True)

    imports = []
    db = os.path.join(work, "db-%d" % n)
    for r in range(args.import_runs):
        shutil.rmtree(db, ignore_errors=True)
        subprocess.run([ctl, "-d", db, "init", ZONE, "--ns", NS + "=127.0.0.1"], check=True)
        t = time.monotonic()
        subprocess.run([ctl, "-d", db, "import", csv], check=True)
        imports.append(time.monotonic() - t)
    data["import_s"] = statistics.median(imports)
    data["import_rate"] = data["pairs"] / data["import_s"]
    data["db_bytes"] = os.path.getsize(os.path.join(db, "data.mdb"))
    data["db"] = db
    zf = os.path.join(work, "zone-%d.zone" % n)
    with open(zf, "w") as f:
        subprocess.run([ctl, "-d", db, "export", "--format", "zone"], stdout=f, check=True)
    data["zonefile"] = zf
    data["zone_bytes"] = os.path.getsize(zf)
    print("  import: median %.2f s of %d, %.0f pairs/s; data.mdb %.0f MB, master file %.0f MB"
          % (data["import_s"], len(imports), data["import_rate"], data["db_bytes"] / 1e6,
             data["zone_bytes"] / 1e6), flush=True)
    return data


def bench_size(n, work, args):
    data = prepare(n, work, args)
    data["floor"] = args.floor_bin
    want = [s for s in args.servers.split(",")
            if s in ("tallowd", "tree", "floor") or n <= args.peers_max]
    servers = make_servers(n, work, data, data["db"], want, args)
    results = {"n": n, "pairs": data["pairs"], "import_rate": data["import_rate"],
               "db_bytes": data["db_bytes"], "zone_bytes": data["zone_bytes"], "servers": {}}
    probe_name = "%s.%s" % (domain(n - 1), ZONE)
    loads = args.loads.split(",")
    fixed = args.fixed_loads.split(",") if args.fixed_loads else []
    try:
        for s in servers:
            if not s.start(probe_name, 1800):
                sys.exit("bench: %s did not start" % s.name)
            time.sleep(0.5)
            s.pss_start = tree_pss(s.proc.pid)
            s.wait_index(1800)
            print("  %-8s first answer after %.3f s, PSS %.1f MiB%s" % (
                s.name, s.start_s, s.pss_start / 2**20,
                ", index built after %.2f s" % s.index_s if s.index_s else ""), flush=True)
            # Warm-up, not measured: page cache, branch predictors.
            dnsperf(s.port, data["mix"], 1)
        runs = {}
        for r in range(args.rounds):
            for load in loads:
                for mode in ["max"] + (["fixed"] if load in fixed else []):
                    for s in servers:
                        res = measure(s, data[load], args.duration,
                                      args.rate if mode == "fixed" else None)
                        runs.setdefault((s.name, load, mode), []).append(res)
                        print("    round %d %-8s %-7s %-5s %8.0f qps %6.2f us/q lost %d %s" % (
                            r + 1, s.name, load, mode, res["qps"], res["us_per_q"],
                            res["lost"], res["rcodes"]), flush=True)
        for s in servers:
            s.pss_end = tree_pss(s.proc.pid)
        if args.change_rounds > 0:
            for s in servers:
                if s.name == "floor":
                    continue
                for r in range(args.change_rounds):
                    lat = change_latency(s, binary("tallowctl", args.tallowctl),
                                         s.db or data["db"], n,
                                         r, data["mix"], args.rate // 2, 600)
                    s.change_s.append(lat)
                    print("    change %d %-8s %s" % (r + 1, s.name, "%.4f s" % lat
                                                     if lat is not None else "not served"),
                          flush=True)
    finally:
        for s in servers:
            if s.proc is not None:
                stop(s.proc)
    for s in servers:
        ch = [x for x in s.change_s if x is not None]
        results["servers"][s.name] = {
            "start_s": s.start_s, "pss_start": s.pss_start, "pss_end": s.pss_end,
            "change_s": statistics.median(ch) if ch else None,
            "loads": {"%s/%s" % (load, mode): median_of(lst)
                      for (name, load, mode), lst in runs.items() if name == s.name},
        }
    return results


# ---------------------------------------------------------------- report

def ratio(res, key, metric, lower_better):
    t = res["servers"].get("tallowd", {}).get("loads", {}).get(key, {}).get(metric)
    peers = [v["loads"].get(key, {}).get(metric) for name, v in res["servers"].items()
             if name in ("nsd", "knot")]
    peers = [p for p in peers if p]
    if not t or not peers:
        return ""
    best = min(peers) if lower_better else max(peers)
    return "%.2f" % (t / best)


def report(all_res, args):
    print()
    print("Medians of %d runs of %d s; servers pinned to CPU %s, dnsperf to CPU %s; "
          "fixed rate %d q/s; %s start." % (args.rounds, args.duration, SERVER_CPU, CLIENT_CPU,
                                            args.rate, "cold" if args.cold else "warm"))
    for res in all_res:
        print()
        print("== %d domains, %d pairs" % (res["n"], res["pairs"]))
        print("%-8s %-9s %9s %8s %8s %8s %7s | %8s %8s %8s %8s %6s" % (
            "load", "server", "max qps", "us/q", "avg ms", "max ms", "lost",
            "us/q@Q", "avg ms", "p99 ms", "p999 ms", "lost"))
        for load in args.loads.split(","):
            for name in ("tallowd", "tree", "before", "knot", "nsd", "floor"):
                s = res["servers"].get(name)
                if s is None:
                    continue
                mx = s["loads"].get(load + "/max", {})
                fx = s["loads"].get(load + "/fixed", {})
                line = "%-8s %-9s %9.0f %8.2f %8.3f %8.2f %7.0f" % (
                    load, name, mx.get("qps", 0), mx.get("us_per_q", 0), mx.get("avg_ms", 0),
                    mx.get("max_ms", 0), mx.get("lost", 0))
                if fx:
                    line += " | %8.2f %8.3f %8.3f %8.3f %6.0f" % (
                        fx.get("us_per_q", 0), fx.get("avg_ms", 0), fx.get("p99_ms", 0),
                        fx.get("p999_ms", 0), fx.get("lost", 0))
                print(line)
            r1 = ratio(res, load + "/max", "qps", False)
            r2 = ratio(res, load + "/max", "us_per_q", True)
            r3 = ratio(res, load + "/fixed", "us_per_q", True)
            if r1:
                print("%-8s %-9s %9s %8s %28s | %8s" % (load, "ratio", r1, r2, "", r3))
        print()
        print("%-9s %12s %12s %12s %14s" % ("server", "1st answer", "PSS start", "PSS end",
                                             "change served"))
        for name in ("tallowd", "tree", "before", "knot", "nsd", "floor"):
            s = res["servers"].get(name)
            if s is None:
                continue
            ch = s["change_s"]
            print("%-9s %10.3f s %8.1f MiB %8.1f MiB %14s" % (
                name, s["start_s"] or 0, (s["pss_start"] or 0) / 2**20,
                (s["pss_end"] or 0) / 2**20,
                "%.2f ms" % (ch * 1000) if ch is not None else "-"))
        print("import: %.0f pairs/s (tallowctl import, median); data.mdb %.1f MB = %.2f x the "
              "master file" % (res["import_rate"], res["db_bytes"] / 1e6,
                               res["db_bytes"] / res["zone_bytes"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--servers", default="tallowd,knot,nsd,floor")
    ap.add_argument("--loads", default=",".join(LOADS))
    ap.add_argument("--fixed-loads", default=",".join(LOADS),
                    help="loads also run at the fixed rate (default: all)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per server and load")
    ap.add_argument("--rate", type=int, default=60000, help="fixed offered rate, q/s")
    ap.add_argument("--change-rounds", type=int, default=3)
    ap.add_argument("--import-runs", type=int, default=1)
    ap.add_argument("--peers-max", type=int, default=1000000,
                    help="largest size NSD and Knot run at (memory)")
    ap.add_argument("--cold", action="store_true",
                    help="start every server with its data out of the page cache, as after a "
                    "reboot (tallowd's data.mdb, the peers' master files)")
    ap.add_argument("--work", help="keep data here and reuse it (default: a temporary dir)")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--tallowd")
    ap.add_argument("--tallowctl")
    ap.add_argument("--before", help="another tallowd binary, run as server 'before' on the "
                    "same database (before/after figures of an optimisation)")
    args = ap.parse_args()
    os.environ["PATH"] += ":/usr/sbin"
    for tool in ("dnsperf", "taskset", "cc") + tuple(
            s + "d" if s == "knot" else s for s in args.servers.split(",")
            if s in ("nsd", "knot")):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is not installed" % tool)
    if os.cpu_count() < 2:
        sys.exit("bench: needs two CPUs (server and dnsperf pinned apart)")

    work = args.work or tempfile.mkdtemp(prefix="tallow-bench-")
    os.makedirs(work, exist_ok=True)
    args.floor_bin = os.path.join(work, "floor")
    subprocess.run(["cc", "-O2", "-o", args.floor_bin, os.path.join(HERE, "floor.c")],
                   check=True)
    all_res = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            print("== %d domains (load average %.2f %.2f %.2f, %d CPUs)"
                  % ((n,) + os.getloadavg() + (os.cpu_count(),)), flush=True)
            all_res.append(bench_size(n, work, args))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report(all_res, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_res, f, indent=1)


if __name__ == "__main__":
    main()
