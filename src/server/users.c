/* divan-server's user registry and roles; see users.h. */
#include "server/users.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/errmsg.h"
#include "divan/error.h"
#include "server/rwlock.h"

/* ---- Roles ------------------------------------------------------------------------------------
 */

/* Parameters a role takes: none, a bucket, up to a scope, up to a collection. */
enum { P_NONE = 0, P_BUCKET = 1, P_SCOPE = 2, P_COLLECTION = 3 };

#define XATTR_PERMS                                                                                \
    (DV_PERM_XATTR_READ | DV_PERM_XATTR_WRITE | DV_PERM_SXATTR_READ | DV_PERM_SXATTR_WRITE)
#define QUERY_PERMS                                                                                \
    (DV_PERM_QUERY_SELECT | DV_PERM_QUERY_INSERT | DV_PERM_QUERY_UPDATE | DV_PERM_QUERY_DELETE |   \
     DV_PERM_QUERY_INDEX)
#define DATA_PERMS   (DV_PERM_SELECT | DV_PERM_READ | DV_PERM_WRITE | XATTR_PERMS)
#define BUCKET_PERMS (DATA_PERMS | DV_PERM_MANAGE | QUERY_PERMS)
#define ALL_PERMS    (BUCKET_PERMS | DV_PERM_CLUSTER_READ | DV_PERM_CLUSTER_ADMIN | DV_PERM_USER_ADMIN)

/* What each role grants, after Couchbase's role definitions: roles without parameters grant
 * their bucket permissions on every bucket. As in ns_server, data_reader reads user xattrs and
 * data_writer writes them; system xattrs belong to the roles with all data access
 * (bucket_full_access, data_backup, mobile_sync_gateway, replication_target, admin). */
static const struct role_def {
    const char *name;
    uint8_t params;
    unsigned perms;
} role_defs[DV_ROLE_KIND_COUNT] = {
    [DV_ROLE_ADMIN] = {"admin", P_NONE, ALL_PERMS},
    [DV_ROLE_RO_ADMIN] = {"ro_admin", P_NONE, DV_PERM_CLUSTER_READ},
    [DV_ROLE_CLUSTER_ADMIN] = {"cluster_admin", P_NONE,
                               DV_PERM_SELECT | DV_PERM_MANAGE | DV_PERM_CLUSTER_READ |
                                   DV_PERM_CLUSTER_ADMIN},
    [DV_ROLE_SECURITY_ADMIN] = {"security_admin", P_NONE,
                                DV_PERM_CLUSTER_READ | DV_PERM_USER_ADMIN},
    [DV_ROLE_REPLICATION_ADMIN] = {"replication_admin", P_NONE, DV_PERM_CLUSTER_READ},
    [DV_ROLE_EXTERNAL_STATS_READER] = {"external_stats_reader", P_NONE, DV_PERM_CLUSTER_READ},
    [DV_ROLE_QUERY_SYSTEM_CATALOG] = {"query_system_catalog", P_NONE, 0},
    [DV_ROLE_QUERY_EXTERNAL_ACCESS] = {"query_external_access", P_NONE, 0},
    [DV_ROLE_ANALYTICS_READER] = {"analytics_reader", P_NONE, 0},
    [DV_ROLE_ANALYTICS_ADMIN] = {"analytics_admin", P_NONE, DV_PERM_CLUSTER_READ},
    [DV_ROLE_EVENTING_ADMIN] = {"eventing_admin", P_NONE, DV_PERM_CLUSTER_READ},
    [DV_ROLE_BUCKET_ADMIN] = {"bucket_admin", P_BUCKET, DV_PERM_SELECT | DV_PERM_MANAGE},
    [DV_ROLE_BUCKET_FULL_ACCESS] = {"bucket_full_access", P_BUCKET, BUCKET_PERMS},
    [DV_ROLE_VIEWS_ADMIN] = {"views_admin", P_BUCKET, DV_PERM_SELECT | DV_PERM_READ},
    [DV_ROLE_VIEWS_READER] = {"views_reader", P_BUCKET, DV_PERM_SELECT | DV_PERM_READ},
    [DV_ROLE_DATA_BACKUP] = {"data_backup", P_BUCKET, DATA_PERMS | DV_PERM_MANAGE},
    [DV_ROLE_FTS_ADMIN] = {"fts_admin", P_BUCKET, DV_PERM_SELECT},
    [DV_ROLE_MOBILE_SYNC_GATEWAY] = {"mobile_sync_gateway", P_BUCKET, DATA_PERMS},
    [DV_ROLE_REPLICATION_TARGET] = {"replication_target", P_BUCKET, DATA_PERMS},
    [DV_ROLE_ANALYTICS_MANAGER] = {"analytics_manager", P_BUCKET, DV_PERM_SELECT},
    [DV_ROLE_SCOPE_ADMIN] = {"scope_admin", P_SCOPE, DV_PERM_SELECT | DV_PERM_MANAGE},
    [DV_ROLE_DATA_READER] = {"data_reader", P_COLLECTION,
                             DV_PERM_SELECT | DV_PERM_READ | DV_PERM_XATTR_READ},
    [DV_ROLE_DATA_WRITER] = {"data_writer", P_COLLECTION,
                             DV_PERM_SELECT | DV_PERM_WRITE | DV_PERM_XATTR_WRITE},
    [DV_ROLE_DATA_DM_WRITER] = {"data_dm_writer", P_COLLECTION, DV_PERM_SELECT | DV_PERM_WRITE},
    [DV_ROLE_DATA_MONITORING] = {"data_monitoring", P_COLLECTION, DV_PERM_SELECT},
    [DV_ROLE_FTS_SEARCHER] = {"fts_searcher", P_COLLECTION, DV_PERM_SELECT},
    [DV_ROLE_QUERY_SELECT] = {"query_select", P_COLLECTION, DV_PERM_SELECT | DV_PERM_QUERY_SELECT},
    [DV_ROLE_QUERY_UPDATE] = {"query_update", P_COLLECTION, DV_PERM_SELECT | DV_PERM_QUERY_UPDATE},
    [DV_ROLE_QUERY_INSERT] = {"query_insert", P_COLLECTION, DV_PERM_SELECT | DV_PERM_QUERY_INSERT},
    [DV_ROLE_QUERY_DELETE] = {"query_delete", P_COLLECTION, DV_PERM_SELECT | DV_PERM_QUERY_DELETE},
    [DV_ROLE_QUERY_MANAGE_INDEX] = {"query_manage_index", P_COLLECTION,
                                    DV_PERM_SELECT | DV_PERM_QUERY_INDEX},
    [DV_ROLE_ANALYTICS_SELECT] = {"analytics_select", P_COLLECTION, DV_PERM_SELECT},
};

