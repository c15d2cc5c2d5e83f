/*
 * tests/unit/test_store.c -- the LMDB store (store/store.h): opening and its
 * refusals, transactions, cursors, the server's reader lookup and its
 * hash index, map exhaustion and writers in two processes.
 *
 * Every test works in its own mkdtemp directory under /tmp and removes it.
 * lmdb.h is included here only to forge databases that tallow itself never
 * writes (an LMDB file without tallow's marker, another format version).
 */
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "common/dname.h"
#include "common/error.h"
#include "store/store.h"
#include "tests/unit/tap.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void make_tmp(char *buf, size_t size)
{
	/* mkdtemp's template: the prefix and six 'X' for it to replace. */
	int n = snprintf(buf, size, "/tmp/tal-store-");
	memset(buf + n, 'X', 6);
	buf[n + 6] = '\0';
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
}

/* Removes a test directory, including subdirectories a test made unreadable. */
static void rm_tree(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwX '%s'", dir);
	if (system(cmd) != 0) {
		printf("# could not chmod %s\n", dir);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool file_exists(const char *dir, const char *name)
{
	char p[512];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0;
}

static int dir_entries(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 0", dir);
	return system(cmd) == 0 ? 0 : 1;
}

/* Key of a text name, into a caller buffer; returns its length. */
static size_t key_of(const char *text, uint8_t *key)
{
	int n = tal_key_from_text(text, key);
	if (n < 0) {
		printf("# bad test name %s\n", text);
		exit(2);
	}
	return (size_t)n;
}

static int open_store(const char *dir, unsigned flags, uint64_t map_size, tal_store_t **st)
{
	tal_store_opts_t o = { flags, map_size };
	return tal_store_open(dir, &o, st);
}

static int put_str(tal_txn_t *txn, tal_db_t db, const char *k, const char *v)
{
	return tal_txn_put(txn, db, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v),
	                   0);
}

static bool val_is(const tal_val_t *v, const char *s)
{
	return v->data != NULL && v->len == strlen(s) && memcmp(v->data, s, v->len) == 0;
}

static void test_open_close(void)
{
	char base[64], dir[128], file[128];
	tal_store_t *st = NULL;
	struct stat sb;

	make_tmp(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/db", base);

	is_int(TAL_ENOENT, open_store(dir, 0, 0, &st), "open: missing directory is ENOENT");
	ok(st == NULL, "open: no handle on error");
	is_int(TAL_ENOENT, open_store(dir, TAL_STORE_RDONLY | TAL_STORE_CREATE, 0, &st),
	       "open: read-only ignores CREATE and reports ENOENT");
	ok(!file_exists(base, "db"), "open: read-only open created nothing");
	is_int(TAL_ENODB, open_store(base, 0, 0, &st), "open: empty directory is ENODB");
	is_int(TAL_ENODB, open_store(base, TAL_STORE_RDONLY, 0, &st),
	       "open: empty directory read-only is ENODB");
	is_int(0, dir_entries(base), "open: ENODB left the directory empty");

	snprintf(file, sizeof(file), "%s/plain", base);
	FILE *f = fopen(file, "w");
	fclose(f);
	is_int(TAL_ENOTDIR, open_store(file, TAL_STORE_CREATE, 0, &st),
	       "open: a regular file is ENOTDIR");

	is_int(0, open_store(dir, TAL_STORE_CREATE, 0, &st), "open: CREATE makes a new store");
	ok(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0755,
	   "open: created directory has mode 0755");
	ok(file_exists(dir, "data.mdb") && file_exists(dir, "lock.mdb"),
	   "open: directory holds data.mdb and lock.mdb");
	is_str(dir, tal_store_path(st), "store_path is the directory");
	uint64_t fb = 0, ub = 0;
	is_int(0, tal_store_size(st, &fb, &ub), "store_size succeeds");
	ok(fb > 0 && ub > 0 && ub <= fb, "store_size: file %llu, used %llu", (unsigned long long)fb,
	   (unsigned long long)ub);
	tal_txn_t *txn = NULL;
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "write txn begins");
	is_int(0, put_str(txn, TAL_DB_CONFIG, "k", "v"), "put into config");
	is_int(0, tal_txn_commit(txn), "commit");
	tal_store_close(st);
	tal_store_close(NULL);

	st = NULL;
	is_int(0, open_store(dir, TAL_STORE_CREATE, 0, &st), "open: CREATE on an existing store");
	tal_store_close(st);

	st = NULL;
	is_int(0, open_store(dir, TAL_STORE_RDONLY, 0, &st), "open: read-only reopen");
	txn = NULL;
	is_int(TAL_ERDONLY, tal_txn_begin(st, TAL_TXN_WRITE, &txn),
	       "write txn on a read-only store is ERDONLY");
	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "read txn on a read-only store");
	tal_val_t v = { 0 };
	is_int(0, tal_txn_get(txn, TAL_DB_CONFIG, (const uint8_t *)"k", 1, &v), "get after reopen");
	ok(val_is(&v, "v"), "value survived reopen");
	is_int(TAL_ERDONLY, put_str(txn, TAL_DB_CONFIG, "x", "y"), "put in a read txn is ERDONLY");
	is_int(0, tal_txn_commit(txn), "read txn commit ends it");
	tal_store_close(st);

	rm_tree(base);
}

