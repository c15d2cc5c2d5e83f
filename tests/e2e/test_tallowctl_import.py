"""tallowctl import and export end to end: a 100,000-pair round trip, every
kind of invalid line (exit 2, FILE:LINE and the bad text, nothing written),
and two concurrent imports that both land with the serial up by exactly 2.

gen_pairs() is also used by tests/bench/bench_import.py.
"""

import json
import os
import random
import re
import subprocess
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

ZONE = "tenants.example.net"
GOOD = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def guid(rnd):
    h = "%032x" % rnd.getrandbits(128)
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def canonical(domain):
    """Sort key of a domain in DNS canonical order (labels from the root)."""
    return [label.encode() for label in reversed(domain.split("."))]


def gen_pairs(npairs, seed=1, prefix="d"):
    """A deterministic policy set of about `npairs` CSV lines.

    Returns (lines, expected): `lines` is the import file's lines in a
    shuffled order with the variations the CSV format allows (upper case and
    braced GUIDs, blanks around fields, CRLF, comments, blank lines);
    `expected` is what export must print: normalised, domains in canonical
    order, tenants sorted.  1 to 3 tenants per domain, about a third with a
    DKIM domain, one domain in twelve deny-all.
    """
    rnd = random.Random(seed)
    policies = []
    n = 0
    i = 0
    while n < npairs:
        domain = "%s%d.%s.example" % (prefix, i, "abcdefghijklmnop"[i % 16])
        i += 1
        if rnd.randrange(12) == 0:
            policies.append((domain, []))
            n += 1
            continue
        tenants = []
        for _ in range(min(rnd.randint(1, 3), npairs - n)):
            dkim = "t%d.onmicrosoft.com" % rnd.randrange(10 ** 6) if rnd.randrange(3) == 0 else ""
            tenants.append((guid(rnd), dkim))
        policies.append((domain, tenants))
        n += len(tenants)

    expected = []
    for domain, tenants in sorted(policies, key=lambda p: canonical(p[0])):
        if not tenants:
            expected.append("%s,none" % domain)
        for t, dkim in sorted(tenants):
            expected.append("%s,%s,%s" % (domain, t, dkim) if dkim else "%s,%s" % (domain, t))

    lines = []
    for domain, tenants in policies:
        if not tenants:
            lines.append("%s,none" % domain)
        for t, dkim in tenants:
            v = rnd.randrange(20)
            if v == 0:
                t = "{%s}" % t.upper()
            elif v == 1:
                t = t.upper()
            d = domain.upper() if v == 2 else domain
            if v == 3:
                line = " %s ,\t%s , %s " % (d, t, dkim) if dkim else " %s , %s\t" % (d, t)
            else:
                line = "%s,%s,%s" % (d, t, dkim) if dkim else "%s,%s" % (d, t)
            if v == 4:
                line += "\r"
            lines.append(line)
    rnd.shuffle(lines)
    lines.insert(0, "# generated policies, seed %d" % seed)
    lines.insert(len(lines) // 2, "")
    lines.insert(len(lines) // 3, "   # a comment in the middle")
    return lines, expected


def write(path, lines):
    with open(path, "w", newline="") as f:
        f.write("\n".join(lines) + "\n")


def jload(text):
    """The JSON document in `text`, or None (so a failure is a failed check)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def ctl(db, *args, **kw):
    return harness.tallowctl(db, *args, **kw)


def serial(db):
    return jload(ctl(db, "zones", "--json").stdout)["zones"][0]["serial"]


def test_round_trip(tmp):
    db = os.path.join(tmp, "db")
    ctl(db, "init", ZONE, check_rc=0)
    lines, expected = gen_pairs(100000)
    src = os.path.join(tmp, "pairs.csv")
    write(src, lines)
    s0 = serial(db)
    cp = ctl(db, "import", src)
    check(cp.returncode == 0 and cp.stdout == "" and cp.stderr == "",
          "import of 100,000 pairs, quietly", cp.stderr)
    check(serial(db) == s0 + 1, "the import is one change: serial +1")
    out = ctl(db, "export").stdout
    check(out == "\n".join(expected) + "\n", "export equals the sorted, normalised input",
          "\n".join(l for l in out.splitlines()[:5]))
    check(ctl(db, "list").stdout == out, "list prints the same CSV")

    exp = os.path.join(tmp, "export.csv")
    with open(exp, "w") as f:
        f.write(out)
    cp = ctl(db, "import", "--replace", exp)
    check(cp.returncode == 0 and serial(db) == s0 + 1,
          "import --replace of the export changes nothing (serial kept)", cp.stderr)
    check(ctl(db, "export").stdout == out, "export after import --replace is byte-identical")

    cp = ctl(db, "import", src)
    check(cp.returncode == 0 and serial(db) == s0 + 1, "re-importing the same file is idempotent")

    # Merge versus replace: a small file.
    small = os.path.join(tmp, "small.csv")
    write(small, ["new.example,%s" % GOOD, "d0.a.example,none"])
    cp = ctl(db, "import", small)
    after = ctl(db, "export").stdout
    check(cp.returncode == 0 and serial(db) == s0 + 2
          and "new.example,%s\n" % GOOD in after and len(after.splitlines()) == len(expected) + 1
          and (after.replace("new.example,%s\n" % GOOD, "") == out),
          "merge adds and keeps everything else; 'none' on a listed domain keeps its tenants")
    write(small, ["new.example,%s" % GOOD, "deny.example,none", "mixed.example,none",
                  "mixed.example,%s" % GOOD])
    cp = ctl(db, "-v", "import", "--replace", small)
    check(cp.returncode == 0 and ctl(db, "export").stdout ==
          "deny.example,none\nmixed.example,%s\nnew.example,%s\n" % (GOOD, GOOD)
          and serial(db) == s0 + 3,
          "replace makes the zone equal the file; tenants win over none", cp.stderr)
    check("import --replace" in cp.stderr and "serial %d -> %d" % (s0 + 2, s0 + 3) in cp.stderr,
          "-v summarises the import", cp.stderr)

    # Standard input.
    cp = ctl(db, "import", "--replace", "-", input=out)
    check(cp.returncode == 0 and ctl(db, "export").stdout == out,
          "import --replace - reads standard input")

    write(small, [])
    cp = ctl(db, "import", "--replace", small)
    check(cp.returncode == 0 and ctl(db, "export").stdout == "",
          "import --replace of an empty file empties the zone")


def test_invalid_lines(tmp):
    db = os.path.join(tmp, "db-invalid")
    ctl(db, "init", ZONE, check_rc=0)
    lines, _ = gen_pairs(2000, seed=7)
    ctl(db, "import", "-", input="\n".join(lines[:500]) + "\n", check_rc=0)
    before = ctl(db, "export").stdout
    s0 = serial(db)
    long_label = "a" * 64
    too_long_for_zone = ".".join(["b" * 63] * 3 + ["c" * 30]) + ".com"
    cases = [
        ("bad tenant", "example.com,not-a-guid", "not-a-guid", "is not a tenant ID"),
        ("bad domain", "exa_mple.com,%s" % GOOD, "exa_mple.com", "not allowed in a host name"),
        ("label too long", "%s.com,%s" % (long_label, GOOD), long_label + ".com",
         "label longer than 63"),
        ("domain too long for the zone", "%s,%s" % (too_long_for_zone, GOOD), too_long_for_zone,
         "too long for this zone"),
        ("too many fields", "example.com,%s,dkim.example,extra" % GOOD,
         "example.com,%s,dkim.example,extra" % GOOD, "not a valid line"),
        ("empty domain", ",%s" % GOOD, "", None),
        ("bad dkim", "example.com,%s,not_a.dkim!" % GOOD, "not_a.dkim!",
         "not a valid DKIM signing domain"),
        ("GUID-shaped label", "%s.example.com,%s" % (GOOD, GOOD), None, "shaped like a tenant ID"),
    ]
    for at, (what, bad, text, reason) in enumerate(cases):
        lineno = 700 + at * 111
        body = lines[:lineno - 1] + [bad] + lines[lineno - 1:]
        path = os.path.join(tmp, "bad-%d.csv" % at)
        write(path, body)
        cp = ctl(db, "import", path)
        first = cp.stderr.splitlines()[0] if cp.stderr else ""
        ok = cp.returncode == 2 and first.startswith("%s:%d: " % (path, lineno))
        if text is not None:
            ok = ok and '"%s"' % text in first
        if reason is not None:
            ok = ok and reason in first
        check(ok and "nothing was imported" in cp.stderr,
              "%s at line %d: exit 2, FILE:LINE, the bad text" % (what, lineno), cp.stderr)
        check(ctl(db, "export").stdout == before and serial(db) == s0,
              "%s: the database is unchanged" % what)
        cp = ctl(db, "import", "--replace", path)
        check(cp.returncode == 2 and ctl(db, "export").stdout == before,
              "%s with --replace: exit 2, nothing deleted" % what)

    # Many bad lines: the first 20 reported, then a count.
    body = list(lines)
    for k in range(25):
        body[100 + k * 10] = "bad%d.example,xyz%d" % (k, k)
    path = os.path.join(tmp, "many-bad.csv")
    write(path, body)
    cp = ctl(db, "import", path)
    err = cp.stderr.splitlines()
    reported = [l for l in err if re.match(re.escape(path) + r":\d+: ", l)]
    check(cp.returncode == 2 and len(reported) == 20
          and reported[0].startswith("%s:101: \"xyz0\"" % path)
          and any("and 5 more" in l for l in err)
          and any("25 invalid lines" in l for l in err),
          "25 bad lines: 20 reported with their lines, then 'and 5 more'", cp.stderr)

    # A large file (parsed in two halves): bad lines in both halves, in
    # both kinds of check (the line itself, and the domain against the zone).
    big, _ = gen_pairs(100000, seed=8)
    marks = {10: "bad-a.example,xyz", 60000: "%s,%s" % (too_long_for_zone, GOOD),
             90000: "exa_mple.org,%s" % GOOD, 95000: "%s,%s" % (too_long_for_zone, GOOD)}
    for lineno in sorted(marks):
        big.insert(lineno - 1, marks[lineno])
    path = os.path.join(tmp, "big-bad.csv")
    write(path, big)
    cp = ctl(db, "import", path)
    got = [int(m.group(1)) for m in
           (re.match(re.escape(path) + r":(\d+): ", l) for l in cp.stderr.splitlines()) if m]
    check(cp.returncode == 2 and got == sorted(marks) and "4 invalid lines" in cp.stderr,
          "a large file: bad lines in both halves reported in order", cp.stderr)
    check(ctl(db, "export").stdout == before, "a large bad file changes nothing")

    cp = ctl(db, "import", "-", input="ok.example,%s\nbad.example,{nope}\n" % GOOD)
    check(cp.returncode == 2 and cp.stderr.startswith('<stdin>:2: "{nope}"'),
          "standard input is named <stdin> in messages", cp.stderr)
    cp = ctl(db, "import", "-", input=b"ok.example,%s\nbad\x00line\n" % GOOD.encode())
    check(cp.returncode == 2 and b"<stdin>:2:" in cp.stderr,
          "a NUL octet is refused with its line", cp.stderr)
    cp = ctl(db, "import", os.path.join(tmp, "no-such.csv"))
    check(cp.returncode == 3 and "no-such.csv" in cp.stderr, "a missing file exits 3", cp.stderr)
    cp = ctl(db, "import")
    check(cp.returncode == 64, "import without FILE is a usage error")
    check(ctl(db, "export").stdout == before and serial(db) == s0,
          "after every rejected import the zone is as before")


def test_concurrent(tmp):
    db = os.path.join(tmp, "db-concurrent")
    ctl(db, "init", ZONE, check_rc=0)
    a_lines, a_exp = gen_pairs(30000, seed=11, prefix="a")
    b_lines, b_exp = gen_pairs(30000, seed=12, prefix="b")
    pa, pb = os.path.join(tmp, "a.csv"), os.path.join(tmp, "b.csv")
    write(pa, a_lines)
    write(pb, b_lines)
    s0 = serial(db)
    exe = harness.binary("tallowctl")
    procs = [harness.spawn([exe, "-d", db, "import", p]) for p in (pa, pb)]
    rcs = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        rcs.append((p.returncode, err))
    check(all(rc == 0 for rc, _ in rcs), "two concurrent imports both succeed", rcs)
    out = ctl(db, "export").stdout.splitlines()
    want = sorted(a_exp + b_exp, key=lambda l: canonical(l.split(",")[0]))
    check(sorted(out) == sorted(want) and len(out) == len(a_exp) + len(b_exp),
          "both imports' policies are present", "%d lines, want %d" % (len(out), len(want)))
    check(serial(db) == s0 + 2, "the serial went up by exactly 2")
    cp = ctl(db, "journal")
    recs = [l.split() for l in cp.stdout.splitlines()]
    check(len(recs) == 2 and int(recs[0][0]) == s0 and int(recs[1][1]) == s0 + 2
          and recs[0][1] == recs[1][0],
          "the journal has both changes, chained", cp.stdout)


def test_map_full(tmp):
    db = os.path.join(tmp, "db-small")
    env = {"TALLOW_MAP_SIZE": "1M"}
    exe = harness.binary("tallowctl")
    harness.run([exe, "-d", db, "init", ZONE], env=env, check_rc=0)
    harness.run([exe, "-d", db, "add", "kept.example", GOOD], env=env, check_rc=0)
    lines, _ = gen_pairs(30000, seed=5)
    path = os.path.join(tmp, "too-big.csv")
    write(path, lines)
    cp = harness.run([exe, "-d", db, "import", path], env=env)
    check(cp.returncode == 3 and "map is full" in cp.stderr and "nothing was imported" in cp.stderr,
          "an import that outgrows the map exits 3", cp.stderr)
    cp = harness.run([exe, "-d", db, "list"], env=env)
    check(cp.stdout == "kept.example,%s\n" % GOOD, "and leaves the zone as it was", cp.stdout)


def guarded(fn, *args):
    """Runs one group of checks; an exception is one failed check, not a crash."""
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - reported as a failure with its traceback
        check(False, "%s ran to the end" % fn.__name__, traceback.format_exc())
        return None


def main():
    tmp = harness.tmpdir()
    guarded(test_round_trip, tmp)
    guarded(test_invalid_lines, tmp)
    guarded(test_concurrent, tmp)
    guarded(test_map_full, tmp)
    harness.done()


if __name__ == "__main__":
    main()