const char *dv_role_name(dv_role_kind kind)
{
    if ((unsigned)kind >= DV_ROLE_KIND_COUNT) return NULL;
    return role_defs[kind].name;
}

unsigned dv_role_params(dv_role_kind kind)
{
    if ((unsigned)kind >= DV_ROLE_KIND_COUNT) return 0;
    return role_defs[kind].params;
}

static void role_clear(dv_role *r)
{
    dv_free(r->bucket);
    dv_free(r->scope);
    dv_free(r->collection);
    memset(r, 0, sizeof *r);
}

void dv_roles_clear(dv_roles *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) role_clear(&r->v[i]);
    dv_free(r->v);
    r->v = NULL;
    r->n = 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '%';
}

static int streq_opt(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int role_equal(const dv_role *a, const dv_role *b)
{
    return a->kind == b->kind && streq_opt(a->bucket, b->bucket) && streq_opt(a->scope, b->scope) &&
           streq_opt(a->collection, b->collection);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse one role from s[0..len) (trimmed) into *out. */
static int role_parse(dv_role *out, const char *s, size_t len, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len == 0) return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "empty role in list");
    const char *open = memchr(s, '[', len);
    size_t nlen = open ? (size_t)(open - s) : len;
    int kind = -1;
    for (int k = 0; k < DV_ROLE_KIND_COUNT; k++) {
        if (strlen(role_defs[k].name) == nlen && memcmp(role_defs[k].name, s, nlen) == 0) {
            kind = k;
            break;
        }
    }
    if (kind < 0) {
        for (size_t i = 0; i < nlen; i++) {
            if (!name_char(s[i]))
                return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "bad role syntax \"%.*s\"",
                                 (int)len, s);
        }
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "unknown role \"%.*s\"", (int)nlen,
                         s);
    }
    const struct role_def *def = &role_defs[kind];
    out->kind = (dv_role_kind)kind;
    if (!open) {
        if (def->params != P_NONE)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "role %s needs a bucket, as %s[bucket]", def->name, def->name);
        return DV_ERR_OK;
    }
    if (def->params == P_NONE)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "role %s takes no parameters",
                         def->name);
    if (s[len - 1] != ']')
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "bad role syntax \"%.*s\": expected ']' at the end", (int)len, s);
    const char *p = open + 1, *end = s + len - 1;
    const char *part[3] = {0};
    size_t plen[3] = {0};
    size_t nparts = 0;
    for (;;) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *stop = colon ? colon : end;
        if (nparts == 3)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "bad role syntax \"%.*s\": more than bucket:scope:collection",
                             (int)len, s);
        part[nparts] = p;
        plen[nparts] = (size_t)(stop - p);
        nparts++;
        if (!colon) break;
        p = colon + 1;
    }
    if (nparts > def->params) {
        static const char *const forms[] = {
            "", "[bucket]", "[bucket] or [bucket:scope]",
            "[bucket], [bucket:scope] or [bucket:scope:collection]"};
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "role %s takes %s, not \"%.*s\"",
                         def->name, forms[def->params], (int)len, s);
    }
    int wild = 0;
    char **dst[3] = {&out->bucket, &out->scope, &out->collection};
    for (size_t i = 0; i < nparts; i++) {
        const char *q = part[i];
        size_t n = plen[i];
        int star = n == 1 && q[0] == '*';
        if (n == 0)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "bad role syntax \"%.*s\": empty name", (int)len, s);
        if (wild && !star)
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "bad role syntax \"%.*s\": only '*' may follow '*'", (int)len, s);
        if (!star) {
            if (n > DV_ROLE_MAX_NAME)
                return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                                 "bad role syntax \"%.*s\": name longer than %d", (int)len, s,
                                 DV_ROLE_MAX_NAME);
            for (size_t j = 0; j < n; j++) {
                if (!name_char(q[j]))
                    return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                                     "bad role syntax \"%.*s\": bad character in a name", (int)len,
                                     s);
            }
        }
        /* A scope or collection "*" is the same as leaving it out; the bucket "*" is kept. */
        if (star) wild = 1;
        if (star && i > 0) continue;
        *dst[i] = dv_strndup(q, n);
        if (!*dst[i]) return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    }
    return DV_ERR_OK;
}

