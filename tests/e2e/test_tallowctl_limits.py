"""tallowctl refuses a policy whose TXT RRset could not be sent in one DNS
message (65,535 octets, RFC 7766), naming the domain, and keeps the data."""

import random
import uuid

from harness import check, done, tallowctl, tmpdir


def guids(n, seed):
    r = random.Random(seed)
    return [str(uuid.UUID(int=r.getrandbits(128))) for _ in range(n)]


db = tmpdir()
tallowctl(db, "init", "z.example", check_rc=0)
work = tmpdir()

ok_csv = "%s/ok.csv" % work
with open(ok_csv, "w") as f:
    for g in guids(1000, 1):
        f.write("big.example,%s\n" % g)
cp = tallowctl(db, "import", ok_csv)
check(cp.returncode == 0, "1,000 tenants for one domain fit one message", cp.stderr)
before = tallowctl(db, "export").stdout

big_csv = "%s/big.csv" % work
with open(big_csv, "w") as f:
    for g in guids(1100, 2):
        f.write("big.example,%s\n" % g)
    f.write("other.example,%s\n" % guids(1, 3)[0])
cp = tallowctl(db, "import", big_csv)
check(cp.returncode == 2, "1,100 more tenants: exit 2", cp.returncode)
check('"big.example" has too many tenants' in cp.stderr and big_csv in cp.stderr,
      "the message names the file and the domain", cp.stderr)
check(tallowctl(db, "export").stdout == before, "the zone is unchanged")
check(tallowctl(db, "show", "other.example").returncode == 1,
      "no line of the refused file was imported")

dkim = "x" * 60 + ".onmicrosoft.com"
cp = tallowctl(db, "add", "big.example", *["%s,%s" % (g, dkim) for g in guids(300, 4)])
check(cp.returncode == 2 and "too many tenants" in cp.stderr,
      "add refuses too, counting the dkim= tags", cp.stderr)
check(tallowctl(db, "export").stdout == before, "the zone is still unchanged")
done()
