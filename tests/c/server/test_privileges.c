/* Every opcode 0-255, each with a body crafted to pass the request checks, sent over a real
 * socket by four users who may not (or only partly) change the bucket `default`: nobody (no
 * SASL), a data_reader, a data_writer, and the full admin of another bucket. After every
 * request an Administrator connection fingerprints the documents (bodies, CAS, metadata, the
 * user xattr `ux`, the system xattr `_sx`, the counter, the lock) and the test asserts that
 * nothing changed that the role forbids:
 *   nobody, other-bucket admin: nothing at all, and no reply carries document content;
 *   reader: nothing but a lock (GET_LOCKED needs Read, as in kv_engine);
 *   writer: no lock, no counter step (INCREMENT, DECREMENT, SUBDOC_COUNTER need Read too), no
 *           system xattr, and no reply carries document content.
 * Opcodes outside the table answer UNKNOWN_COMMAND to everyone. */
#include "testutil.h"

#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/endian.h"
#include "mcbp/opcode.h"
#include "mcbp/subdoc.h"
#include "server/kv.h"

#include "kvclient.h"

static kv_server srv;
static int port;

enum role { NOBODY, READER, WRITER, OTHER_ADMIN, NROLES };
static const char *const role_names[NROLES] = {"nobody", "reader", "writer", "other-admin"};

#define KEY(s) ((const uint8_t *)"\0" s), (sizeof s)
static const char body[] = "{\"a\":1,\"n\":100,\"arr\":[1]}";
static const char secret[] = "\"v\":1"; /* in both xattrs' values */

