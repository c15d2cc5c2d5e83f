#!/usr/bin/python3
"""Lookups per second of `tallow-check -` (batch mode) against a server.

Data: N domains (default 20,000), generated deterministically; half publish a
policy listing the queried tenant, a quarter a policy that does not, a
quarter no policy (NXDOMAIN).  The server is tallowd fed by tallowctl import
when both are built, otherwise NSD serving the same records as a master
file (--server nsd forces NSD).

Measured, each round:
  cold (stub)    N distinct lookups straight to the server, fresh process:
                 every lookup is one query.
  warm (stub)    the same N lines given twice to one process; the second
                 pass is answered from libunbound's cache.  It is timed from
                 the arrival of the first pass's last result line to that of
                 the second pass's last line.
  cold (unbound) the N lookups through a freshly started Unbound resolver
                 (stub-zone to the server): resolver and client caches empty.
  warm (unbound) the same again, fresh tallow-check process, resolver cache
                 warm: one query per lookup answered from Unbound's cache.
The median over --rounds is printed for each.

Not a ctest test: run it by hand on an otherwise idle machine,
  tests/bench/bench_check.py [--domains 20000] [--rounds 3] [--inflight 256]
with TALLOW_BUILD_DIR pointing at a build (default ./build).  Loopback only;
every process it starts is stopped by its PID.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import harness  # noqa: E402
from test_relay_check import start_nsd, start_unbound, wait_dns  # noqa: E402

ZONE = "tenants.bench.example"
T_ALLOWED = "72f988bf-86f1-41af-91ab-2d7cd011db47"
T_OTHER = "00000000-1111-2222-3333-444444444444"


def domain(i):
    return "d%06d.bench-customer.example" % i


def kind(i):
    """0: lists the tenant, 1: policy without it, 2: no policy."""
    return 0 if i % 2 == 0 else (1 if i % 4 == 1 else 2)


def build_tallowd(n):
    import server_harness
    lines = []
    for i in range(n):
        k = kind(i)
        if k == 0:
            lines.append("%s,%s" % (domain(i), T_ALLOWED))
        elif k == 1:
            lines.append("%s,%s" % (domain(i), T_OTHER))
    db = server_harness.make_db(ZONE, csv="\n".join(lines) + "\n")
    d = server_harness.Tallowd(db, ZONE).__enter__()
    return d, d.port, "tallowd"


def build_nsd(n):
    rr = ["$ORIGIN %s." % ZONE, "$TTL 3600", "@ SOA ns1 hostmaster 1 3600 600 86400 3600",
          "@ NS ns1", "ns1 A 127.0.0.1"]
    for i in range(n):
        k = kind(i)
        if k < 2:
            rr.append('%s TXT "v=TAL1; tid=%s"' % (domain(i), T_ALLOWED if k == 0 else T_OTHER))
    p, port, _ = start_nsd({ZONE: "\n".join(rr) + "\n"})
    return p, port, "NSD"


def run_check(args, text):
    t0 = time.monotonic()
    cp = subprocess.run([harness.binary("tallow-check")] + args + ["-"], input=text,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        timeout=600)
    took = time.monotonic() - t0
    return cp, took


def run_two_passes(args, text, n):
    """Feeds the lines twice to one process; returns (output, seconds of the
    second pass), timing the pass by when its first and last lines arrive."""
    p = subprocess.Popen([harness.binary("tallow-check")] + args + ["-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    writer = threading.Thread(target=lambda: (p.stdin.write(text + text), p.stdin.close()))
    writer.start()
    lines = []
    t_first = t_last = None
    for line in p.stdout:
        lines.append(line)
        if len(lines) == n:
            t_first = time.monotonic()
        elif len(lines) == 2 * n:
            t_last = time.monotonic()
    writer.join()
    err = p.stderr.read()
    rc = p.wait(timeout=60)
    cp = subprocess.CompletedProcess(p.args, rc, "".join(lines), err)
    if t_first is None or t_last is None:
        return cp, float("nan")
    return cp, t_last - t_first


def verify(cp, n, passes):
    want = {0: "allow", 1: "deny", 2: "none"}
    out = cp.stdout.splitlines()
    if cp.returncode != 0 or len(out) != n * passes:
        raise RuntimeError("tallow-check failed (rc %d, %d lines): %s" % (
            cp.returncode, len(out), cp.stderr[:500]))
    for j, line in enumerate(out):
        if line.split(" ")[2] != want[kind(j % n)]:
            raise RuntimeError("wrong decision on line %d: %s" % (j, line))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--server", choices=("auto", "tallowd", "nsd"), default="auto")
    a = ap.parse_args()
    n = a.domains

    use_tallowd = a.server == "tallowd"
    if a.server == "auto":
        try:
            harness.binary("tallowd")
            harness.binary("tallowctl")
            use_tallowd = True
        except FileNotFoundError:
            use_tallowd = False
    if use_tallowd:
        srv_handle, port, name = build_tallowd(n)
    else:
        srv_handle, port, name = build_nsd(n)
    if not wait_dns(port, ZONE):
        raise RuntimeError("server does not answer")
    text = "".join("%s %s\n" % (domain(i), T_ALLOWED) for i in range(n))
    stub = ["--zone", ZONE, "--server", "127.0.0.1@%d" % port, "--timeout", "10",
            "--max-inflight", str(a.inflight)]
    res = {"cold (stub)": [], "warm (stub)": [], "cold (unbound)": [], "warm (unbound)": []}
    for r in range(a.rounds):
        cp, t_cold = run_check(stub, text)
        verify(cp, n, 1)
        res["cold (stub)"].append(n / t_cold)
        cp, t_warm = run_two_passes(stub, text, n)
        verify(cp, n, 2)
        res["warm (stub)"].append((n - 1) / max(t_warm, 1e-6))
        ub, uport = start_unbound({ZONE: "127.0.0.1@%d" % port},
                                  extra="  msg-cache-size: 64m\n  rrset-cache-size: 128m")
        via = ["--zone", ZONE, "--resolver", "127.0.0.1@%d" % uport, "--timeout", "10",
               "--max-inflight", str(a.inflight)]
        cp, t = run_check(via, text)
        verify(cp, n, 1)
        res["cold (unbound)"].append(n / t)
        cp, t = run_check(via, text)
        verify(cp, n, 1)
        res["warm (unbound)"].append(n / t)
        harness.stop(ub)
        print("round %d done" % (r + 1), file=sys.stderr, flush=True)
    if use_tallowd:
        srv_handle.stop()
    else:
        harness.stop(srv_handle)
    print("tallow-check - against %s, %d domains, %d in flight, median of %d rounds" % (
        name, n, a.inflight, a.rounds))
    for k, v in res.items():
        print("  %-15s %9.0f lookups/s   (rounds: %s)" % (
            k, statistics.median(v), ", ".join("%.0f" % x for x in v)))


if __name__ == "__main__":
    try:
        main()
    finally:
        harness._cleanup()
