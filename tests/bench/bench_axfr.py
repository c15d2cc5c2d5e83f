#!/usr/bin/python3
"""AXFR out of tallowd and out of NSD, and tallowd's query rate during AXFR.

For each size N (default 1,000,000 domains, the data of bench_server.py):
  1. builds the tallow database (tallowctl init + import), allows transfers
     to 127.0.0.1, and exports the same zone as a master file for NSD
     (provide-xfr to 127.0.0.1);
  2. starts tallowd (one worker, pinned to CPU 0, response rate limiting
     off as for a benchmark client) and NSD (one server, CPU 0);
  3. transfers the zone ROUNDS times from each with `dig AXFR +noall
     +stats` (pinned to CPU 1) and prints the median wall time, messages,
     records and octets side by side (the client's parsing cost is the same
     for both);
  4. runs dnsperf against tallowd alone, then again while AXFRs of the
     zone stream back to back from the same single worker, and prints both
     query rates.

Not a ctest test: run it by hand on an otherwise idle machine,
  tests/bench/bench_axfr.py [--sizes 1000000] [--rounds 3] [--duration 10]
with TALLOW_BUILD_DIR pointing at a build (default ./build).  Loopback only;
every process it starts is stopped by PID.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_server as bs  # noqa: E402  (data generation and helpers)

NSD_CONF = bs.NSD_CONF.replace('    zonefile: "{zone}.zone"\n',
                               '    zonefile: "{zone}.zone"\n'
                               '    provide-xfr: 127.0.0.1 NOKEY\n')


def axfr(port):
    t0 = time.monotonic()
    cp = subprocess.run(["taskset", "-c", "1", "dig", "@127.0.0.1", "-p", str(port), "AXFR",
                         bs.ZONE, "+noall", "+stats", "+time=60", "+tries=1"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dt = time.monotonic() - t0
    m = re.search(r"XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)", cp.stdout)
    if not m:
        sys.exit("bench: AXFR from port %d failed:\n%s" % (port, cp.stdout[-2000:]))
    return {"time": dt, "records": int(m.group(1)), "messages": int(m.group(2)),
            "bytes": int(m.group(3))}


def bench_size(n, rounds, duration, work):
    ctl = bs.binary("tallowctl")
    tallowd = bs.binary("tallowd")
    db = os.path.join(work, "db-%d" % n)
    csv = os.path.join(work, "policies-%d.csv" % n)
    qfile = os.path.join(work, "queries-%d.txt" % n)
    nsd_dir = os.path.join(work, "nsd-%d" % n)
    os.makedirs(nsd_dir)

    t = time.monotonic()
    bs.write_csv(csv, n)
    bs.write_queries(qfile, n)
    subprocess.run([ctl, "-d", db, "init", bs.ZONE, "--ns", bs.NS + "=127.0.0.1"], check=True)
    subprocess.run([ctl, "-d", db, "import", csv], check=True)
    subprocess.run([ctl, "-d", db, "transfer", "allow", "127.0.0.1"], check=True)
    with open(os.path.join(nsd_dir, bs.ZONE + ".zone"), "w") as f:
        subprocess.run([ctl, "-d", db, "export", "--format", "zone"], stdout=f, check=True)
    print("  %d domains built, imported and exported in %.1f s" % (n, time.monotonic() - t),
          flush=True)

    procs = {}
    ports = {}
    res = {"tallowd": [], "nsd": []}
    try:
        ports["nsd"] = bs.free_port()
        conf = os.path.join(nsd_dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(NSD_CONF.format(port=ports["nsd"], dir=nsd_dir, zone=bs.ZONE))
        procs["nsd"] = subprocess.Popen(["taskset", "-c", "0", "nsd", "-c", conf, "-d"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not bs.wait_ready(ports["nsd"], procs["nsd"], 600, n):
            sys.exit("bench: nsd did not start")
        ports["tallowd"] = bs.free_port()
        procs["tallowd"] = subprocess.Popen(
            ["taskset", "-c", "0", tallowd, "-d", db, "-l", "127.0.0.1:%d" % ports["tallowd"],
             "-t", "1", "-q", "--rrl-rate", "0"], stdout=subprocess.DEVNULL)
        if not bs.wait_ready(ports["tallowd"], procs["tallowd"], 60, n):
            sys.exit("bench: tallowd did not start")

        for r in range(rounds):
            for name in ("nsd", "tallowd"):
                x = axfr(ports[name])
                res[name].append(x)
                print("    round %d %-8s %6.2f s, %d messages, %d records, %.1f MB" % (
                    r + 1, name, x["time"], x["messages"], x["records"], x["bytes"] / 1e6),
                    flush=True)

        alone = bs.dnsperf(ports["tallowd"], qfile, duration)
        stop_flag = threading.Event()
        count = [0]

        def loop():
            while not stop_flag.is_set():
                axfr(ports["tallowd"])
                count[0] += 1

        th = threading.Thread(target=loop)
        th.start()
        time.sleep(0.5)
        during = bs.dnsperf(ports["tallowd"], qfile, duration)
        stop_flag.set()
        th.join()
    finally:
        for p in procs.values():
            bs.stop(p)
    med = {k: sorted(v, key=lambda x: x["time"])[len(v) // 2] for k, v in res.items()}
    return med, alone, during, count[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--rounds", type=int, default=3, help="AXFRs per server")
    ap.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    for tool in ("dig", "dnsperf", "nsd", "taskset"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s not found" % tool)
    work = tempfile.mkdtemp(prefix="tallow-bench-axfr-")
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            print("%d domains:" % n, flush=True)
            med, alone, during, naxfr = bench_size(n, args.rounds, args.duration, work)
            print("\n  AXFR, median of %d     %12s %12s" % (args.rounds, "tallowd", "nsd"))
            for key, fmt in (("time", "%12.2f"), ("messages", "%12d"), ("records", "%12d"),
                             ("bytes", "%12d")):
                print("  %-22s " % key + fmt % med["tallowd"][key] + " " + fmt % med["nsd"][key])
            print("  tallowd queries/s alone        %10.0f (lost %d)"
                  % (alone["qps"], alone["lost"]))
            print("  tallowd queries/s during AXFR  %10.0f (lost %d, %d AXFRs completed "
                  "meanwhile)" % (during["qps"], during["lost"], naxfr), flush=True)
    finally:
        if args.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
