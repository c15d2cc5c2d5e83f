#!/usr/bin/env python3
"""Crash safety of the database and the server.

- tallowctl import killed with SIGKILL at several points of a large import
  leaves all or nothing of it: the export equals the state before or the
  state after, the database takes the next write, and a tallowd running
  throughout serves that same state.
- tallowd killed with SIGKILL under UDP and TCP load restarts on the same
  port and answers at once; the reader slots the killed process left in the
  lock file are cleared, and writes go on meanwhile.
- A map that fills up mid-import (TALLOW_MAP_SIZE small) gives a clear
  error and exit status 3, and the previous data is intact; a larger map
  then takes the import.
- A disk that fills up mid-import (a small tmpfs mounted here; skipped with
  a message if mounting is not allowed) likewise.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags
import dns.message
import dns.rcode

import harness
from server_harness import Tallowd, make_db, ZONE

BIG = 400000


def csv_lines(n, prefix):
    return "".join("%s%06d.example,%s\n" % (prefix, i, uuid.UUID(int=i * 7919 + 12345))
                   for i in range(n))


def export(db, env=None):
    cp = harness.run([harness.binary("tallowctl"), "-d", db, "export"], env=env)
    return cp.returncode, cp.stdout


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def txt_present(srv, domain):
    r = srv.query(domain + "." + ZONE, "TXT")
    return r.rcode() == dns.rcode.NOERROR and bool(r.answer)


def test_killed_import(base_csv, big_path):
    db = make_db(csv=base_csv)
    rc, before = export(db)
    harness.check(rc == 0 and before.count("\n") == 1000, "the base state has 1000 policies")

    # The state after: the same import, let run to the end on a copy.
    ref = make_db(csv=base_csv)
    t0 = time.monotonic()
    harness.tallowctl(ref, "import", big_path, check_rc=0)
    full = time.monotonic() - t0
    _, after = export(ref)

    outcomes = []
    killed_running = 0
    with Tallowd(db) as srv:
        for frac in (0.05, 0.25, 0.5, 0.75, 0.9, 1.0, 1.5, 2.5):
            p = harness.spawn([harness.binary("tallowctl"), "-d", db, "import", big_path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(full * frac)
            running = p.poll() is None
            harness.stop(p, sig=signal.SIGKILL)
            killed_running += running
            rc, now = export(db)
            state = "before" if now == before else "after" if now == after else "other"
            outcomes.append(state)
            harness.check(rc == 0 and state != "other",
                          "import killed at %.0f%% of its run: the export equals the %s "
                          "state" % (frac * 100, state),
                          "%d lines exported" % now.count("\n"))
            served = txt_present(srv, "big000001.example")
            harness.check(served == (state == "after") and txt_present(srv, "base000001.example"),
                          "tallowd, running throughout, serves the %s state" % state)
            if state == "after":
                # Back to the base state for the next round, through a normal write.
                harness.tallowctl(db, "import", "--replace", "-", input=base_csv, check_rc=0)
    harness.check(killed_running >= 3, "at least three imports were killed while running (%d)"
                  % killed_running)
    harness.check("before" in outcomes,
                  "an import killed early left nothing of itself (%s)" % ", ".join(outcomes))
    cp = harness.tallowctl(db, "add", "after-kill.example", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    harness.check(cp.returncode == 0, "the database takes the next write after the kills",
                  cp.stderr)


class Load:
    """UDP and TCP queries against a server from a thread, until stopped."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.sent = 0
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        q = dns.message.make_query("base000001.example." + ZONE, "TXT").to_wire()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setblocking(False)
        conns = []
        while not self.stop.is_set():
            try:
                u.sendto(q, ("127.0.0.1", self.port))
                self.sent += 1
                while True:
                    u.recv(4096)
            except OSError:
                pass
            if len(conns) < 8:
                try:
                    c = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
                    c.sendall(len(q).to_bytes(2, "big") + q)
                    conns.append(c)
                except OSError:
                    pass
            time.sleep(0.0005)
        for c in conns:
            c.close()
        u.close()


def readers(db):
    cp = harness.run(["mdb_stat", "-r", db])
    return cp.stdout


