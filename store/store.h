/*
 * store/store.h -- tallow's LMDB store: the only code that knows LMDB.
 *
 * Model: one database directory holds one LMDB environment ("data.mdb",
 * "lock.mdb") with named sub-databases:
 *
 *   TAL_DB_NODES    owner key (common/dname.h) -> node value (common/node.h)
 *   TAL_DB_ZONES    apex key -> zone value (common/node.h)
 *   TAL_DB_JOURNAL  zones/-defined key -> one committed change (zones/journal.h)
 *   TAL_DB_CONFIG   zones/-defined key -> per-zone settings (transfer ACLs,
 *                   TSIG keys, notify targets; later issues)
 *
 * plus a private meta database holding the format version.  Keys sort by
 * memcmp, so with canonical keys a zone is one contiguous range of
 * TAL_DB_NODES and an export is one cursor walk.  The store gives values no
 * meaning: zones/ writes them, server/ reads them.
 *
 * Writers: one at a time.  tal_txn_begin(..., TAL_TXN_WRITE) blocks until
 * any other writer, in this or another process, has finished, so two
 * `tallowctl` runs serialise and both land.  A write transaction is
 * all-or-nothing: until tal_txn_commit() returns 0 no reader sees any of it,
 * and on abort, error, crash or SIGKILL nothing of it remains.
 *
 * Readers never block and are never blocked (MVCC).  The server keeps one
 * tal_reader_t per worker thread and brackets every UDP receive batch (every
 * TCP query) with tal_reader_begin()/tal_reader_end(): begin renews the LMDB
 * read transaction (so the next batch sees the newest commit) and end resets
 * it (so old pages are not pinned).  Every tal_val_t a reader or transaction returns is
 * borrowed from the memory map and valid only until that end/commit/abort.
 *
 * Map size: the environment reserves a large address range (default
 * TAL_STORE_MAPSIZE_DEFAULT, or the TALLOW_MAP_SIZE environment variable, or
 * tal_store_opts_t.map_size); the file only grows as pages are used.  A
 * write that still outgrows it fails with TAL_EMAPFULL, and nothing of that
 * transaction is kept.  The reader table holds TAL_STORE_MAXREADERS slots;
 * slots of dead processes are cleared at open and when a reader finds the
 * table full (then it retries once).
 *
 * Caveats:
 *  - A tal_txn_t and a tal_reader_t belong to the thread that made them.
 *  - The database directory must be on a local file system (LMDB's lock
 *    file relies on POSIX locks and shared memory).
 *  - Do not open the same directory twice in one process (LMDB forbids it):
 *    tal_store_open returns TAL_EBUSY; share the tal_store_t instead.
 *  - A read-only open still writes the reader table in lock.mdb: the user
 *    that runs tallowd needs write access to that file (TAL_EACCES
 *    otherwise).  A read-only open never creates data.mdb or the directory.
 *  - Every transaction holds a process-wide read lock while open, so that a
 *    map grown by another process can be remapped safely (TAL_EAGAIN from a
 *    begin when that cannot happen yet; unreachable with the default map).
 *  - After a failed put, reserve or delete, every later call on that
 *    transaction returns the first error and commit aborts with it; a delete
 *    of a missing key (TAL_ENOTFOUND) does not spoil the transaction.
 *  - Keys are 1 to 511 octets: the root can never be a stored key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAL_STORE_FORMAT          1
#define TAL_STORE_MAPSIZE_DEFAULT (64ULL << 30) /* 64 GiB of address space */
#define TAL_STORE_MAXREADERS      1022

typedef struct tal_store tal_store_t;
typedef struct tal_txn tal_txn_t;
typedef struct tal_cursor tal_cursor_t;
typedef struct tal_reader tal_reader_t;

typedef enum {
	TAL_DB_NODES = 0,
	TAL_DB_ZONES = 1,
	TAL_DB_JOURNAL = 2,
	TAL_DB_CONFIG = 3,
} tal_db_t;

/* A borrowed byte string; see the lifetime rule above. */
typedef struct {
	const uint8_t *data;
	size_t len;
} tal_val_t;

enum {
	TAL_STORE_RDONLY = 1 << 0, /* open read-only (the server) */
	TAL_STORE_CREATE = 1 << 1, /* create the directory and database if missing */
};

typedef struct {
	unsigned flags;    /* TAL_STORE_* */
	uint64_t map_size; /* 0: TALLOW_MAP_SIZE or the default */
} tal_store_opts_t;