static void test_put_get_cursor(void)
{
	char base[64];
	tal_store_t *st = NULL;
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "kv: create");
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "kv: write txn");
	is_int(0, put_str(txn, TAL_DB_NODES, "b", "2"), "kv: put b");
	is_int(0, put_str(txn, TAL_DB_NODES, "d", "4"), "kv: put d");
	is_int(0, put_str(txn, TAL_DB_NODES, "a", "1"), "kv: put a");
	is_int(0, put_str(txn, TAL_DB_NODES, "c", "old"), "kv: put c");
	is_int(0, put_str(txn, TAL_DB_NODES, "c", "3"), "kv: put c again replaces");
	is_int(0, put_str(txn, TAL_DB_ZONES, "a", "zone-a"), "kv: same key in zones db");
	is_int(0, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"c", 1, &v), "kv: get in txn");
	ok(val_is(&v, "3"), "kv: txn sees its own write");
	uint8_t *dst = NULL;
	is_int(0, tal_txn_reserve(txn, TAL_DB_JOURNAL, (const uint8_t *)"r", 1, 5, &dst),
	       "kv: reserve");
	ok(dst != NULL, "kv: reserve gives a destination");
	if (dst != NULL) {
		memcpy(dst, "hello", 5);
	}
	is_int(0, tal_txn_commit(txn), "kv: commit");

	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "kv: read txn");
	is_int(0, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"a", 1, &v), "kv: get a");
	ok(val_is(&v, "1"), "kv: a = 1");
	is_int(0, tal_txn_get(txn, TAL_DB_ZONES, (const uint8_t *)"a", 1, &v), "kv: get zones a");
	ok(val_is(&v, "zone-a"), "kv: databases are separate");
	is_int(0, tal_txn_get(txn, TAL_DB_JOURNAL, (const uint8_t *)"r", 1, &v),
	       "kv: get reserved");
	ok(val_is(&v, "hello"), "kv: reserved value was written in place");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"zz", 2, &v),
	       "kv: missing key is ENOTFOUND");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"", 0, &v),
	       "kv: empty key is ENOTFOUND");

	is_int(0, tal_cursor_open(txn, TAL_DB_NODES, &cur), "cursor: open");
	is_int(0, tal_cursor_seek(cur, (const uint8_t *)"bb", 2, &k, &v), "cursor: seek bb");
	ok(val_is(&k, "c") && val_is(&v, "3"), "cursor: seek lands on the next key c");
	is_int(0, tal_cursor_next(cur, &k, &v), "cursor: next");
	ok(val_is(&k, "d"), "cursor: next is d");
	is_int(TAL_ENOTFOUND, tal_cursor_next(cur, &k, &v), "cursor: next at the end");
	is_int(0, tal_cursor_seek(cur, NULL, 0, &k, &v), "cursor: seek to first");
	ok(val_is(&k, "a"), "cursor: first is a");
	is_int(TAL_ENOTFOUND, tal_cursor_prev(cur, &k, &v), "cursor: prev before first");
	is_int(0, tal_cursor_last(cur, &k, &v), "cursor: last");
	ok(val_is(&k, "d"), "cursor: last is d");
	is_int(0, tal_cursor_prev(cur, &k, &v), "cursor: prev");
	ok(val_is(&k, "c"), "cursor: prev of d is c");
	is_int(TAL_ENOTFOUND, tal_cursor_seek(cur, (const uint8_t *)"e", 1, &k, &v),
	       "cursor: seek past the end");
	is_int(TAL_ERDONLY, tal_cursor_del(cur), "cursor: del in a read txn is ERDONLY");
	tal_cursor_close(cur);
	tal_cursor_t *empty = NULL;
	is_int(0, tal_cursor_open(txn, TAL_DB_CONFIG, &empty), "cursor: open on empty db");
	is_int(TAL_ENOTFOUND, tal_cursor_last(empty, &k, &v), "cursor: last on empty db");
	is_int(TAL_ENOTFOUND, tal_cursor_seek(empty, NULL, 0, &k, &v), "cursor: first on empty db");
	tal_cursor_close(empty);
	tal_txn_abort(txn);

	/* Deletes, by key and by cursor. */
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "del: write txn");
	is_int(0, tal_txn_del(txn, TAL_DB_NODES, (const uint8_t *)"b", 1), "del: b");
	is_int(TAL_ENOTFOUND, tal_txn_del(txn, TAL_DB_NODES, (const uint8_t *)"b", 1),
	       "del: b again is ENOTFOUND");
	is_int(0, tal_cursor_open(txn, TAL_DB_NODES, &cur), "del: cursor");
	is_int(0, tal_cursor_seek(cur, (const uint8_t *)"c", 1, &k, &v), "del: seek c");
	is_int(0, tal_cursor_del(cur), "del: cursor del c");
	is_int(0, tal_cursor_next(cur, &k, &v), "del: next after cursor del");
	ok(val_is(&k, "d"), "del: next after deleting c is d");
	tal_cursor_close(cur);
	is_int(0, tal_txn_commit(txn), "del: commit (ENOTFOUND did not spoil the txn)");

	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "del: read txn");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"b", 1, &v),
	       "del: b is gone");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"c", 1, &v),
	       "del: c is gone");
	is_int(0, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"d", 1, &v), "del: d stays");
	/* A cursor left open is closed by the end of its txn; closing it later is safe. */
	is_int(0, tal_cursor_open(txn, TAL_DB_NODES, &cur), "cursor: open, left open at abort");
	tal_txn_abort(txn);
	is_int(TAL_EINVAL, tal_cursor_next(cur, &k, &v), "cursor: use after its txn is EINVAL");
	tal_cursor_close(cur);

	/* Append fast path, and the refusal of an out-of-order append. */
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "append: write txn");
	is_int(0,
	       tal_txn_put(txn, TAL_DB_NODES, (const uint8_t *)"e", 1, (const uint8_t *)"5", 1,
	                   TAL_PUT_APPEND),
	       "append: e after d");
	is_int(TAL_EINVAL,
	       tal_txn_put(txn, TAL_DB_NODES, (const uint8_t *)"a0", 2, (const uint8_t *)"x", 1,
	                   TAL_PUT_APPEND),
	       "append: out of order is EINVAL");
	is_int(TAL_EINVAL, tal_txn_commit(txn), "append: commit refuses after a failed put");
	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "append: read txn");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"e", 1, &v),
	       "append: the refused txn left nothing");
	tal_txn_abort(txn);

	/* Key length limits, and a failed put spoils the txn. */
	uint8_t big[512];
	memset(big, 'k', sizeof(big));
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "keylen: write txn");
	is_int(0, put_str(txn, TAL_DB_NODES, "f", "6"), "keylen: a good put first");
	is_int(0, tal_txn_put(txn, TAL_DB_NODES, big, 511, (const uint8_t *)"x", 1, 0),
	       "keylen: 511 octets accepted");
	is_int(TAL_EINVAL, tal_txn_put(txn, TAL_DB_NODES, big, 512, (const uint8_t *)"x", 1, 0),
	       "keylen: 512 octets is EINVAL");
	is_int(TAL_EINVAL, put_str(txn, TAL_DB_NODES, "g", "7"),
	       "keylen: later puts report the first error");
	is_int(TAL_EINVAL, tal_txn_commit(txn), "keylen: commit refuses");
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "keylen: write txn 2");
	is_int(TAL_EINVAL, tal_txn_put(txn, TAL_DB_NODES, big, 0, (const uint8_t *)"x", 1, 0),
	       "keylen: empty key is EINVAL");
	tal_txn_abort(txn);
	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "keylen: read txn");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"f", 1, &v),
	       "keylen: nothing of the refused txn is kept");
	tal_txn_abort(txn);

	/* Abort leaves nothing. */
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "abort: write txn");
	is_int(0, put_str(txn, TAL_DB_NODES, "h", "8"), "abort: put h");
	is_int(0, tal_txn_del(txn, TAL_DB_NODES, (const uint8_t *)"a", 1), "abort: del a");
	tal_txn_abort(txn);
	tal_txn_abort(NULL);
	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "abort: read txn");
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"h", 1, &v),
	       "abort: h was not kept");
	is_int(0, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)"a", 1, &v),
	       "abort: a was not deleted");
	tal_txn_abort(txn);

	tal_store_close(st);
	rm_tree(base);
}

static int put_name(tal_txn_t *txn, tal_db_t db, const char *name, const char *val)
{
	uint8_t key[TAL_KEY_MAXLEN];
	size_t kl = key_of(name, key);
	return tal_txn_put(txn, db, key, kl, (const uint8_t *)val, strlen(val), 0);
}

static void lookup(tal_reader_t *rd, const char *name, tal_lookup_t *out)
{
	uint8_t key[TAL_KEY_MAXLEN];
	size_t kl = key_of(name, key);
	int ret = tal_reader_lookup(rd, key, kl, out);
	if (ret != 0) {
		printf("# lookup %s: %s\n", name, tal_errname(ret));
	}
}

