#!/usr/bin/python3
"""Throughput and latency of tallowd against NSD on the same data.

For each size N (default 100,000 and 1,000,000 domains, 1 to 3 tenants each,
generated deterministically) this:
  1. builds a tallow database with the real tallowctl (init + import),
  2. exports the same zone as a master file (tallowctl export --format zone)
     and serves it with NSD (one server process, no database file),
  3. runs tallowd with one worker,
  4. pins each server in turn to CPU 0 and dnsperf to CPU 1, and runs
     dnsperf for DURATION seconds with a mixed query file: TXT hits, A-view
     hits, A-view misses (tenant not listed) and NXDOMAIN (no policy),
  5. prints queries per second, average/min/max latency and the ratio
     tallowd/NSD.
dnsperf 2.10 reports no percentiles, so the tail is shown as the maximum and
the standard deviation.

The full comparison (NSD and Knot, a recvmmsg floor, five loads, CPU per
query at a fixed rate, start-up, memory, change latency) is bench_suite.py;
see docs/performance.md.  This script is the quick two-server check.

Not a ctest test: run it by hand on an otherwise idle machine,
  tests/bench/bench_server.py [--sizes 100000,1000000] [--duration 10] [--rounds 3]
with TALLOW_BUILD_DIR pointing at a build (default ./build).  It uses
loopback ports only and stops every process it starts by PID.
"""

