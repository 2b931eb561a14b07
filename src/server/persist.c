/* divan-server's persistence on LMDB; see persist.h. */
#include "server/persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/endian.h"
#include "base/errmsg.h"
#include "base/log.h"

/* The map is address space, not memory or disk: LMDB's file grows as pages are written. */
#define MAP_SIZE ((size_t)256 << 30)

/* ---- Records ------------------------------------------------------------------------------ */

dv_error dv_persist_key_encode(uint16_t vb, const dv_item *it, dv_buf *out)
{
    uint8_t *p = dv_buf_reserve(out, DV_PERSIST_KEY_HEADER + it->nkey);
    if (!p) return DV_ERR_NO_MEMORY;
    dv_store_be16(p, vb);
    dv_store_be32(p + 2, it->cid);
    memcpy(p + DV_PERSIST_KEY_HEADER, dv_item_key(it), it->nkey);
    dv_buf_commit(out, DV_PERSIST_KEY_HEADER + it->nkey);
    return DV_ERR_OK;
}

dv_error dv_persist_record_encode(const dv_item *it, dv_buf *out)
{
    size_t n = DV_PERSIST_RECORD_HEADER + (size_t)it->nxattr + it->nvalue;
    uint8_t *p = dv_buf_reserve(out, n);
    if (!p) return DV_ERR_NO_MEMORY;
    p[0] = DV_PERSIST_FORMAT;
    p[1] = it->deleted ? 1 : 0;
    p[2] = it->datatype;
    p[3] = 0;
    dv_store_be32(p + 4, it->flags);
    dv_store_be32(p + 8, it->exptime);
    dv_store_be64(p + 12, it->cas);
    dv_store_be64(p + 20, it->seqno);
    dv_store_be64(p + 28, it->revid);
    dv_store_be32(p + 36, it->nxattr);
    memcpy(p + DV_PERSIST_RECORD_HEADER, dv_item_xattr(it), it->nxattr);
    memcpy(p + DV_PERSIST_RECORD_HEADER + it->nxattr, dv_item_value(it), it->nvalue);
    dv_buf_commit(out, n);
    return DV_ERR_OK;
}

dv_item *dv_persist_record_decode(const void *key, size_t nkey, const void *rec, size_t nrec,
                                  uint16_t *vb, const char **why)
{
    const uint8_t *k = key, *r = rec;
    *why = NULL;
    if (nkey <= DV_PERSIST_KEY_HEADER || nkey - DV_PERSIST_KEY_HEADER > 250) {
        *why = "bad key length";
        return NULL;
    }
    if (nrec < DV_PERSIST_RECORD_HEADER) {
        *why = "record too short";
        return NULL;
    }
    if (r[0] != DV_PERSIST_FORMAT) {
        *why = "unknown record version";
        return NULL;
    }
    if ((r[1] & ~1u) || r[3]) {
        *why = "unknown record bits";
        return NULL;
    }
    uint32_t nxattr = dv_load_be32(r + 36);
    size_t body = nrec - DV_PERSIST_RECORD_HEADER;
    if (nxattr > body || (nxattr && nxattr < 4)) {
        *why = "bad xattr length";
        return NULL;
    }
    /* The xattr blob starts with its own length (store.h): it must agree. */
    if (nxattr && dv_load_be32(r + DV_PERSIST_RECORD_HEADER) != nxattr - 4) {
        *why = "bad xattr blob";
        return NULL;
    }
    size_t nvalue = body - nxattr;
    if (nvalue > UINT32_MAX) {
        *why = "value too long";
        return NULL;
    }
    dv_item *it =
        dv_item_new(dv_load_be32(k + 2), k + DV_PERSIST_KEY_HEADER,
                    (uint32_t)(nkey - DV_PERSIST_KEY_HEADER), r + DV_PERSIST_RECORD_HEADER, nxattr,
                    r + DV_PERSIST_RECORD_HEADER + nxattr, (uint32_t)nvalue);
    if (!it) {
        *why = "out of memory";
        return NULL;
    }
    it->deleted = r[1] & 1;
    it->datatype = r[2];
    it->flags = dv_load_be32(r + 4);
    it->exptime = dv_load_be32(r + 8);
    it->cas = dv_load_be64(r + 12);
    it->seqno = dv_load_be64(r + 20);
    it->revid = dv_load_be64(r + 28);
    *vb = dv_load_be16(k);
    return it;
}