int dv_roles_parse(dv_roles *out, const char *s, size_t len, char *err, size_t errlen)
{
    out->v = NULL;
    out->n = 0;
    size_t i = 0;
    while (i < len && is_space(s[i])) i++;
    if (i == len) return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "empty role list");
    /* At most one role per comma, plus one. */
    size_t cap = 1;
    for (size_t j = 0; j < len; j++) cap += s[j] == ',';
    out->v = dv_calloc(cap, sizeof *out->v);
    if (!out->v) return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    size_t pos = 0;
    for (;;) {
        /* A role ends at a comma outside brackets (names cannot hold commas anyway). */
        size_t end = pos;
        while (end < len && s[end] != ',') end++;
        size_t a = pos, b = end;
        while (a < b && is_space(s[a])) a++;
        while (b > a && is_space(s[b - 1])) b--;
        dv_role r;
        int rc = role_parse(&r, s + a, b - a, err, errlen);
        if (rc != DV_ERR_OK) {
            role_clear(&r);
            dv_roles_clear(out);
            return rc;
        }
        int dup = 0;
        for (size_t k = 0; k < out->n && !dup; k++) dup = role_equal(&out->v[k], &r);
        if (dup)
            role_clear(&r);
        else
            out->v[out->n++] = r;
        if (end == len) break;
        pos = end + 1;
    }
    return DV_ERR_OK;
}

static char *strdup_opt(const char *s, int *fail)
{
    if (!s) return NULL;
    char *d = dv_strdup(s);
    if (!d) *fail = 1;
    return d;
}

int dv_roles_copy(dv_roles *out, const dv_roles *in)
{
    out->v = NULL;
    out->n = 0;
    if (in->n == 0) return DV_ERR_OK;
    out->v = dv_calloc(in->n, sizeof *out->v);
    if (!out->v) return DV_ERR_NO_MEMORY;
    int fail = 0;
    for (size_t i = 0; i < in->n; i++) {
        out->v[i].kind = in->v[i].kind;
        out->v[i].bucket = strdup_opt(in->v[i].bucket, &fail);
        out->v[i].scope = strdup_opt(in->v[i].scope, &fail);
        out->v[i].collection = strdup_opt(in->v[i].collection, &fail);
        out->n++;
    }
    if (fail) {
        dv_roles_clear(out);
        return DV_ERR_NO_MEMORY;
    }
    return DV_ERR_OK;
}

size_t dv_roles_format(const dv_roles *r, char *buf, size_t len)
{
    size_t need = 0;
    for (size_t i = 0; i < r->n; i++) {
        const dv_role *x = &r->v[i];
        char part[3 * (DV_ROLE_MAX_NAME + 1) + 64];
        int n;
        if (!x->bucket)
            n = snprintf(part, sizeof part, "%s", role_defs[x->kind].name);
        else if (!x->scope)
            n = snprintf(part, sizeof part, "%s[%s]", role_defs[x->kind].name, x->bucket);
        else if (!x->collection)
            n = snprintf(part, sizeof part, "%s[%s:%s]", role_defs[x->kind].name, x->bucket,
                         x->scope);
        else
            n = snprintf(part, sizeof part, "%s[%s:%s:%s]", role_defs[x->kind].name, x->bucket,
                         x->scope, x->collection);
        if (n < 0) n = 0;
        size_t add = (size_t)n + (i > 0);
        if (len > 0 && need + add < len) {
            if (i > 0) buf[need] = ',';
            memcpy(buf + need + (i > 0), part, (size_t)n);
        }
        need += add;
    }
    if (len > 0) buf[need < len ? need : len - 1] = '\0';
    return need;
}

/* The permissions one role grants on a target. */
static unsigned role_grants(const dv_role *r, const char *bucket, const char *scope,
                            const char *collection)
{
    const struct role_def *def = &role_defs[r->kind];
    unsigned cluster = def->perms & ~(unsigned)BUCKET_PERMS;
    unsigned perms = def->perms & BUCKET_PERMS;
    if (r->kind == DV_ROLE_ADMIN) return ALL_PERMS;
    if (!bucket) return cluster;
    if (def->params == P_NONE) return def->perms;
    if (!r->bucket || (strcmp(r->bucket, "*") != 0 && strcmp(r->bucket, bucket) != 0))
        return cluster;
    /* Any role on the bucket lets the user select it; the rest needs the scope to match. */
    unsigned select = perms & DV_PERM_SELECT;
    if (r->scope && (!scope || strcmp(r->scope, scope) != 0)) return cluster | select;
    if (r->collection && (!collection || strcmp(r->collection, collection) != 0))
        return cluster | select;
    return def->perms;
}

