/*
 * common/error.h -- the one list of tallow's error codes.
 *
 * Every function that can fail returns an int: 0 on success, or a negative
 * TAL_E* code.  Codes that mirror an errno value equal its negation
 * (TAL_ENOMEM == -ENOMEM), so a system call's failure is returned as -errno
 * with no table.  Project codes start at -1000.  Foreign codes (MDB_*,
 * ldns_status, UB_*) are translated once, at the boundary of the module that
 * owns the library, and never travel further.
 *
 * The enum, tal_strerror() and tal_errname() are generated from the single
 * X-macro TAL_ERRNO_MAP, in the manner of libuv's UV_ERRNO_MAP, so a code
 * cannot exist without its message.  Messages are phrased to follow the
 * offending input: `"xyz" is not a tenant ID (expected a GUID)`.
 */
#pragma once

#include <errno.h>

#define TAL_ERRNO_MAP(XX)                                                               \
	XX(ENOMEM, -ENOMEM, "out of memory")                                            \
	XX(EINVAL, -EINVAL, "invalid argument")                                         \
	XX(ENOENT, -ENOENT, "no such file or directory")                                \
	XX(EACCES, -EACCES, "permission denied")                                        \
	XX(EEXIST, -EEXIST, "already exists")                                           \
	XX(ENOSPC, -ENOSPC, "no space left on device")                                  \
	XX(EIO, -EIO, "input/output error")                                             \
	XX(EBUSY, -EBUSY, "resource busy")                                              \
	XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                         \
	XX(ENOTDIR, -ENOTDIR, "not a directory")                                        \
	XX(EROFS, -EROFS, "read-only file system")                                      \
	XX(ERANGE, -ERANGE, "value out of range")                                       \
	XX(EADDRINUSE, -EADDRINUSE, "address already in use")                           \
	XX(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")                      \
	XX(EAFNOSUPPORT, -EAFNOSUPPORT, "address family not supported")                 \
	XX(EPERM, -EPERM, "operation not permitted")                                    \
	XX(EMSGSIZE, -EMSGSIZE, "message too long")                                     \
	XX(ENOTSUP, -ENOTSUP, "operation not supported")                                \
	/* Generic project codes. */                                                    \
	XX(EFAILED, -1000, "failed")                                                    \
	XX(ENOTFOUND, -1001, "not found")                                               \
	XX(ETRUNC, -1002, "truncated")                                                  \
	XX(EMALF, -1003, "malformed data")                                              \
	XX(ESPACE, -1004, "not enough space in buffer")                                 \
	XX(ESYNTAX, -1005, "syntax error")                                              \
	/* Store. */                                                                    \
	XX(ECORRUPT, -1100, "database is corrupted")                                    \
	XX(EVERSION, -1101, "database has an unsupported format version")               \
	XX(EFOREIGN, -1102, "not a tallow database")                                    \
	XX(EMAPFULL, -1103, "database map is full")                                     \
	XX(EREADERS, -1104, "too many database readers")                                \
	XX(ETXNFULL, -1105, "transaction too large")                                    \
	XX(ERDONLY, -1106, "database is opened read-only")                              \
	XX(ENODB, -1107, "no database in this directory")                               \
	/* Names and data. */                                                           \
	XX(EDNAME, -1200, "is not a valid domain name")                                 \
	XX(EDNAME_LEN, -1201, "is too long (a domain name has at most 253 characters)") \
	XX(ELABEL_LEN, -1202, "has a label longer than 63 characters")                  \
	XX(ELABEL_EMPTY, -1203, "has an empty label")                                   \
	XX(ELABEL_CHAR, -1204,                                                          \
	   "has a character not allowed in a host name (letters, digits, hyphen)")      \
	XX(ELABEL_HYPHEN, -1205, "has a label that starts or ends with a hyphen")       \
	XX(ELABEL_GUID, -1206,                                                          \
	   "has a label shaped like a tenant ID, which would shadow the A view")        \
	XX(EIDN, -1207, "is not a valid internationalised domain name")                 \
	XX(EOWNER_LEN, -1208,                                                           \
	   "is too long for this zone (<tenant>.<domain>.<zone> exceeds 255 octets)")   \
	XX(ETENANT, -1209, "is not a tenant ID (expected a GUID)")                      \
	XX(EDKIM, -1210, "is not a valid DKIM signing domain")                          \
	XX(ETXT_LEN, -1211, "makes a TXT string longer than 255 octets")                \
	XX(ECSV, -1212,                                                                 \
	   "is not a valid line (expected domain,tenant[,dkim-domain] or domain,none)") \
	XX(ENOZONE, -1213, "is not a zone in this database")                            \
	XX(EZONE_AMBIG, -1214, "several zones in the database: choose one with --zone") \
	XX(EZONE_NEST, -1215, "would nest one zone inside another")                     \
	XX(ENOPOLICY, -1216, "has no policy")                                           \
	XX(ECONFLICT, -1217, "conflicts with the existing data")                        \
	XX(ETTL, -1218, "is not a valid TTL (0 to 2147483647 seconds)")                 \
	XX(EZONEFILE, -1219, "is not a valid master file")                              \
	XX(ENOTINZONE, -1220, "is not inside the zone")                                 \
	XX(EMBOX, -1221, "is not a valid mailbox (expected user@domain)")               \
	XX(EADDR, -1222, "is not a valid IP address")                                   \
	XX(EPOLICY_SIZE, -1223,                                                         \
	   "has too many tenants: its TXT records would not fit in one DNS message")    \
	/* Protocol. */                                                                 \
	XX(EFORMERR, -1300, "malformed DNS message")                                    \
	XX(ENOTIMPL, -1301, "not implemented")                                          \
	XX(EREFUSED, -1302, "refused")                                                  \
	XX(ESERVFAIL, -1303, "server failure")                                          \
	XX(ENXDOMAIN, -1304, "no such domain")                                          \
	XX(ETIMEOUT, -1305, "timed out")

enum tal_error {
	TAL_EOK = 0,
#define TAL__ERR_ENUM(name, val, msg) TAL_##name = (val),
	TAL_ERRNO_MAP(TAL__ERR_ENUM)
#undef TAL__ERR_ENUM
};

/*
 * Returns a static, human-readable message for a TAL_E* code (or 0).  Never
 * NULL: an unknown code yields "unknown error".
 */
const char *tal_strerror(int code);

/*
 * Returns the code's symbolic name without the TAL_ prefix ("ENOMEM",
 * "ETENANT"), for logs and tests.  Never NULL.
 */
const char *tal_errname(int code);

/*
 * Maps errno (positive) to a TAL_E* code: the negated value when the map
 * has it, otherwise TAL_EIO.
 */
int tal_error_from_errno(int errnum);