/*
 * Opens the database in directory `dir`.  On success *out owns the handle
 * (release with tal_store_close).  Errors, each with nothing changed on disk:
 *   TAL_ENOENT   directory missing (and no TAL_STORE_CREATE)
 *   TAL_ENODB    directory exists but holds no database (and no CREATE)
 *   TAL_EACCES   permission denied on the directory or files
 *   TAL_ENOTDIR  `dir` is not a directory
 *   TAL_EFOREIGN the directory holds an LMDB file that is not tallow's, or
 *                a file that is not LMDB at all
 *   TAL_EVERSION a tallow database of another format version
 *   TAL_ECORRUPT the file is damaged
 *   TAL_ENOSPC, TAL_EIO, TAL_ENOMEM
 */
int tal_store_open(const char *dir, const tal_store_opts_t *opts, tal_store_t **out);

/* Closes the store.  All transactions and readers must be gone.  NULL is a no-op. */
void tal_store_close(tal_store_t *st);

/* The directory the store was opened from (owned by the store). */
const char *tal_store_path(const tal_store_t *st);

/* Size in bytes of the data file, and of the pages in use; for reports. */
int tal_store_size(tal_store_t *st, uint64_t *file_bytes, uint64_t *used_bytes);

/*
 * Transactions.
 */
enum {
	TAL_TXN_READ = 0,
	TAL_TXN_WRITE = 1,
};

/*
 * Begins a transaction; *out owns it until commit or abort.  A write
 * transaction waits for other writers.  Errors: TAL_ERDONLY (write on a
 * read-only store), TAL_EREADERS, TAL_ENOMEM, TAL_EIO.
 */
int tal_txn_begin(tal_store_t *st, int mode, tal_txn_t **out);

/*
 * Commits and frees the transaction (read transactions just end).  On error
 * the transaction is aborted and freed all the same; nothing of it is kept.
 * Errors: TAL_EMAPFULL, TAL_ENOSPC, TAL_EIO.
 */
int tal_txn_commit(tal_txn_t *txn);

/* Aborts and frees.  NULL is a no-op. */
void tal_txn_abort(tal_txn_t *txn);

/* Looks up `key`.  0 and *val filled; TAL_ENOTFOUND; TAL_ECORRUPT. */
int tal_txn_get(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen, tal_val_t *val);

enum {
	TAL_PUT_APPEND = 1 << 0, /* key sorts after every key in db (bulk load fast path) */
};

/*
 * Stores key -> value, replacing any old value.  Keys are 1 to 511 octets.
 * Errors: TAL_EINVAL (key length), TAL_EMAPFULL, TAL_ETXNFULL, TAL_ENOSPC,
 * TAL_EIO; after any error the transaction can only be aborted.
 */
int tal_txn_put(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen, const uint8_t *val,
                size_t vallen, unsigned flags);

/*
 * Reserves `vallen` bytes for key and returns in *dst where to write them
 * before the next store call (LMDB's MDB_RESERVE: one copy fewer for large
 * values).
 */
int tal_txn_reserve(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen, size_t vallen,
                    uint8_t **dst);

/* Deletes key.  0, TAL_ENOTFOUND, or a write error as for put. */
int tal_txn_del(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen);

/*
 * Cursors walk one sub-database of a transaction in key order.  A cursor is
 * freed by tal_cursor_close, and must be closed before its transaction ends.
 */
int tal_cursor_open(tal_txn_t *txn, tal_db_t db, tal_cursor_t **out);
void tal_cursor_close(tal_cursor_t *cur);

/* Positions at the first key >= `key` (keylen 0: the first key).  0 or TAL_ENOTFOUND. */
int tal_cursor_seek(tal_cursor_t *cur, const uint8_t *key, size_t keylen, tal_val_t *k,
                    tal_val_t *v);

/* Moves to the next/previous key.  0 or TAL_ENOTFOUND at the end. */
int tal_cursor_next(tal_cursor_t *cur, tal_val_t *k, tal_val_t *v);
int tal_cursor_prev(tal_cursor_t *cur, tal_val_t *k, tal_val_t *v);

/* Positions at the last key.  0 or TAL_ENOTFOUND when empty. */
int tal_cursor_last(tal_cursor_t *cur, tal_val_t *k, tal_val_t *v);