int dv_roles_allow(const dv_roles *r, unsigned perms, const char *bucket, const char *scope,
                   const char *collection)
{
    unsigned granted = 0;
    for (size_t i = 0; i < r->n; i++) granted |= role_grants(&r->v[i], bucket, scope, collection);
    return (granted & perms) == perms;
}

int dv_roles_allow_somewhere(const dv_roles *r, unsigned perms, const char *bucket)
{
    unsigned granted = 0;
    for (size_t i = 0; i < r->n; i++) {
        const dv_role *role = &r->v[i];
        /* The role's own scope and collection are a target it grants on ("*" is never kept
         * there). */
        granted |= role_grants(role, bucket, role->scope, role->collection);
    }
    return (granted & perms) == perms;
}

/* ---- Users ------------------------------------------------------------------------------------
 */

/* A user's SCRAM secrets are derived (PBKDF2, the costly part of creating a user) on first use,
 * not when the user is set, so that the server starts without deriving the keys of every user
 * of its command line: until then the password is kept, and wiped once derived. */
struct dv_user {
    atomic_uint refs;
    char *name;
    size_t name_len;
    atomic_int ready;   /* creds derived (or their derivation failed: err) */
    pthread_mutex_t mu; /* guards the derivation */
    char *password;     /* until derived */
    size_t password_len;
    uint32_t iterations;
    dv_error err;
    dv_sasl_creds creds;
    dv_roles roles; /* effective: own roles and those of its groups */
    dv_roles own;   /* given to the user itself */
    char *display;  /* NULL: none */
    char **groups;  /* names of its groups */
    size_t ngroups;
    int64_t pw_changed; /* Unix milliseconds of the last password change; 0: unknown */
};

/* The user's creds, derived now if they were not yet; DV_ERR_OK or the derivation's error. */
static dv_error user_creds(dv_user *u)
{
    if (atomic_load_explicit(&u->ready, memory_order_acquire)) return u->err;
    pthread_mutex_lock(&u->mu);
    if (!atomic_load_explicit(&u->ready, memory_order_relaxed)) {
        u->err =
            dv_sasl_creds_derive(&u->creds, u->password, u->password_len, NULL, 0, u->iterations);
        OPENSSL_cleanse(u->password, u->password_len);
        dv_free(u->password);
        u->password = NULL;
        atomic_store_explicit(&u->ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&u->mu);
    return u->err;
}

const char *dv_user_name(const dv_user *u)
{
    return u->name;
}

const dv_roles *dv_user_roles(const dv_user *u)
{
    return &u->roles;
}

const dv_sasl_creds *dv_user_creds(const dv_user *u)
{
    user_creds((dv_user *)u);
    return &u->creds;
}

int dv_user_allow(const dv_user *u, unsigned perms, const char *bucket, const char *scope,
                  const char *collection)
{
    return dv_roles_allow(&u->roles, perms, bucket, scope, collection);
}

dv_user *dv_user_ref(dv_user *u)
{
    atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
    return u;
}

void dv_user_release(dv_user *u)
{
    if (!u) return;
    if (atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) != 1) return;
    dv_free(u->name);
    dv_roles_clear(&u->roles);
    dv_roles_clear(&u->own);
    dv_free(u->display);
    for (size_t i = 0; i < u->ngroups; i++) dv_free(u->groups[i]);
    dv_free(u->groups);
    OPENSSL_cleanse(&u->creds, sizeof u->creds);
    if (u->password) OPENSSL_cleanse(u->password, u->password_len);
    dv_free(u->password);
    pthread_mutex_destroy(&u->mu);
    dv_free(u);
}

/* Couchbase refuses these in user names (and '@' at the start; "a@b.com" is a fine name); divan
 * also refuses bytes outside printable ASCII. */
static int check_name(const char *name, size_t len, char *err, size_t errlen)
{
    if (len == 0) return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "empty user name");
    if (len > DV_USER_MAX_NAME)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "user name longer than %d characters", DV_USER_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || strchr("()<>,;:\\\"/[]?={}", c) || (c == '@' && i == 0))
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "user name \"%.*s\" holds a character not allowed in names", (int)len,
                             name);
    }
    return DV_ERR_OK;
}

/* ---- The --user flag --------------------------------------------------------------------------
 */

void dv_user_spec_clear(dv_user_spec *s)
{
    if (!s) return;
    dv_free(s->name);
    if (s->password) {
        OPENSSL_cleanse(s->password, strlen(s->password));
        dv_free(s->password);
    }
    dv_roles_clear(&s->roles);
    memset(s, 0, sizeof *s);
}

