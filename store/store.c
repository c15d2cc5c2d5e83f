/*
 * store/store.c -- tallow's store on LMDB; the only file that includes lmdb.h.
 *
 * One MDB_env per database directory, opened with MDB_NOTLS so a read
 * transaction belongs to its tal_reader_t / tal_txn_t and not to the thread:
 * a worker keeps one reader for queries and may hold a snapshot transaction
 * for a zone transfer at the same time.  The named databases are opened once
 * at tal_store_open and their handles shared by every transaction.
 *
 * A private "meta" database marks the environment as tallow's and records
 * the format version, so the store never writes into somebody else's LMDB
 * file and never misreads an older or newer layout.
 *
 * Remapping: when another process grows the map beyond ours, LMDB refuses
 * to begin transactions with MDB_MAP_RESIZED until mdb_env_set_mapsize(env,
 * 0) adopts the new size, which is only safe while no transaction of this
 * process is live (the old mapping is unmapped).  Every live transaction
 * therefore holds `remap` shared; the remap takes it exclusively, and if
 * that is not possible at once (a long snapshot is open), the begin fails
 * with TAL_EAGAIN rather than pulling the map out from under a reader.
 *
 * Failures must be errors, never signals or silent damage: a failed open
 * leaves the directory as it was (data.mdb is checked before LMDB sees it,
 * and files and directories the attempt created are removed), a second
 * open of one environment in a process is refused (LMDB's POSIX locks
 * would not survive it), and the reader table is allocated up front so a
 * full disk cannot turn into SIGBUS.
 */
#include "store/store.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "common/dname.h"
#include "common/error.h"
#include "common/log.h"
#include "store/index.h"

#define META_DB      "meta"
#define META_FORMAT  "format"
#define META_VERSION "version"
#define META_MARKER  "tallow"

#define STORE_MAXDBS 8
#define STORE_MAXKEY 511
#define STORE_NDBS   4
#define DATA_FILE    "data.mdb"
#define LOCK_FILE    "lock.mdb"
#define LMDB_MAGIC   0xBEEFC0DEu

static const char *const db_names[STORE_NDBS] = {
	[TAL_DB_NODES] = "nodes",
	[TAL_DB_ZONES] = "zones",
	[TAL_DB_JOURNAL] = "journal",
	[TAL_DB_CONFIG] = "config",
};

/* A nodes index (store/index.h) and the snapshot it describes. */
typedef struct {
	tal_index_t *ix;
	size_t txnid;
	unsigned gen; /* remap generation: a remap moves the map */
} snap_index_t;

struct tal_store {
	MDB_env *env;
	MDB_dbi dbi[STORE_NDBS];
	unsigned flags;
	pthread_rwlock_t remap;
	unsigned remap_gen; /* bumped by every remap, under remap held exclusively */
	char *path;
	dev_t dev; /* the directory's identity, for the open-stores registry */
	ino_t ino;
	pid_t pid;
	tal_store_t *next_open;

	/* The nodes index, once tal_store_index_start() ran (see "Index" below). */
	bool indexing;
	_Atomic(snap_index_t *) index; /* the newest built, or NULL */
	atomic_size_t ix_target;       /* snapshot of the build running or last run */
	atomic_bool ix_want;           /* a reader found the index stale */
	pthread_t ix_thread;
	pthread_mutex_t ix_lock; /* ix_want's changes, ix_stop, ix_stats, the readers list */
	pthread_cond_t ix_cond;  /* to the builder: a build is wanted, or stop */
	pthread_cond_t ix_done;  /* from the builder: a build ended */
	bool ix_stop;
	tal_index_stats_t ix_stats; /* of the newest build */
	tal_reader_t *readers;
};

/*
 * Stores open in this process.  LMDB forbids opening one environment twice
 * in a process: closing either handle drops the other's POSIX locks, and a
 * writer elsewhere may then recycle pages its readers still use.  Entries
 * inherited across fork() carry the parent's pid and are ignored.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static tal_store_t *open_stores;

static int register_open(tal_store_t *st)
{
	int ret = 0;
	pthread_mutex_lock(&open_lock);
	for (tal_store_t *o = open_stores; o != NULL; o = o->next_open) {
		if (o->dev == st->dev && o->ino == st->ino && o->pid == st->pid) {
			ret = TAL_EBUSY;
			break;
		}
	}
	if (ret == 0) {
		st->next_open = open_stores;
		open_stores = st;
	}
	pthread_mutex_unlock(&open_lock);
	return ret;
}

static void unregister_open(tal_store_t *st)
{
	pthread_mutex_lock(&open_lock);
	for (tal_store_t **pp = &open_stores; *pp != NULL; pp = &(*pp)->next_open) {
		if (*pp == st) {
			*pp = st->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&open_lock);
}

struct tal_txn {
	tal_store_t *st;
	MDB_txn *txn;
	tal_cursor_t *cursors; /* open cursors, closed at the end of the txn */
	bool write;
	int error; /* first failure of a write; the txn can only be aborted */
};

struct tal_cursor {
	tal_txn_t *txn; /* NULL once the txn has ended */
	MDB_cursor *cur;
	tal_cursor_t *next;
};

/*
 * The zones of the reader's snapshot, as pointers into the map, so the
 * enclosing zone of a name is a binary search in a small array instead of a
 * second B-tree descent (and a lookup of the zones database's root in the
 * main database) per query.  The zones database is tiny and changes with
 * every commit (the serial), so the table is rebuilt, on first use, whenever
 * the renewed snapshot is another transaction than the one it was built
 * from.  Pointers into snapshot T stay valid across a reset and a renew
 * that lands on T again: T is then still the newest commit, and the pages
 * of the newest commit are never free for a writer to reuse.  A remap moves
 * the map, so the table also records the remap generation.  With more zones
 * than fit, lookups take the cursor path.
 */
#define ZONE_CACHE_MAX 64

typedef struct {
	const uint8_t *key;
	size_t keylen;
	const uint8_t *val;
	size_t vallen;
} zone_entry_t;

struct tal_reader {
	tal_store_t *st;
	MDB_txn *txn;
	MDB_cursor *nodes;
	MDB_cursor *zones;
	const snap_index_t *ix;         /* the index, when it describes this snapshot */
	_Atomic(snap_index_t *) hazard; /* the index this reader may be using */
	tal_reader_t *next;             /* in st->readers */
	bool active;
	bool zones_renewed; /* zones cursor renewed in the current snapshot */
	bool zc_valid;      /* the table below describes the current snapshot */
	bool zc_overflow;   /* more than ZONE_CACHE_MAX zones: use the cursor */
	size_t zc_txnid;
	unsigned zc_gen;
	unsigned zc_n;
	zone_entry_t zc[ZONE_CACHE_MAX];
};