/* Deletes the current entry (write transactions); the cursor moves to the next. */
int tal_cursor_del(tal_cursor_t *cur);

/*
 * The server's read path.  One reader per worker thread, made once at start
 * (tal_reader_new) and used for every query: no allocation after that.
 */
int tal_reader_new(tal_store_t *st, tal_reader_t **out);
void tal_reader_free(tal_reader_t *rd);

/*
 * Renews the reader's snapshot to the latest commit.  0, TAL_EREADERS
 * (after clearing stale slots and retrying once), TAL_EIO.  Must be paired
 * with tal_reader_end before the next begin.
 */
int tal_reader_begin(tal_reader_t *rd);

/* Resets the snapshot; every tal_val_t from this reader is invalid after. */
void tal_reader_end(tal_reader_t *rd);

/* What the server needs to answer for one name. */
typedef struct {
	tal_val_t zone;     /* zone value of the enclosing zone; data NULL: in no zone */
	size_t apex_keylen; /* key length of that zone's apex (its key is a prefix of qkey) */
	tal_val_t node;     /* node value at exactly qkey; data NULL: no node */
	bool has_children;  /* no node, but some stored key lies below qkey (RFC 8020 ENT) */
} tal_lookup_t;

/*
 * Answers, inside begin/end, everything about one owner key in one B-tree
 * descent: the exact node or, when there is none, whether names exist
 * below it (so an empty non-terminal is NODATA, not NXDOMAIN), and the
 * enclosing zone: the greatest apex key that is a prefix of `key` (zones do
 * not nest, so that is the one zone).  Returns 0 (also when nothing is
 * found: then out->zone.data is NULL), or TAL_ECORRUPT / TAL_EIO.
 */
int tal_reader_lookup(tal_reader_t *rd, const uint8_t *key, size_t keylen, tal_lookup_t *out);

/* True when lookups in the current snapshot go through the nodes index. */
bool tal_reader_indexed(const tal_reader_t *rd);

/*
 * Prefetching for a batch of lookups, inside begin/end, so their cache
 * misses overlap instead of following one another: tal_reader_prefetch for
 * every key of the batch (starts fetching the key's index slot; returns a
 * token), then tal_reader_prefetch_node with every token (starts fetching
 * the nodes), then the lookups.  Hints only; without a usable index they do
 * nothing.
 */
uint64_t tal_reader_prefetch(tal_reader_t *rd, const uint8_t *key, size_t keylen);
void tal_reader_prefetch_node(tal_reader_t *rd, uint64_t token);

/* Plain get inside begin/end (e.g. the apex node).  0, TAL_ENOTFOUND, TAL_EIO. */
int tal_reader_get(tal_reader_t *rd, tal_db_t db, const uint8_t *key, size_t keylen,
                   tal_val_t *val);

/*
 * The nodes index: a hash table of every node's place in the map, so a
 * lookup skips the B-tree descent (store/index.h; about 32 octets of
 * memory per name).  After tal_store_index_start a background thread
 * builds one for the newest commit, and again whenever a reader begins on
 * a newer commit than the last build; until it is ready, and for any
 * snapshot it does not describe, tal_reader_lookup takes the B-tree, with
 * the same results.  For the server (one per store); tal_store_close stops
 * the thread.  0 or an errno-derived TAL_* code.
 */
int tal_store_index_start(tal_store_t *st);

/*
 * Waits until the index describes the newest commit (tests, benchmarks).
 * 0, TAL_EAGAIN after timeout_ms, TAL_EINVAL without tal_store_index_start.
 */
int tal_store_index_wait(tal_store_t *st, int timeout_ms);

typedef struct {
	uint64_t builds;    /* indexes built since the start */
	size_t names;       /* of the newest: stored keys, */
	size_t ents;        /* empty non-terminals, */
	size_t bytes;       /* table size, */
	unsigned max_probe; /* longest probe run, */
	size_t txnid;       /* the transaction it describes, */
	double seconds;     /* and how long it took to build */
} tal_index_stats_t;

void tal_store_index_stats(tal_store_t *st, tal_index_stats_t *out);

/*
 * Opens a long-lived read transaction on the reader's behalf for a bulk
 * walk (zone transfer, export) from one consistent snapshot.  The txn is an
 * ordinary read tal_txn_t: use cursors on it and end with tal_txn_abort.
 */
int tal_reader_snapshot(tal_store_t *st, tal_txn_t **out);