static void test_reader(void)
{
	char base[64];
	tal_store_t *st = NULL;
	tal_txn_t *txn = NULL;
	tal_reader_t *rd = NULL;
	tal_lookup_t lk;
	uint8_t key[TAL_KEY_MAXLEN];
	size_t com_kl = key_of("example.com", key);

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "reader: create");
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "reader: write txn");
	int ret = 0;
	ret |= put_name(txn, TAL_DB_ZONES, "example.com", "zone-com");
	ret |= put_name(txn, TAL_DB_ZONES, "example.org", "zone-org");
	ret |= put_name(txn, TAL_DB_NODES, "example.com", "apex-com");
	ret |= put_name(txn, TAL_DB_NODES, "www.example.com", "www");
	ret |= put_name(txn, TAL_DB_NODES, "a.b.example.com", "ab");
	ret |= put_name(txn, TAL_DB_NODES, "xexample.com", "stray");
	ret |= put_name(txn, TAL_DB_NODES, "example.org", "apex-org");
	is_int(0, ret, "reader: puts");
	is_int(0, tal_txn_commit(txn), "reader: commit");

	is_int(0, tal_reader_new(st, &rd), "reader: new");
	is_int(0, tal_reader_begin(rd), "reader: begin");
	is_int(TAL_EINVAL, tal_reader_begin(rd), "reader: begin twice is EINVAL");

	lookup(rd, "WWW.Example.COM", &lk);
	ok(val_is(&lk.node, "www"), "lookup www: exact node (case-insensitive)");
	ok(!lk.has_children, "lookup www: no children");
	ok(val_is(&lk.zone, "zone-com"), "lookup www: zone example.com");
	is_int(com_kl, lk.apex_keylen, "lookup www: apex key length");

	lookup(rd, "example.com", &lk);
	ok(val_is(&lk.node, "apex-com"), "lookup apex: node");
	ok(!lk.has_children, "lookup apex: children are only looked for when there is no node");
	ok(val_is(&lk.zone, "zone-com"), "lookup apex: exact zone");
	is_int(com_kl, lk.apex_keylen, "lookup apex: apex key length");

	lookup(rd, "b.example.com", &lk);
	ok(lk.node.data == NULL, "lookup empty non-terminal: no node");
	ok(lk.has_children, "lookup empty non-terminal: has children");
	ok(val_is(&lk.zone, "zone-com"), "lookup empty non-terminal: zone");

	lookup(rd, "nope.example.com", &lk);
	ok(lk.node.data == NULL && !lk.has_children, "lookup missing name: no node, no children");
	ok(val_is(&lk.zone, "zone-com"), "lookup missing name: still in example.com");

	lookup(rd, "c.a.b.example.com", &lk);
	ok(lk.node.data == NULL && !lk.has_children, "lookup below a leaf: nothing");
	ok(val_is(&lk.zone, "zone-com"), "lookup below a leaf: zone");

	lookup(rd, "xexample.com", &lk);
	ok(val_is(&lk.node, "stray"), "lookup xexample.com: its node");
	ok(lk.zone.data == NULL, "lookup xexample.com: not in example.com (labels, not bytes)");

	lookup(rd, "example.net", &lk);
	ok(lk.zone.data == NULL && lk.node.data == NULL, "lookup example.net: in no zone");
	ok(!lk.has_children, "lookup example.net: no children");

	lookup(rd, "aaa", &lk);
	ok(lk.zone.data == NULL, "lookup before every zone: in no zone");

	lookup(rd, "deep.zzz.example.org", &lk);
	ok(val_is(&lk.zone, "zone-org"), "lookup past the last apex: zone example.org");
	ok(lk.node.data == NULL, "lookup past the last apex: no node");

	lookup(rd, "zzz", &lk);
	ok(lk.zone.data == NULL, "lookup after every zone: in no zone");

	lookup(rd, "com", &lk);
	ok(lk.node.data == NULL && lk.has_children && lk.zone.data == NULL,
	   "lookup com: empty, has children, in no zone");

	lookup(rd, ".", &lk);
	ok(lk.node.data == NULL && lk.has_children && lk.zone.data == NULL,
	   "lookup root: no node, has children, in no zone");

	tal_val_t v;
	size_t kl = key_of("www.example.com", key);
	is_int(0, tal_reader_get(rd, TAL_DB_NODES, key, kl, &v), "reader_get www");
	ok(val_is(&v, "www"), "reader_get value");
	is_int(TAL_ENOTFOUND, tal_reader_get(rd, TAL_DB_ZONES, key, kl, &v),
	       "reader_get: www is no apex");

	/* A commit is invisible to the running snapshot and visible after end/begin. */
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "reader: write while reading");
	is_int(0, put_name(txn, TAL_DB_NODES, "new.example.com", "new"), "reader: put new");
	is_int(0, tal_txn_commit(txn), "reader: commit new");
	lookup(rd, "new.example.com", &lk);
	ok(lk.node.data == NULL, "reader: running snapshot does not see the commit");
	tal_reader_end(rd);
	is_int(TAL_EINVAL, tal_reader_lookup(rd, key, kl, &lk), "reader: lookup outside begin");
	is_int(0, tal_reader_begin(rd), "reader: begin again");
	lookup(rd, "new.example.com", &lk);
	ok(val_is(&lk.node, "new"), "reader: renewed snapshot sees the commit");

	/* A snapshot txn held alongside the reader in the same thread. */
	tal_txn_t *snap = NULL;
	tal_cursor_t *cur = NULL;
	tal_val_t k;
	is_int(0, tal_reader_snapshot(st, &snap), "snapshot: begin while the reader is active");
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "snapshot: write");
	is_int(0, put_name(txn, TAL_DB_NODES, "later.example.com", "later"), "snapshot: put");
	is_int(0, tal_txn_commit(txn), "snapshot: commit");
	is_int(0, tal_cursor_open(snap, TAL_DB_NODES, &cur), "snapshot: cursor");
	int n = 0;
	for (ret = tal_cursor_seek(cur, NULL, 0, &k, &v); ret == 0;
	     ret = tal_cursor_next(cur, &k, &v)) {
		n++;
	}
	is_int(TAL_ENOTFOUND, ret, "snapshot: walk ends with ENOTFOUND");
	is_int(6, n, "snapshot: walk sees the 6 nodes of its snapshot, not the later one");
	tal_cursor_close(cur);
	tal_txn_abort(snap);
	tal_reader_end(rd);
	tal_reader_end(rd);
	tal_reader_free(rd);
	tal_reader_free(NULL);

	tal_store_close(st);
	rm_tree(base);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror("write_file");
		exit(2);
	}
	close(fd);
}

static off_t file_size(const char *dir, const char *name)
{
	char p[512];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0 ? sb.st_size : -1;
}

/* A plain LMDB environment with one record in its main database. */
static int make_plain_lmdb(const char *dir, const char *dbname, const char *k, const char *v)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc = mdb_env_create(&env);
	rc = rc ? rc : mdb_env_set_maxdbs(env, 8);
	rc = rc ? rc : mdb_env_open(env, dir, 0, 0644);
	rc = rc ? rc : mdb_txn_begin(env, NULL, 0, &txn);
	rc = rc ? rc : mdb_dbi_open(txn, dbname, MDB_CREATE, &dbi);
	if (rc == 0) {
		MDB_val mk = { strlen(k), (void *)k };
		MDB_val mv = { strlen(v), (void *)v };
		rc = mdb_put(txn, dbi, &mk, &mv, 0);
	}
	rc = rc ? rc : mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