/* ---- Environments ------------------------------------------------------------------------- */

typedef struct taken {
    dv_item **items;
    size_t n;
    uint64_t high; /* the queue's highest seqno */
    uint64_t last_cas;
} taken;

struct dv_persist {
    char *dir;
    int lockfd;
    MDB_env *env;
    MDB_dbi docs, vbstate, meta;
    dv_store *store;
    uint32_t flush_ms;
    int was_clean;

    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t kick_cv, done_cv;
    int kick, stop, closed;
    atomic_uint_fast64_t started; /* commits begun */
    uint64_t done;                /* commits attempted; under mu */
    int last_ok;                  /* the last attempt committed (or had nothing to write) */
    int failing;                  /* the writer's: commits fail since the last success */

    atomic_uint_fast64_t commits, failures, written;
    taken *tk; /* per vbucket, the writer's */
    dv_buf kbuf, vbuf;
};

static dv_error mdb_fail(char *errbuf, size_t errlen, const char *dir, const char *what, int rc)
{
    return dv_errmsg(errbuf, errlen, DV_ERR_INTERNAL_SERVER_FAILURE, "%s: %s: %s", dir, what,
                     mdb_strerror(rc));
}

int dv_persist_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* 1 if dir holds a file other than LMDB's and our lock file. */
static int has_foreign_files(const char *dir, int *has_data)
{
    DIR *d = opendir(dir);
    *has_data = 0;
    if (!d) return 0;
    int foreign = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strcmp(e->d_name, "data.mdb"))
            *has_data = 1;
        else if (strcmp(e->d_name, "lock.mdb") && strcmp(e->d_name, "LOCK"))
            foreign = 1;
    }
    closedir(d);
    return foreign;
}

static void free_struct(dv_persist *p)
{
    if (p->lockfd >= 0) close(p->lockfd);
    dv_buf_free(&p->kbuf);
    dv_buf_free(&p->vbuf);
    dv_free(p->tk);
    dv_free(p->dir);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->kick_cv);
    pthread_cond_destroy(&p->done_cv);
    dv_free(p);
}