import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("TALLOW_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
ZONE = "tenants.bench.example"
NS = "ns1." + ZONE


def binary(name):
    for sub in ("tools/" + name, "server", "tools", ""):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    sys.exit("bench: %s not built under %s (set TALLOW_BUILD_DIR)" % (name, BUILD_DIR))


def h(i, salt):
    """Deterministic pseudo-random 64-bit value."""
    return int.from_bytes(hashlib.blake2b(b"%d/%s" % (i, salt), digest_size=8).digest(), "big")


def tenant(i, k):
    v = h(i, b"t%d" % k)
    x = "%016x%016x" % (v, h(i, b"u%d" % k))
    return "%s-%s-%s-%s-%s" % (x[0:8], x[8:12], x[12:16], x[16:20], x[20:32])


def domain(i):
    return "d%07d.example%d.com" % (i, i % 50)


def ntenants(i):
    return 1 + h(i, b"n") % 3


def write_csv(path, n):
    with open(path, "w") as f:
        for i in range(n):
            d = domain(i)
            for k in range(ntenants(i)):
                f.write("%s,%s\n" % (d, tenant(i, k)))


def write_queries(path, n, count=200000):
    """40% TXT hits, 30% A hits, 15% A misses, 15% NXDOMAIN."""
    with open(path, "w") as f:
        for j in range(count):
            i = h(j, b"q") % n
            kind = j % 20
            if kind < 8:
                f.write("%s.%s TXT\n" % (domain(i), ZONE))
            elif kind < 14:
                f.write("%s.%s.%s A\n" % (tenant(i, h(j, b"k") % ntenants(i)), domain(i), ZONE))
            elif kind < 17:
                f.write("%s.%s.%s A\n" % (tenant(i, 7), domain(i), ZONE))
            else:
                f.write("nx%07d.example.%s TXT\n" % (j, ZONE))


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


def wait_ready(port, proc, timeout, n):
    """Until the last domain generated answers: the whole zone is loaded."""
    deadline = time.monotonic() + timeout
    probe = "%s.%s" % (domain(n - 1), ZONE)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        cp = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+norec", "+short",
                             "+time=1", "+tries=1", probe, "TXT"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if "v=TAL1" in cp.stdout:
            return True
        time.sleep(0.2)
    return False


def tree_cpu(pid):
    """CPU seconds used so far by pid and its descendants (NSD forks its servers)."""
    total = 0.0
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except (OSError, ValueError, IndexError):
        return total
    return total + sum(tree_cpu(k) for k in kids)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dnsperf(port, qfile, duration):
    # One second of warm-up first (page cache, branch predictors), not measured.
    subprocess.run(["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d",
                    qfile, "-l", "1", "-c", "4", "-q", "256"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    cp = subprocess.run(["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port),
                         "-d", qfile, "-l", str(duration), "-c", "4", "-q", "256", "-t", "2"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = cp.stdout
    res = {"raw": out}
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    res["qps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)", out)
    if m:
        res["avg"], res["min"], res["max"] = (float(x) * 1000 for x in m.groups())
    m = re.search(r"Latency StdDev \(s\):\s+([\d.]+)", out)
    res["sd"] = float(m.group(1)) * 1000 if m else 0.0
    m = re.search(r"Queries lost:\s+(\d+)", out)
    res["lost"] = int(m.group(1)) if m else -1
    m = re.search(r"Queries completed:\s+(\d+)", out)
    res["done"] = int(m.group(1)) if m else 0
    codes = re.search(r"Response codes:\s+(.*)", out)
    res["rcodes"] = codes.group(1).strip() if codes else "?"
    return res


NSD_CONF = """server:
    port: {port}
    ip-address: 127.0.0.1
    do-ip6: no
    server-count: 1
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


def bench_size(n, duration, rounds, work):
    ctl = binary("tallowctl")
    tallowd = binary("tallowd")
    db = os.path.join(work, "db-%d" % n)
    csv = os.path.join(work, "policies-%d.csv" % n)
    qfile = os.path.join(work, "queries-%d.txt" % n)
    nsd_dir = os.path.join(work, "nsd-%d" % n)
    os.makedirs(nsd_dir)

    t = time.monotonic()
    write_csv(csv, n)
    write_queries(qfile, n)
    print("  generated %d domains, %d lines in %.1f s" % (
        n, sum(1 for _ in open(csv)), time.monotonic() - t), flush=True)

    t = time.monotonic()
    subprocess.run([ctl, "-d", db, "init", ZONE, "--ns", NS + "=127.0.0.1"], check=True)
    subprocess.run([ctl, "-d", db, "import", csv], check=True)
    print("  tallowctl import: %.1f s, database %.0f MB" % (
        time.monotonic() - t, os.path.getsize(os.path.join(db, "data.mdb")) / 1e6), flush=True)

    t = time.monotonic()
    zonefile = os.path.join(nsd_dir, ZONE + ".zone")
    with open(zonefile, "w") as f:
        subprocess.run([ctl, "-d", db, "export", "--format", "zone"], stdout=f, check=True)
    print("  tallowctl export --format zone: %.1f s, %.0f MB" % (
        time.monotonic() - t, os.path.getsize(zonefile) / 1e6), flush=True)

    # Both servers run at once, pinned to CPU 0 (an idle server costs
    # nothing); the dnsperf runs alternate between them, so a change in the
    # machine's background load hits both alike.  Each reported figure is the
    # run with the median qps.
    procs = {}
    ports = {}
    try:
        ports["nsd"] = free_port()
        conf = os.path.join(nsd_dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(NSD_CONF.format(port=ports["nsd"], dir=nsd_dir, zone=ZONE))
        t = time.monotonic()
        procs["nsd"] = subprocess.Popen(["taskset", "-c", "0", "nsd", "-c", conf, "-d"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_ready(ports["nsd"], procs["nsd"], 600, n):
            logf = os.path.join(nsd_dir, "nsd.log")
            sys.exit("bench: nsd did not start\n" +
                     (open(logf).read() if os.path.exists(logf) else ""))
        print("  nsd ready in %.1f s (zone file loaded)" % (time.monotonic() - t), flush=True)

        ports["tallowd"] = free_port()
        t = time.monotonic()
        procs["tallowd"] = subprocess.Popen(
            ["taskset", "-c", "0", tallowd, "-d", db, "-l", "127.0.0.1:%d" % ports["tallowd"],
             "-t", "1", "-q"], stdout=subprocess.DEVNULL)
        if not wait_ready(ports["tallowd"], procs["tallowd"], 60, n):
            sys.exit("bench: tallowd did not start")
        print("  tallowd ready in %.1f s (nothing to load)" % (time.monotonic() - t), flush=True)

        runs = {"nsd": [], "tallowd": []}
        for r in range(rounds):
            for name in ("nsd", "tallowd"):
                cpu0 = tree_cpu(procs[name].pid)
                t0 = time.monotonic()
                res = dnsperf(ports[name], qfile, duration)
                res["cpu"] = (tree_cpu(procs[name].pid) - cpu0) / (time.monotonic() - t0)
                runs[name].append(res)
                print("    round %d %-8s %9.0f qps, server CPU %3.0f%%" % (
                    r + 1, name, res["qps"], 100 * res["cpu"]), flush=True)
    finally:
        for p in procs.values():
            stop(p)
    results = {}
    for name, lst in runs.items():
        lst = sorted(lst, key=lambda x: x["qps"])
        results[name] = lst[len(lst) // 2]
        results[name]["all"] = [x["qps"] for x in lst]
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    ap.add_argument("--rounds", type=int, default=3, help="dnsperf runs per server")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--verbose", action="store_true", help="print dnsperf's full output")
    args = ap.parse_args()
    for tool in ("nsd", "dnsperf", "taskset", "dig"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            sys.exit("bench: %s is not installed" % tool)
    os.environ["PATH"] += ":/usr/sbin"

    work = tempfile.mkdtemp(prefix="tallow-bench-")
    rows = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            print("== %d domains (load average %.2f %.2f %.2f, %d CPUs)"
                  % ((n,) + os.getloadavg() + (os.cpu_count(),)), flush=True)
            res = bench_size(n, args.duration, args.rounds, work)
            for name in ("nsd", "tallowd"):
                r = res[name]
                if args.verbose:
                    print(r["raw"])
                rows.append((n, name, r))
                print("  %-8s median %9.0f qps  avg %.3f ms  min %.3f  max %.3f  sd %.3f ms  "
                      "lost %d  server CPU %.0f%%  rcodes %s"
                      % (name, r["qps"], r.get("avg", 0), r.get("min", 0), r.get("max", 0),
                         r["sd"], r["lost"], 100 * r["cpu"], r["rcodes"]), flush=True)
            if res["nsd"]["qps"] > 0:
                print("  ratio tallowd/nsd: %.2f" % (res["tallowd"]["qps"] / res["nsd"]["qps"]),
                      flush=True)
    finally:
        if args.keep:
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print("%-10s %-8s %10s %9s %9s %9s %6s %5s %12s" % (
        "domains", "server", "qps", "avg ms", "max ms", "sd ms", "lost", "CPU", "q/CPU-second"))
    for n, name, r in rows:
        print("%-10d %-8s %10.0f %9.3f %9.3f %9.3f %6d %4.0f%% %12.0f" % (
            n, name, r["qps"], r.get("avg", 0), r.get("max", 0), r["sd"], r["lost"],
            100 * r["cpu"], r["qps"] / r["cpu"] if r["cpu"] > 0 else 0))


if __name__ == "__main__":
    main()