int dv_user_spec_parse(dv_user_spec *out, const char *arg, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(arg, ':');
    size_t name_len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (name_len == 0)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--user \"%s\": empty user name (expected NAME:PASSWORD[:ROLES])", arg);
    if (!colon)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                         "--user \"%s\": missing password (expected NAME:PASSWORD[:ROLES])", arg);
    char msg[256];
    int rc = check_name(arg, name_len, msg, sizeof msg);
    if (rc != DV_ERR_OK) return dv_errmsg(err, errlen, rc, "--user: %s", msg);
    const char *pw = colon + 1;
    const char *last = strrchr(pw, ':');
    size_t pw_len = last ? (size_t)(last - pw) : strlen(pw);
    if (pw_len == 0)
        return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT, "--user %.*s: empty password",
                         (int)name_len, arg);
    if (last) {
        rc = dv_roles_parse(&out->roles, last + 1, strlen(last + 1), msg, sizeof msg);
        if (rc != DV_ERR_OK)
            return dv_errmsg(err, errlen, rc, "--user %.*s: %s", (int)name_len, arg, msg);
    } else {
        rc = dv_roles_parse(&out->roles, "admin", 5, msg, sizeof msg);
        if (rc != DV_ERR_OK) return dv_errmsg(err, errlen, rc, "--user: %s", msg);
    }
    out->name = dv_strndup(arg, name_len);
    out->password = dv_strndup(pw, pw_len);
    if (!out->name || !out->password) {
        dv_user_spec_clear(out);
        return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    }
    return DV_ERR_OK;
}

/* ---- The registry -----------------------------------------------------------------------------
 */

#define SECRET_LEN 32

struct dv_users {
    pthread_rwlock_t lock;
    dv_user **v; /* under lock */
    size_t n, cap;
    dv_group *groups; /* under lock */
    size_t ngroups, gcap;
    atomic_uint_fast64_t generation;
    uint32_t iterations;
    uint8_t secret[SECRET_LEN];
};

dv_users *dv_users_new(uint32_t iterations)
{
    dv_users *reg = dv_calloc(1, sizeof *reg);
    if (!reg) return NULL;
    if (RAND_bytes(reg->secret, SECRET_LEN) != 1 || dv_rwlock_init_writer_first(&reg->lock) != 0) {
        dv_free(reg);
        return NULL;
    }
    reg->iterations = iterations ? iterations : DV_SASL_MIN_ITERATIONS;
    atomic_init(&reg->generation, 0);
    return reg;
}

void dv_group_clear(dv_group *g)
{
    if (!g) return;
    dv_free(g->name);
    dv_free(g->description);
    dv_free(g->ldap_ref);
    dv_roles_clear(&g->roles);
    memset(g, 0, sizeof *g);
}

void dv_users_free(dv_users *reg)
{
    if (!reg) return;
    for (size_t i = 0; i < reg->n; i++) dv_user_release(reg->v[i]);
    dv_free(reg->v);
    for (size_t i = 0; i < reg->ngroups; i++) dv_group_clear(&reg->groups[i]);
    dv_free(reg->groups);
    pthread_rwlock_destroy(&reg->lock);
    OPENSSL_cleanse(reg->secret, SECRET_LEN);
    dv_free(reg);
}

/* Index of the named user, or -1; under the lock. */
static long find_locked(const dv_users *reg, const char *name, size_t len)
{
    for (size_t i = 0; i < reg->n; i++) {
        const dv_user *u = reg->v[i];
        if (u->name_len == len && memcmp(u->name, name, len) == 0) return (long)i;
    }
    return -1;
}

/* Index of the named group, or -1; under the lock. */
static long find_group_locked(const dv_users *reg, const char *name)
{
    for (size_t i = 0; i < reg->ngroups; i++)
        if (strcmp(reg->groups[i].name, name) == 0) return (long)i;
    return -1;
}

/* Append the roles of src that dst does not hold yet; DV_ERR_OK or DV_ERR_NO_MEMORY. */
static int roles_merge(dv_roles *dst, const dv_roles *src)
{
    if (src->n == 0) return DV_ERR_OK;
    dv_role *v = dv_realloc(dst->v, (dst->n + src->n) * sizeof *v);
    if (!v) return DV_ERR_NO_MEMORY;
    dst->v = v;
    int fail = 0;
    for (size_t i = 0; i < src->n; i++) {
        int dup = 0;
        for (size_t k = 0; k < dst->n && !dup; k++) dup = role_equal(&dst->v[k], &src->v[i]);
        if (dup) continue;
        dv_role *r = &dst->v[dst->n++];
        r->kind = src->v[i].kind;
        r->bucket = strdup_opt(src->v[i].bucket, &fail);
        r->scope = strdup_opt(src->v[i].scope, &fail);
        r->collection = strdup_opt(src->v[i].collection, &fail);
    }
    return fail ? DV_ERR_NO_MEMORY : DV_ERR_OK;
}

/* u->roles from its own roles and its groups' roles; under the lock. Groups that do not exist
 * (any more) grant nothing. */
static int effective_locked(const dv_users *reg, dv_user *u)
{
    dv_roles_clear(&u->roles);
    int rc = dv_roles_copy(&u->roles, &u->own);
    for (size_t i = 0; rc == DV_ERR_OK && i < u->ngroups; i++) {
        long g = find_group_locked(reg, u->groups[i]);
        if (g >= 0) rc = roles_merge(&u->roles, &reg->groups[g].roles);
    }
    return rc;
}