static void test_refusals(void)
{
	char base[64];
	tal_store_t *st = NULL;
	uint8_t garbage[8192];

	/* Not LMDB at all. */
	make_tmp(base, sizeof(base));
	for (size_t i = 0; i < sizeof(garbage); i++) {
		garbage[i] = (uint8_t)(i * 7 + 3);
	}
	write_file(base, "data.mdb", garbage, sizeof(garbage));
	is_int(TAL_EFOREIGN, open_store(base, 0, 0, &st), "foreign: garbage data.mdb");
	is_int(TAL_EFOREIGN, open_store(base, TAL_STORE_CREATE, 0, &st),
	       "foreign: garbage data.mdb, even with CREATE");
	is_int(TAL_EFOREIGN, open_store(base, TAL_STORE_RDONLY, 0, &st),
	       "foreign: garbage data.mdb read-only");
	ok(!file_exists(base, "lock.mdb"), "foreign: no lock.mdb was created");
	is_int(sizeof(garbage), file_size(base, "data.mdb"), "foreign: data.mdb left as it was");
	write_file(base, "data.mdb", "", 0);
	is_int(TAL_EFOREIGN, open_store(base, TAL_STORE_CREATE, 0, &st),
	       "foreign: empty data.mdb is not ours");
	is_int(0, file_size(base, "data.mdb"), "foreign: empty data.mdb left empty");
	rm_tree(base);

	/* LMDB, but not tallow's. */
	make_tmp(base, sizeof(base));
	is_int(0, make_plain_lmdb(base, NULL, "hello", "world"), "foreign: plain LMDB env made");
	off_t before = file_size(base, "data.mdb");
	is_int(TAL_EFOREIGN, open_store(base, 0, 0, &st), "foreign: LMDB without the marker");
	is_int(TAL_EFOREIGN, open_store(base, TAL_STORE_CREATE, 0, &st),
	       "foreign: LMDB without the marker, even with CREATE");
	is_int(TAL_EFOREIGN, open_store(base, TAL_STORE_RDONLY, 0, &st),
	       "foreign: LMDB without the marker, read-only");
	is_int(before, file_size(base, "data.mdb"), "foreign: its data.mdb is unchanged");
	rm_tree(base);

	make_tmp(base, sizeof(base));
	is_int(0, make_plain_lmdb(base, "meta", "format", "other"), "foreign: other meta marker");
	is_int(TAL_EFOREIGN, open_store(base, 0, 0, &st), "foreign: a meta db of another program");
	rm_tree(base);

	/* Another format version. */
	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "version: create");
	tal_store_close(st);
	st = NULL;
	{
		MDB_env *env = NULL;
		MDB_txn *txn = NULL;
		MDB_dbi dbi;
		uint8_t ver[4] = { 0, 0, 0, 2 };
		int rc = mdb_env_create(&env);
		rc = rc ? rc : mdb_env_set_maxdbs(env, 8);
		rc = rc ? rc : mdb_env_open(env, base, 0, 0644);
		rc = rc ? rc : mdb_txn_begin(env, NULL, 0, &txn);
		rc = rc ? rc : mdb_dbi_open(txn, "meta", 0, &dbi);
		if (rc == 0) {
			MDB_val mk = { 7, "version" };
			MDB_val mv = { 4, ver };
			rc = mdb_put(txn, dbi, &mk, &mv, 0);
		}
		rc = rc ? rc : mdb_txn_commit(txn);
		mdb_env_close(env);
		is_int(0, rc, "version: version 2 written");
	}
	is_int(TAL_EVERSION, open_store(base, 0, 0, &st), "version: other version is EVERSION");
	is_int(TAL_EVERSION, open_store(base, TAL_STORE_RDONLY, 0, &st), "version: read-only too");
	rm_tree(base);

	/* Damage: both meta pages destroyed after the first. */
	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "corrupt: create");
	tal_store_close(st);
	st = NULL;
	{
		char p[512];
		long psz = sysconf(_SC_PAGESIZE);
		snprintf(p, sizeof(p), "%s/data.mdb", base);
		int fd = open(p, O_WRONLY);
		ok(fd >= 0 && pwrite(fd, garbage, (size_t)psz, psz) == psz,
		   "corrupt: overwrite the second meta page");
		close(fd);
	}
	is_int(TAL_ECORRUPT, open_store(base, 0, 0, &st), "corrupt: damaged meta page is ECORRUPT");
	rm_tree(base);

	/* An LMDB environment with no records: what an interrupted create leaves. */
	make_tmp(base, sizeof(base));
	{
		MDB_env *env = NULL;
		int rc = mdb_env_create(&env);
		rc = rc ? rc : mdb_env_open(env, base, 0, 0644);
		mdb_env_close(env);
		is_int(0, rc, "blank: empty LMDB env made");
	}
	is_int(TAL_EFOREIGN, open_store(base, 0, 0, &st), "blank: not ours without CREATE");
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "blank: CREATE adopts it");
	tal_store_close(st);
	st = NULL;
	is_int(0, open_store(base, TAL_STORE_RDONLY, 0, &st), "blank: now a tallow store");
	tal_store_close(st);
	st = NULL;
	rm_tree(base);
}

/* Opens the store twice in one process: refused, as LMDB requires. */
static void test_double_open(void)
{
	char base[64], alias[128];
	tal_store_t *st = NULL, *st2 = NULL;

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "double: create");
	is_int(TAL_EBUSY, open_store(base, TAL_STORE_RDONLY, 0, &st2),
	       "double: a second open in one process is EBUSY");
	snprintf(alias, sizeof(alias), "%s/.", base);
	is_int(TAL_EBUSY, open_store(alias, 0, 0, &st2), "double: also under another spelling");
	ok(st2 == NULL, "double: no second handle");
	tal_store_close(st);
	st = NULL;
	is_int(0, open_store(alias, 0, 0, &st), "double: open again after close");
	tal_store_close(st);
	rm_tree(base);
}

enum { PERM_N = 5 };

/* The permission checks, run as an unprivileged user; results into res[]. */
static void perm_run(const char *base, int *res)
{
	char p[256];
	tal_store_t *st = NULL;

	snprintf(p, sizeof(p), "%s/locked", base);
	res[0] = open_store(p, TAL_STORE_RDONLY, 0, &st);
	tal_store_close(st);
	st = NULL;
	res[1] = open_store(p, 0, 0, &st);
	tal_store_close(st);
	st = NULL;
	snprintf(p, sizeof(p), "%s/ro", base);
	res[2] = open_store(p, TAL_STORE_RDONLY, 0, &st);
	tal_store_close(st);
	st = NULL;
	snprintf(p, sizeof(p), "%s/rodir/new", base);
	res[3] = open_store(p, TAL_STORE_CREATE, 0, &st);
	tal_store_close(st);
	res[4] = file_exists(base, "rodir/new");
}

