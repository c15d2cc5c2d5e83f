"""tallowctl end to end: every command's happy path with its exact output,
help and usage errors, exit statuses of the error cases, serials and the
journal, and the master file accepted by ldns-read-zone and named-checkzone.

Runs the real tallowctl on temporary database directories (no network).
"""

import json
import os
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

ZONE = "tenants.example.net"
T1 = "72f988bf-86f1-41af-91ab-2d7cd011db47"
T2 = "0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"
T3 = "9188040d-6c67-4c5b-b112-36a304b66dad"
COMMANDS = ["init", "add", "remove", "show", "list", "import", "export", "zones",
            "journal", "help"]

# The options each command's help must mention.
HELP_MENTIONS = {
    "init": ["--ns", "--mbox", "--ttl", "--negative-ttl", "-d", "--zone", "Exit status",
             "Examples", "TALLOW_DB"],
    "add": ["--none", "TENANT[,DKIM-DOMAIN]", "-d", "--zone", "Exit status", "Examples"],
    "remove": ["DOMAIN TENANT...", "-d", "--zone", "Exit status", "Examples"],
    "show": ["--json", "-d", "--zone", "Exit status", "Examples"],
    "list": ["--json", "-d", "--zone", "Exit status", "Examples"],
    "import": ["--replace", "--format", "FILE|-", "Exit status", "Examples"],
    "export": ["--format csv|zone", "-d", "--zone", "Exit status", "Examples"],
    "zones": ["--json", "-d", "Exit status", "Examples"],
    "journal": ["--rrs", "-d", "--zone", "Exit status", "Examples"],
    "help": ["COMMAND", "Exit status"],
}


