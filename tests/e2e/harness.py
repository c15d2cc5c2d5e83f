"""Shared machinery of tallow's end-to-end tests.

Each test file is a plain program run by ctest with /usr/bin/python3 (for
Debian's python3-dnspython).  It uses this module to find the built binaries,
make a temporary database, run `tallowctl`, and start a real `tallowd` on a
free loopback port.  Every process a test starts is stopped by its PID when the
test ends, whatever happens; traffic goes to loopback only.

Checks use `check(cond, what)`; `done()` prints the summary line
"N passed, N failed" and exits non-zero on any failure.
"""

import atexit
import os
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

_passed = 0
_failed = 0
_procs = []
_tmpdirs = []


def binary(name):
    """Path of a built executable (tallowctl, tallowd, ...)."""
    for sub in ("tools/" + name, "server", "tools", ""):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise FileNotFoundError("%s not built under %s" % (name, BUILD_DIR))


def check(cond, what, detail=None):
    """Records one assertion; prints ok/not ok like TAP."""
    global _passed, _failed
    if cond:
        _passed += 1
        print("ok - %s" % what, flush=True)
    else:
        _failed += 1
        print("not ok - %s" % what, flush=True)
        if detail is not None:
            for line in str(detail).splitlines()[:40]:
                print("#   " + line, flush=True)
    return cond


def done():
    """Prints the closing line and exits with the right status."""
    _cleanup()
    print("%d passed, %d failed" % (_passed, _failed), flush=True)
    sys.exit(1 if _failed or _passed == 0 else 0)


def tmpdir(prefix="tallow-e2e-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def run(argv, input=None, env=None, timeout=120, check_rc=None):
    """Runs a command; returns CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    if env:
        e.update(env)
    cp = subprocess.run(argv, input=input, env=e, timeout=timeout,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True if not isinstance(input, bytes) else False)
    if check_rc is not None and cp.returncode != check_rc:
        raise AssertionError("%s exited %d (expected %d)\nstdout: %s\nstderr: %s" % (
            " ".join(argv), cp.returncode, check_rc, cp.stdout, cp.stderr))
    return cp


def tallowctl(db, *args, input=None, check_rc=None, timeout=300):
    """Runs the real tallowctl on database directory `db`."""
    return run([binary("tallowctl"), "-d", db] + list(args), input=input,
               check_rc=check_rc, timeout=timeout)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port free for both UDP and TCP on `host` right now."""
    for _ in range(50):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
        port = s.getsockname()[1]
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
        except OSError:
            s.close()
            continue
        u.close()
        s.close()
        return port
    raise RuntimeError("no free port")


def spawn(argv, **kw):
    """Starts a background process that is killed by PID at exit."""
    p = subprocess.Popen(argv, stdout=kw.pop("stdout", subprocess.PIPE),
                         stderr=kw.pop("stderr", subprocess.PIPE), **kw)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Stops a process started by spawn(); returns its exit status."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in _procs:
        _procs.remove(p)
    return p.returncode


def _cleanup():
    for p in list(_procs):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _procs.clear()
    if not os.environ.get("TALLOW_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()


atexit.register(_cleanup)