dv_error dv_persist_open(const char *dir, dv_persist **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (dv_persist_mkdirs(dir) != 0)
        return dv_errmsg(errbuf, errlen, DV_ERR_INTERNAL_SERVER_FAILURE,
                         "%s: cannot create the directory: %s", dir, strerror(errno));
    int has_data;
    if (has_foreign_files(dir, &has_data) && !has_data)
        return dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                         "%s: not a divan data directory (it holds other files)", dir);
    dv_persist *p = dv_calloc(1, sizeof *p);
    if (!p) return DV_ERR_NO_MEMORY;
    p->lockfd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->kick_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->done_cv, NULL);
    dv_buf_init(&p->kbuf);
    dv_buf_init(&p->vbuf);
    p->last_ok = 1;
    p->dir = dv_strdup(dir);
    if (!p->dir) {
        free_struct(p);
        return DV_ERR_NO_MEMORY;
    }
    dv_error err;
    char path[4200];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    p->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->lockfd < 0) {
        err = dv_errmsg(errbuf, errlen, DV_ERR_INTERNAL_SERVER_FAILURE, "%s: %s", path,
                        strerror(errno));
        free_struct(p);
        return err;
    }
    if (flock(p->lockfd, LOCK_EX | LOCK_NB) != 0) {
        err = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                        "%s: in use by another divan-server", dir);
        free_struct(p);
        return err;
    }
    /* Address space may be scarcer than MAP_SIZE (a ulimit -v, valgrind): halve until the map
     * fits, down to 1 GiB. */
    int rc;
    size_t map = MAP_SIZE;
    for (;;) {
        rc = mdb_env_create(&p->env);
        if (rc == 0) rc = mdb_env_set_maxdbs(p->env, 4);
        if (rc == 0) rc = mdb_env_set_mapsize(p->env, map);
        if (rc == 0) rc = mdb_env_open(p->env, dir, MDB_NOTLS, 0600);
        if ((rc != ENOMEM && rc != EINVAL) || map <= ((size_t)1 << 30)) break;
        mdb_env_close(p->env);
        p->env = NULL;
        map /= 2;
    }
    if (rc != 0) {
        err = rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED
                  ? (dv_error)dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                                        "%s: data.mdb is corrupt or not an LMDB file (%s)", dir,
                                        mdb_strerror(rc))
                  : mdb_fail(errbuf, errlen, dir, "cannot open the data", rc);
        if (p->env) mdb_env_close(p->env);
        p->env = NULL;
        free_struct(p);
        return err;
    }
    /* The tables; a new environment (no tables at all) gets them and the format. */
    MDB_txn *txn;
    rc = mdb_txn_begin(p->env, NULL, 0, &txn);
    if (rc != 0) {
        err = mdb_fail(errbuf, errlen, dir, "cannot start a transaction", rc);
        goto fail_env;
    }
    MDB_dbi main;
    MDB_stat st;
    rc = mdb_dbi_open(txn, NULL, 0, &main);
    if (rc == 0) rc = mdb_stat(txn, main, &st);
    if (rc != 0) {
        mdb_txn_abort(txn);
        err = mdb_fail(errbuf, errlen, dir, "cannot read the data", rc);
        goto fail_env;
    }
    int fresh = st.ms_entries == 0;
    unsigned flags = fresh ? MDB_CREATE : 0;
    rc = mdb_dbi_open(txn, "meta", flags, &p->meta);
    if (rc == 0) rc = mdb_dbi_open(txn, "docs", flags, &p->docs);
    if (rc == 0) rc = mdb_dbi_open(txn, "vbstate", flags, &p->vbstate);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
        mdb_txn_abort(txn);
        err = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                        "%s: an LMDB environment that is not divan's", dir);
        goto fail_env;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        err = mdb_fail(errbuf, errlen, dir, "cannot open the tables", rc);
        goto fail_env;
    }
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, p->meta, &k, &v);
    if (fresh) {
        uint8_t f[4];
        dv_store_be32(f, DV_PERSIST_FORMAT);
        v.mv_size = 4;
        v.mv_data = f;
        rc = mdb_put(txn, p->meta, &k, &v, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc != 0) {
            err = mdb_fail(errbuf, errlen, dir, "cannot initialise the data", rc);
            goto fail_env;
        }
        p->was_clean = 1;
    } else {
        if (rc != 0 || v.mv_size != 4) {
            mdb_txn_abort(txn);
            err = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                            "%s: an LMDB environment that is not divan's (no format)", dir);
            goto fail_env;
        }
        uint32_t format = dv_load_be32(v.mv_data);
        if (format != DV_PERSIST_FORMAT) {
            mdb_txn_abort(txn);
            err = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT,
                            "%s: data format %u, this divan-server reads format %u%s", dir, format,
                            DV_PERSIST_FORMAT,
                            format > DV_PERSIST_FORMAT ? " (written by a newer divan-server)" : "");
            goto fail_env;
        }
        MDB_val ck = {5, "clean"}, cv;
        p->was_clean = mdb_get(txn, p->meta, &ck, &cv) == 0 && cv.mv_size == 1 &&
                       ((const uint8_t *)cv.mv_data)[0] == 1;
        /* Committed (it changes nothing) so that the table handles stay open. */
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            err = mdb_fail(errbuf, errlen, dir, "cannot open the tables", rc);
            goto fail_env;
        }
    }
    *out = p;
    return DV_ERR_OK;
fail_env:
    mdb_env_close(p->env);
    p->env = NULL;
    free_struct(p);
    return err;
}

dv_error dv_persist_meta_get(dv_persist *p, const char *name, dv_buf *out)
{
    if (!p->env) return DV_ERR_DOCUMENT_NOT_FOUND;
    MDB_txn *txn;
    if (mdb_txn_begin(p->env, NULL, MDB_RDONLY, &txn) != 0) return DV_ERR_INTERNAL_SERVER_FAILURE;
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, p->meta, &k, &v);
    dv_error err = DV_ERR_OK;
    if (rc == MDB_NOTFOUND)
        err = DV_ERR_DOCUMENT_NOT_FOUND;
    else if (rc != 0)
        err = DV_ERR_INTERNAL_SERVER_FAILURE;
    else if (dv_buf_append(out, v.mv_data, v.mv_size) != 0)
        err = DV_ERR_NO_MEMORY;
    mdb_txn_abort(txn);
    return err;
}