def test_killed_server(base_csv):
    db = make_db(csv=base_csv)
    # A second server keeps the database open throughout, so the lock file
    # (and the killed process's slots in it) is not reset by a fresh open.
    witness = Tallowd(db).__enter__()
    srv = Tallowd(db, threads=4, args=["--rrl-rate", "0"]).__enter__()
    port = srv.port
    load = Load(port)
    load.t.start()
    time.sleep(1.0)
    pid = srv.proc.pid
    table = readers(db)
    harness.check(table.count(" %d " % pid) == 4,
                  "each of tallowd's 4 workers holds a reader slot", table)
    srv.stop(sig=signal.SIGKILL)
    harness.check(srv.returncode == -signal.SIGKILL, "tallowd was killed under load (%d queries "
                  "sent)" % load.sent)
    table = readers(db)
    harness.check(table.count(" %d " % pid) == 4,
                  "the killed process left its reader slots behind", table)

    cp = harness.tallowctl(db, "add", "while-down.example", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    harness.check(cp.returncode == 0, "a write succeeds with the stale reader slots present",
                  cp.stderr)

    t0 = time.monotonic()
    with Tallowd(db, threads=4, port=port, args=["--rrl-rate", "0"], ready_timeout=10) as srv2:
        ready = time.monotonic() - t0
        harness.check(ready < 3.0, "tallowd restarted on the same port and answered in %.2f s"
                      % ready)
        harness.check(txt_present(srv2, "base000001.example")
                      and txt_present(srv2, "while-down.example"),
                      "it serves the data, including the write made while it was down")
        r = srv2.query("base000002.example." + ZONE, "TXT", tcp=True)
        harness.check(r.rcode() == dns.rcode.NOERROR and bool(r.answer),
                      "and answers over TCP")
        table = readers(db)
        harness.check(" %d " % pid not in table,
                      "the killed process's reader slots were cleared", table)
        load.stop.set()
        load.t.join(timeout=10)
        harness.tallowctl(db, "add", "after-restart.example",
                          "72f988bf-86f1-41af-91ab-2d7cd011db47", check_rc=0)
        harness.check(txt_present(srv2, "after-restart.example"),
                      "a commit after the restart is served at once")
        harness.check(txt_present(witness, "after-restart.example"),
                      "and by the server that ran throughout")
    witness.stop()
    harness.check(witness.returncode == 0, "that server stops cleanly", witness.log())


def test_map_full(base_csv, big_path):
    db = make_db(csv=base_csv)
    _, before = export(db)
    env = {"TALLOW_MAP_SIZE": "4M"}
    cp = harness.run([harness.binary("tallowctl"), "-d", db, "import", big_path], env=env)
    harness.check(cp.returncode == 3, "an import that fills the map exits 3 (%d)" % cp.returncode,
                  cp.stderr)
    harness.check("map is full" in cp.stderr and "nothing was imported" in cp.stderr,
                  "with a clear message: %s" % cp.stderr.strip())
    rc, now = export(db, env=env)
    harness.check(rc == 0 and now == before, "the previous data is intact")
    with Tallowd(db) as srv:
        harness.check(txt_present(srv, "base000999.example")
                      and not txt_present(srv, "big000001.example"),
                      "tallowd serves the previous data")
    cp = harness.run([harness.binary("tallowctl"), "-d", db, "import", big_path],
                     env={"TALLOW_MAP_SIZE": "1G"})
    harness.check(cp.returncode == 0, "with a larger map the import succeeds", cp.stderr)


def test_disk_full(base_csv, big_path):
    mnt = harness.tmpdir("tallow-tmpfs-")
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tallow-test", mnt],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if cp.returncode != 0:
        print("# SKIP disk-full test: cannot mount a tmpfs here (%s)" % cp.stdout.strip(),
              flush=True)
        return
    try:
        db = os.path.join(mnt, "db")
        harness.tallowctl(db, "init", ZONE, "--ns", "ns1.%s=127.0.0.1" % ZONE, check_rc=0)
        harness.tallowctl(db, "import", "-", input=base_csv, check_rc=0)
        _, before = export(db)
        cp = harness.tallowctl(db, "import", big_path)
        harness.check(cp.returncode == 3, "an import that fills the disk exits 3 (%d)"
                      % cp.returncode, cp.stderr)
        harness.check("nothing was imported" in cp.stderr and
                      ("space" in cp.stderr.lower() or "full" in cp.stderr.lower()),
                      "with a clear message: %s" % cp.stderr.strip())
        rc, now = export(db)
        harness.check(rc == 0 and now == before, "the previous data is intact")
        with Tallowd(db) as srv:
            harness.check(txt_present(srv, "base000999.example"),
                          "tallowd serves the previous data from the full disk")
        cp = harness.tallowctl(db, "remove", "base000999.example")
        harness.check(cp.returncode == 0, "a small write still succeeds on the full disk",
                      cp.stderr)
    finally:
        subprocess.run(["umount", "-l", mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def main():
    tmp = harness.tmpdir()
    base_csv = csv_lines(1000, "base")
    big_path = write_file(os.path.join(tmp, "big.csv"), csv_lines(BIG, "big"))
    test_killed_import(base_csv, big_path)
    test_killed_server(base_csv)
    test_map_full(base_csv, big_path)
    test_disk_full(base_csv, big_path)
    harness.done()


if __name__ == "__main__":
    main()