/*
 * The single translation of LMDB's codes, as Knot's err_to_knot.  LMDB
 * returns either its own negative MDB_* codes or a positive errno.
 */
static int err_to_tal(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return TAL_ENOTFOUND;
	case MDB_KEYEXIST:
		return TAL_EEXIST;
	case MDB_MAP_FULL:
		return TAL_EMAPFULL;
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
		return TAL_ETXNFULL;
	case MDB_READERS_FULL:
		return TAL_EREADERS;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_PAGE_FULL:
		return TAL_ECORRUPT;
	case MDB_INVALID:
	case MDB_INCOMPATIBLE:
		return TAL_EFOREIGN;
	case MDB_VERSION_MISMATCH:
		return TAL_EVERSION;
	case MDB_MAP_RESIZED:
		return TAL_EAGAIN;
	case MDB_BAD_VALSIZE:
		return TAL_EINVAL;
	case MDB_BAD_TXN:
	case MDB_BAD_RSLOT:
	case MDB_BAD_DBI:
	case MDB_DBS_FULL:
	case MDB_TLS_FULL:
	case MDB_PANIC:
		return TAL_EIO;
	}
	if (rc > 0) {
		return tal_error_from_errno(rc);
	}
	return TAL_EIO;
}

/*
 * The error of a failed commit.  LMDB reports a short write as EIO, and a
 * short write to a regular file is what a full file system produces; the
 * user needs to hear "no space", so EIO with (almost) no space left is
 * reported as TAL_ENOSPC.
 */
static int commit_err(MDB_env *env, int rc)
{
	struct statvfs vfs;
	int fd;

	if (rc != EIO) {
		return err_to_tal(rc);
	}
	if (mdb_env_get_fd(env, &fd) == 0 && fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20)) {
		return TAL_ENOSPC;
	}
	return TAL_EIO;
}

/*
 * Map size: digits with an optional binary suffix K, M, G or T (either
 * case, an optional trailing "B" or "iB").  Returns 0 or TAL_EINVAL.
 */
static int parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p)) {
		return TAL_EINVAL;
	}
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10) {
			return TAL_EINVAL;
		}
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	unsigned shift = 0;
	switch (*p) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	}
	if (shift > 0) {
		p++;
		if (*p == 'i' && (p[1] == 'B' || p[1] == 'b')) {
			p += 2;
		} else if (*p == 'B' || *p == 'b') {
			p++;
		}
		if (v > (UINT64_MAX >> shift)) {
			return TAL_EINVAL;
		}
		v <<= shift;
	}
	if (*p != '\0' || v == 0) {
		return TAL_EINVAL;
	}
	*out = v;
	return 0;
}

static char *path_join(const char *dir, const char *file)
{
	size_t dl = strlen(dir);
	size_t fl = strlen(file);
	char *p = malloc(dl + 1 + fl + 1);
	if (p == NULL) {
		return NULL;
	}
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, file, fl + 1);
	return p;
}

/*
 * Looks at the first meta page of data.mdb before LMDB touches the
 * directory: LMDB would initialise an empty file in place and create
 * lock.mdb next to a file that is not its own, and a failed open must leave
 * the disk as it was.  Checks only the magic number at the start of the
 * meta page (after the page header: pgno, pad, flags, lower, upper).
 */
static int check_lmdb_file(const char *data_path)
{
	uint8_t buf[64];
	uint32_t magic;
	size_t off = sizeof(size_t) + 4 * sizeof(uint16_t);
	int fd = open(data_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return tal_error_from_errno(errno);
	}
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	int saved = errno;
	close(fd);
	if (n < 0) {
		return tal_error_from_errno(saved);
	}
	if ((size_t)n < off + sizeof(magic)) {
		return TAL_EFOREIGN;
	}
	memcpy(&magic, buf + off, sizeof(magic));
	return magic == LMDB_MAGIC ? 0 : TAL_EFOREIGN;
}

/*
 * LMDB keeps its reader table in lock.mdb, mapped shared and sized with
 * ftruncate, so the file is sparse: the first reader to touch an
 * unallocated page on a full file system gets SIGBUS instead of an error.
 * Allocating the whole table before LMDB maps it turns that into
 * TAL_ENOSPC at open.  The size is LMDB's for TAL_STORE_MAXREADERS slots
 * of 64 octets after its 192-octet header: 64 KiB.  fallocate(2) and not
 * posix_fallocate(3): glibc's fallback for file systems without it writes
 * zero octets into the holes it finds, which could race with a live
 * reader table.  Where lock.mdb cannot be written (read-only mount,
 * another owner) or fallocate is unsupported, LMDB decides what happens.
 */
#define LOCK_FILE_BYTES (64 * 1024)

static int prealloc_lock(const char *lock_path)
{
	struct stat sb;
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		return 0;
	}
	int err = 0;
	if (fstat(fd, &sb) == 0) {
		off_t len = sb.st_size > LOCK_FILE_BYTES ? sb.st_size : LOCK_FILE_BYTES;
		if (fallocate(fd, 0, 0, len) != 0) {
			err = errno;
		}
	}
	close(fd);
	return err == ENOSPC || err == EDQUOT ? TAL_ENOSPC : 0;
}

/* Writes the marker and creates every named database, in the caller's write txn. */
static int init_meta(MDB_txn *txn)
{
	MDB_dbi meta;
	uint8_t ver[4];
	int rc = mdb_dbi_open(txn, META_DB, MDB_CREATE, &meta);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	MDB_val k = { strlen(META_FORMAT), (void *)META_FORMAT };
	MDB_val v = { strlen(META_MARKER), (void *)META_MARKER };
	rc = mdb_put(txn, meta, &k, &v, 0);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	ver[0] = (uint8_t)(TAL_STORE_FORMAT >> 24);
	ver[1] = (uint8_t)(TAL_STORE_FORMAT >> 16);
	ver[2] = (uint8_t)(TAL_STORE_FORMAT >> 8);
	ver[3] = (uint8_t)TAL_STORE_FORMAT;
	k = (MDB_val){ strlen(META_VERSION), (void *)META_VERSION };
	v = (MDB_val){ sizeof(ver), ver };
	rc = mdb_put(txn, meta, &k, &v, 0);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	for (int i = 0; i < STORE_NDBS; i++) {
		MDB_dbi dbi;
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &dbi);
		if (rc != 0) {
			return err_to_tal(rc);
		}
	}
	return 0;
}