/* A new user object with one reference: name, display name, groups and own roles copied;
 * no secret yet. NULL on allocation failure. */
static dv_user *user_new(const dv_users *reg, const char *name, size_t name_len,
                         const char *display, const char *const *groups, size_t ngroups,
                         const dv_roles *own)
{
    dv_user *u = dv_calloc(1, sizeof *u);
    if (!u) return NULL;
    atomic_init(&u->refs, 1);
    atomic_init(&u->ready, 0);
    pthread_mutex_init(&u->mu, NULL);
    u->name = dv_strndup(name, name_len);
    u->name_len = name_len;
    u->iterations = reg->iterations;
    int fail = !u->name;
    u->display = strdup_opt(display, &fail);
    if (ngroups) {
        u->groups = dv_calloc(ngroups, sizeof *u->groups);
        if (!u->groups) fail = 1;
        for (size_t i = 0; u->groups && i < ngroups; i++) {
            u->groups[i] = strdup_opt(groups[i], &fail);
            u->ngroups++;
        }
    }
    if (fail || dv_roles_copy(&u->own, own) != DV_ERR_OK) {
        dv_user_release(u);
        return NULL;
    }
    return u;
}

/* Give dst the password or derived credentials of src; DV_ERR_OK or DV_ERR_NO_MEMORY. */
static int secret_copy(dv_user *dst, dv_user *src)
{
    int rc = DV_ERR_OK;
    pthread_mutex_lock(&src->mu);
    if (atomic_load_explicit(&src->ready, memory_order_relaxed)) {
        dst->creds = src->creds;
        dst->err = src->err;
        atomic_store_explicit(&dst->ready, 1, memory_order_release);
    } else {
        dst->password = dv_malloc(src->password_len ? src->password_len : 1);
        if (dst->password) {
            if (src->password_len) memcpy(dst->password, src->password, src->password_len);
            dst->password_len = src->password_len;
        } else {
            rc = DV_ERR_NO_MEMORY;
        }
    }
    pthread_mutex_unlock(&src->mu);
    dst->pw_changed = src->pw_changed;
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Put u in place of the user of its name (or add it); under the write lock. Takes u; the old
 * user is released. DV_ERR_OK or DV_ERR_NO_MEMORY (u released). */
static int install_locked(dv_users *reg, dv_user *u)
{
    long i = find_locked(reg, u->name, u->name_len);
    if (i >= 0) {
        dv_user_release(reg->v[i]);
        reg->v[i] = u;
    } else {
        if (reg->n == reg->cap) {
            size_t cap = reg->cap ? reg->cap * 2 : 4;
            dv_user **v = dv_realloc(reg->v, cap * sizeof *v);
            if (!v) {
                dv_user_release(u);
                return DV_ERR_NO_MEMORY;
            }
            reg->v = v;
            reg->cap = cap;
        }
        reg->v[reg->n++] = u;
    }
    atomic_fetch_add(&reg->generation, 1);
    return DV_ERR_OK;
}

int dv_users_upsert(dv_users *reg, const dv_user_info *info, char *err, size_t errlen)
{
    int rc = check_name(info->name, info->name_len, err, errlen);
    if (rc != DV_ERR_OK) return rc;
    dv_user *u = user_new(reg, info->name, info->name_len, info->display, info->groups,
                          info->ngroups, info->roles);
    if (!u) return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    if (info->password) {
        u->password = dv_malloc(info->password_len ? info->password_len : 1);
        if (!u->password) {
            dv_user_release(u);
            return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
        }
        if (info->password_len) memcpy(u->password, info->password, info->password_len);
        u->password_len = info->password_len;
        u->pw_changed = now_ms();
    }
    pthread_rwlock_wrlock(&reg->lock);
    if (!info->password) {
        long i = find_locked(reg, info->name, info->name_len);
        if (i < 0) {
            pthread_rwlock_unlock(&reg->lock);
            dv_user_release(u);
            return dv_errmsg(err, errlen, DV_ERR_INVALID_ARGUMENT,
                             "Password is required for new user.");
        }
        rc = secret_copy(u, reg->v[i]);
    }
    if (rc == DV_ERR_OK) rc = effective_locked(reg, u);
    if (rc == DV_ERR_OK)
        rc = install_locked(reg, u);
    else
        dv_user_release(u);
    pthread_rwlock_unlock(&reg->lock);
    if (rc != DV_ERR_OK) return dv_errmsg(err, errlen, rc, "out of memory");
    return DV_ERR_OK;
}

int dv_users_set(dv_users *reg, const char *name, size_t name_len, const char *password,
                 size_t password_len, const dv_roles *roles, char *err, size_t errlen)
{
    dv_user_info info = {.name = name,
                         .name_len = name_len,
                         .password = password ? password : "",
                         .password_len = password ? password_len : 0,
                         .roles = roles};
    return dv_users_upsert(reg, &info, err, errlen);
}

/* After a group changed (or went, gone != 0): every member gets a new object with its roles
 * recomputed (a dropped group also leaves the members' group lists). Under the write lock. */
static int regroup_locked(dv_users *reg, const char *group, int gone)
{
    int rc = DV_ERR_OK;
    for (size_t i = 0; i < reg->n && rc == DV_ERR_OK; i++) {
        dv_user *old = reg->v[i];
        size_t k = 0;
        while (k < old->ngroups && strcmp(old->groups[k], group) != 0) k++;
        if (k == old->ngroups) continue;
        const char **keep = dv_calloc(old->ngroups, sizeof *keep);
        if (!keep) return DV_ERR_NO_MEMORY;
        size_t nkeep = 0;
        for (size_t j = 0; j < old->ngroups; j++)
            if (!gone || j != k) keep[nkeep++] = old->groups[j];
        dv_user *u = user_new(reg, old->name, old->name_len, old->display, keep, nkeep, &old->own);
        dv_free(keep);
        if (!u) return DV_ERR_NO_MEMORY;
        rc = secret_copy(u, old);
        if (rc == DV_ERR_OK) rc = effective_locked(reg, u);
        if (rc != DV_ERR_OK) {
            dv_user_release(u);
            break;
        }
        reg->v[i] = u;
        dv_user_release(old);
    }
    atomic_fetch_add(&reg->generation, 1);
    return rc;
}

int dv_users_group_set(dv_users *reg, const char *name, const char *description,
                       const char *ldap_ref, const dv_roles *roles, char *err, size_t errlen)
{
    char msg[256];
    int rc = check_name(name, strlen(name), msg, sizeof msg);
    if (rc != DV_ERR_OK)
        return dv_errmsg(err, errlen, rc,
                         "Group name must be 1 to %d characters, without spaces, control "
                         "characters or any of ()<>@,;:\\\"/[]?={}",
                         DV_USER_MAX_NAME);
    dv_group g = {0};
    int fail = 0;
    g.name = strdup_opt(name, &fail);
    g.description = strdup_opt(description, &fail);
    g.ldap_ref = strdup_opt(ldap_ref, &fail);
    if (fail || dv_roles_copy(&g.roles, roles) != DV_ERR_OK) {
        dv_group_clear(&g);
        return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
    }
    pthread_rwlock_wrlock(&reg->lock);
    long i = find_group_locked(reg, name);
    if (i >= 0) {
        dv_group_clear(&reg->groups[i]);
        reg->groups[i] = g;
    } else {
        if (reg->ngroups == reg->gcap) {
            size_t cap = reg->gcap ? reg->gcap * 2 : 4;
            dv_group *v = dv_realloc(reg->groups, cap * sizeof *v);
            if (!v) {
                pthread_rwlock_unlock(&reg->lock);
                dv_group_clear(&g);
                return dv_errmsg(err, errlen, DV_ERR_NO_MEMORY, "out of memory");
            }
            reg->groups = v;
            reg->gcap = cap;
        }
        reg->groups[reg->ngroups++] = g;
    }
    rc = regroup_locked(reg, name, 0);
    pthread_rwlock_unlock(&reg->lock);
    if (rc != DV_ERR_OK) return dv_errmsg(err, errlen, rc, "out of memory");
    return DV_ERR_OK;
}

int dv_users_group_remove(dv_users *reg, const char *name)
{
    pthread_rwlock_wrlock(&reg->lock);
    long i = find_group_locked(reg, name);
    if (i < 0) {
        pthread_rwlock_unlock(&reg->lock);
        return DV_ERR_GROUP_NOT_FOUND;
    }
    dv_group_clear(&reg->groups[i]);
    reg->groups[i] = reg->groups[--reg->ngroups];
    int rc = regroup_locked(reg, name, 1);
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

static int group_copy(dv_group *out, const dv_group *g)
{
    int fail = 0;
    memset(out, 0, sizeof *out);
    out->name = strdup_opt(g->name, &fail);
    out->description = strdup_opt(g->description, &fail);
    out->ldap_ref = strdup_opt(g->ldap_ref, &fail);
    if (fail || dv_roles_copy(&out->roles, &g->roles) != DV_ERR_OK) {
        dv_group_clear(out);
        return DV_ERR_NO_MEMORY;
    }
    return DV_ERR_OK;
}

int dv_users_group_get(dv_users *reg, const char *name, dv_group *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&reg->lock);
    long i = find_group_locked(reg, name);
    int rc = i < 0 ? DV_ERR_GROUP_NOT_FOUND : group_copy(out, &reg->groups[i]);
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

static int group_cmp(const void *a, const void *b)
{
    return strcmp(((const dv_group *)a)->name, ((const dv_group *)b)->name);
}

int dv_users_group_list(dv_users *reg, dv_group **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&reg->lock);
    int rc = DV_ERR_OK;
    if (reg->ngroups) {
        *out = dv_calloc(reg->ngroups, sizeof **out);
        if (!*out) rc = DV_ERR_NO_MEMORY;
        for (size_t i = 0; rc == DV_ERR_OK && i < reg->ngroups; i++) {
            rc = group_copy(&(*out)[i], &reg->groups[i]);
            if (rc == DV_ERR_OK) (*n)++;
        }
    }
    pthread_rwlock_unlock(&reg->lock);
    if (rc != DV_ERR_OK) {
        dv_group_list_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1) qsort(*out, *n, sizeof **out, group_cmp);
    return DV_ERR_OK;
}

void dv_group_list_free(dv_group *v, size_t n)
{
    for (size_t i = 0; i < n; i++) dv_group_clear(&v[i]);
    dv_free(v);
}

static int user_cmp(const void *a, const void *b)
{
    return strcmp((*(dv_user *const *)a)->name, (*(dv_user *const *)b)->name);
}

int dv_users_list(dv_users *reg, dv_user ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&reg->lock);
    if (reg->n) {
        *out = dv_calloc(reg->n, sizeof **out);
        if (!*out) {
            pthread_rwlock_unlock(&reg->lock);
            return DV_ERR_NO_MEMORY;
        }
        for (size_t i = 0; i < reg->n; i++) (*out)[i] = dv_user_ref(reg->v[i]);
        *n = reg->n;
    }
    pthread_rwlock_unlock(&reg->lock);
    if (*n > 1) qsort(*out, *n, sizeof **out, user_cmp);
    return DV_ERR_OK;
}