static int setup(void **state)
{
    (void)state;
    char err[256];
    dv_net_options o = {.host = "127.0.0.1", .threads = 1};
    kv_server_start(&srv, &o);
    port = srv.port;
    static const char *const extra[] = {
        "reader:password:data_reader[default]",
        "writer:password:data_writer[default]",
        "other:password:bucket_admin[other],bucket_full_access[other]",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        assert_int_equal(dv_users_add_flag(srv.users, extra[i], err, sizeof err), 0);
    dv_bucket_settings bs;
    dv_bucket_settings_default(&bs, "other");
    assert_int_equal(dv_cluster_create_bucket(srv.cluster, &bs, NULL, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_server_stop(&srv);
    return 0;
}

/* ---- Requests and replies ------------------------------------------------------------------ */

#define NOOP_OPAQUE 0xfeedu

/* Send f and a NOOP; collect the replies to f up to the NOOP's into *got (concatenated values,
 * for leak checks) and the last status. 0 if the server closed the connection. */
static int call(int fd, dv_frame f, dv_buf *got, uint16_t *status, uint64_t *cas)
{
    f.opaque = 1;
    kv_send_frame(fd, f);
    kv_send_frame(fd, (dv_frame){.opcode = DV_OP_NOOP, .opaque = NOOP_OPAQUE});
    kv_rx rx = {0};
    dv_frame r;
    int open = 1;
    *status = 0xffff;
    for (;;) {
        if (!kv_try_recv_frame(fd, &rx, &r)) {
            open = 0;
            break;
        }
        if (r.opaque == NOOP_OPAQUE && r.opcode == DV_OP_NOOP) break;
        if (r.magic == DV_MAGIC_SERVER_REQ) continue;
        *status = r.status;
        if (cas) *cas = r.cas;
        if (got) {
            dv_buf_append(got, r.value, r.value_len);
            dv_buf_append(got, r.key, r.key_len);
        }
    }
    kv_rx_free(&rx);
    return open;
}

/* One request and its reply status, for the admin's set-up and fingerprints. */
static uint16_t admin_call(int fd, dv_frame f, dv_buf *got, uint64_t *cas)
{
    uint16_t st;
    assert_true(call(fd, f, got, &st, cas));
    return st;
}

static dv_frame doc_frame(uint8_t op, const uint8_t *key, size_t klen)
{
    return (dv_frame){.opcode = op, .key = key, .key_len = klen};
}

/* ---- The documents under test -------------------------------------------------------------- */

static void restore(int admin, uint64_t lock_cas)
{
    static const uint8_t x8[8];
    if (lock_cas)
        admin_call(admin,
                   (dv_frame){.opcode = DV_OP_UNLOCK_KEY, .key = KEY("doc"), .cas = lock_cas}, NULL,
                   NULL);
    admin_call(admin, doc_frame(DV_OP_DELETE, KEY("new")), NULL, NULL);
    dv_frame set = doc_frame(DV_OP_SET, KEY("doc"));
    set.extras = x8;
    set.extras_len = 8;
    set.datatype = DV_DATATYPE_JSON;
    set.value = (const uint8_t *)body;
    set.value_len = sizeof body - 1;
    assert_int_equal(admin_call(admin, set, NULL, NULL), DV_STATUS_SUCCESS);
    dv_subdoc_spec specs[] = {
        {DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "ux", 2, (const uint8_t *)"{\"v\":1}", 7},
        {DV_OP_SUBDOC_DICT_UPSERT, DV_SUBDOC_PATH_XATTR, "_sx", 3, (const uint8_t *)"{\"v\":1}", 7},
    };
    dv_buf v;
    dv_buf_init(&v);
    assert_int_equal(dv_subdoc_mutation_encode(&v, specs, 2), 0);
    dv_frame mm = doc_frame(DV_OP_SUBDOC_MULTI_MUTATION, KEY("doc"));
    mm.value = dv_buf_head(&v);
    mm.value_len = dv_buf_size(&v);
    assert_int_equal(admin_call(admin, mm, NULL, NULL), DV_STATUS_SUCCESS);
    dv_buf_free(&v);
    set.key = (const uint8_t *)"\0ctr";
    set.key_len = 4;
    set.value = (const uint8_t *)"100";
    set.value_len = 3;
    set.datatype = 0;
    assert_int_equal(admin_call(admin, set, NULL, NULL), DV_STATUS_SUCCESS);
}

/* What the admin sees; the parts the writer checks are kept apart. */
typedef struct fingerprint {
    dv_buf all; /* everything below plus CAS values and metadata */
    dv_buf sx;  /* the system xattr */
    dv_buf ctr; /* the counter's value */
    dv_buf doc; /* the document body */
    int locked;
} fingerprint;

static void fp_free(fingerprint *p)
{
    dv_buf_free(&p->all);
    dv_buf_free(&p->sx);
    dv_buf_free(&p->ctr);
    dv_buf_free(&p->doc);
}

static void fp_take(int admin, fingerprint *p)
{
    memset(p, 0, sizeof *p);
    dv_buf_init(&p->all);
    dv_buf_init(&p->sx);
    dv_buf_init(&p->ctr);
    dv_buf_init(&p->doc);
    uint64_t cas = 0;
    uint16_t st = admin_call(admin, doc_frame(DV_OP_GET, KEY("doc")), &p->doc, &cas);
    p->locked = st == DV_STATUS_SUCCESS && cas == DV_CAS_LOCKED;
    dv_buf_append(&p->all, &st, sizeof st);
    dv_buf_append(&p->all, &cas, sizeof cas);
    dv_buf_append(&p->all, dv_buf_head(&p->doc), dv_buf_size(&p->doc));
    st = admin_call(admin, doc_frame(DV_OP_GET, KEY("ctr")), &p->ctr, &cas);
    dv_buf_append(&p->all, &st, sizeof st);
    dv_buf_append(&p->all, &cas, sizeof cas);
    dv_buf_append(&p->all, dv_buf_head(&p->ctr), dv_buf_size(&p->ctr));
    st = admin_call(admin, doc_frame(DV_OP_GET, KEY("new")), &p->all, &cas);
    dv_buf_append(&p->all, &st, sizeof st);
    static const uint8_t v2 = 2;
    const uint8_t *keys[] = {(const uint8_t *)"\0doc", (const uint8_t *)"\0ctr"};
    for (int i = 0; i < 2; i++) {
        dv_frame gm = doc_frame(DV_OP_GET_META, keys[i], 4);
        gm.extras = &v2;
        gm.extras_len = 1;
        kv_send_frame(admin, gm);
        kv_rx rx = {0};
        dv_frame r = kv_recv_frame(admin, &rx);
        dv_buf_append(&p->all, &r.status, sizeof r.status);
        dv_buf_append(&p->all, r.extras, r.extras_len);
        kv_rx_free(&rx);
    }
    dv_subdoc_spec look[] = {{DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "ux", 2, NULL, 0}};
    dv_buf v;
    dv_buf_init(&v);
    assert_int_equal(dv_subdoc_lookup_encode(&v, look, 1), 0);
    dv_frame ml = doc_frame(DV_OP_SUBDOC_MULTI_LOOKUP, KEY("doc"));
    ml.value = dv_buf_head(&v);
    ml.value_len = dv_buf_size(&v);
    admin_call(admin, ml, &p->all, NULL);
    dv_buf_reset(&v);
    look[0].path = "_sx";
    look[0].path_len = 3;
    assert_int_equal(dv_subdoc_lookup_encode(&v, look, 1), 0);
    ml.value = dv_buf_head(&v);
    ml.value_len = dv_buf_size(&v);
    admin_call(admin, ml, &p->sx, NULL);
    dv_buf_append(&p->all, dv_buf_head(&p->sx), dv_buf_size(&p->sx));
    dv_buf_free(&v);
}

static int buf_eq(const dv_buf *a, const dv_buf *b)
{
    return dv_buf_size(a) == dv_buf_size(b) &&
           memcmp(dv_buf_head(a), dv_buf_head(b), dv_buf_size(a)) == 0;
}

static int contains(const dv_buf *b, const char *s)
{
    return dv_buf_size(b) && memmem(dv_buf_head(b), dv_buf_size(b), s, strlen(s)) != NULL;
}

/* ---- Crafted requests ------------------------------------------------------------------------ */

/* Sub-document variants: the body, a user xattr, a system xattr. */
enum { V_BODY, V_UX, V_SX, NVARIANTS };

typedef struct crafted {
    dv_frame f;
    dv_buf extras, value;
} crafted;

static int is_subdoc(uint8_t op)
{
    return (op >= DV_OP_SUBDOC_GET && op <= DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR);
}

/* A request of opcode op that passes dv_request_check, aimed at the documents. */
static void craft(crafted *c, uint8_t op, int variant)
{
    memset(&c->f, 0, sizeof c->f);
    dv_buf_reset(&c->extras);
    dv_buf_reset(&c->value);
    dv_frame *f = &c->f;
    f->opcode = op;
    const dv_opcode_info *oi = dv_opcode_info_get(op);
    if (!oi) {
        f->key = (const uint8_t *)"\0doc";
        f->key_len = 4;
        return;
    }
    /* Extras: the shortest valid length, zero-filled, unless the opcode needs meaning. */
    size_t xl = 0;
    while (xl < 32 && !(oi->req_extras & DV_EXTRAS_LEN(xl))) xl++;
    uint8_t *x = dv_buf_reserve(&c->extras, 32);
    memset(x, 0, 32);
    switch (op) {
    case DV_OP_INCREMENT:
    case DV_OP_DECREMENT:
    case DV_OP_INCREMENTQ:
    case DV_OP_DECREMENTQ:
        dv_store_be64(x, 1); /* delta 1, initial 0, expiry 0 */
        break;
    case DV_OP_TOUCH:
    case DV_OP_GAT:
    case DV_OP_GATQ:
        dv_store_be32(x, 1000);
        break;
    default:
        break;
    }
    dv_buf_commit(&c->extras, xl);
    /* Key. */
    if (oi->flags & DV_OPF_COLLECTION) {
        switch (op) {
        case DV_OP_INCREMENT:
        case DV_OP_DECREMENT:
        case DV_OP_INCREMENTQ:
        case DV_OP_DECREMENTQ:
            f->key = (const uint8_t *)"\0ctr";
            break;
        case DV_OP_ADD:
        case DV_OP_ADDQ:
            f->key = (const uint8_t *)"\0new";
            break;
        default:
            f->key = (const uint8_t *)"\0doc";
        }
        f->key_len = 4;
    } else if (op == DV_OP_SELECT_BUCKET) {
        f->key = (const uint8_t *)"default";
        f->key_len = 7;
    } else if (oi->flags & DV_OPF_KEY) {
        f->key = (const uint8_t *)"PLAIN";
        f->key_len = 5;
    }
    /* Value. */
    if (is_subdoc(op) && op != DV_OP_SUBDOC_MULTI_LOOKUP && op != DV_OP_SUBDOC_MULTI_MUTATION) {
        const char *path = variant == V_UX ? "ux.v" : variant == V_SX ? "_sx.v" : "n";
        if (op == DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR) path = variant == V_SX ? "_sx" : "ux";
        if (op >= DV_OP_SUBDOC_ARRAY_PUSH_LAST && op <= DV_OP_SUBDOC_ARRAY_ADD_UNIQUE)
            path = variant == V_UX ? "ux.arr" : variant == V_SX ? "_sx.arr" : "arr";
        uint8_t pflags = variant == V_BODY ? 0 : DV_SUBDOC_PATH_XATTR;
        if (op >= DV_OP_SUBDOC_DICT_ADD && op <= DV_OP_SUBDOC_ARRAY_ADD_UNIQUE &&
            op != DV_OP_SUBDOC_DELETE && variant != V_BODY)
            pflags |= DV_SUBDOC_PATH_MKDIR_P;
        dv_buf_reset(&c->extras);
        dv_subdoc_extras sx = {0};
        dv_subdoc_single_extras_encode(&c->extras, (uint16_t)strlen(path), pflags, &sx);
        dv_buf_append(&c->value, path, strlen(path));
        int lookup = dv_subdoc_is_lookup_op(op);
        if (!lookup && op != DV_OP_SUBDOC_DELETE && op != DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR)
            dv_buf_append(&c->value, op == DV_OP_SUBDOC_COUNTER ? "1" : "2", 1);
    } else if (op == DV_OP_SUBDOC_MULTI_LOOKUP || op == DV_OP_SUBDOC_MULTI_MUTATION) {
        const char *path = variant == V_UX ? "ux" : variant == V_SX ? "_sx" : "a";
        uint8_t pflags = variant == V_BODY ? 0 : DV_SUBDOC_PATH_XATTR;
        dv_subdoc_spec spec = {0, pflags, path, strlen(path), NULL, 0};
        if (op == DV_OP_SUBDOC_MULTI_LOOKUP) {
            spec.opcode = DV_OP_SUBDOC_GET;
            dv_subdoc_lookup_encode(&c->value, &spec, 1);
        } else {
            spec.opcode = DV_OP_SUBDOC_COUNTER;
            spec.path = variant == V_UX ? "ux.v" : variant == V_SX ? "_sx.v" : "n";
            spec.path_len = strlen(spec.path);
            spec.value = (const uint8_t *)"1";
            spec.value_len = 1;
            dv_subdoc_mutation_encode(&c->value, &spec, 1);
        }
    } else if (oi->flags & DV_OPF_VALUE_FIXED) {
        uint8_t *v = dv_buf_reserve(&c->value, oi->value_len);
        memset(v, 0, oi->value_len);
        if (op == DV_OP_GET_ERROR_MAP) v[1] = 1;
        dv_buf_commit(&c->value, oi->value_len);
    } else if (!(oi->flags & DV_OPF_NO_VALUE)) {
        switch (op) {
        case DV_OP_SASL_AUTH:
        case DV_OP_SASL_STEP:
            dv_buf_append(&c->value, "\0Administrator\0wrong", 20);
            break;
        case DV_OP_GET_COLLECTION_ID:
            dv_buf_append(&c->value, "_default._default", 17);
            break;
        case DV_OP_GET_SCOPE_ID:
            dv_buf_append(&c->value, "_default", 8);
            break;
        case DV_OP_OBSERVE: {
            uint8_t h[4] = {0, 0, 0, 4};
            dv_buf_append(&c->value, h, 4);
            dv_buf_append(&c->value, "\0doc", 4);
            break;
        }
        case DV_OP_RANGE_SCAN_CREATE:
        case DV_OP_COLLECTIONS_SET_MANIFEST:
            dv_buf_append(&c->value, "{}", 2);
            break;
        case DV_OP_HELLO:
            break;
        default:
            dv_buf_append(&c->value, "{\"w\":2}", 7);
            f->datatype = DV_DATATYPE_JSON;
        }
    }
    f->extras = dv_buf_head(&c->extras);
    f->extras_len = dv_buf_size(&c->extras);
    f->value = dv_buf_head(&c->value);
    f->value_len = dv_buf_size(&c->value);
}

static int connect_as(enum role r)
{
    switch (r) {
    case NOBODY:
        return kv_login(port, NULL, NULL, NULL);
    case READER:
        return kv_login(port, "reader", "password", "default");
    case WRITER:
        return kv_login(port, "writer", "password", "default");
    default:
        return kv_login(port, "other", "password", "other");
    }
}

/* Requests after which the connection is not the one the role started with. */
static int resets_session(uint8_t op)
{
    return op == DV_OP_HELLO || op == DV_OP_SASL_AUTH || op == DV_OP_SASL_STEP ||
           op == DV_OP_SELECT_BUCKET;
}

static void every_opcode_as(enum role role)
{
    int admin = kv_login(port, "Administrator", "password", "default");
    restore(admin, 0);
    fingerprint base;
    fp_take(admin, &base);
    int fd = connect_as(role);
    crafted c;
    dv_buf_init(&c.extras);
    dv_buf_init(&c.value);
    dv_buf got;
    dv_buf_init(&got);
    unsigned requests = 0;
    for (int op = 0; op < 256; op++) {
        int nv = is_subdoc((uint8_t)op) ? NVARIANTS : 1;
        for (int v = 0; v < nv; v++) {
            craft(&c, (uint8_t)op, v);
            uint16_t st;
            uint64_t cas = 0;
            dv_buf_reset(&got);
            int open = call(fd, c.f, &got, &st, &cas);
            requests++;
            if (!dv_opcode_info_get((uint8_t)op)) assert_int_equal(st, DV_STATUS_UNKNOWN_COMMAND);
            uint64_t lock_cas = op == DV_OP_GET_LOCKED && st == DV_STATUS_SUCCESS ? cas : 0;
            fingerprint now;
            fp_take(admin, &now);
            const char *who = role_names[role];
            const char *name = dv_opcode_name((uint8_t)op);
            if (role == WRITER) {
                if (now.locked || lock_cas) fail_msg("%s locked a document with 0x%02x", who, op);
                /* Deleting the document is the writer's right; a new value is not. */
                if (dv_buf_size(&now.sx) && !buf_eq(&now.sx, &base.sx))
                    fail_msg("%s changed a system xattr with %s (v%d)", who, name, v);
                if (contains(&now.ctr, "101") || contains(&now.ctr, "99") ||
                    contains(&now.doc, "\"n\":101"))
                    fail_msg("%s stepped a counter with %s (v%d)", who, name, v);
            } else if (role == READER && lock_cas) {
                /* Read allows GET_LOCKED; the lock is all that may change. */
                admin_call(
                    admin,
                    (dv_frame){.opcode = DV_OP_UNLOCK_KEY, .key = KEY("doc"), .cas = lock_cas},
                    NULL, NULL);
                fp_free(&now);
                fp_take(admin, &now);
            }
            if (role != WRITER && !buf_eq(&now.all, &base.all))
                fail_msg("%s changed the documents with %s (v%d), status 0x%x", who,
                         name ? name : "?", v, st);
            if (role != READER && (contains(&got, secret) || contains(&got, "\"a\":1")))
                fail_msg("%s read document content with %s (v%d)", who, name, v);
            if (role == WRITER && !buf_eq(&now.all, &base.all)) {
                restore(admin, 0);
                fp_free(&base);
                fp_take(admin, &base);
            }
            fp_free(&now);
            if (!open || resets_session((uint8_t)op)) {
                close(fd);
                fd = connect_as(role);
            }
        }
    }
    /* A reader's 0xd3 on a document with a user xattr was the reported hole. */
    assert_true(requests > 256);
    fp_free(&base);
    dv_buf_free(&got);
    dv_buf_free(&c.extras);
    dv_buf_free(&c.value);
    close(fd);
    close(admin);
}

static void every_opcode_as_nobody(void **state)
{
    (void)state;
    every_opcode_as(NOBODY);
}

static void every_opcode_as_reader(void **state)
{
    (void)state;
    every_opcode_as(READER);
}

static void every_opcode_as_writer(void **state)
{
    (void)state;
    every_opcode_as(WRITER);
}

static void every_opcode_as_admin_of_another_bucket(void **state)
{
    (void)state;
    every_opcode_as(OTHER_ADMIN);
    /* And the bucket itself stays out of reach. */
    int fd = kv_login(port, "other", "password", NULL);
    uint16_t st;
    assert_true(call(
        fd,
        (dv_frame){.opcode = DV_OP_SELECT_BUCKET, .key = (const uint8_t *)"default", .key_len = 7},
        NULL, &st, NULL));
    assert_int_equal(st, DV_STATUS_EACCESS);
    close(fd);
}

/* The reported case, spelled out: data_reader, SUBDOC_REPLACE_BODY_WITH_XATTR on a document
 * with a user xattr. */
static void reader_cannot_replace_body_with_xattr(void **state)
{
    (void)state;
    int admin = kv_login(port, "Administrator", "password", "default");
    restore(admin, 0);
    int fd = connect_as(READER);
    crafted c;
    dv_buf_init(&c.extras);
    dv_buf_init(&c.value);
    craft(&c, DV_OP_SUBDOC_REPLACE_BODY_WITH_XATTR, V_UX);
    uint16_t st;
    assert_true(call(fd, c.f, NULL, &st, NULL));
    assert_int_equal(st, DV_STATUS_EACCESS);
    dv_buf doc;
    dv_buf_init(&doc);
    assert_int_equal(admin_call(admin, doc_frame(DV_OP_GET, KEY("doc")), &doc, NULL),
                     DV_STATUS_SUCCESS);
    assert_true(dv_buf_size(&doc) == sizeof body - 1 &&
                memcmp(dv_buf_head(&doc), body, sizeof body - 1) == 0);
    /* The writer may (Upsert, and user xattrs are data_writer's to write). */
    int w = connect_as(WRITER);
    assert_true(call(w, c.f, NULL, &st, NULL));
    assert_int_equal(st, DV_STATUS_SUCCESS);
    dv_buf_free(&doc);
    dv_buf_free(&c.extras);
    dv_buf_free(&c.value);
    close(w);
    close(fd);
    close(admin);
}

/* $XTOC names the xattrs the user may read: a reader its user xattrs, not the system ones. */
static void xtoc_lists_what_the_user_may_read(void **state)
{
    (void)state;
    int admin = kv_login(port, "Administrator", "password", "default");
    restore(admin, 0);
    dv_subdoc_spec look = {DV_OP_SUBDOC_GET, DV_SUBDOC_PATH_XATTR, "$XTOC", 5, NULL, 0};
    dv_buf v, seen;
    dv_buf_init(&v);
    dv_buf_init(&seen);
    assert_int_equal(dv_subdoc_lookup_encode(&v, &look, 1), 0);
    dv_frame ml = doc_frame(DV_OP_SUBDOC_MULTI_LOOKUP, KEY("doc"));
    ml.value = dv_buf_head(&v);
    ml.value_len = dv_buf_size(&v);
    assert_int_equal(admin_call(admin, ml, &seen, NULL), DV_STATUS_SUCCESS);
    assert_true(contains(&seen, "\"ux\"") && contains(&seen, "\"_sx\""));
    int fd = connect_as(READER);
    dv_buf_reset(&seen);
    assert_int_equal(admin_call(fd, ml, &seen, NULL), DV_STATUS_SUCCESS);
    assert_true(contains(&seen, "\"ux\"") && !contains(&seen, "_sx"));
    dv_buf_free(&v);
    dv_buf_free(&seen);
    close(fd);
    close(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reader_cannot_replace_body_with_xattr),
        cmocka_unit_test(xtoc_lists_what_the_user_may_read),
        cmocka_unit_test(every_opcode_as_nobody),
        cmocka_unit_test(every_opcode_as_reader),
        cmocka_unit_test(every_opcode_as_writer),
        cmocka_unit_test(every_opcode_as_admin_of_another_bucket),
    };
    int failed = _cmocka_run_group_tests("privileges", tests, sizeof tests / sizeof tests[0], setup,
                                         teardown);
    return failed + (dv_alloc_live() > 0);
}
