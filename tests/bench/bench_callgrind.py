#!/usr/bin/python3
"""Instructions per query of tallowd's answer path, from callgrind.

    TALLOW_BUILD_DIR=build tests/bench/bench_callgrind.py [--domains 100000]
        [--load mix] [--queries 20000] [--tallowd PATH] [--tallowctl PATH]

Builds the data of bench_suite.py (N domains, 1 to 3 tenants each) in a
temporary directory, runs tallowd -t 1 under valgrind --tool=callgrind with
collection switched on only inside the UDP receive handler (udp_readable:
the batch loop, the query layer, the store and the rate limiter, but not
start-up, and not the kernel's side of the system calls), sends one pass of
a bench_suite query file with dnsperf, and prints the instructions per
query: the whole UDP path, tal_query_answer, and the parts spent in the
store's reader calls and in parsing, with the receive batches (recvmmsg
calls) and snapshots (tal_reader_begin calls) per query.  Instruction counts
do not depend on the machine's load, so this is the figure to compare before
and after a change to the query path; per-batch costs depend on the batch
size, which --rate sets (the default, 2,000 q/s, gives batches of one).
tallowd's index is built first (in the background, not counted); with
--no-index every lookup descends the B-tree.  Instructions are not time:
the index saves mostly cache misses, which callgrind does not see.
The map size is set to 4 GiB (TALLOW_MAP_SIZE): valgrind cannot reserve
the default 64 GiB of address space.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_suite as bs  # noqa: E402

PARTS = ("udp_readable", "tal_query_answer", "tal_query_parse", "tal_query_key", "tal_reader_begin",
         "tal_reader_lookup", "tal_reader_end", "tal_query_prefetch", "tal_query_prefetch_nodes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=100000)
    ap.add_argument("--load", default="mix", choices=bs.LOADS)
    ap.add_argument("--queries", type=int, default=20000)
    ap.add_argument("--rate", type=int, default=2000, help="queries per second offered")
    ap.add_argument("--tallowd")
    ap.add_argument("--tallowctl")
    ap.add_argument("--no-index", action="store_true",
                    help="run tallowd --no-index (lookups in the B-tree only)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "dnsperf"):
        if shutil.which(tool) is None:
            sys.exit("bench_callgrind: %s is not installed" % tool)

    ctl = bs.binary("tallowctl", args.tallowctl)
    tallowd = bs.binary("tallowd", args.tallowd)
    tmp = tempfile.mkdtemp(prefix="tallow-cg-")
    proc = None
    try:
        n = args.domains
        csv = os.path.join(tmp, "pairs.csv")
        bs.write_csv(csv, n)
        qfile = os.path.join(tmp, "queries.txt")
        bs.write_queries(qfile, args.load, n, args.queries)
        db = os.path.join(tmp, "db")
        subprocess.run([ctl, "-d", db, "init", bs.ZONE, "--ns", bs.NS + "=127.0.0.1"], check=True)
        subprocess.run([ctl, "-d", db, "import", csv], check=True)

        port = bs.free_port()
        out = os.path.join(tmp, "callgrind.out")
        log = os.path.join(tmp, "tallowd.log")
        with open(log, "w") as err:
            proc = subprocess.Popen(["valgrind", "--tool=callgrind",
                                     "--callgrind-out-file=" + out, "--collect-atstart=no",
                                     "--toggle-collect=udp_readable", tallowd, "-d", db, "-l",
                                     "127.0.0.1:%d" % port, "-t", "1", "-v"]
                                    + (["--no-index"] if args.no_index else []),
                                    stdout=subprocess.DEVNULL, stderr=err,
                                    env=dict(os.environ, TALLOW_MAP_SIZE="4G"))
        probe = bs.Probe(port)
        ok = probe.wait("%s.%s" % (bs.domain(0), bs.ZONE), 16, 120, 0.5) is not None
        probe.close()
        if not ok:
            sys.exit("bench_callgrind: tallowd under valgrind did not answer")
        # The index is built in the background; count the answers made with it.
        deadline = time.monotonic() + 600
        while not args.no_index and time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                if "index: " in f.read():
                    break
            time.sleep(0.1)
        cp = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-n",
                             "1", "-Q", str(args.rate), "-c", "1", "-q", "64", "-t", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"Queries completed:\s+(\d+)", cp.stdout)
        done = int(m.group(1)) if m else 0
        bs.stop(proc)
        proc = None
        time.sleep(0.2)
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        incl = {}
        for line in ann.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\S*:(\w+)\b", line)
            if m and m.group(2) in PARTS and m.group(2) not in incl:
                incl[m.group(2)] = int(m.group(1).replace(",", ""))
        # Calls: in the calling tree each caller lists its callees once, as
        # "> file:function (N x)"; collection was on only inside udp_readable.
        tree = subprocess.run(["callgrind_annotate", "--tree=calling", "--threshold=100", out],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout
        calls = {}
        for line in tree.splitlines():
            m = re.match(r"\s*[\d,]+\s+\([^)]*\)\s+>\s+\S*:(recvmmsg|tal_reader_begin)"
                         r"\s+\(([\d,]+)x\)", line)
            if m:
                calls[m.group(1)] = calls.get(m.group(1), 0) + int(m.group(2).replace(",", ""))
        # The probe's queries are answered too; they are few and counted.
        queries = done + 1
        print("tallowd %s, %d domains, load %s, %d queries answered under callgrind"
              % (tallowd, n, args.load, queries))
        for part in PARTS:
            if part in incl:
                print("  %-20s %8.0f instructions per query (inclusive)"
                      % (part, incl[part] / queries))
        for name in ("recvmmsg", "tal_reader_begin"):
            if calls.get(name):
                print("  %-20s %8.2f per query" % (name + " calls", calls[name] / queries))
        store = sum(incl.get(p, 0) for p in PARTS[4:7])
        prefetch = sum(incl.get(p, 0) for p in PARTS[7:])
        inside = sum(incl.get(p, 0) for p in PARTS[4:6])  # end may run after the batch
        if "tal_query_answer" in incl:
            print("  %-20s %8.0f" % ("store (begin+lookup+end)", store / queries))
            print("  %-20s %8.0f" % ("query layer own", (incl["tal_query_answer"] - inside)
                                     / queries))
        if "udp_readable" in incl and "tal_query_answer" in incl:
            print("  %-20s %8.0f" % ("batch prefetch", prefetch / queries))
            print("  %-20s %8.0f" % ("network layer own", (incl["udp_readable"]
                                     - incl["tal_query_answer"] - (store - inside)
                                     - prefetch) / queries))
    finally:
        if proc is not None:
            bs.stop(proc)
        if args.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
