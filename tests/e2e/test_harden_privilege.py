#!/usr/bin/env python3
"""Least privilege: tallowd started as root binds port 53, drops to an
unprivileged user (-u nobody) with no capabilities left, holds the database
file open read-only, and still serves, including a commit made afterwards.

Skipped (with a message) when not run as root, when there is no "nobody"
user, or when port 53 on the test address is taken.
"""

import os
import pwd
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.message
import dns.query
import dns.rcode

import harness
import server_harness as sh

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ADDR = "127.0.0.53"


def port53_free():
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, typ)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ADDR, 53))
        except OSError:
            return False
        finally:
            s.close()
    return True


def query53(name, tcp=False):
    q = dns.message.make_query(name, "TXT")
    if tcp:
        return dns.query.tcp(q, ADDR, port=53, timeout=3)
    return dns.query.udp(q, ADDR, port=53, timeout=3)


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def db_fd_flags(pid, path):
    """The open flags of each descriptor `pid` holds on `path`."""
    flags = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != path:
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("flags:"):
                        flags.append(int(line.split()[1], 8))
        except OSError:
            continue
    return flags


def main():
    if os.geteuid() != 0:
        print("# SKIP not root: cannot bind port 53 and drop privileges")
        print("skipped: 0 passed, 0 failed")
        return
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        print("# SKIP no user 'nobody'")
        print("skipped: 0 passed, 0 failed")
        return
    if not port53_free():
        print("# SKIP %s:53 is in use" % ADDR)
        print("skipped: 0 passed, 0 failed")
        return
    db = sh.make_db(csv="example.com,%s\n" % TENANT)
    srv = sh.Tallowd(db, args=["-u", "nobody", "-l", "%s:53" % ADDR])
    os.chmod(srv.dir, 0o1777)  # nobody removes its pidfile at exit
    try:
        srv.__enter__()
    except RuntimeError as e:
        harness.check(False, "tallowd starts on %s:53 with -u nobody" % ADDR, str(e))
        harness.done()
    try:
        pid = srv.proc.pid
        st = proc_status(pid)
        harness.check(st["Uid"].split() == [str(nobody.pw_uid)] * 4
                      and st["Gid"].split() == [str(nobody.pw_gid)] * 4,
                      "after binding port 53 it runs as nobody: Uid %s, Gid %s"
                      % (st["Uid"], st["Gid"]))
        harness.check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0,
                      "with no capabilities left (CapEff %s)" % st["CapEff"])
        groups = st.get("Groups", "").split()
        harness.check(all(g == str(nobody.pw_gid) for g in groups),
                      "and no supplementary group of root's (%s)" % (groups or "none"))
        flags = db_fd_flags(pid, os.path.join(os.path.realpath(db), "data.mdb"))
        harness.check(bool(flags) and all(f & os.O_ACCMODE == os.O_RDONLY for f in flags),
                      "the database file is open read-only (%s)"
                      % ", ".join(oct(f) for f in flags))
        r = query53("example.com." + sh.ZONE)
        harness.check(r.rcode() == dns.rcode.NOERROR and r.answer, "it answers on port 53")
        harness.tallowctl(db, "add", "later.example", TENANT, check_rc=0)
        r = query53("later.example." + sh.ZONE, tcp=True)
        harness.check(r.rcode() == dns.rcode.NOERROR and r.answer,
                      "a commit made after the drop is served")
    finally:
        srv.stop()
    harness.check(srv.returncode == 0, "it stops cleanly", srv.log())
    harness.done()


if __name__ == "__main__":
    main()