static void test_permissions(void)
{
	char base[64], p[256];
	tal_store_t *st = NULL;
	int res[PERM_N];

	make_tmp(base, sizeof(base));
	chmod(base, 0755);
	snprintf(p, sizeof(p), "%s/locked", base);
	is_int(0, open_store(p, TAL_STORE_CREATE, 0, &st), "perm: create locked");
	tal_store_close(st);
	st = NULL;
	snprintf(p, sizeof(p), "%s/ro", base);
	is_int(0, open_store(p, TAL_STORE_CREATE, 0, &st), "perm: create ro");
	tal_store_close(st);
	st = NULL;
	snprintf(p, sizeof(p), "%s/ro/lock.mdb", base);
	chmod(p, 0444);
	snprintf(p, sizeof(p), "%s/ro", base);
	chmod(p, 0555);
	snprintf(p, sizeof(p), "%s/rodir", base);
	mkdir(p, 0555);
	snprintf(p, sizeof(p), "%s/locked", base);
	chmod(p, 0);

	if (geteuid() != 0) {
		perm_run(base, res);
	} else {
		/* Root ignores permissions: check them as uid/gid 65534 in a child. */
		printf("# running as root: permission checks run in a child as uid 65534\n");
		int fds[2];
		if (pipe(fds) != 0) {
			exit(2);
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			for (int i = 0; i < PERM_N; i++) {
				res[i] = 1;
			}
			if (setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0) {
				perm_run(base, res);
			}
			ssize_t w = write(fds[1], res, sizeof(res));
			_exit(w == (ssize_t)sizeof(res) ? 0 : 1);
		}
		close(fds[1]);
		memset(res, 0, sizeof(res));
		ssize_t n = read(fds[0], res, sizeof(res));
		close(fds[0]);
		int status = 0;
		waitpid(pid, &status, 0);
		ok(n == (ssize_t)sizeof(res) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "perm: unprivileged child reported");
	}
	is_int(TAL_EACCES, res[0], "perm: read-only open of an unreadable directory is EACCES");
	is_int(TAL_EACCES, res[1], "perm: read-write open of an unreadable directory is EACCES");
	is_int(TAL_EACCES, res[2],
	       "perm: read-only open without write access to lock.mdb is EACCES");
	is_int(TAL_EACCES, res[3], "perm: CREATE in an unwritable directory is EACCES");
	is_int(0, res[4], "perm: the refused CREATE made nothing");
	rm_tree(base);
}

static void test_map_full(void)
{
	char base[64];
	tal_store_t *st = NULL;
	tal_txn_t *txn = NULL;
	uint8_t val[1000];
	int committed = 0, ret = 0;

	memset(val, 0xab, sizeof(val));
	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 1 << 20, &st), "mapfull: create with 1 MiB");
	for (int t = 0; t < 200 && ret == 0; t++) {
		ret = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
		if (ret != 0) {
			break;
		}
		for (int i = 0; i < 20 && ret == 0; i++) {
			char k[32];
			snprintf(k, sizeof(k), "key%06d", t * 20 + i);
			ret = tal_txn_put(txn, TAL_DB_NODES, (const uint8_t *)k, strlen(k), val,
			                  sizeof(val), 0);
		}
		if (ret == 0) {
			ret = tal_txn_commit(txn);
			if (ret == 0) {
				committed = t + 1;
			}
		} else {
			is_int(ret, tal_txn_commit(txn),
			       "mapfull: commit after the failed put fails");
		}
	}
	is_int(TAL_EMAPFULL, ret, "mapfull: writes end with EMAPFULL");
	ok(committed > 10 && committed < 200, "mapfull: %d txns committed before", committed);
	tal_store_close(st);

	st = NULL;
	is_int(0, open_store(base, 0, 0, &st), "mapfull: reopen with the default map");
	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "mapfull: read txn");
	int found = 0;
	for (int i = 0; i < committed * 20; i++) {
		char k[32];
		tal_val_t v;
		snprintf(k, sizeof(k), "key%06d", i);
		if (tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)k, strlen(k), &v) == 0 &&
		    v.len == sizeof(val) && memcmp(v.data, val, sizeof(val)) == 0) {
			found++;
		}
	}
	is_int(committed * 20, found, "mapfull: every committed record is intact");
	char k[32];
	tal_val_t v;
	snprintf(k, sizeof(k), "key%06d", committed * 20);
	is_int(TAL_ENOTFOUND, tal_txn_get(txn, TAL_DB_NODES, (const uint8_t *)k, strlen(k), &v),
	       "mapfull: nothing of the failed txn is kept");
	tal_txn_abort(txn);
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "mapfull: write after growing the map");
	is_int(0,
	       tal_txn_put(txn, TAL_DB_NODES, (const uint8_t *)k, strlen(k), val, sizeof(val), 0),
	       "mapfull: the put that failed now fits");
	is_int(0, tal_txn_commit(txn), "mapfull: commit");
	tal_store_close(st);
	rm_tree(base);
}

/* Commits `txns` transactions of 20 values of 1000 octets; returns how many landed. */
static int fill(tal_store_t *st, const char *prefix, int txns, int *last_ret)
{
	uint8_t val[1000];
	int committed = 0, ret = 0;

	memset(val, 0x5a, sizeof(val));
	for (int t = 0; t < txns && ret == 0; t++) {
		tal_txn_t *txn = NULL;
		ret = tal_txn_begin(st, TAL_TXN_WRITE, &txn);
		for (int i = 0; i < 20 && ret == 0; i++) {
			char k[48];
			snprintf(k, sizeof(k), "%s%06d", prefix, t * 20 + i);
			ret = tal_txn_put(txn, TAL_DB_NODES, (const uint8_t *)k, strlen(k), val,
			                  sizeof(val), 0);
		}
		if (ret == 0) {
			ret = tal_txn_commit(txn);
		} else if (txn != NULL) {
			tal_txn_abort(txn);
		}
		if (ret == 0) {
			committed++;
		}
	}
	*last_ret = ret;
	return committed;
}