/* Checks the marker and version in a txn; TAL_ENODB when the env is blank. */
static int check_meta(MDB_txn *txn)
{
	MDB_dbi meta;
	MDB_val k, v;
	int rc = mdb_dbi_open(txn, META_DB, 0, &meta);
	if (rc == MDB_NOTFOUND) {
		/*
		 * An environment with no records at all is what an interrupted
		 * create leaves behind (LMDB writes its meta pages before our
		 * first commit); anything else belongs to someone else.
		 */
		MDB_stat ms;
		MDB_dbi main_db;
		rc = mdb_dbi_open(txn, NULL, 0, &main_db);
		if (rc == 0) {
			rc = mdb_stat(txn, main_db, &ms);
		}
		if (rc != 0) {
			return err_to_tal(rc);
		}
		return ms.ms_entries == 0 ? TAL_ENODB : TAL_EFOREIGN;
	}
	if (rc != 0) {
		return err_to_tal(rc);
	}
	k = (MDB_val){ strlen(META_FORMAT), (void *)META_FORMAT };
	rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && (v.mv_size != strlen(META_MARKER) ||
	                                       memcmp(v.mv_data, META_MARKER, v.mv_size) != 0))) {
		return TAL_EFOREIGN;
	}
	if (rc != 0) {
		return err_to_tal(rc);
	}
	k = (MDB_val){ strlen(META_VERSION), (void *)META_VERSION };
	rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		return TAL_ECORRUPT;
	}
	if (rc != 0) {
		return err_to_tal(rc);
	}
	if (v.mv_size != 4) {
		return TAL_EVERSION;
	}
	const uint8_t *b = v.mv_data;
	uint32_t ver = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return ver == TAL_STORE_FORMAT ? 0 : TAL_EVERSION;
}

static int map_size_from(const tal_store_opts_t *opts, uint64_t *out)
{
	const char *env;

	if (opts != NULL && opts->map_size != 0) {
		*out = opts->map_size;
		return 0;
	}
	env = getenv("TALLOW_MAP_SIZE");
	if (env != NULL && *env != '\0') {
		if (parse_size(env, out) != 0) {
			tal_log_err(
			        "open: TALLOW_MAP_SIZE=\"%s\" is not a size (bytes, or a number "
			        "with K, M, G or T)",
			        env);
			return TAL_EINVAL;
		}
		return 0;
	}
	*out = TAL_STORE_MAPSIZE_DEFAULT;
	return 0;
}

/* Opens the named databases and checks the marker; creates them if `create`. */
static int open_dbs(tal_store_t *st, bool create)
{
	MDB_txn *txn = NULL;
	int ret;
	int rc = mdb_txn_begin(st->env, NULL, create ? 0 : MDB_RDONLY, &txn);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	ret = check_meta(txn);
	if (ret == TAL_ENODB) {
		if (!create) {
			ret = TAL_EFOREIGN;
			goto cleanup;
		}
		ret = init_meta(txn);
	}
	if (ret != 0) {
		goto cleanup;
	}
	for (int i = 0; i < STORE_NDBS; i++) {
		rc = mdb_dbi_open(txn, db_names[i], 0, &st->dbi[i]);
		if (rc != 0) {
			ret = rc == MDB_NOTFOUND ? TAL_ECORRUPT : err_to_tal(rc);
			goto cleanup;
		}
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	ret = commit_err(st->env, rc);
cleanup:
	mdb_txn_abort(txn);
	return ret;
}

int tal_store_open(const char *dir, const tal_store_opts_t *opts, tal_store_t **out)
{
	unsigned flags = opts != NULL ? opts->flags : 0;
	bool rdonly = flags & TAL_STORE_RDONLY;
	bool create = (flags & TAL_STORE_CREATE) && !rdonly;
	bool made_dir = false, made_data = false, made_lock = false, registered = false;
	char *data_path = NULL, *lock_path = NULL;
	tal_store_t *st = NULL;
	uint64_t map_size;
	struct stat sb;
	int ret, rc;

	*out = NULL;
	if (dir == NULL || *dir == '\0') {
		return TAL_EINVAL;
	}
	ret = map_size_from(opts, &map_size);
	if (ret != 0) {
		return ret;
	}
	if (stat(dir, &sb) != 0) {
		if (errno != ENOENT || !create) {
			return tal_error_from_errno(errno);
		}
		if (mkdir(dir, 0755) == 0) {
			made_dir = true;
		} else if (errno != EEXIST) {
			return tal_error_from_errno(errno);
		}
		if (stat(dir, &sb) != 0) {
			ret = tal_error_from_errno(errno);
			goto cleanup;
		}
	}
	if (!S_ISDIR(sb.st_mode)) {
		ret = TAL_ENOTDIR;
		goto cleanup;
	}
	dev_t dir_dev = sb.st_dev;
	ino_t dir_ino = sb.st_ino;

	data_path = path_join(dir, DATA_FILE);
	lock_path = path_join(dir, LOCK_FILE);
	st = calloc(1, sizeof(*st));
	if (data_path == NULL || lock_path == NULL || st == NULL) {
		ret = TAL_ENOMEM;
		goto cleanup;
	}
	/* With default attributes these cannot fail on Linux; nothing to undo. */
	pthread_mutex_init(&st->ix_lock, NULL);
	pthread_cond_init(&st->ix_cond, NULL);
	pthread_cond_init(&st->ix_done, NULL);
	st->path = strdup(dir);
	if (st->path == NULL) {
		ret = TAL_ENOMEM;
		goto cleanup;
	}
	st->flags = rdonly ? TAL_STORE_RDONLY : 0;
	st->dev = dir_dev;
	st->ino = dir_ino;
	st->pid = getpid();
	ret = register_open(st);
	if (ret != 0) {
		goto cleanup;
	}
	registered = true;

	if (stat(data_path, &sb) != 0) {
		if (errno != ENOENT) {
			ret = tal_error_from_errno(errno);
			goto cleanup;
		}
		if (!create) {
			ret = TAL_ENODB;
			goto cleanup;
		}
		made_data = true;
	} else if (!S_ISREG(sb.st_mode)) {
		ret = TAL_EFOREIGN;
		goto cleanup;
	} else {
		ret = check_lmdb_file(data_path);
		if (ret != 0) {
			goto cleanup;
		}
	}
	if (lstat(lock_path, &sb) != 0) {
		if (errno != ENOENT) {
			ret = tal_error_from_errno(errno);
			goto cleanup;
		}
		made_lock = true;
	}

	ret = prealloc_lock(lock_path);
	if (ret != 0) {
		goto cleanup;
	}
	rc = mdb_env_create(&st->env);
	if (rc == 0) {
		rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS);
	}
	if (rc == 0) {
		rc = mdb_env_set_maxreaders(st->env, TAL_STORE_MAXREADERS);
	}
	if (rc == 0) {
		rc = mdb_env_set_mapsize(st->env, (size_t)map_size);
	}
	if (rc == 0) {
		rc = mdb_env_open(st->env, dir, MDB_NOTLS | (rdonly ? MDB_RDONLY : 0), 0644);
		if (rc == ENOMEM || rc == EINVAL) {
			/*
			 * mmap refused the address range: under valgrind or a
			 * tight `ulimit -v` the default reservation is too big.
			 */
			tal_log_err("open: %s: cannot map %llu MiB of address space; set "
			            "TALLOW_MAP_SIZE to less (e.g. 4G)",
			            dir, (unsigned long long)(map_size >> 20));
		}
	}
	if (rc != 0) {
		/* The magic was ours, so a page LMDB rejects is damage. */
		ret = rc == MDB_INVALID ? TAL_ECORRUPT : err_to_tal(rc);
		goto cleanup;
	}
	if (pthread_rwlock_init(&st->remap, NULL) != 0) {
		ret = TAL_ENOMEM;
		goto cleanup;
	}
	ret = open_dbs(st, create);
	if (ret != 0) {
		pthread_rwlock_destroy(&st->remap);
		goto cleanup;
	}
	int dead = 0;
	rc = mdb_reader_check(st->env, &dead);
	if (rc == 0 && dead > 0) {
		tal_log_info("open: %s: cleared %d stale reader slots", dir, dead);
	}
	*out = st;
	st = NULL;
	made_dir = made_data = made_lock = registered = false;
	ret = 0;
cleanup:
	if (st != NULL) {
		if (st->env != NULL) {
			mdb_env_close(st->env);
		}
		if (registered) {
			unregister_open(st);
		}
		free(st->path);
		free(st);
	}
	if (made_lock) {
		unlink(lock_path);
	}
	if (made_data) {
		unlink(data_path);
	}
	if (made_dir) {
		rmdir(dir);
	}
	free(data_path);
	free(lock_path);
	return ret;
}