void dv_users_list_free(dv_user **v, size_t n)
{
    for (size_t i = 0; i < n; i++) dv_user_release(v[i]);
    dv_free(v);
}

const char *dv_user_display_name(const dv_user *u)
{
    return u->display;
}

const dv_roles *dv_user_own_roles(const dv_user *u)
{
    return &u->own;
}

const char *const *dv_user_groups(const dv_user *u, size_t *n)
{
    *n = u->ngroups;
    return (const char *const *)u->groups;
}

int64_t dv_user_password_changed(const dv_user *u)
{
    return u->pw_changed;
}

int dv_users_set_spec(dv_users *reg, const dv_user_spec *spec, char *err, size_t errlen)
{
    return dv_users_set(reg, spec->name, strlen(spec->name), spec->password, strlen(spec->password),
                        &spec->roles, err, errlen);
}

int dv_users_add_flag(dv_users *reg, const char *arg, char *err, size_t errlen)
{
    dv_user_spec spec;
    int rc = dv_user_spec_parse(&spec, arg, err, errlen);
    if (rc == DV_ERR_OK) rc = dv_users_set_spec(reg, &spec, err, errlen);
    dv_user_spec_clear(&spec);
    return rc;
}

int dv_users_add_default(dv_users *reg, char *err, size_t errlen)
{
    return dv_users_add_flag(reg, "Administrator:password:admin", err, errlen);
}