static void test_map_size_env(void)
{
	char base[64], dir[128];
	tal_store_t *st = NULL;
	int ret;

	make_tmp(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/db", base);
	setenv("TALLOW_MAP_SIZE", "12Q", 1);
	is_int(TAL_EINVAL, open_store(dir, TAL_STORE_CREATE, 0, &st),
	       "TALLOW_MAP_SIZE=12Q is EINVAL");
	ok(!file_exists(base, "db"), "TALLOW_MAP_SIZE=12Q: nothing created");
	setenv("TALLOW_MAP_SIZE", "0", 1);
	is_int(TAL_EINVAL, open_store(dir, TAL_STORE_CREATE, 0, &st),
	       "TALLOW_MAP_SIZE=0 is EINVAL");
	setenv("TALLOW_MAP_SIZE", "1K1", 1);
	is_int(TAL_EINVAL, open_store(dir, TAL_STORE_CREATE, 0, &st),
	       "TALLOW_MAP_SIZE=1K1 is EINVAL");

	setenv("TALLOW_MAP_SIZE", "2M", 1);
	is_int(0, open_store(dir, TAL_STORE_CREATE, 0, &st), "TALLOW_MAP_SIZE=2M: create");
	uint64_t fb0 = 0, ub0 = 0, fb = 0, ub = 0;
	is_int(0, tal_store_size(st, &fb0, &ub0), "store_size of an empty store");
	int n = fill(st, "a", 200, &ret);
	is_int(TAL_EMAPFULL, ret, "TALLOW_MAP_SIZE=2M: the map fills");
	ok(n > 40 && n * 20 * 1000 < 2 * 1024 * 1024, "TALLOW_MAP_SIZE=2M: %d txns fit", n);
	is_int(0, tal_store_size(st, &fb, &ub), "store_size of a full store");
	ok(ub >= (uint64_t)n * 20 * 1000 && ub <= 2 * 1024 * 1024 && fb >= ub && ub > ub0,
	   "store_size: %llu used of %llu in the file, at most the 2 MiB map",
	   (unsigned long long)ub, (unsigned long long)fb);
	tal_store_close(st);
	st = NULL;

	setenv("TALLOW_MAP_SIZE", "2097152", 1);
	is_int(0, open_store(dir, 0, 0, &st), "TALLOW_MAP_SIZE in plain bytes");
	fill(st, "b", 1, &ret);
	is_int(TAL_EMAPFULL, ret, "TALLOW_MAP_SIZE in bytes: still full");
	tal_store_close(st);
	st = NULL;

	setenv("TALLOW_MAP_SIZE", "3mib", 1);
	is_int(0, open_store(dir, 0, 0, &st), "TALLOW_MAP_SIZE=3mib");
	n = fill(st, "c", 200, &ret);
	ok(ret == TAL_EMAPFULL && n > 10 && n < 80, "TALLOW_MAP_SIZE=3mib: one more MiB, %d txns",
	   n);
	tal_store_close(st);
	st = NULL;

	is_int(0, open_store(dir, 0, 16 << 20, &st), "opts.map_size wins over TALLOW_MAP_SIZE");
	n = fill(st, "d", 200, &ret);
	ok(ret == 0 && n == 200, "opts.map_size 16 MiB: all 200 txns fit (%d, %s)", n,
	   tal_errname(ret));
	tal_store_close(st);
	unsetenv("TALLOW_MAP_SIZE");
	rm_tree(base);
}

/* Another process grows the map past ours: readers and writers adopt it. */
static void test_map_resized(void)
{
	char base[64];
	tal_store_t *st = NULL;
	tal_reader_t *rd = NULL;
	tal_txn_t *snap = NULL, *txn = NULL;
	tal_val_t v;
	int ret;

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 1 << 20, &st), "resized: create with 1 MiB");
	fill(st, "p", 1, &ret);
	is_int(0, ret, "resized: first data");
	is_int(0, tal_reader_new(st, &rd), "resized: reader");
	is_int(0, tal_reader_snapshot(st, &snap), "resized: snapshot before the growth");

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		tal_store_t *cst = NULL;
		int r = 0;
		if (open_store(base, 0, 16 << 20, &cst) != 0) {
			_exit(1);
		}
		int n = fill(cst, "q", 150, &r);
		tal_store_close(cst);
		_exit(r == 0 && n == 150 ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "resized: child wrote 3 MB");

	is_int(TAL_EAGAIN, tal_reader_begin(rd),
	       "resized: no remap while a snapshot is live (EAGAIN)");
	tal_cursor_t *cur = NULL;
	tal_val_t k;
	is_int(0, tal_cursor_open(snap, TAL_DB_NODES, &cur), "resized: the old snapshot reads on");
	is_int(0, tal_cursor_last(cur, &k, &v), "resized: last key of the old snapshot");
	ok(k.len > 0 && ((const char *)k.data)[0] == 'p', "resized: old snapshot sees old data");
	tal_cursor_close(cur);
	tal_txn_abort(snap);

	is_int(0, tal_reader_begin(rd), "resized: reader begins after the remap");
	is_int(0, tal_reader_get(rd, TAL_DB_NODES, (const uint8_t *)"q002999", 7, &v),
	       "resized: reader sees the other process's last key");
	ok(v.len == 1000, "resized: value length");
	tal_reader_end(rd);
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "resized: write txn after the remap");
	is_int(0, put_str(txn, TAL_DB_NODES, "z", "z"), "resized: put");
	is_int(0, tal_txn_commit(txn), "resized: commit");
	tal_reader_free(rd);
	tal_store_close(st);
	rm_tree(base);
}

/* A full reader table: EREADERS while the holder lives, its slots reclaimed after it dies. */
static void test_readers_full(void)
{
	char base[64];
	tal_store_t *st = NULL;
	tal_reader_t *rd = NULL;
	int fds[2];

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "readers: create");
	if (pipe(fds) != 0) {
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		tal_store_t *cst = NULL;
		int n = -1;
		close(fds[0]);
		if (open_store(base, TAL_STORE_RDONLY, 0, &cst) == 0) {
			tal_reader_t *r = NULL;
			int ret = 0;
			for (n = 0; n < 4096; n++) {
				ret = tal_reader_new(cst, &r);
				if (ret != 0) {
					break;
				}
			}
			if (ret != TAL_EREADERS) {
				n = -1;
			}
		}
		if (write(fds[1], &n, sizeof(n)) != sizeof(n)) {
			_exit(1);
		}
		for (;;) {
			pause(); /* holds the slots until killed */
		}
	}
	close(fds[1]);
	int n = 0;
	ok(read(fds[0], &n, sizeof(n)) == sizeof(n), "readers: child reported");
	close(fds[0]);
	ok(n >= TAL_STORE_MAXREADERS, "readers: a process got %d readers, then EREADERS", n);
	is_int(TAL_EREADERS, tal_reader_new(st, &rd), "readers: table full while the holder lives");
	ok(rd == NULL, "readers: no reader on error");
	tal_txn_t *txn = NULL;
	is_int(TAL_EREADERS, tal_txn_begin(st, TAL_TXN_READ, &txn), "readers: read txn too");
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "readers: a writer needs no slot");
	tal_txn_abort(txn);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	is_int(0, tal_reader_new(st, &rd), "readers: stale slots cleared and retried");
	is_int(0, tal_reader_begin(rd), "readers: begin");
	tal_reader_end(rd);
	tal_reader_free(rd);
	tal_store_close(st);
	rm_tree(base);
}

struct reader_arg {
	tal_store_t *st;
	int errors;
	int regressions; /* more than one commit back */
	int steps_back;  /* exactly one commit back */
	int lookups;
	unsigned last;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	tal_reader_t *rd = NULL;
	uint8_t key[TAL_KEY_MAXLEN];
	size_t kl = key_of("counter.example.com", key);

	if (tal_reader_new(a->st, &rd) != 0) {
		a->errors++;
		return NULL;
	}
	/* Until the last commit is seen, bounded at 20 s. */
	time_t deadline = time(NULL) + 20;
	while (a->last < 199 && time(NULL) < deadline) {
		tal_lookup_t lk;
		if (tal_reader_begin(rd) != 0) {
			a->errors++;
			continue;
		}
		if (tal_reader_lookup(rd, key, kl, &lk) != 0) {
			a->errors++;
		} else if (lk.node.data != NULL && lk.node.len == sizeof(unsigned)) {
			unsigned c;
			memcpy(&c, lk.node.data, sizeof(c));
			if (c > 199) {
				a->errors++;
			} else if (c + 1 < a->last) {
				a->regressions++;
			} else if (c + 1 == a->last) {
				a->steps_back++;
			}
			a->last = c;
			a->lookups++;
		}
		tal_reader_end(rd);
	}
	tal_reader_free(rd);
	return NULL;
}

static void test_threads(void)
{
	char base[64];
	tal_store_t *st = NULL;
	pthread_t th[2];
	struct reader_arg args[2];
	uint8_t key[TAL_KEY_MAXLEN];
	size_t kl = key_of("counter.example.com", key);
	int werr = 0;

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "threads: create");
	for (int i = 0; i < 2; i++) {
		args[i] = (struct reader_arg){ st, 0, 0, 0, 0, 0 };
		pthread_create(&th[i], NULL, reader_thread, &args[i]);
	}
	for (unsigned c = 0; c < 200; c++) {
		tal_txn_t *txn = NULL;
		if (tal_txn_begin(st, TAL_TXN_WRITE, &txn) != 0 ||
		    tal_txn_put(txn, TAL_DB_NODES, key, kl, (const uint8_t *)&c, sizeof(c), 0) !=
		            0 ||
		    tal_txn_commit(txn) != 0) {
			werr++;
		}
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
	}
	is_int(0, werr, "threads: 200 commits while two threads read");
	for (int i = 0; i < 2; i++) {
		is_int(0, args[i].errors, "threads: reader %d had no errors", i);
		/*
		 * LMDB publishes a commit's meta page before the shared txnid,
		 * so a begin racing a commit can see it early and the next
		 * begin the one before: one step back, never more, and
		 * never a state that was not committed.
		 */
		is_int(0, args[i].regressions,
		       "threads: reader %d never saw the counter more than one commit back", i);
		if (args[i].steps_back > 0) {
			printf("# reader %d saw a commit early %d times (LMDB publishes the meta "
			       "page before the txnid)\n",
			       i, args[i].steps_back);
		}
		is_int(199, args[i].last, "threads: reader %d saw the last commit (%d lookups)", i,
		       args[i].lookups);
	}
	tal_store_close(st);
	rm_tree(base);
}