static void index_stop(tal_store_t *st);

void tal_store_close(tal_store_t *st)
{
	if (st == NULL) {
		return;
	}
	index_stop(st);
	mdb_env_close(st->env);
	pthread_rwlock_destroy(&st->remap);
	unregister_open(st);
	free(st->path);
	free(st);
}

const char *tal_store_path(const tal_store_t *st)
{
	return st->path;
}

int tal_store_size(tal_store_t *st, uint64_t *file_bytes, uint64_t *used_bytes)
{
	MDB_envinfo info;
	MDB_stat ms;
	struct stat sb;
	int fd;

	int rc = mdb_env_get_fd(st->env, &fd);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	if (fstat(fd, &sb) != 0) {
		return tal_error_from_errno(errno);
	}
	rc = mdb_env_info(st->env, &info);
	if (rc == 0) {
		rc = mdb_env_stat(st->env, &ms);
	}
	if (rc != 0) {
		return err_to_tal(rc);
	}
	if (file_bytes != NULL) {
		*file_bytes = (uint64_t)sb.st_size;
	}
	if (used_bytes != NULL) {
		*used_bytes = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	}
	return 0;
}

/* Adopts a map grown by another process; only with no live txn here. */
static int remap(tal_store_t *st)
{
	if (pthread_rwlock_trywrlock(&st->remap) != 0) {
		return TAL_EAGAIN;
	}
	int rc = mdb_env_set_mapsize(st->env, 0);
	st->remap_gen++;
	pthread_rwlock_unlock(&st->remap);
	return err_to_tal(rc);
}

/*
 * Begins (*txn NULL) or renews (*txn a reset read txn) a transaction, with
 * one retry after clearing stale reader slots and one after a remap.  On
 * success the caller holds st->remap shared until the txn ends.
 */
static int txn_start(tal_store_t *st, unsigned mdb_flags, MDB_txn **txn)
{
	bool renew = *txn != NULL;
	bool checked = false, resized = false;

	for (;;) {
		pthread_rwlock_rdlock(&st->remap);
		int rc = renew ? mdb_txn_renew(*txn) : mdb_txn_begin(st->env, NULL, mdb_flags, txn);
		if (rc == 0) {
			return 0;
		}
		pthread_rwlock_unlock(&st->remap);
		if (!renew) {
			*txn = NULL;
		}
		if (rc == MDB_READERS_FULL && !checked) {
			int dead = 0;
			checked = true;
			if (mdb_reader_check(st->env, &dead) == 0 && dead > 0) {
				tal_log_info("txn: %s: cleared %d stale reader slots", st->path,
				             dead);
			}
			continue; /* a live process may have freed a slot meanwhile, too */
		}
		if (rc == MDB_MAP_RESIZED && !resized) {
			resized = true;
			int ret = remap(st);
			if (ret != 0) {
				return ret;
			}
			continue;
		}
		return err_to_tal(rc);
	}
}

int tal_txn_begin(tal_store_t *st, int mode, tal_txn_t **out)
{
	*out = NULL;
	if (mode != TAL_TXN_READ && mode != TAL_TXN_WRITE) {
		return TAL_EINVAL;
	}
	if (mode == TAL_TXN_WRITE && (st->flags & TAL_STORE_RDONLY)) {
		return TAL_ERDONLY;
	}
	tal_txn_t *txn = calloc(1, sizeof(*txn));
	if (txn == NULL) {
		return TAL_ENOMEM;
	}
	txn->st = st;
	txn->write = mode == TAL_TXN_WRITE;
	int ret = txn_start(st, txn->write ? 0 : MDB_RDONLY, &txn->txn);
	if (ret != 0) {
		free(txn);
		return ret;
	}
	*out = txn;
	return 0;
}

/* Closes the cursors still open on a txn that is about to end. */
static void txn_detach_cursors(tal_txn_t *txn)
{
	for (tal_cursor_t *c = txn->cursors; c != NULL; c = c->next) {
		mdb_cursor_close(c->cur);
		c->cur = NULL;
		c->txn = NULL;
	}
	txn->cursors = NULL;
}