int dv_users_remove(dv_users *reg, const char *name, size_t name_len)
{
    dv_user *old = NULL;
    pthread_rwlock_wrlock(&reg->lock);
    long i = find_locked(reg, name, name_len);
    if (i >= 0) {
        old = reg->v[i];
        reg->v[i] = reg->v[--reg->n];
        atomic_fetch_add(&reg->generation, 1);
    }
    pthread_rwlock_unlock(&reg->lock);
    if (!old) return DV_ERR_USER_NOT_FOUND;
    dv_user_release(old);
    return DV_ERR_OK;
}

dv_user *dv_users_get(dv_users *reg, const char *name, size_t name_len)
{
    dv_user *u = NULL;
    pthread_rwlock_rdlock(&reg->lock);
    long i = find_locked(reg, name, name_len);
    if (i >= 0) u = dv_user_ref(reg->v[i]);
    pthread_rwlock_unlock(&reg->lock);
    return u;
}

size_t dv_users_count(dv_users *reg)
{
    pthread_rwlock_rdlock(&reg->lock);
    size_t n = reg->n;
    pthread_rwlock_unlock(&reg->lock);
    return n;
}

uint64_t dv_users_generation(dv_users *reg)
{
    return atomic_load(&reg->generation);
}

dv_user *dv_users_check_password(dv_users *reg, const char *name, size_t name_len,
                                 const char *password, size_t password_len)
{
    dv_user *u = dv_users_get(reg, name, name_len);
    if (!u) {
        /* Spend the same PBKDF2 run as for a known user, so timing does not reveal names. */
        dv_sasl_creds dummy;
        memset(&dummy, 0, sizeof dummy);
        dv_sasl_scram_secret *d = &dummy.scram[DV_SASL_HASH_SHA512];
        memcpy(d->salt, reg->secret, DV_SASL_SALT_LEN);
        d->salt_len = DV_SASL_SALT_LEN;
        d->iterations = reg->iterations;
        (void)dv_sasl_creds_check_password(&dummy, password, password_len);
        return NULL;
    }
    if (user_creds(u) != DV_ERR_OK ||
        dv_sasl_creds_check_password(&u->creds, password, password_len) != DV_ERR_OK) {
        dv_user_release(u);
        return NULL;
    }
    return u;
}

int dv_users_sasl_lookup(void *ud, const char *user, size_t user_len, dv_sasl_creds *out)
{
    dv_users *reg = ud;
    dv_user *u = dv_users_get(reg, user, user_len);
    if (!u) return 0;
    int found = user_creds(u) == DV_ERR_OK;
    if (found) *out = u->creds;
    dv_user_release(u);
    return found;
}

const uint8_t *dv_users_fake_salt_key(const dv_users *reg, size_t *len)
{
    if (len) *len = SECRET_LEN;
    return reg->secret;
}