static int child_writer(const char *dir, int id)
{
	tal_store_t *st = NULL;
	if (open_store(dir, 0, 0, &st) != 0) {
		return 1;
	}
	for (int i = 0; i < 200; i++) {
		tal_txn_t *txn = NULL;
		char k[32];
		snprintf(k, sizeof(k), "w%d-%03d", id, i);
		if (tal_txn_begin(st, TAL_TXN_WRITE, &txn) != 0) {
			return 1;
		}
		if (put_str(txn, TAL_DB_NODES, k, "x") != 0 || tal_txn_commit(txn) != 0) {
			return 1;
		}
	}
	tal_store_close(st);
	return 0;
}

static void test_two_writers(void)
{
	char base[64];
	tal_store_t *st = NULL;
	pid_t pids[2];

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "writers: create");
	tal_store_close(st);
	st = NULL;
	fflush(stdout);
	for (int c = 0; c < 2; c++) {
		pids[c] = fork();
		if (pids[c] == 0) {
			_exit(child_writer(base, c));
		}
	}
	for (int c = 0; c < 2; c++) {
		int status = 0;
		ok(pids[c] > 0 && waitpid(pids[c], &status, 0) == pids[c] && WIFEXITED(status) &&
		           WEXITSTATUS(status) == 0,
		   "writers: process %d did 200 write txns", c);
	}
	is_int(0, open_store(base, TAL_STORE_RDONLY, 0, &st), "writers: open");
	tal_txn_t *txn = NULL;
	tal_cursor_t *cur = NULL;
	tal_val_t k, v;
	int n = 0;
	is_int(0, tal_txn_begin(st, TAL_TXN_READ, &txn), "writers: read txn");
	is_int(0, tal_cursor_open(txn, TAL_DB_NODES, &cur), "writers: cursor");
	for (int ret = tal_cursor_seek(cur, NULL, 0, &k, &v); ret == 0;
	     ret = tal_cursor_next(cur, &k, &v)) {
		n++;
	}
	is_int(400, n, "writers: all 400 keys are present");
	tal_cursor_close(cur);
	tal_txn_abort(txn);
	tal_store_close(st);
	rm_tree(base);
}

/*
 * The nodes index (store.h "The nodes index"): every lookup gives what the
 * B-tree gives, before and after a commit, and readers keep working while
 * the index is rebuilt and the old one freed under them.
 */
#define IX_GROUPS 30
#define IX_PER    100

typedef struct {
	char name[64];
	bool node;
	uint8_t val[8192];
	size_t vlen;
	bool has_children;
	bool zone;
	size_t apex_keylen;
} ix_expect_t;

static int ix_names(char names[][64], int max)
{
	int n = 0;
	static const char *const fixed[] = {
		"example.com",
		"c.example.com",
		"b.c.example.com",
		"a.b.c.example.com",
		"x.a.b.c.example.com",
		"big.example.com",
		"grp0.example.com",
		"nope.example.com",
		"com",
		"example.org",
		"www.example.org",
		"d1.grp99.example.com",
		"zz.d1.grp1.example.com",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && n < max; i++) {
		snprintf(names[n++], 64, "%s", fixed[i]);
	}
	for (int g = 0; g < IX_GROUPS && n < max; g++) {
		snprintf(names[n++], 64, "grp%d.example.com", g);
		for (int i = 0; i < IX_PER + 2 && n < max; i++) {
			snprintf(names[n++], 64, "d%d.grp%d.example.com", i, g);
		}
	}
	return n;
}

static void ix_record(tal_reader_t *rd, char names[][64], int n, ix_expect_t *e)
{
	for (int i = 0; i < n; i++) {
		tal_lookup_t lk;
		lookup(rd, names[i], &lk);
		memcpy(e[i].name, names[i], sizeof(e[i].name));
		e[i].node = lk.node.data != NULL;
		e[i].vlen = lk.node.len < sizeof(e[i].val) ? lk.node.len : sizeof(e[i].val);
		if (e[i].node) {
			memcpy(e[i].val, lk.node.data, e[i].vlen);
		}
		e[i].has_children = lk.has_children;
		e[i].zone = lk.zone.data != NULL;
		e[i].apex_keylen = lk.apex_keylen;
	}
}

/* Number of names whose lookup differs from the record. */
static int ix_compare(tal_reader_t *rd, const ix_expect_t *e, int n)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		tal_lookup_t lk;
		lookup(rd, e[i].name, &lk);
		bool same = (lk.node.data != NULL) == e[i].node &&
		            lk.has_children == e[i].has_children &&
		            (lk.zone.data != NULL) == e[i].zone &&
		            lk.apex_keylen == e[i].apex_keylen &&
		            (!e[i].node || (lk.node.len == e[i].vlen &&
		                            memcmp(lk.node.data, e[i].val, e[i].vlen) == 0));
		if (!same) {
			printf("# %s differs\n", e[i].name);
			bad++;
		}
	}
	return bad;
}

static int ix_fill(tal_txn_t *txn, const char *tag)
{
	char name[64], val[64];
	static char big[6000];
	int ret = 0;
	memset(big, 'B', sizeof(big) - 1);
	ret |= put_name(txn, TAL_DB_ZONES, "example.com", "zone-com");
	ret |= put_name(txn, TAL_DB_ZONES, "example.org", "zone-org");
	ret |= put_name(txn, TAL_DB_NODES, "example.com", "apex");
	ret |= put_name(txn, TAL_DB_NODES, "example.org", "apex-org");
	ret |= put_name(txn, TAL_DB_NODES, "a.b.c.example.com", "deep");
	ret |= put_name(txn, TAL_DB_NODES, "big.example.com", big); /* overflow pages */
	for (int g = 0; g < IX_GROUPS; g++) {
		for (int i = 0; i < IX_PER; i++) {
			snprintf(name, sizeof(name), "d%d.grp%d.example.com", i, g);
			snprintf(val, sizeof(val), "%s-%d-%d", tag, g, i);
			ret |= put_name(txn, TAL_DB_NODES, name, val);
		}
	}
	return ret;
}

typedef struct {
	tal_store_t *st;
	volatile bool stop;
	int lookups, bad, indexed;
} ix_thread_t;

