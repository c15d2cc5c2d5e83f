"""A first import packs the database densely: the zone's records take well
under the size of the same zone as a master file (the store issue's aim),
even with glue inside the key range of the policies.  The journal is
counted apart: it holds the whole first change for IXFR, up to its bound."""

import os
import random
import re
import subprocess
import uuid

from harness import check, done, tallowctl, tmpdir


def db_pages(db, sub):
    """Pages (branch, leaf, overflow) of one sub-database, from mdb_stat."""
    out = subprocess.run(["mdb_stat", "-s", sub, db], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return sum(int(n) for n in re.findall(r"(?:Branch|Leaf|Overflow) pages: (\d+)", out))

db = tmpdir()
work = tmpdir()
tallowctl(db, "init", "tenants.example.net", "--ns", "ns1.tenants.example.net=127.0.0.1",
          "--ns", "ns2.tenants.example.net=127.0.0.2", check_rc=0)

r = random.Random(7)
tlds = ["com", "net", "org", "de", "nl", "io", "example"]
csv = os.path.join(work, "pairs.csv")
with open(csv, "w") as f:
    for i in range(30000):
        d = "d%06d-%x.%s" % (i, r.getrandbits(20), r.choice(tlds))
        for _ in range(r.randint(1, 3)):
            f.write("%s,%s\n" % (d, uuid.UUID(int=r.getrandbits(128))))
    # A policy at a glue name keeps the glue's addresses.
    f.write("ns1,%s\n" % uuid.UUID(int=1))
check(tallowctl(db, "import", csv).returncode == 0, "import of 30,000 domains")

zone = tallowctl(db, "export", "--format", "zone").stdout
dbsize = os.path.getsize(os.path.join(db, "data.mdb"))
nodes = db_pages(db, "nodes") * os.sysconf("SC_PAGE_SIZE")
journal = db_pages(db, "journal") * os.sysconf("SC_PAGE_SIZE")
ratio = nodes / len(zone.encode())
print("# data.mdb %d bytes (records %d, journal %d), master file %d bytes, ratio %.2f" % (
    dbsize, nodes, journal, len(zone), ratio))
check(ratio < 0.8, "the records take under 0.8 of the master file (%.2f)" % ratio)
check("ns1.tenants.example.net.\t3600\tIN\tA\t127.0.0.1" in zone.replace(" ", "\t")
      or "ns1\t3600\tIN\tA\t127.0.0.1" in zone.replace(" ", "\t")
      or "127.0.0.1" in [l.split()[-1] for l in zone.splitlines() if l.startswith("ns1")],
      "glue A of ns1 kept", zone[:600])
show = tallowctl(db, "show", "ns1")
check(show.returncode == 0 and "00000000-0000-0000-0000-000000000001" in show.stdout,
      "the policy at the glue name is there", show.stdout + show.stderr)
check(tallowctl(db, "show", "ns2").returncode == 1, "ns2 (glue only) has no policy")
done()
