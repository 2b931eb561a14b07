/* divan-server's persistence (server/persist.h): the record codec, and a store written to an
 * LMDB environment and recovered from it, after a clean and after an unclean stop. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/endian.h"
#include "server/persist.h"

static dv_item *doc(uint32_t cid, const char *key, const char *xattr, size_t nxattr,
                    const char *value)
{
    dv_item *it = dv_item_new(cid, key, (uint32_t)strlen(key), xattr, (uint32_t)nxattr, value,
                              (uint32_t)strlen(value));
    assert_non_null(it);
    return it;
}

/* An xattr blob: its be32 length, then one pair "a" -> "{}" with its own be32 length. */
static const char XATTR[] = "\0\0\0\x0c\0\0\0\x08"
                            "a\0{}\0\0\0";
#define NXATTR 16

static void record_round_trip(void **state)
{
    (void)state;
    dv_item *it = doc(9, "key1", XATTR, NXATTR, "{\"v\":1}");
    it->flags = 0x01020304;
    it->exptime = 1900000000;
    it->cas = 0x1122334455667788ull;
    it->seqno = 42;
    it->revid = 7;
    it->datatype = 1;
    dv_buf k, v;
    dv_buf_init(&k);
    dv_buf_init(&v);
    assert_int_equal(dv_persist_key_encode(300, it, &k), DV_ERR_OK);
    assert_int_equal(dv_persist_record_encode(it, &v), DV_ERR_OK);
    tu_assert_hex(dv_buf_head(&k), dv_buf_size(&k), "01 2c 00 00 00 09 6b 65 79 31");
    assert_int_equal(dv_buf_size(&v), DV_PERSIST_RECORD_HEADER + NXATTR + 7);
    tu_assert_hex(dv_buf_head(&v), DV_PERSIST_RECORD_HEADER,
                  "01 00 01 00  01 02 03 04  71 3f b3 00  11 22 33 44 55 66 77 88"
                  "00 00 00 00 00 00 00 2a  00 00 00 00 00 00 00 07  00 00 00 10");
    uint16_t vb = 0;
    const char *why;
    dv_item *back = dv_persist_record_decode(dv_buf_head(&k), dv_buf_size(&k), dv_buf_head(&v),
                                             dv_buf_size(&v), &vb, &why);
    assert_non_null(back);
    assert_int_equal(vb, 300);
    assert_int_equal(back->cid, 9);
    assert_int_equal(back->nkey, 4);
    assert_memory_equal(dv_item_key(back), "key1", 4);
    assert_int_equal(back->nxattr, NXATTR);
    assert_memory_equal(dv_item_xattr(back), XATTR, NXATTR);
    assert_int_equal(back->nvalue, 7);
    assert_memory_equal(dv_item_value(back), "{\"v\":1}", 7);
    assert_int_equal(back->flags, it->flags);
    assert_int_equal(back->exptime, it->exptime);
    assert_true(back->cas == it->cas);
    assert_int_equal(back->seqno, 42);
    assert_int_equal(back->revid, 7);
    assert_int_equal(back->datatype, 1);
    assert_int_equal(back->deleted, 0);
    dv_item_release(back);

    /* A tombstone that keeps its xattrs. */
    it->deleted = 1;
    dv_buf_reset(&v);
    assert_int_equal(dv_persist_record_encode(it, &v), DV_ERR_OK);
    back = dv_persist_record_decode(dv_buf_head(&k), dv_buf_size(&k), dv_buf_head(&v),
                                    dv_buf_size(&v), &vb, &why);
    assert_non_null(back);
    assert_int_equal(back->deleted, 1);
    assert_int_equal(back->nxattr, NXATTR);
    dv_item_release(back);
    dv_item_release(it);
    dv_buf_free(&k);
    dv_buf_free(&v);
}