dv_error dv_persist_meta_put(dv_persist *p, const char *name, const void *data, size_t len)
{
    if (!p->env) return DV_ERR_TEMPORARY_FAILURE;
    MDB_txn *txn;
    int rc = mdb_txn_begin(p->env, NULL, 0, &txn);
    if (rc == 0) {
        MDB_val k = {strlen(name), (void *)name}, v = {len, (void *)data};
        rc = mdb_put(txn, p->meta, &k, &v, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        dv_log(DV_LOG_WARN, "persist", "%s: cannot write %s: %s", p->dir, name, mdb_strerror(rc));
        return DV_ERR_TEMPORARY_FAILURE;
    }
    return DV_ERR_OK;
}

static int put_meta_byte(MDB_txn *txn, MDB_dbi dbi, const char *name, uint8_t b)
{
    MDB_val k = {strlen(name), (void *)name}, v = {1, &b};
    return mdb_put(txn, dbi, &k, &v, 0);
}

static int put_vbstate(dv_persist *p, MDB_txn *txn, uint16_t vb, uint64_t uuid, uint64_t high,
                       uint64_t last_cas)
{
    uint8_t kb[2], vbuf[24];
    dv_store_be16(kb, vb);
    dv_store_be64(vbuf, uuid);
    dv_store_be64(vbuf + 8, high);
    dv_store_be64(vbuf + 16, last_cas);
    MDB_val k = {2, kb}, v = {24, vbuf};
    return mdb_put(txn, p->vbstate, &k, &v, 0);
}

/* ---- The writer --------------------------------------------------------------------------- */

/* One commit window: take every queue, write, commit. Returns 1 if the data is on disk (or
 * there was nothing to write), 0 on failure (the queues are back in the store). */
static int cycle(dv_persist *p)
{
    unsigned nvb = dv_store_nvb(p->store);
    MDB_txn *txn = NULL;
    int rc = 0;
    size_t total = 0;
    for (unsigned i = 0; i < nvb; i++) {
        p->tk[i].n = 0;
        p->tk[i].items = NULL;
        if (!dv_vbucket_queued(dv_store_vbucket(p->store, (uint16_t)i))) continue;
        dv_vbucket *vb = dv_store_lock(p->store, (uint16_t)i);
        p->tk[i].high = dv_vbucket_take_queue(vb, &p->tk[i].items, &p->tk[i].n);
        p->tk[i].last_cas = dv_vbucket_last_cas(vb);
        uint64_t uuid = dv_vbucket_uuid(vb);
        dv_vbucket_unlock(vb);
        if (!p->tk[i].n) continue;
        if (!txn && (rc = mdb_txn_begin(p->env, NULL, 0, &txn)) != 0) {
            txn = NULL;
            break;
        }
        uint64_t high = p->tk[i].high;
        for (size_t j = 0; j < p->tk[i].n && rc == 0; j++) {
            const dv_item *it = p->tk[i].items[j];
            dv_buf_reset(&p->kbuf);
            if (dv_persist_key_encode((uint16_t)i, it, &p->kbuf) != DV_ERR_OK) {
                rc = ENOMEM;
                break;
            }
            MDB_val k = {dv_buf_size(&p->kbuf), (void *)dv_buf_head(&p->kbuf)};
            if (it->deleted == DV_ITEM_PURGED) {
                rc = mdb_del(txn, p->docs, &k, NULL);
                if (rc == MDB_NOTFOUND) rc = 0;
                continue;
            }
            /* The record goes straight into LMDB's page (MDB_RESERVE): one copy. */
            MDB_val v = {DV_PERSIST_RECORD_HEADER + (size_t)it->nxattr + it->nvalue, NULL};
            rc = mdb_put(txn, p->docs, &k, &v, MDB_RESERVE);
            if (rc == 0) {
                dv_buf_reset(&p->vbuf);
                if (dv_persist_record_encode(it, &p->vbuf) != DV_ERR_OK) {
                    rc = ENOMEM;
                    break;
                }
                memcpy(v.mv_data, dv_buf_head(&p->vbuf), v.mv_size);
            }
        }
        total += p->tk[i].n;
        if (rc == 0 && high) rc = put_vbstate(p, txn, (uint16_t)i, uuid, high, p->tk[i].last_cas);
        if (rc != 0) {
            i++; /* this vbucket's queue is taken too */
            for (unsigned r = i; r < nvb; r++) p->tk[r].n = 0;
            break;
        }
    }
    if (txn && rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn) mdb_txn_abort(txn);
    if (rc != 0) {
        for (unsigned i = 0; i < nvb; i++) {
            if (!p->tk[i].items) continue;
            dv_vbucket *vb = dv_store_lock(p->store, (uint16_t)i);
            dv_vbucket_requeue(vb, p->tk[i].items, p->tk[i].n);
            dv_vbucket_unlock(vb);
            p->tk[i].items = NULL;
        }
        atomic_fetch_add(&p->failures, 1);
        if (!p->failing) {
            /* Once per failing spell: the writer retries every window (and for every durable
             * write), and says when commits succeed again. */
            struct statvfs fs;
            int full = statvfs(p->dir, &fs) == 0 && fs.f_bavail == 0;
            dv_log(DV_LOG_WARN, "persist",
                   "%s: commit failed, writes stay in memory and are retried: %s%s", p->dir,
                   rc == ENOMEM ? "out of memory" : mdb_strerror(rc),
                   full ? " (the file system is full)" : "");
            p->failing = 1;
        }
        return 0;
    }
    for (unsigned i = 0; i < nvb; i++) {
        if (!p->tk[i].items) continue;
        for (size_t j = 0; j < p->tk[i].n; j++) dv_item_release(p->tk[i].items[j]);
        dv_free(p->tk[i].items);
        p->tk[i].items = NULL;
        if (p->tk[i].high)
            dv_vbucket_set_persisted_seqno(dv_store_vbucket(p->store, (uint16_t)i), p->tk[i].high);
    }
    if (p->failing && total) {
        dv_log(DV_LOG_WARN, "persist", "%s: commits succeed again", p->dir);
        p->failing = 0;
    }
    if (total) {
        atomic_fetch_add(&p->commits, 1);
        atomic_fetch_add(&p->written, total);
    }
    return 1;
}

static void *writer_main(void *arg)
{
    dv_persist *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (!p->kick && !p->stop) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)p->flush_ms * 1000000u;
            until.tv_sec += (time_t)(ns / 1000000000u);
            until.tv_nsec = (long)(ns % 1000000000u);
            while (!p->kick && !p->stop &&
                   pthread_cond_timedwait(&p->kick_cv, &p->mu, &until) != ETIMEDOUT) {
            }
        }
        int stopping = p->stop;
        p->kick = 0;
        pthread_mutex_unlock(&p->mu);
        uint64_t gen = atomic_fetch_add(&p->started, 1) + 1;
        int ok = cycle(p);
        pthread_mutex_lock(&p->mu);
        p->done = gen;
        p->last_ok = ok;
        pthread_cond_broadcast(&p->done_cv);
        if (stopping) break;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

