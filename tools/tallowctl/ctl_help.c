/*
 * tools/tallowctl/ctl_help.c -- the help texts of tallowctl and of each of
 * its commands, printed by "--help" and "tallowctl help COMMAND".
 *
 * Each text is a small manual page: usage, description, options, exit
 * status, examples, and the environment.  tallowctl(1) and
 * the README's tallowctl section say the same things at more length; keep
 * them in step.
 */
#include "tools/tallowctl/ctl.h"

#define COMMON_OPTIONS                                                                            \
	"  -d, --db DIR     database directory (default: $TALLOW_DB or " TAL_CTL_DEFAULT_DB ")\n" \
	"  -z, --zone ZONE  the zone to act on; optional while the database holds one\n"          \
	"  -v, --verbose    print a one-line summary of each change on stderr\n"                  \
	"  -h, --help       print this help\n"

#define EXIT_STATUS                                                                       \
	"Exit status:\n"                                                                  \
	"  0   success\n"                                                                 \
	"  1   no such policy or zone (show or remove of something absent, an unknown\n"  \
	"      --zone)\n"                                                                 \
	"  2   invalid input (a bad domain, tenant ID, CSV line, zone setting) or a\n"    \
	"      request that conflicts with the data; nothing was changed\n"               \
	"  3   database or system error (missing, damaged, foreign or locked database,\n" \
	"      permission denied, disk or map full, write error on output)\n"             \
	"  64  usage error (unknown command or option, wrong number of arguments,\n"      \
	"      several zones in the database and no --zone)\n"

#define ENVIRONMENT                                                                        \
	"Environment:\n"                                                                   \
	"  TALLOW_DB        database directory when -d is not given\n"                     \
	"  TALLOW_MAP_SIZE  address space reserved for the database, in bytes (suffixes\n" \
	"                   K, M, G, T); default 64G\n"

#define FILES      \
	"Files:\n" \
	"  DIR/data.mdb, DIR/lock.mdb   the LMDB database shared with tallowd\n"

const char tal__ctl_help_main[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] [-v] COMMAND [ARGUMENTS]\n"
        "       tallowctl help [COMMAND] | --help | --version\n"
        "\n"
        "Manage tallow's policy zones: for each customer mail domain, which Microsoft 365\n"
        "tenants may send mail as that domain.  Every change is one transaction on the\n"
        "database in DIR; a running tallowd serves it at once, with the zone's serial\n"
        "raised by one.  Writes print nothing on success (add -v for a summary).\n"
        "\n"
        "Commands:\n"
        "  init ZONE [--ns NAME[=ADDRESS,...]]... [--mbox EMAIL] [--ttl SEC]\n"
        "            [--negative-ttl SEC]\n"
        "                       create a policy zone (and the database if missing)\n"
        "  add DOMAIN TENANT[,DKIM-DOMAIN]...\n"
        "                       allow tenants to send as DOMAIN (idempotent)\n"
        "  add DOMAIN --none    a policy that allows no tenant\n"
        "  remove DOMAIN TENANT...\n"
        "                       revoke tenants; revoking the last leaves deny-all\n"
        "  remove DOMAIN        delete DOMAIN's policy (back to \"no policy\")\n"
        "  show DOMAIN [--json] print DOMAIN's tenants; exit 1 when it has no policy\n"
        "  list [--json]        print every policy, as CSV\n"
        "  import [--replace] FILE|-\n"
        "                       load CSV, all or nothing; --replace makes the zone\n"
        "                       equal the file\n"
        "  export [--format csv|zone]\n"
        "                       print the policies as CSV, or the zone as a master file\n"
        "  zones [--json]       print the zones in the database with their serials\n"
        "  journal [--rrs]      print the zone's change journal (serials, counts, RRs)\n"
        "  tsig add|show|list|remove\n"
        "                       TSIG keys for zone transfers and NOTIFY\n"
        "  transfer allow|list|remove|trim\n"
        "                       who may transfer the zone (AXFR, IXFR); trim the journal\n"
        "  notify add|list|remove\n"
        "                       secondaries told of each new serial (NOTIFY)\n"
        "  help [COMMAND]       print this help, or a command's\n"
        "\n"
        "Options (also accepted after the command):\n" COMMON_OPTIONS
        "  -V, --version    print the version and exit\n"
        "\n"
        "A DOMAIN is a customer mail domain (U-labels are converted to A-labels); a\n"
        "TENANT is a tenant ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "(any case, braces allowed); a DKIM-DOMAIN is the domain the tenant signs with,\n"
        "such as contoso.onmicrosoft.com.\n"
        "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl init tenants.example.net --ns ns1.tenants.example.net=192.0.2.53\n"
        "  tallowctl add example.com 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "  tallowctl show example.com\n"
        "  tallowctl import --replace policies.csv\n"
        "\n" ENVIRONMENT "\n" FILES "\n"
        "Run \"tallowctl help COMMAND\" for a command's options and examples;\n"
        "see also tallowctl(1) and tallowd(8).\n";