def jload(text):
    """The JSON document in `text`, or None (so a failure is a failed check)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def ctl(db, *args, **kw):
    return harness.tallowctl(db, *args, **kw)


def serial(db, zone=ZONE):
    cp = ctl(db, "zones", "--json")
    doc = jload(cp.stdout)
    for z in doc["zones"]:
        if z["zone"] == zone:
            return z["serial"]
    raise AssertionError("zone %s not in %s" % (zone, cp.stdout))


def journal(db, *args):
    cp = ctl(db, *args, "journal")
    return [line.split() for line in cp.stdout.splitlines()]


def test_help():
    exe = harness.binary("tallowctl")
    cp = harness.run([exe, "--help"])
    check(cp.returncode == 0 and "Usage: tallowctl" in cp.stdout
          and all(c in cp.stdout for c in COMMANDS)
          and "64" in cp.stdout and "TALLOW_DB" in cp.stdout
          and "/var/lib/tallow" in cp.stdout,
          "tallowctl --help lists every command, exit statuses, TALLOW_DB", cp.stdout)
    cp = harness.run([exe, "--version"])
    check(cp.returncode == 0 and cp.stdout.startswith("tallowctl "),
          "--version prints the version", cp.stdout)
    for cmd in COMMANDS:
        a = harness.run([exe, cmd, "--help"])
        b = harness.run([exe, "help", cmd])
        missing = [m for m in HELP_MENTIONS[cmd] if m not in a.stdout]
        check(a.returncode == 0 and not missing and a.stdout.startswith("Usage: tallowctl"),
              "tallowctl %s --help exits 0 and mentions its options" % cmd,
              "rc %d, missing %s\n%s" % (a.returncode, missing, a.stdout))
        check(b.returncode == 0 and b.stdout == a.stdout,
              "tallowctl help %s prints the same text" % cmd)
    cp = harness.run([exe, "frobnicate"])
    check(cp.returncode == 64 and '"frobnicate"' in cp.stderr,
          "an unknown command exits 64 and names it", cp.stderr)
    cp = harness.run([exe, "--frob"])
    check(cp.returncode == 64 and "--frob" in cp.stderr, "an unknown option exits 64",
          cp.stderr)
    cp = harness.run([exe, "add", "--frob", "example.com"])
    check(cp.returncode == 64 and "--frob" in cp.stderr, "an unknown command option exits 64",
          cp.stderr)
    cp = harness.run([exe])
    check(cp.returncode == 64, "no command exits 64")
    cp = harness.run([exe, "help", "frobnicate"])
    check(cp.returncode == 64, "help of an unknown command exits 64")


def test_happy_paths():
    db = os.path.join(harness.tmpdir(), "db")
    cp = ctl(db, "init", ZONE, "--ns", "ns1.%s=127.0.0.1" % ZONE,
             "--ns", "ns1.%s=::1" % ZONE, "--ns", "ns2.example.org",
             "--mbox", "hostmaster@example.net", "--ttl", "600", "--negative-ttl", "60")
    check(cp.returncode == 0 and cp.stdout == "" and cp.stderr == "",
          "init creates the database directory, quietly", cp.stderr)
    check(os.path.isfile(os.path.join(db, "data.mdb")), "init made data.mdb")
    s0 = serial(db)
    cp = ctl(db, "zones")
    check(cp.returncode == 0 and cp.stdout == "%s %d\n" % (ZONE, s0),
          "zones prints 'zone serial'", cp.stdout)
    doc = jload(ctl(db, "zones", "--json").stdout)
    z = doc["zones"][0]
    check(z["ttl"] == 600 and z["negative_ttl"] == 60 and z["mbox"] == "hostmaster@example.net"
          and z["ns"] == [{"name": "ns1." + ZONE, "addresses": ["127.0.0.1", "::1"]},
                          {"name": "ns2.example.org", "addresses": []}],
          "zones --json shows the settings init was given", json.dumps(z))

    cp = ctl(db, "add", "Example.COM", T1 + ",Contoso.onmicrosoft.com",
             "{%s}" % T2.upper())
    check(cp.returncode == 0 and cp.stdout == "" and cp.stderr == "",
          "add of two tenants, one with dkim, quietly", cp.stderr)
    check(serial(db) == s0 + 1, "the add raised the serial by one")
    cp = ctl(db, "add", "example.com", T1 + ",contoso.onmicrosoft.com")
    check(cp.returncode == 0 and serial(db) == s0 + 1,
          "an idempotent add leaves the serial alone")
    cp = ctl(db, "-v", "add", "example.com", T1 + ",contoso.onmicrosoft.com")
    check(cp.returncode == 0 and "no change" in cp.stderr, "-v says when nothing changed",
          cp.stderr)
    cp = ctl(db, "show", "example.com")
    check(cp.returncode == 0 and cp.stdout ==
          "example.com (zone %s): 2 tenants allowed\n"
          "  %s\n"
          "  %s  dkim=contoso.onmicrosoft.com\n" % (ZONE, T2, T1),
          "show prints the tenants sorted, with dkim", cp.stdout)
    cp = ctl(db, "show", "--json", "EXAMPLE.com.")
    doc = jload(cp.stdout)
    check(doc == {"zone": ZONE, "policy": {"domain": "example.com", "tenants": [
        {"id": T2, "dkim": None}, {"id": T1, "dkim": "contoso.onmicrosoft.com"}]}},
        "show --json parses and matches", cp.stdout)

    cp = ctl(db, "add", "example.org", "--none")
    check(cp.returncode == 0 and serial(db) == s0 + 2, "add --none creates a deny-all policy")
    cp = ctl(db, "add", "example.org", "--none")
    check(cp.returncode == 0 and serial(db) == s0 + 2, "add --none again changes nothing")
    cp = ctl(db, "show", "example.org")
    check(cp.stdout == "example.org (zone %s): deny-all policy, no tenant allowed\n" % ZONE,
          "show of a deny-all policy", cp.stdout)
    cp = ctl(db, "add", "example.com", "--none")
    check(cp.returncode == 2 and "never revokes" in cp.stderr and serial(db) == s0 + 2,
          "add --none on a domain with tenants is refused with exit 2", cp.stderr)
    cp = ctl(db, "-v", "add", "fabrikam.example", T3 + ",fabrikam.onmicrosoft.com")
    check(cp.returncode == 0 and "serial %d -> %d" % (s0 + 2, s0 + 3) in cp.stderr,
          "-v prints the serial change", cp.stderr)

    expect_csv = ("example.com,%s\n"
                  "example.com,%s,contoso.onmicrosoft.com\n"
                  "fabrikam.example,%s,fabrikam.onmicrosoft.com\n"
                  "example.org,none\n") % (T2, T1, T3)
    cp = ctl(db, "list")
    check(cp.returncode == 0 and cp.stdout == expect_csv,
          "list prints CSV in canonical order", cp.stdout)
    cp = ctl(db, "export")
    check(cp.returncode == 0 and cp.stdout == expect_csv, "export is the same CSV", cp.stdout)
    cp = ctl(db, "export", "--format", "csv")
    check(cp.stdout == expect_csv, "export --format csv is the same CSV")
    doc = jload(ctl(db, "list", "--json").stdout)
    check(doc["zone"] == ZONE and [p["domain"] for p in doc["policies"]] ==
          ["example.com", "fabrikam.example", "example.org"]
          and doc["policies"][2]["tenants"] == [],
          "list --json parses, deny-all has no tenants", json.dumps(doc))

    cp = ctl(db, "remove", "example.com", T2)
    check(cp.returncode == 0 and serial(db) == s0 + 4, "remove of a tenant")
    cp = ctl(db, "remove", "example.com", T2)
    check(cp.returncode == 0 and "not listed" in cp.stderr and T2 in cp.stderr
          and serial(db) == s0 + 4,
          "remove of a tenant not listed: exit 0, message, nothing changed", cp.stderr)
    cp = ctl(db, "remove", "example.com", T1)
    check(cp.returncode == 0 and serial(db) == s0 + 5, "remove of the last tenant")
    cp = ctl(db, "show", "example.com")
    check(cp.returncode == 0 and "deny-all" in cp.stdout,
          "removing the last tenant leaves deny-all", cp.stdout)
    cp = ctl(db, "remove", "example.com")
    check(cp.returncode == 0 and serial(db) == s0 + 6, "remove DOMAIN deletes the policy")
    cp = ctl(db, "show", "example.com")
    check(cp.returncode == 1 and cp.stdout == "" and '"example.com" has no policy' in cp.stderr,
          "show of a domain without policy exits 1", cp.stderr)
    cp = ctl(db, "remove", "example.com")
    check(cp.returncode == 1 and "has no policy" in cp.stderr and serial(db) == s0 + 6,
          "remove DOMAIN without policy exits 1", cp.stderr)
    cp = ctl(db, "remove", "nowhere.example", T1)
    check(cp.returncode == 1 and "has no policy" in cp.stderr,
          "remove of a tenant of a domain without policy exits 1", cp.stderr)

    # The journal holds one record per committed change, serials chained.
    recs = journal(db)
    froms = [int(r[0]) for r in recs]
    tos = [int(r[1]) for r in recs]
    check(len(recs) == 6 and froms == list(range(s0, s0 + 6))
          and tos == list(range(s0 + 1, s0 + 7)),
          "journal: one record per change, serial +1 each", recs)
    # First change: 2 TXT and 2 A records added.
    check(recs[0][2:] == ["+4", "-0"] and recs[1][2:] == ["+1", "-0"]
          and recs[5][2:] == ["+0", "-1"],
          "journal counts the records each change added and removed", recs)
    cp = ctl(db, "journal", "--rrs")
    check('+ example.org.%s. 600 IN TXT "v=TAL1"' % ZONE in cp.stdout
          and "+ %s.example.com.%s. 600 IN A 127.0.0.2" % (T1, ZONE) in cp.stdout
          and "- %s.example.com.%s. 600 IN A 127.0.0.2" % (T2, ZONE) in cp.stdout,
          "journal --rrs prints the records", cp.stdout)
    return db


def test_zonefile(db):
    cp = ctl(db, "export", "--format", "zone")
    check(cp.returncode == 0 and "SOA" in cp.stdout
          and "%s.fabrikam.example" % T3 in cp.stdout,
          "export --format zone prints a master file", cp.stdout[:2000])
    path = os.path.join(harness.tmpdir(), "zone.db")
    with open(path, "w") as f:
        f.write(cp.stdout)
    r = harness.run(["ldns-read-zone", path])
    check(r.returncode == 0, "ldns-read-zone accepts the export", r.stderr)
    r = harness.run(["named-checkzone", ZONE, path])
    check(r.returncode == 0 and "OK" in r.stdout, "named-checkzone accepts the export",
          r.stdout + r.stderr)
    # Round trip through the master file.
    before = ctl(db, "export").stdout
    db2 = os.path.join(harness.tmpdir(), "db2")
    ctl(db2, "init", ZONE, check_rc=0)
    cp = ctl(db2, "import", "--format", "zone", path)
    check(cp.returncode == 0 and ctl(db2, "export").stdout == before,
          "import --format zone of the export restores the same policies", cp.stderr)


def test_errors():
    tmp = harness.tmpdir()
    missing = os.path.join(tmp, "no-such-dir")
    for args in (["show", "example.com"], ["add", "example.com", T1], ["list"], ["zones"]):
        cp = ctl(missing, *args)
        check(cp.returncode == 3 and missing in cp.stderr
              and "no database in this directory" in cp.stderr
              and 'tallowctl init ZONE' in cp.stderr,
              "%s on a missing directory exits 3 and names it" % args[0], cp.stderr)
    check(not os.path.exists(missing), "no command but init creates the directory")

    deep = os.path.join(tmp, "no-parent", "db")
    cp = ctl(deep, "init", ZONE)
    check(cp.returncode == 3 and deep in cp.stderr and "parent directory must exist" in cp.stderr
          and not os.path.exists(os.path.dirname(deep)),
          "init does not create missing parents, and says so", cp.stderr)

    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    cp = ctl(empty, "list")
    check(cp.returncode == 3 and empty in cp.stderr and "no database" in cp.stderr,
          "an empty directory exits 3", cp.stderr)

    garbage = os.path.join(tmp, "garbage")
    os.mkdir(garbage)
    with open(os.path.join(garbage, "data.mdb"), "wb") as f:
        f.write(bytes((i * 7 + 3) % 256 for i in range(64 * 1024)))
    before = open(os.path.join(garbage, "data.mdb"), "rb").read()
    for args in (["list"], ["add", "example.com", T1]):
        cp = ctl(garbage, *args)
        check(cp.returncode == 3 and "not a tallow database" in cp.stderr
              and garbage in cp.stderr,
              "%s on a garbage data.mdb exits 3: not a tallow database" % args[0], cp.stderr)
    check(open(os.path.join(garbage, "data.mdb"), "rb").read() == before,
          "the garbage file is left as it was")

    afile = os.path.join(tmp, "a-file")
    with open(afile, "w") as f:
        f.write("not a directory\n")
    cp = ctl(afile, "list")
    check(cp.returncode == 3 and afile in cp.stderr, "-d naming a file exits 3", cp.stderr)

    db = os.path.join(tmp, "db")
    cp = ctl(db, "init", ZONE)
    check(cp.returncode == 0 and cp.stderr.strip() ==
          "tallowctl: warning: name server ns1.%s is inside zone %s but has no address; "
          "resolvers cannot reach it without glue (give one with --ns ns1.%s=ADDRESS)"
          % (ZONE, ZONE, ZONE),
          "init with the default NS warns that it has no glue", cp.stderr)
    z = jload(ctl(db, "zones", "--json").stdout)["zones"][0]
    check(z["ns"] == [{"name": "ns1." + ZONE, "addresses": []}]
          and z["mbox"] == "hostmaster@" + ZONE and z["ttl"] == 3600
          and z["negative_ttl"] == 300 and abs(z["serial"] - time.time()) < 600,
          "init defaults: ns1.ZONE, hostmaster@ZONE, TTL 3600, negative TTL 300, "
          "serial near the Unix time", json.dumps(z))
    s0 = serial(db)
    cp = ctl(db, "add", "example.com", "xyz")
    check(cp.returncode == 2 and cp.stderr.strip() ==
          'tallowctl: "xyz" is not a tenant ID (expected a GUID)',
          "add with a bad GUID exits 2 with the message", cp.stderr)
    cp = ctl(db, "add", "exa_mple.com", T1)
    check(cp.returncode == 2 and '"exa_mple.com"' in cp.stderr, "add with a bad domain exits 2",
          cp.stderr)
    cp = ctl(db, "add", "example.com", T1 + ",not a domain")
    check(cp.returncode == 2 and '"not a domain"' in cp.stderr, "add with a bad dkim exits 2",
          cp.stderr)
    # 224 characters: a valid domain, but <guid>.<domain>.<zone> exceeds 255 octets.
    long_domain = ".".join(["a" * 63] * 3 + ["b" * 30]) + ".com"
    cp = ctl(db, "add", long_domain, T1)
    check(cp.returncode == 2 and "too long for this zone" in cp.stderr,
          "add of a domain too long for the zone exits 2", cp.stderr)
    long_dkim = ".".join(["d" * 60] * 4) + ".example"
    cp = ctl(db, "add", "example.com", T1 + "," + long_dkim)
    check(cp.returncode == 2 and '"%s"' % long_dkim in cp.stderr
          and "TXT string longer than 255" in cp.stderr,
          "add with a DKIM domain too long for the TXT record exits 2", cp.stderr)
    cp = ctl(db, "add", "example.com")
    check(cp.returncode == 64, "add without a tenant is a usage error")
    cp = ctl(db, "add", "example.com", T1, "--none")
    check(cp.returncode == 64, "add with tenants and --none is a usage error")
    cp = ctl(db, "show")
    check(cp.returncode == 64, "show without a domain is a usage error")
    check(serial(db) == s0, "no rejected command changed the serial")

    cp = ctl(db, "--zone", "other.example", "show", "example.com")
    check(cp.returncode == 1 and '"other.example"' in cp.stderr,
          "an unknown --zone exits 1 and names it", cp.stderr)
    cp = ctl(db, "init", ZONE)
    check(cp.returncode == 2 and "already exists" in cp.stderr, "init of an existing zone exits 2",
          cp.stderr)
    cp = ctl(db, "init", "sub." + ZONE)
    check(cp.returncode == 2 and "nest" in cp.stderr, "init of a nested zone exits 2", cp.stderr)
    cp = ctl(db, "init", "other.example", "--ns", "ns.elsewhere.org=192.0.2.1")
    check(cp.returncode == 2 and "inside" in cp.stderr, "glue for an out-of-zone name exits 2",
          cp.stderr)
    cp = ctl(db, "init", "other.example", "--ns", "ns1.other.example=192.0.2.300")
    check(cp.returncode == 2 and '"192.0.2.300"' in cp.stderr, "a bad glue address exits 2",
          cp.stderr)
    cp = ctl(db, "init", "other.example", "--ttl", "soon")
    check(cp.returncode == 2 and '"soon"' in cp.stderr, "a bad TTL exits 2", cp.stderr)
    cp = ctl(db, "init", "other.example", "--ns", "ns1.other.example=192.0.2.1")
    check(cp.returncode == 0, "a second zone", cp.stderr)
    cp = ctl(db, "show", "example.com")
    check(cp.returncode == 64 and "--zone" in cp.stderr and ZONE in cp.stderr
          and "other.example" in cp.stderr,
          "two zones without --zone exit 64 and list the zones", cp.stderr)
    cp = ctl(db, "--zone", "other.example", "add", "example.com", T1)
    check(cp.returncode == 0, "--zone picks the zone")
    cp = ctl(db, "zones")
    lines = cp.stdout.splitlines()
    check(len(lines) == 2 and lines[0].startswith("other.example ")
          and lines[1].startswith(ZONE + " "),
          "zones lists both, in canonical order", cp.stdout)
    cp = ctl(db, "list", "--zone", ZONE)
    check(cp.returncode == 0 and cp.stdout == "", "--zone after the command works too")

    with open("/dev/full", "w") as full:
        p = subprocess.run([harness.binary("tallowctl"), "-d", db, "--zone", "other.example",
                            "export"], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    check(p.returncode == 3 and "standard output" in p.stderr,
          "export to /dev/full exits 3", p.stderr)
    with open("/dev/full", "w") as full:
        p = subprocess.run([harness.binary("tallowctl"), "-d", db, "--zone", "other.example",
                            "export", "--format", "zone"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    check(p.returncode == 3, "export --format zone to /dev/full exits 3", p.stderr)

    # TALLOW_DB is the default directory.
    p = harness.run([harness.binary("tallowctl"), "--zone", "other.example", "list"],
                    env={"TALLOW_DB": db})
    check(p.returncode == 0 and p.stdout == "example.com,%s\n" % T1,
          "TALLOW_DB names the database when -d is absent", p.stderr)


def guarded(fn, *args):
    """Runs one group of checks; an exception is one failed check, not a crash."""
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - reported as a failure with its traceback
        check(False, "%s ran to the end" % fn.__name__, traceback.format_exc())
        return None


def main():
    guarded(test_help)
    db = guarded(test_happy_paths)
    if db is not None:
        guarded(test_zonefile, db)
    guarded(test_errors)
    harness.done()


if __name__ == "__main__":
    main()