int tal_txn_commit(tal_txn_t *txn)
{
	int ret;

	if (txn == NULL) {
		return TAL_EINVAL;
	}
	txn_detach_cursors(txn);
	if (txn->error != 0) {
		mdb_txn_abort(txn->txn);
		ret = txn->error;
	} else {
		ret = commit_err(txn->st->env, mdb_txn_commit(txn->txn));
	}
	pthread_rwlock_unlock(&txn->st->remap);
	free(txn);
	return ret;
}

void tal_txn_abort(tal_txn_t *txn)
{
	if (txn == NULL) {
		return;
	}
	txn_detach_cursors(txn);
	mdb_txn_abort(txn->txn);
	pthread_rwlock_unlock(&txn->st->remap);
	free(txn);
}

static bool key_ok(size_t keylen)
{
	return keylen >= 1 && keylen <= STORE_MAXKEY;
}

static bool db_ok(tal_db_t db)
{
	return (unsigned)db < STORE_NDBS;
}

/* Records the first failure of a write txn and returns it. */
static int txn_fail(tal_txn_t *txn, int ret)
{
	if (txn->error == 0) {
		txn->error = ret;
	}
	return ret;
}

int tal_txn_get(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen, tal_val_t *val)
{
	if (!db_ok(db)) {
		return TAL_EINVAL;
	}
	if (txn->error != 0) {
		return txn->error;
	}
	if (!key_ok(keylen)) {
		return TAL_ENOTFOUND; /* no such key can be stored */
	}
	MDB_val k = { keylen, (void *)key };
	MDB_val v;
	int rc = mdb_get(txn->txn, txn->st->dbi[db], &k, &v);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	val->data = v.mv_data;
	val->len = v.mv_size;
	return 0;
}

static int txn_write_check(tal_txn_t *txn, tal_db_t db, size_t keylen)
{
	if (!txn->write) {
		return TAL_ERDONLY;
	}
	if (txn->error != 0) {
		return txn->error;
	}
	if (!db_ok(db) || !key_ok(keylen)) {
		return txn_fail(txn, TAL_EINVAL);
	}
	return 0;
}

int tal_txn_put(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen, const uint8_t *val,
                size_t vallen, unsigned flags)
{
	int ret = txn_write_check(txn, db, keylen);
	if (ret != 0) {
		return ret;
	}
	unsigned mflags = (flags & TAL_PUT_APPEND) ? MDB_APPEND : 0;
	MDB_val k = { keylen, (void *)key };
	MDB_val v = { vallen, (void *)val };
	int rc = mdb_put(txn->txn, txn->st->dbi[db], &k, &v, mflags);
	if (rc == MDB_KEYEXIST) {
		return txn_fail(txn, TAL_EINVAL); /* TAL_PUT_APPEND out of order */
	}
	return rc == 0 ? 0 : txn_fail(txn, err_to_tal(rc));
}

int tal_txn_reserve(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen, size_t vallen,
                    uint8_t **dst)
{
	int ret = txn_write_check(txn, db, keylen);
	if (ret != 0) {
		return ret;
	}
	MDB_val k = { keylen, (void *)key };
	MDB_val v = { vallen, NULL };
	int rc = mdb_put(txn->txn, txn->st->dbi[db], &k, &v, MDB_RESERVE);
	if (rc != 0) {
		return txn_fail(txn, err_to_tal(rc));
	}
	*dst = v.mv_data;
	return 0;
}

int tal_txn_del(tal_txn_t *txn, tal_db_t db, const uint8_t *key, size_t keylen)
{
	if (!txn->write) {
		return TAL_ERDONLY;
	}
	if (txn->error != 0) {
		return txn->error;
	}
	if (!db_ok(db)) {
		return txn_fail(txn, TAL_EINVAL);
	}
	if (!key_ok(keylen)) {
		return TAL_ENOTFOUND;
	}
	MDB_val k = { keylen, (void *)key };
	int rc = mdb_del(txn->txn, txn->st->dbi[db], &k, NULL);
	if (rc == MDB_NOTFOUND) {
		return TAL_ENOTFOUND;
	}
	return rc == 0 ? 0 : txn_fail(txn, err_to_tal(rc));
}

/*
 * Cursors.
 */
int tal_cursor_open(tal_txn_t *txn, tal_db_t db, tal_cursor_t **out)
{
	*out = NULL;
	if (!db_ok(db)) {
		return TAL_EINVAL;
	}
	if (txn->error != 0) {
		return txn->error;
	}
	tal_cursor_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return TAL_ENOMEM;
	}
	int rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &c->cur);
	if (rc != 0) {
		free(c);
		return err_to_tal(rc);
	}
	c->txn = txn;
	c->next = txn->cursors;
	txn->cursors = c;
	*out = c;
	return 0;
}

void tal_cursor_close(tal_cursor_t *cur)
{
	if (cur == NULL) {
		return;
	}
	if (cur->txn != NULL) {
		tal_cursor_t **pp = &cur->txn->cursors;
		while (*pp != cur) {
			pp = &(*pp)->next;
		}
		*pp = cur->next;
		mdb_cursor_close(cur->cur);
	}
	free(cur);
}

static int cursor_get(tal_cursor_t *cur, MDB_val *k, MDB_cursor_op op, tal_val_t *ko, tal_val_t *vo)
{
	MDB_val v;

	if (cur->txn == NULL) {
		return TAL_EINVAL;
	}
	if (cur->txn->error != 0) {
		return cur->txn->error;
	}
	int rc = mdb_cursor_get(cur->cur, k, &v, op);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	if (ko != NULL) {
		ko->data = k->mv_data;
		ko->len = k->mv_size;
	}
	if (vo != NULL) {
		vo->data = v.mv_data;
		vo->len = v.mv_size;
	}
	return 0;
}

int tal_cursor_seek(tal_cursor_t *cur, const uint8_t *key, size_t keylen, tal_val_t *k,
                    tal_val_t *v)
{
	MDB_val mk = { keylen, (void *)key };
	return cursor_get(cur, &mk, keylen == 0 ? MDB_FIRST : MDB_SET_RANGE, k, v);
}

int tal_cursor_next(tal_cursor_t *cur, tal_val_t *k, tal_val_t *v)
{
	MDB_val mk = { 0, NULL };
	return cursor_get(cur, &mk, MDB_NEXT, k, v);
}

int tal_cursor_prev(tal_cursor_t *cur, tal_val_t *k, tal_val_t *v)
{
	MDB_val mk = { 0, NULL };
	return cursor_get(cur, &mk, MDB_PREV, k, v);
}