const char tal__ctl_help_init[] =
        "Usage: tallowctl [-d DIR] init ZONE [--ns NAME[=ADDRESS[,ADDRESS]...]]...\n"
        "                 [--mbox EMAIL] [--ttl SEC] [--negative-ttl SEC]\n"
        "\n"
        "Create the policy zone ZONE (for example tenants.example.net) in the database\n"
        "in DIR, creating the directory (not its parents) and the database if they do\n"
        "not exist.  The zone gets an SOA record whose serial starts at the current\n"
        "Unix time and then rises by one with every change, and NS records for its\n"
        "name servers.  "
        "A database may hold several zones; they cannot nest.\n"
        "\n"
        "Options:\n"
        "  --ns NAME[=ADDRESS[,ADDRESS]...]\n"
        "                   a name server of the zone (repeat for several; at most 13).\n"
        "                   A name inside the zone needs its IPv4/IPv6 addresses as\n"
        "                   glue; give them after \"=\", separated by commas, or repeat\n"
        "                   --ns with the same NAME.  Default: ns1.ZONE (without\n"
        "                   glue, which draws a warning).\n"
        "  --mbox EMAIL     the SOA contact mailbox (default: hostmaster@ZONE)\n"
        "  --ttl SEC        TTL of the zone's records (default: 3600)\n"
        "  --negative-ttl SEC\n"
        "                   how long resolvers cache \"no such policy\" (SOA MINIMUM,\n"
        "                   RFC 2308; default: 300)\n" COMMON_OPTIONS "\n" EXIT_STATUS
        "  (init: 2 also when ZONE exists already or would nest with another zone)\n"
        "\n"
        "Examples:\n"
        "  tallowctl -d /var/lib/tallow init tenants.example.net \\\n"
        "      --ns ns1.tenants.example.net=192.0.2.53,2001:db8::53 \\\n"
        "      --ns ns2.example.org --mbox hostmaster@example.net --negative-ttl 60\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_add[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] add DOMAIN TENANT[,DKIM-DOMAIN]...\n"
        "       tallowctl [-d DIR] [--zone ZONE] add DOMAIN --none\n"
        "\n"
        "Allow each TENANT (a Microsoft 365 tenant ID, a GUID in any case, braces\n"
        "allowed) to send mail as DOMAIN, creating DOMAIN's policy if it has none.\n"
        "Tenants already listed stay listed; adding a listed tenant again changes\n"
        "nothing (the serial stays), unless a different DKIM-DOMAIN is given, which\n"
        "then replaces the old one.  A DKIM-DOMAIN is the domain the tenant signs\n"
        "with (its onmicrosoft.com domain), published as \"dkim=\" in the TXT record.\n"
        "\n"
        "With --none, publish a policy that allows no tenant at all (TXT \"v=TAL1\"):\n"
        "relays then refuse every tenant for DOMAIN.  add never revokes, so --none is\n"
        "refused (exit 2) when DOMAIN already lists tenants; revoke them with\n"
        "\"tallowctl remove\".  All tenants of one command land in one change.\n"
        "\n"
        "Options:\n"
        "  --none           a policy that allows no tenant\n" COMMON_OPTIONS "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl add example.com 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "  tallowctl add example.com \\\n"
        "      '{0F2A3B4C-5D6E-4F70-8192-A3B4C5D6E7F8},contoso.onmicrosoft.com'\n"
        "  tallowctl --zone tenants.example.net add example.org --none\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_remove[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] remove DOMAIN TENANT...\n"
        "       tallowctl [-d DIR] [--zone ZONE] remove DOMAIN\n"
        "\n"
        "With TENANTs, revoke them: they may no longer send as DOMAIN.  Revoking the\n"
        "last tenant leaves a policy that allows no tenant (as \"add DOMAIN --none\"),\n"
        "not \"no policy\": relays keep refusing.  A TENANT that is not listed is\n"
        "reported on stderr and skipped (exit 0, nothing changed for it).\n"
        "\n"
        "Without TENANTs, delete DOMAIN's policy: DOMAIN.ZONE no longer exists and\n"
        "relays apply their own default for DOMAIN.\n"
        "\n"
        "Options:\n" COMMON_OPTIONS "\n" EXIT_STATUS "  (remove: 1 when DOMAIN has no policy)\n"
        "\n"
        "Examples:\n"
        "  tallowctl remove example.com 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
        "  tallowctl remove example.com\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_show[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] show [--json] DOMAIN\n"
        "\n"
        "Print DOMAIN's policy: a first line naming the domain, the zone and the\n"
        "number of tenants allowed (or \"deny-all policy, no tenant allowed\"), then\n"
        "one line per tenant, sorted, with its DKIM domain if it has one:\n"
        "\n"
        "  example.com (zone tenants.example.net): 2 tenants allowed\n"
        "    0f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8\n"
        "    72f988bf-86f1-41af-91ab-2d7cd011db47  dkim=contoso.onmicrosoft.com\n"
        "\n"
        "When DOMAIN has no policy, say so on stderr and exit 1.  The database is\n"
        "opened read-only.\n"
        "\n"
        "Options:\n"
        "  --json           print one JSON document instead:\n"
        "                   {\"zone\": Z, \"policy\": {\"domain\": D, \"tenants\":\n"
        "                   [{\"id\": GUID, \"dkim\": DOMAIN or null}, ...]}}\n" COMMON_OPTIONS
        "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl show example.com\n"
        "  tallowctl show --json example.com | jq -r '.policy.tenants[].id'\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_list[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] list [--json]\n"
        "\n"
        "Print every policy of the zone as CSV, exactly as \"export --format csv\":\n"
        "one line per allowed tenant, \"domain,tenant[,dkim-domain]\", and\n"
        "\"domain,none\" for a policy that allows no tenant; domains in DNS canonical\n"
        "order, tenants sorted, all lowercase.  The database is opened read-only and\n"
        "the output comes from one snapshot.\n"
        "\n"
        "Options:\n"
        "  --json           print one JSON document instead:\n"
        "                   {\"zone\": Z, \"policies\": [{\"domain\": D, \"tenants\":\n"
        "                   [{\"id\": GUID, \"dkim\": DOMAIN or null}, ...]}, ...]}\n"
        "                   (a deny-all policy has an empty tenant list)\n" COMMON_OPTIONS
        "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl list\n"
        "  tallowctl list | grep -c ,none\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_import[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] import [--replace] [--format csv|zone]\n"
        "                 FILE|-\n"
        "\n"
        "Load policies from FILE (\"-\": standard input) into the zone in one\n"
        "transaction, all or nothing.  Every line is validated before the database\n"
        "is touched; invalid lines are reported as FILE:LINE: \"text\" reason (the\n"
        "first 20, then a count) and nothing is imported.\n"
        "\n"
        "CSV format, one pair per line:\n"
        "  domain,tenant[,dkim-domain]   allow tenant to send as domain\n"
        "  domain,none                   domain has a policy (deny-all if no tenant)\n"
        "Blank lines and lines starting with # are skipped; spaces around fields and\n"
        "a trailing CR are ignored; there is no quoting.  The output of \"export\" is\n"
        "valid input.\n"
        "\n"
        "Without --replace the file is merged: its tenants are added, nothing is\n"
        "removed, and \"domain,none\" only makes sure domain has a policy.  With\n"
        "--replace the zone becomes equal to the file: policies not in the file are\n"
        "deleted, and each domain in the file lists exactly the file's tenants.  If\n"
        "the file has both \"domain,none\" and tenant lines for one domain, the\n"
        "tenants win.  An empty file with --replace empties the zone.\n"
        "\n"
        "Options:\n"
        "  --replace        make the zone's policies equal to the file\n"
        "  -f, --format csv|zone\n"
        "                   input format (default csv); zone reads a master file as\n"
        "                   written by \"export --format zone\"\n" COMMON_OPTIONS "\n" EXIT_STATUS
        "\n"
        "Examples:\n"
        "  tallowctl import new-customers.csv\n"
        "  tallowctl export > backup.csv && tallowctl import --replace backup.csv\n"
        "  generate-policies | tallowctl import --replace -\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_export[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] export [--format csv|zone]\n"
        "\n"
        "Write the zone to standard output from one snapshot.  csv (the default)\n"
        "prints every policy as \"tallowctl list\" does; \"import --replace\" of it\n"
        "restores the zone's policies exactly.  zone prints the whole zone as an\n"
        "RFC 1035 master file ($ORIGIN, $TTL, SOA, NS and glue, each policy's TXT\n"
        "records and its A records \"<tenant>.DOMAIN A 127.0.0.2\"), which\n"
        "named-checkzone, ldns-read-zone, NSD and Knot accept.  The database is\n"
        "opened read-only.  A write error on the output (a full disk) exits 3.\n"
        "\n"
        "Options:\n"
        "  -f, --format csv|zone\n"
        "                   output format (default csv)\n" COMMON_OPTIONS "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl export > policies.csv\n"
        "  tallowctl export --format zone > tenants.example.net.zone\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_zones[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] zones [--json]\n"
        "\n"
        "Print the zones in the database, one per line in canonical order: the\n"
        "zone name and its current SOA serial, separated by a space:\n"
        "\n"
        "  tenants.example.net 1764288000\n"
        "\n"
        "With --zone, print only that zone (exit 1 when it does not exist).  The\n"
        "database is opened read-only.\n"
        "\n"
        "Options:\n"
        "  --json           print one JSON document with every setting instead:\n"
        "                   {\"zones\": [{\"zone\", \"serial\", \"ttl\", \"negative_ttl\",\n"
        "                   \"refresh\", \"retry\", \"expire\", \"mbox\",\n"
        "                   \"ns\": [{\"name\", \"addresses\": [...]}]}, ...]}\n" COMMON_OPTIONS
        "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl zones\n"
        "  tallowctl zones --json | jq '.zones[0].serial'\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_journal[] =
        "Usage: tallowctl [-d DIR] [--zone ZONE] journal [--rrs]\n"
        "\n"
        "Print the zone's change journal, oldest first: one line per committed change\n"
        "with the serial before and after it and the number of records it added and\n"
        "removed (TXT records and the A records of the A view; the SOA is not\n"
        "counted), then \"too-large\" if the change was too big to keep in full:\n"
        "\n"
        "  1764288000 1764288001 +2 -0\n"
        "\n"
        "The journal is what tallowd sends for incremental zone transfers (IXFR); it\n"
        "keeps the newest changes up to a size limit, so old changes disappear.  The\n"
        "database is opened read-only.\n"
        "\n"
        "Options:\n"
        "  --rrs            also print each change's records, \"-\" removed and \"+\"\n"
        "                   added, in master-file form\n" COMMON_OPTIONS "\n" EXIT_STATUS "\n"
        "Examples:\n"
        "  tallowctl journal | tail -n 5\n"
        "  tallowctl journal --rrs\n"
        "\n" ENVIRONMENT;

const char tal__ctl_help_help[] = "Usage: tallowctl help [COMMAND]\n"
                                  "\n"
                                  "Print the help of tallowctl, or of COMMAND (the same as\n"
                                  "\"tallowctl COMMAND --help\").\n"
                                  "\n"
                                  "Options:\n" COMMON_OPTIONS "\n" EXIT_STATUS "\n"
                                  "Examples:\n"
                                  "  tallowctl help import\n";