uint64_t dv_persist_ticket(dv_persist *p)
{
    return atomic_load(&p->started) + 1;
}

void dv_persist_wait(dv_persist *p, uint64_t ticket)
{
    pthread_mutex_lock(&p->mu);
    while (p->done < ticket && p->running && !p->closed) {
        if (!p->kick) {
            p->kick = 1;
            pthread_cond_signal(&p->kick_cv);
        }
        pthread_cond_wait(&p->done_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void dv_persist_kick(dv_persist *p)
{
    pthread_mutex_lock(&p->mu);
    if (!p->kick) {
        p->kick = 1;
        pthread_cond_signal(&p->kick_cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void dv_persist_stats_get(dv_persist *p, dv_persist_stats *out)
{
    out->commits = atomic_load(&p->commits);
    out->failures = atomic_load(&p->failures);
    out->written = atomic_load(&p->written);
    out->queued = 0;
    if (p->store)
        for (unsigned i = 0; i < dv_store_nvb(p->store); i++)
            out->queued += dv_vbucket_queued(dv_store_vbucket(p->store, (uint16_t)i));
}

/* ---- Recovery ----------------------------------------------------------------------------- */

static uint64_t random_uuid(void)
{
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
        x = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    return x | 1;
}

dv_error dv_persist_attach(dv_persist *p, dv_store *store, uint32_t flush_ms, uint32_t now,
                           int (*keep)(void *ud, uint32_t cid), void *ud, char *errbuf,
                           size_t errlen)
{
    unsigned nvb = dv_store_nvb(store);
    p->tk = dv_calloc(nvb, sizeof *p->tk);
    if (!p->tk) return DV_ERR_NO_MEMORY;
    p->store = store;
    p->flush_ms = flush_ms ? flush_ms : DV_PERSIST_DEFAULT_FLUSH_MS;
    MDB_txn *txn;
    int rc = mdb_txn_begin(p->env, NULL, 0, &txn);
    if (rc != 0) return mdb_fail(errbuf, errlen, p->dir, "cannot start a transaction", rc);
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, p->docs, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(errbuf, errlen, p->dir, "cannot read the documents", rc);
    }
    MDB_val k, v;
    uint64_t loaded = 0, dropped = 0;
    dv_error err = DV_ERR_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint16_t vbid;
        const char *why;
        dv_item *it =
            dv_persist_record_decode(k.mv_data, k.mv_size, v.mv_data, v.mv_size, &vbid, &why);
        if (!it || vbid >= nvb) {
            dv_item_release(it);
            err = dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "%s: a corrupt record: %s",
                            p->dir, it ? "vbucket out of range" : why);
            break;
        }
        int expired = !it->deleted && it->exptime && it->exptime <= now;
        if (expired || (keep && !keep(ud, it->cid))) {
            dv_item_release(it);
            rc = mdb_cursor_del(cur, 0);
            if (rc != 0) break;
            dropped++;
            continue;
        }
        dv_vbucket *vb = dv_store_lock(store, vbid);
        dv_vbucket_restore(vb, it);
        dv_vbucket_unlock(vb);
        loaded++;
    }
    mdb_cursor_close(cur);
    if (err == DV_ERR_OK && rc != MDB_NOTFOUND)
        err = mdb_fail(errbuf, errlen, p->dir, "cannot read the documents", rc);
    if (err != DV_ERR_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    /* The vbucket states; after an unclean stop, new uuids (the store's are fresh). */
    rc = 0;
    for (unsigned i = 0; i < nvb && rc == 0; i++) {
        uint8_t kb[2];
        dv_store_be16(kb, (uint16_t)i);
        MDB_val sk = {2, kb}, sv;
        uint64_t uuid = 0, high = 0, cas = 0;
        if (mdb_get(txn, p->vbstate, &sk, &sv) == 0 && sv.mv_size == 24) {
            uuid = dv_load_be64(sv.mv_data);
            high = dv_load_be64((const uint8_t *)sv.mv_data + 8);
            cas = dv_load_be64((const uint8_t *)sv.mv_data + 16);
        }
        if (!p->was_clean) uuid = random_uuid();
        dv_vbucket *vb = dv_store_lock(store, (uint16_t)i);
        dv_vbucket_restore_state(vb, uuid, high, cas);
        rc = put_vbstate(p, txn, (uint16_t)i, dv_vbucket_uuid(vb), dv_vbucket_high_seqno(vb),
                         dv_vbucket_last_cas(vb));
        dv_vbucket_unlock(vb);
    }
    if (rc == 0) rc = put_meta_byte(txn, p->meta, "clean", 0);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0) return mdb_fail(errbuf, errlen, p->dir, "cannot write at start", rc);
    dv_log(DV_LOG_INFO, "persist", "%s: %llu documents loaded, %llu expired or dropped%s", p->dir,
           (unsigned long long)loaded, (unsigned long long)dropped,
           p->was_clean ? "" : "; unclean stop before: new vbucket uuids");
    dv_store_track(store);
    if (pthread_create(&p->thread, NULL, writer_main, p) != 0)
        return dv_errmsg(errbuf, errlen, DV_ERR_INTERNAL_SERVER_FAILURE,
                         "cannot start the writer thread");
    p->running = 1;
    return DV_ERR_OK;
}

/* ---- Closing ------------------------------------------------------------------------------ */

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "LOCK"};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0)
        dv_log(DV_LOG_WARN, "persist", "%s: cannot remove: %s", dir, strerror(errno));
}

void dv_persist_close(dv_persist *p, int remove)
{
    if (!p || p->closed) return;
    int ok = 1;
    if (p->running) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->kick_cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        ok = p->last_ok;
    }
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    p->running = 0;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    if (p->env) {
        if (!remove && ok && p->store) {
            MDB_txn *txn;
            if (mdb_txn_begin(p->env, NULL, 0, &txn) == 0) {
                if (put_meta_byte(txn, p->meta, "clean", 1) == 0)
                    mdb_txn_commit(txn);
                else
                    mdb_txn_abort(txn);
            }
        }
        mdb_env_close(p->env);
        p->env = NULL;
    }
    if (remove) remove_dir(p->dir);
}

void dv_persist_free(dv_persist *p)
{
    if (!p) return;
    dv_persist_close(p, 0);
    free_struct(p);
}