int tal_cursor_last(tal_cursor_t *cur, tal_val_t *k, tal_val_t *v)
{
	MDB_val mk = { 0, NULL };
	return cursor_get(cur, &mk, MDB_LAST, k, v);
}

int tal_cursor_del(tal_cursor_t *cur)
{
	if (cur->txn == NULL) {
		return TAL_EINVAL;
	}
	if (!cur->txn->write) {
		return TAL_ERDONLY;
	}
	if (cur->txn->error != 0) {
		return cur->txn->error;
	}
	int rc = mdb_cursor_del(cur->cur, 0);
	return rc == 0 ? 0 : txn_fail(cur->txn, err_to_tal(rc));
}

/*
 * Index.
 *
 * tal_store_index_start() starts a thread that keeps a hash index of the
 * nodes database (store/index.h) for the newest commit, so the server's
 * lookups skip the B-tree descent.  The index holds places in the map of
 * the snapshot it was built from, T.  A reader uses it only when its own
 * snapshot is T, in the same map (remap generation): then T is, or was
 * when the reader began, the newest commit, and the reader's snapshot
 * keeps every page of T from reuse until tal_reader_end -- the argument
 * of the zone table above.  A reader on any other snapshot asks for a new
 * build and takes the B-tree meanwhile, so a commit is served at once and
 * the index catches up in the background (a second at 1,000,000 names).
 *
 * Publication: the builder swaps st->index, then frees the old index once
 * no reader holds it.  Each reader announces the index it is about to use
 * in its hazard slot and checks that it is still published; the builder
 * swaps, then scans the slots (all sequentially consistent), so a reader
 * either announced the old index before the scan or sees the new one.
 */
static void snap_index_free(snap_index_t *si)
{
	if (si != NULL) {
		tal_index_free(si->ix);
		free(si);
	}
}

static void index_request(tal_store_t *st)
{
	pthread_mutex_lock(&st->ix_lock);
	atomic_store(&st->ix_want, true);
	pthread_cond_signal(&st->ix_cond);
	pthread_mutex_unlock(&st->ix_lock);
}

/* At tal_reader_begin: take the index if it describes this snapshot. */
static void index_acquire(tal_reader_t *rd)
{
	tal_store_t *st = rd->st;
	snap_index_t *si = atomic_load(&st->index);

	for (;;) {
		atomic_store(&rd->hazard, si);
		snap_index_t *now = atomic_load(&st->index);
		if (now == si) {
			break;
		}
		si = now;
	}
	size_t txnid = mdb_txn_id(rd->txn);
	if (si != NULL && si->txnid == txnid && si->gen == st->remap_gen) {
		rd->ix = si;
		return;
	}
	atomic_store_explicit(&rd->hazard, NULL, memory_order_release);
	/* A newer snapshot than any build so far: ask for one (once). */
	if (txnid > atomic_load(&st->ix_target) && !atomic_load(&st->ix_want)) {
		index_request(st);
	}
}

static bool index_in_use(tal_store_t *st, const snap_index_t *si)
{
	bool used = false;
	pthread_mutex_lock(&st->ix_lock);
	for (const tal_reader_t *rd = st->readers; rd != NULL && !used; rd = rd->next) {
		used = atomic_load(&rd->hazard) == si;
	}
	pthread_mutex_unlock(&st->ix_lock);
	return used;
}

static uint64_t index_seed(void)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
	}
	return seed;
}

/*
 * Every stored key, and every name with a stored key below it (a prefix of
 * a key ending at a label's end), into a new index.  Keys come in order,
 * so the names above a key that are not also above the previous key are
 * the new empty non-terminals (unless stored themselves: add_ent skips
 * those).  0 or an MDB_* / TAL_* code.
 */