static void record_rejects_malformed(void **state)
{
    (void)state;
    uint8_t key[10] = {0, 1, 0, 0, 0, 0, 'a', 'b', 'c', 'd'};
    uint8_t rec[DV_PERSIST_RECORD_HEADER + 8] = {0};
    rec[0] = DV_PERSIST_FORMAT;
    uint16_t vb;
    const char *why;
    dv_item *it = dv_persist_record_decode(key, sizeof key, rec, sizeof rec, &vb, &why);
    assert_non_null(it);
    assert_int_equal(it->nvalue, 8);
    dv_item_release(it);
    assert_null(dv_persist_record_decode(key, 6, rec, sizeof rec, &vb, &why));
    assert_string_equal(why, "bad key length");
    assert_null(dv_persist_record_decode(key, sizeof key, rec, 39, &vb, &why));
    assert_string_equal(why, "record too short");
    rec[0] = 9;
    assert_null(dv_persist_record_decode(key, sizeof key, rec, sizeof rec, &vb, &why));
    assert_string_equal(why, "unknown record version");
    rec[0] = DV_PERSIST_FORMAT;
    rec[1] = 2;
    assert_null(dv_persist_record_decode(key, sizeof key, rec, sizeof rec, &vb, &why));
    rec[1] = 0;
    dv_store_be32(rec + 36, 9); /* more xattr bytes than there are */
    assert_null(dv_persist_record_decode(key, sizeof key, rec, sizeof rec, &vb, &why));
    assert_string_equal(why, "bad xattr length");
    dv_store_be32(rec + 36, 8); /* a blob whose own length disagrees */
    assert_null(dv_persist_record_decode(key, sizeof key, rec, sizeof rec, &vb, &why));
    assert_string_equal(why, "bad xattr blob");
}

