"""tallowctl tsig, transfer and notify: what operators type and see.

Exit statuses, listings, idempotent adds, the key formats for NSD, Knot and
BIND (each accepted by that software's own checker), secrets printed only
by `tsig show`, and nothing changed by a refused command.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import server_harness as sh  # noqa: E402

check = harness.check


def ctl(db, *args, **kw):
    return harness.tallowctl(db, *args, **kw)


def main():
    db = sh.make_db()
    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
    cp = ctl(db, "tsig", "add", "Key1.Example.", "--secret", secret)
    check(cp.returncode == 0 and cp.stdout == "" and secret not in cp.stderr,
          "tsig add with a secret: status 0, prints nothing", cp)
    cp = ctl(db, "tsig", "add", "key1.example")
    check(cp.returncode == 2 and "already exists" in cp.stderr, "the same key again: status 2",
          cp)
    cp = ctl(db, "tsig", "add", "k2", "--algorithm", "hmac-sha512")
    check(cp.returncode == 0, "tsig add --algorithm hmac-sha512", cp)
    cp = ctl(db, "tsig", "add", "k3", "--algorithm", "hmac-md5")
    check(cp.returncode == 2 and "--algorithm" in cp.stderr, "hmac-md5 is refused", cp)
    cp = ctl(db, "tsig", "add", "k3", "--secret", "not base64!")
    check(cp.returncode == 2 and "--secret" in cp.stderr, "a secret that is not base64: 2", cp)
    cp = ctl(db, "tsig", "list")
    check(cp.stdout == "k2 hmac-sha512\nkey1.example hmac-sha256\n",
          "tsig list: names and algorithms, sorted, no secrets", cp.stdout)
    cp = ctl(db, "tsig", "show", "key1.example")
    check(cp.stdout == "key1.example hmac-sha256 %s\n" % secret, "tsig show: the secret",
          cp.stdout)
    cp = ctl(db, "tsig", "show", "nosuch")
    check(cp.returncode == 1, "tsig show of a missing key: status 1", cp)

    tmp = harness.tmpdir()
    nsd = ctl(db, "tsig", "show", "key1.example", "--format", "nsd").stdout
    with open(os.path.join(tmp, "nsd.conf"), "w") as f:
        f.write('server:\n\tusername: ""\n\tchroot: ""\n' + nsd)
    r = subprocess.run(["nsd-checkconf", os.path.join(tmp, "nsd.conf")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, "nsd-checkconf accepts --format nsd", r.stdout + nsd)
    knot = ctl(db, "tsig", "show", "key1.example", "--format", "knot").stdout
    with open(os.path.join(tmp, "knot.conf"), "w") as f:
        f.write(knot)
    r = subprocess.run(["knotc", "-c", os.path.join(tmp, "knot.conf"), "conf-check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, "knotc conf-check accepts --format knot", r.stdout + knot)
    bind = ctl(db, "tsig", "show", "key1.example", "--format", "bind").stdout
    with open(os.path.join(tmp, "named.conf"), "w") as f:
        f.write(bind)
    r = subprocess.run(["named-checkconf", os.path.join(tmp, "named.conf")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, "named-checkconf accepts --format bind", r.stdout + bind)

    # Transfer rules.
    cp = ctl(db, "transfer", "list")
    check(cp.returncode == 0 and cp.stdout == "", "no transfer rule at first", cp)
    cp = ctl(db, "transfer", "allow", "192.0.2.9/24", "::1", "--key", "key1.example")
    check(cp.returncode == 0, "transfer allow two prefixes with a key", cp)
    cp = ctl(db, "transfer", "allow", "192.0.2.9/24", "--key", "key1.example")
    check(cp.returncode == 0, "allowing the same again: status 0", cp)
    cp = ctl(db, "transfer", "allow", "10.0.0.0/33")
    check(cp.returncode == 2 and "10.0.0.0/33" in cp.stderr, "a bad prefix: status 2", cp)
    cp = ctl(db, "transfer", "allow", "10.0.0.0/8", "--key", "nosuch")
    check(cp.returncode == 1 and "nosuch" in cp.stderr, "a missing key: status 1", cp)
    cp = ctl(db, "transfer", "allow", "--key", "k2")
    check(cp.returncode == 0, "--key alone: from anywhere with the key", cp)
    cp = ctl(db, "transfer", "list")
    check(cp.stdout == "192.0.2.0/24 key key1.example\n::1/128 key key1.example\n"
          "0.0.0.0/0 key k2\n::/0 key k2\n", "transfer list", cp.stdout)
    cp = ctl(db, "tsig", "remove", "k2")
    check(cp.returncode == 2 and "still used" in cp.stderr, "a key in use is not removed", cp)
    cp = ctl(db, "transfer", "remove", "--key", "k2")
    check(cp.returncode == 0, "transfer remove --key", cp)
    cp = ctl(db, "transfer", "remove", "203.0.113.1")
    check(cp.returncode == 1, "removing a rule that does not exist: status 1", cp)
    cp = ctl(db, "tsig", "remove", "k2")
    check(cp.returncode == 0, "the key, now unused, is removed", cp)
    cp = ctl(db, "transfer", "bogus")
    check(cp.returncode == 64, "an unknown subcommand: status 64", cp)

    # Notify targets.
    cp = ctl(db, "notify", "add", "[2001:db8::53]@5300", "--key", "key1.example")
    check(cp.returncode == 0, "notify add [v6]@port", cp)
    cp = ctl(db, "notify", "add", "192.0.2.10")
    check(cp.returncode == 0, "notify add v4, port 53", cp)
    cp = ctl(db, "notify", "add", "192.0.2.10@70000")
    check(cp.returncode == 2, "port 70000: status 2", cp)
    cp = ctl(db, "notify", "list")
    check(cp.stdout == "2001:db8::53@5300 key key1.example\n192.0.2.10@53\n", "notify list",
          cp.stdout)
    cp = ctl(db, "notify", "remove", "192.0.2.10")
    check(cp.returncode == 0 and ctl(db, "notify", "list").stdout ==
          "2001:db8::53@5300 key key1.example\n", "notify remove", cp)

    help_ = ctl(db, "--help").stdout
    check(all(w in help_ for w in ("tsig", "transfer", "notify")),
          "tallowctl --help lists the commands")
    for cmd in ("tsig", "transfer", "notify"):
        h = ctl(db, "help", cmd).stdout
        check("Exit status" in h and "Examples" in h, "help %s" % cmd, h)
    harness.done()


if __name__ == "__main__":
    main()