static int index_fill(tal_store_t *st, MDB_txn *txn, tal_index_t **out)
{
	MDB_stat ms;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t prev[STORE_MAXKEY];
	size_t prevlen = 0;

	int rc = mdb_stat(txn, st->dbi[TAL_DB_NODES], &ms);
	if (rc != 0) {
		return rc;
	}
	tal_index_t *ix;
	int ret = tal_index_new(ms.ms_entries + ms.ms_entries / 16, index_seed(), &ix);
	if (ret != 0) {
		return ret;
	}
	*out = ix;
	rc = mdb_cursor_open(txn, st->dbi[TAL_DB_NODES], &cur);
	if (rc != 0) {
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;
		size_t common = 0;
		ret = tal_index_add(ix, key, k.mv_size, v.mv_data, v.mv_size);
		while (common < prevlen && common < k.mv_size && prev[common] == key[common]) {
			common++;
		}
		for (size_t i = common; ret == 0 && i + 1 < k.mv_size; i++) {
			if (key[i] == 0) {
				ret = tal_index_add_ent(ix, key, i + 1);
			}
		}
		if (ret != 0) {
			break;
		}
		prevlen = k.mv_size < sizeof(prev) ? k.mv_size : sizeof(prev);
		memcpy(prev, key, prevlen);
	}
	mdb_cursor_close(cur);
	if (ret != 0) {
		return ret;
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Builds an index of the newest commit and publishes it. */
static void index_build(tal_store_t *st)
{
	struct timespec t0, t1;
	tal_txn_t *txn;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ret = tal_txn_begin(st, TAL_TXN_READ, &txn);
	if (ret != 0) {
		tal_log_warnx("index: %s: %s; answering from the B-tree", st->path,
		              tal_strerror(ret));
		return;
	}
	size_t txnid = mdb_txn_id(txn->txn);
	unsigned gen = st->remap_gen; /* stable while the txn holds remap */
	atomic_store(&st->ix_target, txnid);
	snap_index_t *cur = atomic_load(&st->index);
	if (cur != NULL && cur->txnid == txnid && cur->gen == gen) {
		tal_txn_abort(txn);
		return;
	}
	snap_index_t *si = calloc(1, sizeof(*si));
	int rc = si == NULL ? TAL_ENOMEM : index_fill(st, txn->txn, &si->ix);
	tal_txn_abort(txn);
	if (rc != 0) {
		tal_log_warnx("index: %s: %s; answering from the B-tree", st->path,
		              tal_strerror(rc < 0 ? rc : err_to_tal(rc)));
		snap_index_free(si);
		return;
	}
	si->txnid = txnid;
	si->gen = gen;

	snap_index_t *old = atomic_exchange(&st->index, si);
	while (old != NULL && index_in_use(st, old)) {
		usleep(1000);
	}
	snap_index_free(old);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_mutex_lock(&st->ix_lock);
	tal_index_stats_t *s = &st->ix_stats;
	*s = (tal_index_stats_t){
		.builds = s->builds + 1,
		.names = tal_index_count(si->ix) - tal_index_ents(si->ix),
		.ents = tal_index_ents(si->ix),
		.bytes = tal_index_bytes(si->ix),
		.max_probe = tal_index_max_probe(si->ix),
		.txnid = txnid,
		.seconds =
		        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	};
	tal_log_info("index: %zu names (%zu empty non-terminals), %zu MiB, built in %.3f s "
	             "from transaction %zu",
	             s->names, s->ents, s->bytes >> 20, s->seconds, txnid);
	pthread_cond_broadcast(&st->ix_done);
	pthread_mutex_unlock(&st->ix_lock);
}

static void *index_main(void *arg)
{
	tal_store_t *st = arg;
	sigset_t all;

	/* Signals are the server's; the build yields the CPU to the workers. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);

	pthread_mutex_lock(&st->ix_lock);
	for (;;) {
		while (!atomic_load(&st->ix_want) && !st->ix_stop) {
			pthread_cond_wait(&st->ix_cond, &st->ix_lock);
		}
		if (st->ix_stop) {
			break;
		}
		atomic_store(&st->ix_want, false);
		pthread_mutex_unlock(&st->ix_lock);
		index_build(st);
		pthread_mutex_lock(&st->ix_lock);
	}
	pthread_mutex_unlock(&st->ix_lock);
	return NULL;
}

int tal_store_index_start(tal_store_t *st)
{
	if (st->indexing) {
		return 0;
	}
	atomic_store(&st->ix_want, true);
	int rc = pthread_create(&st->ix_thread, NULL, index_main, st);
	if (rc != 0) {
		atomic_store(&st->ix_want, false);
		return tal_error_from_errno(rc);
	}
	st->indexing = true;
	return 0;
}

static void index_stop(tal_store_t *st)
{
	if (st->indexing) {
		pthread_mutex_lock(&st->ix_lock);
		st->ix_stop = true;
		pthread_cond_signal(&st->ix_cond);
		pthread_mutex_unlock(&st->ix_lock);
		pthread_join(st->ix_thread, NULL);
		st->indexing = false;
	}
	snap_index_free(atomic_exchange(&st->index, NULL));
	pthread_cond_destroy(&st->ix_cond);
	pthread_cond_destroy(&st->ix_done);
	pthread_mutex_destroy(&st->ix_lock);
}

int tal_store_index_wait(tal_store_t *st, int timeout_ms)
{
	MDB_envinfo info;
	struct timespec until;

	if (!st->indexing) {
		return TAL_EINVAL;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int ret = 0;
	pthread_mutex_lock(&st->ix_lock);
	for (;;) {
		int rc = mdb_env_info(st->env, &info);
		if (rc != 0) {
			ret = err_to_tal(rc);
			break;
		}
		const snap_index_t *si = atomic_load(&st->index);
		if (si != NULL && si->txnid == info.me_last_txnid && si->gen == st->remap_gen) {
			break;
		}
		atomic_store(&st->ix_want, true);
		pthread_cond_signal(&st->ix_cond);
		if (pthread_cond_timedwait(&st->ix_done, &st->ix_lock, &until) == ETIMEDOUT) {
			ret = TAL_EAGAIN;
			break;
		}
	}
	pthread_mutex_unlock(&st->ix_lock);
	return ret;
}

void tal_store_index_stats(tal_store_t *st, tal_index_stats_t *out)
{
	pthread_mutex_lock(&st->ix_lock);
	*out = st->ix_stats;
	pthread_mutex_unlock(&st->ix_lock);
}

/*
 * Readers.
 */
int tal_reader_new(tal_store_t *st, tal_reader_t **out)
{
	int ret, rc;

	*out = NULL;
	tal_reader_t *rd = calloc(1, sizeof(*rd));
	if (rd == NULL) {
		return TAL_ENOMEM;
	}
	rd->st = st;
	ret = txn_start(st, MDB_RDONLY, &rd->txn);
	if (ret != 0) {
		free(rd);
		return ret;
	}
	rc = mdb_cursor_open(rd->txn, st->dbi[TAL_DB_NODES], &rd->nodes);
	if (rc == 0) {
		rc = mdb_cursor_open(rd->txn, st->dbi[TAL_DB_ZONES], &rd->zones);
	}
	mdb_txn_reset(rd->txn);
	pthread_rwlock_unlock(&st->remap);
	if (rc != 0) {
		tal_reader_free(rd);
		return err_to_tal(rc);
	}
	pthread_mutex_lock(&st->ix_lock);
	rd->next = st->readers;
	st->readers = rd;
	pthread_mutex_unlock(&st->ix_lock);
	*out = rd;
	return 0;
}

void tal_reader_free(tal_reader_t *rd)
{
	if (rd == NULL) {
		return;
	}
	if (rd->active) {
		tal_reader_end(rd);
	}
	pthread_mutex_lock(&rd->st->ix_lock);
	for (tal_reader_t **pp = &rd->st->readers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rd) {
			*pp = rd->next;
			break;
		}
	}
	pthread_mutex_unlock(&rd->st->ix_lock);
	if (rd->nodes != NULL) {
		mdb_cursor_close(rd->nodes);
	}
	if (rd->zones != NULL) {
		mdb_cursor_close(rd->zones);
	}
	mdb_txn_abort(rd->txn);
	free(rd);
}

int tal_reader_begin(tal_reader_t *rd)
{
	if (rd->active) {
		return TAL_EINVAL;
	}
	int ret = txn_start(rd->st, MDB_RDONLY, &rd->txn);
	if (ret != 0) {
		return ret;
	}
	/* The zones cursor is renewed only when the zone table must be rebuilt. */
	int rc = mdb_cursor_renew(rd->txn, rd->nodes);
	if (rc != 0) {
		mdb_txn_reset(rd->txn);
		pthread_rwlock_unlock(&rd->st->remap);
		return err_to_tal(rc);
	}
	rd->zones_renewed = false;
	if (rd->zc_valid &&
	    (rd->zc_txnid != mdb_txn_id(rd->txn) || rd->zc_gen != rd->st->remap_gen)) {
		rd->zc_valid = false;
	}
	rd->ix = NULL;
	if (rd->st->indexing) {
		index_acquire(rd);
	}
	rd->active = true;
	return 0;
}

void tal_reader_end(tal_reader_t *rd)
{
	if (!rd->active) {
		return;
	}
	if (rd->ix != NULL) {
		atomic_store_explicit(&rd->hazard, NULL, memory_order_release);
		rd->ix = NULL;
	}
	mdb_txn_reset(rd->txn);
	pthread_rwlock_unlock(&rd->st->remap);
	rd->active = false;
}

static int zones_renew(tal_reader_t *rd)
{
	if (rd->zones_renewed) {
		return 0;
	}
	int rc = mdb_cursor_renew(rd->txn, rd->zones);
	rd->zones_renewed = rc == 0;
	return rc;
}

/* Rebuilds the zone table from the current snapshot.  0 or an MDB_* code. */
static int zones_fill(tal_reader_t *rd)
{
	MDB_val k, v;
	int rc = zones_renew(rd);

	rd->zc_n = 0;
	rd->zc_overflow = false;
	if (rc == 0) {
		rc = mdb_cursor_get(rd->zones, &k, &v, MDB_FIRST);
	}
	while (rc == 0) {
		if (rd->zc_n == ZONE_CACHE_MAX) {
			rd->zc_overflow = true;
			break;
		}
		rd->zc[rd->zc_n++] = (zone_entry_t){ k.mv_data, k.mv_size, v.mv_data, v.mv_size };
		rc = mdb_cursor_get(rd->zones, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	rd->zc_txnid = mdb_txn_id(rd->txn);
	rd->zc_gen = rd->st->remap_gen;
	rd->zc_valid = true;
	return 0;
}

/* LMDB's default order of keys (mdb_cmp_memn): memcmp, then the shorter first. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0) {
		return c;
	}
	return alen < blen ? -1 : alen > blen;
}

/* The entry with the greatest apex key <= key, or NULL. */
static const zone_entry_t *zones_find(const tal_reader_t *rd, const uint8_t *key, size_t keylen)
{
	unsigned lo = 0, hi = rd->zc_n; /* entries [0, lo) are <= key, [hi, n) are > key */

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const zone_entry_t *z = &rd->zc[mid];
		if (key_cmp(z->key, z->keylen, key, keylen) <= 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo > 0 ? &rd->zc[lo - 1] : NULL;
}

static bool has_prefix(const MDB_val *k, const uint8_t *key, size_t keylen)
{
	return k->mv_size > keylen && memcmp(k->mv_data, key, keylen) == 0;
}

int tal_reader_lookup(tal_reader_t *rd, const uint8_t *key, size_t keylen, tal_lookup_t *out)
{
	MDB_val k = { keylen, (void *)key };
	MDB_val v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!rd->active) {
		return TAL_EINVAL;
	}

	/*
	 * The node or, when there is none, whether anything lies below it:
	 * from the index when it describes this snapshot, else from the tree,
	 * where the first key after `key` is a descendant's if any is.
	 */
	int found = TAL_INDEX_TREE;
	if (rd->ix != NULL && keylen > 0) {
		const uint8_t *val;
		size_t vlen;
		found = tal_index_find(rd->ix->ix, key, keylen, &val, &vlen);
		if (found == TAL_INDEX_NODE) {
			out->node.data = val;
			out->node.len = vlen;
		} else {
			out->has_children = found == TAL_INDEX_ENT;
		}
	}
	rc = 0;
	if (found == TAL_INDEX_TREE) {
		rc = mdb_cursor_get(rd->nodes, &k, &v, keylen == 0 ? MDB_FIRST : MDB_SET_RANGE);
		if (rc == 0) {
			if (k.mv_size == keylen && memcmp(k.mv_data, key, keylen) == 0) {
				out->node.data = v.mv_data;
				out->node.len = v.mv_size;
			} else {
				out->has_children = has_prefix(&k, key, keylen);
			}
		}
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return err_to_tal(rc);
	}

	/*
	 * The zone: the greatest apex key <= key.  Zones do not nest, so if
	 * any apex is a prefix of key it is that one: every key between a
	 * prefix of `key` and `key` itself starts with that prefix.
	 */
	if (keylen == 0) {
		return 0; /* the root cannot be an apex: keys are never empty */
	}
	if (!rd->zc_valid) {
		rc = zones_fill(rd);
		if (rc != 0) {
			return err_to_tal(rc);
		}
	}
	if (!rd->zc_overflow) {
		const zone_entry_t *z = zones_find(rd, key, keylen);
		if (z != NULL && tal_key_is_below(key, keylen, z->key, z->keylen)) {
			out->zone.data = z->val;
			out->zone.len = z->vallen;
			out->apex_keylen = z->keylen;
		}
		return 0;
	}
	rc = zones_renew(rd);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	k = (MDB_val){ keylen, (void *)key };
	rc = mdb_cursor_get(rd->zones, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && !(k.mv_size == keylen && memcmp(k.mv_data, key, keylen) == 0)) {
		rc = mdb_cursor_get(rd->zones, &k, &v, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(rd->zones, &k, &v, MDB_LAST);
	}
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc != 0) {
		return err_to_tal(rc);
	}
	if (tal_key_is_below(key, keylen, k.mv_data, k.mv_size)) {
		out->zone.data = v.mv_data;
		out->zone.len = v.mv_size;
		out->apex_keylen = k.mv_size;
	}
	return 0;
}

bool tal_reader_indexed(const tal_reader_t *rd)
{
	return rd->ix != NULL;
}

uint64_t tal_reader_prefetch(tal_reader_t *rd, const uint8_t *key, size_t keylen)
{
	if (rd->ix == NULL || keylen == 0) {
		return 0;
	}
	uint64_t h = tal_index_hash(rd->ix->ix, key, keylen);
	tal_index_prefetch(rd->ix->ix, h, 0);
	return h;
}

void tal_reader_prefetch_node(tal_reader_t *rd, uint64_t token)
{
	if (rd->ix != NULL) {
		tal_index_prefetch(rd->ix->ix, token, 1);
	}
}

int tal_reader_get(tal_reader_t *rd, tal_db_t db, const uint8_t *key, size_t keylen, tal_val_t *val)
{
	if (!rd->active || !db_ok(db)) {
		return TAL_EINVAL;
	}
	if (!key_ok(keylen)) {
		return TAL_ENOTFOUND;
	}
	MDB_val k = { keylen, (void *)key };
	MDB_val v;
	int rc = mdb_get(rd->txn, rd->st->dbi[db], &k, &v);
	if (rc != 0) {
		return err_to_tal(rc);
	}
	val->data = v.mv_data;
	val->len = v.mv_size;
	return 0;
}

int tal_reader_snapshot(tal_store_t *st, tal_txn_t **out)
{
	return tal_txn_begin(st, TAL_TXN_READ, out);
}