static char *temp_dir(void)
{
    char *d = strdup("/tmp/dv-test-persist-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static uint64_t put(dv_store *s, uint16_t vbid, dv_item *it)
{
    dv_vbucket *vb = dv_store_lock(s, vbid);
    uint64_t cas = dv_vbucket_install(vb, it, 0);
    dv_vbucket_unlock(vb);
    return cas;
}

static dv_persist *open_attach_ms(const char *dir, dv_store *s, uint32_t now,
                                  int (*keep)(void *, uint32_t), uint32_t flush_ms)
{
    char err[256] = "";
    dv_persist *p = NULL;
    if (dv_persist_open(dir, &p, err, sizeof err) != DV_ERR_OK) fail_msg("%s", err);
    assert_int_equal(dv_persist_attach(p, s, flush_ms, now, keep, NULL, err, sizeof err),
                     DV_ERR_OK);
    return p;
}

static dv_persist *open_attach(const char *dir, dv_store *s, uint32_t now,
                               int (*keep)(void *, uint32_t))
{
    return open_attach_ms(dir, s, now, keep, 5);
}

static int keep_not_7(void *ud, uint32_t cid)
{
    (void)ud;
    return cid != 7;
}

/* Write a few documents and wait for their commit; returns the store (tracked). */
static dv_store *write_some(const char *dir, dv_persist **pp, uint64_t *cas_a, uint64_t *uuid5)
{
    dv_store *s = dv_store_new(16, 1);
    dv_persist *p = open_attach(dir, s, 1000, NULL);
    dv_item *a = doc(0, "a", XATTR, NXATTR, "{\"x\":1}");
    a->flags = 77;
    a->exptime = 5000;
    a->datatype = 1;
    *cas_a = put(s, 5, a);
    dv_item *gone = doc(0, "expiring", NULL, 0, "v");
    gone->exptime = 1500;
    put(s, 5, gone);
    put(s, 6, doc(7, "in-dropped-collection", NULL, 0, "v"));
    dv_item *t = doc(0, "tomb", XATTR, NXATTR, "");
    t->deleted = 1;
    put(s, 5, t);
    put(s, 6, doc(0, "purged", NULL, 0, "v"));
    dv_vbucket *vb = dv_store_lock(s, 6);
    dv_vbucket_purge(vb, 0, "purged", 6);
    dv_vbucket_unlock(vb);
    dv_persist_wait(p, dv_persist_ticket(p));
    vb = dv_store_lock(s, 5);
    assert_int_equal(dv_vbucket_persisted_seqno(vb), 3);
    assert_int_equal(dv_vbucket_high_seqno(vb), 3);
    *uuid5 = dv_vbucket_uuid(vb);
    dv_vbucket_unlock(vb);
    dv_persist_stats st;
    dv_persist_stats_get(p, &st);
    assert_true(st.commits >= 1);
    assert_int_equal(st.queued, 0);
    *pp = p;
    return s;
}

static void check_recovered(dv_store *s, uint64_t cas_a)
{
    dv_vbucket *vb = dv_store_lock(s, 5);
    dv_item *a = dv_vbucket_find(vb, 0, "a", 1, 2000);
    assert_non_null(a);
    assert_true(a->cas == cas_a);
    assert_int_equal(a->flags, 77);
    assert_int_equal(a->exptime, 5000);
    assert_int_equal(a->datatype, 1);
    assert_int_equal(a->seqno, 1);
    assert_int_equal(a->nxattr, NXATTR);
    assert_memory_equal(dv_item_value(a), "{\"x\":1}", 7);
    assert_null(dv_vbucket_find(vb, 0, "expiring", 8, 2000));
    dv_item *t = dv_vbucket_find(vb, 0, "tomb", 4, 2000);
    assert_non_null(t);
    assert_int_equal(t->deleted, 1);
    assert_int_equal(t->nxattr, NXATTR);
    /* Seqnos go on from where they were. */
    assert_int_equal(dv_vbucket_high_seqno(vb), 3);
    assert_int_equal(dv_vbucket_persisted_seqno(vb), 3);
    dv_vbucket_unlock(vb);
    vb = dv_store_lock(s, 6);
    assert_null(dv_vbucket_find(vb, 7, "in-dropped-collection", 21, 2000));
    assert_null(dv_vbucket_find(vb, 0, "purged", 6, 2000));
    assert_int_equal(dv_vbucket_high_seqno(vb), 2);
    dv_vbucket_unlock(vb);
    dv_item *n = doc(0, "new", NULL, 0, "v");
    assert_true(put(s, 5, n) > cas_a);
    assert_int_equal(n->seqno, 4);
}

static void clean_restart_keeps_everything(void **state)
{
    (void)state;
    char *dir = temp_dir();
    dv_persist *p;
    uint64_t cas_a, uuid5;
    dv_store *s = write_some(dir, &p, &cas_a, &uuid5);
    dv_persist_free(p);
    dv_store_free(s);

    s = dv_store_new(16, 2);
    p = open_attach(dir, s, 2000, keep_not_7);
    check_recovered(s, cas_a);
    dv_vbucket *vb = dv_store_lock(s, 5);
    assert_true(dv_vbucket_uuid(vb) == uuid5); /* a clean stop keeps the history */
    dv_vbucket_unlock(vb);
    dv_persist_free(p);
    dv_store_free(s);
    rm_rf(dir);
    free(dir);
}

static void unclean_restart_new_uuid(void **state)
{
    (void)state;
    char *dir = temp_dir();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A server that stops without closing (as after SIGKILL): what was committed stays. */
        dv_persist *p;
        uint64_t v[2];
        write_some(dir, &p, &v[0], &v[1]);
        if (write(fds[1], v, sizeof v) != sizeof v) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    uint64_t v[2];
    assert_int_equal(read(fds[0], v, sizeof v), sizeof v);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    dv_store *s = dv_store_new(16, 3);
    dv_persist *p = open_attach(dir, s, 2000, keep_not_7);
    check_recovered(s, v[0]);
    dv_vbucket *vb = dv_store_lock(s, 5);
    assert_true(dv_vbucket_uuid(vb) != v[1]);
    uint64_t uuid2 = dv_vbucket_uuid(vb);
    dv_vbucket_unlock(vb);
    dv_persist_free(p);
    dv_store_free(s);
    /* The new uuid is kept from then on. */
    s = dv_store_new(16, 4);
    p = open_attach(dir, s, 2000, keep_not_7);
    vb = dv_store_lock(s, 5);
    assert_true(dv_vbucket_uuid(vb) == uuid2);
    dv_vbucket_unlock(vb);
    dv_persist_free(p);
    dv_store_free(s);
    rm_rf(dir);
    free(dir);
}

static void rewrites_before_a_commit_write_once(void **state)
{
    (void)state;
    char *dir = temp_dir();
    dv_store *s = dv_store_new(16, 1);
    /* A commit window longer than the test: only the waits below commit. */
    dv_persist *p = open_attach_ms(dir, s, 1000, NULL, 600000);
    dv_persist_wait(p, dv_persist_ticket(p));
    dv_persist_stats before, after;
    dv_persist_stats_get(p, &before);
    put(s, 7, doc(0, "dup", NULL, 0, "v1"));
    put(s, 7, doc(0, "dup", NULL, 0, "v2"));
    put(s, 7, doc(0, "dup", NULL, 0, "v3"));
    dv_vbucket *vb = dv_store_lock(s, 7);
    size_t queued = dv_vbucket_queued(vb);
    dv_vbucket_unlock(vb);
    dv_persist_wait(p, dv_persist_ticket(p));
    dv_persist_stats_get(p, &after);
    assert_int_equal(queued, 3);
    assert_int_equal(after.written - before.written, 1); /* the last version only */
    vb = dv_store_lock(s, 7);
    assert_int_equal(dv_vbucket_persisted_seqno(vb), 3);
    dv_vbucket_unlock(vb);
    dv_persist_free(p);
    dv_store_free(s);
    s = dv_store_new(16, 2);
    p = open_attach(dir, s, 1000, NULL);
    vb = dv_store_lock(s, 7);
    dv_item *it = dv_vbucket_find(vb, 0, "dup", 3, 1000);
    assert_non_null(it);
    assert_memory_equal(dv_item_value(it), "v3", 2);
    assert_int_equal(it->seqno, 3);
    dv_vbucket_unlock(vb);
    dv_persist_free(p);
    dv_store_free(s);
    rm_rf(dir);
    free(dir);
}

static void refuses_foreign_and_corrupt(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char path[512], err[256];
    dv_persist *p = NULL;
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("mine\n", f);
    fclose(f);
    assert_int_not_equal(dv_persist_open(dir, &p, err, sizeof err), DV_ERR_OK);
    assert_non_null(strstr(err, "not a divan data directory"));
    assert_null(p);
    unlink(path);
    /* A data.mdb that is not LMDB's is refused and left as it was. */
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++) fputc('x', f);
    fclose(f);
    assert_int_not_equal(dv_persist_open(dir, &p, err, sizeof err), DV_ERR_OK);
    assert_non_null(strstr(err, "corrupt"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4096);
    rm_rf(dir);
    free(dir);
}

static void second_open_is_refused(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char err[256];
    dv_persist *p = NULL, *q = NULL;
    assert_int_equal(dv_persist_open(dir, &p, err, sizeof err), DV_ERR_OK);
    assert_int_not_equal(dv_persist_open(dir, &q, err, sizeof err), DV_ERR_OK);
    assert_non_null(strstr(err, "in use"));
    /* Meta blobs. */
    dv_buf b;
    dv_buf_init(&b);
    assert_int_equal(dv_persist_meta_get(p, "settings", &b), DV_ERR_DOCUMENT_NOT_FOUND);
    assert_int_equal(dv_persist_meta_put(p, "settings", "{}", 2), DV_ERR_OK);
    assert_int_equal(dv_persist_meta_get(p, "settings", &b), DV_ERR_OK);
    assert_int_equal(dv_buf_size(&b), 2);
    dv_buf_free(&b);
    dv_persist_close(p, 1);
    dv_persist_free(p);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0); /* removed */
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(record_rejects_malformed),
        cmocka_unit_test(clean_restart_keeps_everything),
        cmocka_unit_test(unclean_restart_new_uuid),
        cmocka_unit_test(rewrites_before_a_commit_write_once),
        cmocka_unit_test(refuses_foreign_and_corrupt),
        cmocka_unit_test(second_open_is_refused),
    };
    return TU_RUN(tests);
}