/* Looks up d0.grp0 (not changed) and d1.grp0 (changed by every commit) in a loop. */
static void *ix_reader_main(void *arg)
{
	ix_thread_t *t = arg;
	tal_reader_t *rd;
	if (tal_reader_new(t->st, &rd) != 0) {
		t->bad++;
		return NULL;
	}
	while (!t->stop) {
		tal_lookup_t lk;
		if (tal_reader_begin(rd) != 0) {
			t->bad++;
			break;
		}
		t->indexed += tal_reader_indexed(rd);
		for (int i = 0; i < 50; i++) {
			lookup(rd, "d0.grp0.example.com", &lk);
			t->bad += !val_is(&lk.node, "v1-0-0");
			lookup(rd, "d1.grp0.example.com", &lk);
			t->bad += lk.node.data == NULL || lk.node.len < 4 ||
			          memcmp(lk.node.data + lk.node.len - 4, "-0-1", 4) != 0;
			lookup(rd, "grp0.example.com", &lk);
			t->bad += lk.node.data != NULL || !lk.has_children;
			t->lookups += 3;
		}
		tal_reader_end(rd);
	}
	tal_reader_free(rd);
	return NULL;
}

static void test_index(void)
{
	char base[64];
	static char names[IX_GROUPS * (IX_PER + 3) + 16][64];
	static ix_expect_t before[IX_GROUPS * (IX_PER + 3) + 16];
	tal_store_t *st = NULL;
	tal_txn_t *txn = NULL;
	tal_reader_t *rd = NULL;
	tal_index_stats_t is;
	int n = ix_names(names, (int)(sizeof(names) / sizeof(names[0])));

	make_tmp(base, sizeof(base));
	is_int(0, open_store(base, TAL_STORE_CREATE, 0, &st), "index: create");
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "index: write txn");
	is_int(0, ix_fill(txn, "v0"), "index: %d names", IX_GROUPS * IX_PER + 4);
	is_int(0, tal_txn_commit(txn), "index: commit");
	is_int(TAL_EINVAL, tal_store_index_wait(st, 10), "index: wait before start is EINVAL");

	/* The B-tree's answers, then the index's. */
	is_int(0, tal_reader_new(st, &rd), "index: reader");
	tal_reader_begin(rd);
	ok(!tal_reader_indexed(rd), "index: none before tal_store_index_start");
	ix_record(rd, names, n, before);
	tal_reader_end(rd);
	ok(before[0].node && before[1].has_children && !before[7].node && !before[7].has_children,
	   "index: the record has nodes, empty non-terminals and misses");

	is_int(0, tal_store_index_start(st), "index: start");
	is_int(0, tal_store_index_wait(st, 10000), "index: built");
	tal_store_index_stats(st, &is);
	is_int(IX_GROUPS * IX_PER + 4, (int)is.names, "index: stats count the stored names");
	is_int(IX_GROUPS + 4, (int)is.ents,
	       "index: and the empty non-terminals (grpN, c, b.c, com, org)");
	ok(is.builds == 1 && is.bytes > 0, "index: one build");
	tal_reader_begin(rd);
	ok(tal_reader_indexed(rd), "index: the reader uses it");
	is_int(0, ix_compare(rd, before, n), "index: %d lookups as the B-tree answered them", n);
	tal_reader_end(rd);

	/* A commit: served at once from the tree, then from a new index. */
	is_int(0, tal_txn_begin(st, TAL_TXN_WRITE, &txn), "index: second write");
	ix_fill(txn, "v1");
	put_name(txn, TAL_DB_NODES, "d101.grp3.example.com", "new");
	put_name(txn, TAL_DB_NODES, "zz.d1.grp1.example.com", "below");
	uint8_t key[TAL_KEY_MAXLEN];
	size_t kl = key_of("d5.grp0.example.com", key);
	is_int(0, tal_txn_del(txn, TAL_DB_NODES, key, kl), "index: delete one");
	kl = key_of("a.b.c.example.com", key);
	is_int(0, tal_txn_del(txn, TAL_DB_NODES, key, kl), "index: delete the deep one");
	is_int(0, tal_txn_commit(txn), "index: commit the change");

	static ix_expect_t after[sizeof(before) / sizeof(before[0])];
	tal_reader_begin(rd);
	ok(!tal_reader_indexed(rd), "index: stale after a commit: the tree answers");
	ix_record(rd, names, n, after);
	tal_reader_end(rd);
	tal_lookup_t lk;
	tal_reader_begin(rd);
	lookup(rd, "d101.grp3.example.com", &lk);
	ok(val_is(&lk.node, "new"), "index: the new name is served at once");
	lookup(rd, "c.example.com", &lk);
	ok(lk.node.data == NULL && !lk.has_children, "index: c.example.com is gone with a.b.c");
	tal_reader_end(rd);

	is_int(0, tal_store_index_wait(st, 10000), "index: rebuilt");
	tal_store_index_stats(st, &is);
	ok(is.builds >= 2, "index: a second build");
	tal_reader_begin(rd);
	ok(tal_reader_indexed(rd), "index: the reader uses the new one");
	is_int(0, ix_compare(rd, after, n), "index: every lookup as the tree answered it");
	lookup(rd, "d1.grp1.example.com", &lk);
	ok(val_is(&lk.node, "v1-1-1"), "index: a changed value");
	lookup(rd, "d5.grp0.example.com", &lk);
	ok(lk.node.data == NULL && !lk.has_children, "index: a deleted name");
	lookup(rd, "big.example.com", &lk);
	ok(lk.node.len == 5999, "index: the big value (left to the tree)");
	tal_reader_end(rd);

	/* Readers on two threads while commits keep the builder busy. */
	ix_thread_t t[2] = { { .st = st }, { .st = st } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		pthread_create(&th[i], NULL, ix_reader_main, &t[i]);
	}
	int ret = 0;
	for (int c = 0; c < 40; c++) {
		char tag[16], val[64];
		snprintf(tag, sizeof(tag), "c%d", c);
		ret |= tal_txn_begin(st, TAL_TXN_WRITE, &txn);
		if (ret == 0) {
			snprintf(val, sizeof(val), "%s-0-1", tag);
			ret |= put_name(txn, TAL_DB_NODES, "d1.grp0.example.com", val);
			for (int i = 2; i < 40; i++) {
				char name[64];
				snprintf(name, sizeof(name), "d%d.grp%d.example.com", i,
				         c % IX_GROUPS);
				ret |= put_name(txn, TAL_DB_NODES, name, tag);
			}
			ret |= tal_txn_commit(txn);
		}
		if (c % 8 == 7) {
			ret |= tal_store_index_wait(st, 10000);
		} else {
			usleep(2000);
		}
	}
	for (int i = 0; i < 2; i++) {
		t[i].stop = true;
		pthread_join(th[i], NULL);
	}
	is_int(0, ret, "index: 40 commits, waiting for the index every 8");
	printf("# reader threads: %d and %d lookups, %d and %d batches on the index\n",
	       t[0].lookups, t[1].lookups, t[0].indexed, t[1].indexed);
	is_int(0, t[0].bad + t[1].bad, "index: readers never saw a wrong answer");
	ok(t[0].indexed > 0 && t[1].indexed > 0, "index: both readers used the index");
	tal_store_index_stats(st, &is);
	ok(is.builds >= 6, "index: rebuilt as commits came (%llu builds)",
	   (unsigned long long)is.builds);

	tal_reader_free(rd);
	tal_store_close(st);
	rm_tree(base);
}

int main(void)
{
	unsetenv("TALLOW_MAP_SIZE");
	umask(022); /* the modes checked below are the ones a usual umask gives */
	test_open_close();
	test_put_get_cursor();
	test_reader();
	test_refusals();
	test_double_open();
	test_permissions();
	test_map_full();
	test_two_writers();
	test_map_size_env();
	test_map_resized();
	test_readers_full();
	test_threads();
	test_index();
	return tap_done();
}
