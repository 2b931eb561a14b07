/* divan-server's users: who may connect, with which password, and what they may do.
 *
 * A registry maps user names to immutable, reference-counted users: the name, SCRAM credentials
 * derived from the password (never the password itself) and a list of roles in Couchbase's
 * syntax. Lookups take a read lock, changes a write lock, so many sessions can authenticate at
 * once. Changing a user installs a new object: a session holding the old one keeps its old roles
 * until it fetches the user again (dv_users_generation tells it when anything changed).
 *
 * Roles (`admin`, `bucket_full_access[b]`, `data_reader[b:s:c]`, ...) grant permissions:
 *   DV_PERM_SELECT          see a bucket: SELECT_BUCKET, the bucket's config
 *   DV_PERM_READ            read documents
 *   DV_PERM_WRITE           write (insert, replace, delete) documents
 *   DV_PERM_MANAGE          manage a bucket: scopes, collections, flush
 *   DV_PERM_CLUSTER_READ    read cluster settings, list buckets
 *   DV_PERM_CLUSTER_ADMIN   create and drop buckets, change cluster settings
 *   DV_PERM_USER_ADMIN      create, change and remove users
 *   DV_PERM_XATTR_READ      read a document's user extended attributes (sub-document)
 *   DV_PERM_XATTR_WRITE     write them
 *   DV_PERM_SXATTR_READ     read system extended attributes (names starting with '_')
 *   DV_PERM_SXATTR_WRITE    write them
 *   DV_PERM_QUERY_*         SQL++ SELECT, INSERT, UPDATE, DELETE and index management
 * A role with a bucket parameter grants on that bucket (`*`: every bucket); a scoped role
 * (`[b:s]`, `[b:s:c]`) grants on that scope or collection only, except DV_PERM_SELECT, which any
 * role on a bucket grants (as Couchbase lets such a user select the bucket). `admin` grants
 * everything everywhere. */
#ifndef DV_SERVER_USERS_H
#define DV_SERVER_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "sasl/sasl.h"

/* ---- Roles ------------------------------------------------------------------------------------
 */

#define DV_ROLE_MAX_NAME 251 /* longest bucket, scope or collection name in a role */

typedef enum dv_role_kind {
    DV_ROLE_ADMIN,
    DV_ROLE_RO_ADMIN,
    DV_ROLE_CLUSTER_ADMIN,
    DV_ROLE_SECURITY_ADMIN,
    DV_ROLE_REPLICATION_ADMIN,
    DV_ROLE_EXTERNAL_STATS_READER,
    DV_ROLE_QUERY_SYSTEM_CATALOG,
    DV_ROLE_QUERY_EXTERNAL_ACCESS,
    DV_ROLE_ANALYTICS_READER,
    DV_ROLE_ANALYTICS_ADMIN,
    DV_ROLE_EVENTING_ADMIN,
    DV_ROLE_BUCKET_ADMIN,
    DV_ROLE_BUCKET_FULL_ACCESS,
    DV_ROLE_VIEWS_ADMIN,
    DV_ROLE_VIEWS_READER,
    DV_ROLE_DATA_BACKUP,
    DV_ROLE_FTS_ADMIN,
    DV_ROLE_MOBILE_SYNC_GATEWAY,
    DV_ROLE_REPLICATION_TARGET,
    DV_ROLE_ANALYTICS_MANAGER,
    DV_ROLE_SCOPE_ADMIN,
    DV_ROLE_DATA_READER,
    DV_ROLE_DATA_WRITER,
    DV_ROLE_DATA_DM_WRITER,
    DV_ROLE_DATA_MONITORING,
    DV_ROLE_FTS_SEARCHER,
    DV_ROLE_QUERY_SELECT,
    DV_ROLE_QUERY_UPDATE,
    DV_ROLE_QUERY_INSERT,
    DV_ROLE_QUERY_DELETE,
    DV_ROLE_QUERY_MANAGE_INDEX,
    DV_ROLE_ANALYTICS_SELECT,
    DV_ROLE_KIND_COUNT
} dv_role_kind;

enum {
    DV_PERM_SELECT = 1u << 0,
    DV_PERM_READ = 1u << 1,
    DV_PERM_WRITE = 1u << 2,
    DV_PERM_MANAGE = 1u << 3,
    DV_PERM_CLUSTER_READ = 1u << 4,
    DV_PERM_CLUSTER_ADMIN = 1u << 5,
    DV_PERM_USER_ADMIN = 1u << 6,
    DV_PERM_XATTR_READ = 1u << 7,
    DV_PERM_XATTR_WRITE = 1u << 8,
    DV_PERM_SXATTR_READ = 1u << 9,
    DV_PERM_SXATTR_WRITE = 1u << 10,
    DV_PERM_QUERY_SELECT = 1u << 11, /* SQL++ SELECT on a keyspace (query_select) */
    DV_PERM_QUERY_INSERT = 1u << 12,
    DV_PERM_QUERY_UPDATE = 1u << 13,
    DV_PERM_QUERY_DELETE = 1u << 14,
    DV_PERM_QUERY_INDEX = 1u << 15, /* CREATE/DROP/BUILD INDEX (query_manage_index) */
};

/* One role. bucket, scope and collection are NULL when absent (cluster roles have none; a
 * bucket-wide role has no scope); "*" means any. */
typedef struct dv_role {
    dv_role_kind kind;
    char *bucket;
    char *scope;
    char *collection;
} dv_role;

typedef struct dv_roles {
    dv_role *v;
    size_t n;
} dv_roles;

/* The role's name as written ("data_reader"); NULL out of range. */
const char *dv_role_name(dv_role_kind kind);
/* The parameters the role takes: 0 none, 1 a bucket, 2 up to a scope, 3 up to a collection. */
unsigned dv_role_params(dv_role_kind kind);

/* Parse a comma-separated role list ("admin", "data_reader[b:s:c], data_writer[*]"); spaces
 * around a role are ignored. Each role takes the parameters Couchbase gives it: none (admin),
 * a bucket (bucket_admin[b]), a bucket or scope (scope_admin[b:s]) or a bucket, scope or
 * collection (data_reader[b], [b:s], [b:s:c]). Names are 1..DV_ROLE_MAX_NAME characters of
 * A-Z a-z 0-9 _ - . %, or "*"; after a "*" only "*" may follow. A duplicate role is kept once.
 * DV_ERR_OK and *out filled (free with dv_roles_clear), or DV_ERR_INVALID_ARGUMENT (empty list,
 * bad syntax, unknown role, wrong parameters) or DV_ERR_NO_MEMORY with a message in err. */
int dv_roles_parse(dv_roles *out, const char *s, size_t len, char *err, size_t errlen);
/* A deep copy; DV_ERR_OK or DV_ERR_NO_MEMORY. */
int dv_roles_copy(dv_roles *out, const dv_roles *in);
void dv_roles_clear(dv_roles *r);
/* The list in the syntax dv_roles_parse reads ("admin,data_reader[b:s]"), NUL-terminated, in
 * buf of len bytes; the length it needs (without the NUL), like snprintf. */
size_t dv_roles_format(const dv_roles *r, char *buf, size_t len);

/* 1 if the roles grant every permission in perms (DV_PERM_* bits) on the target, else 0.
 * bucket, scope, collection: the target, NULL for "the whole bucket / scope"; cluster
 * permissions ignore them. A role on b:s does not grant on the whole bucket b (bucket NULL
 * scope), except DV_PERM_SELECT. */
int dv_roles_allow(const dv_roles *r, unsigned perms, const char *bucket, const char *scope,
                   const char *collection);
/* 1 if the roles grant every permission in perms on at least one scope or collection of the
 * bucket (kv_engine's "privilege in at least one collection", for OBSERVE_SEQNO). */
int dv_roles_allow_somewhere(const dv_roles *r, unsigned perms, const char *bucket);

/* ---- Users ------------------------------------------------------------------------------------
 */

#define DV_USER_MAX_NAME 128

typedef struct dv_user dv_user; /* immutable; thread-safe reference count */

const char *dv_user_name(const dv_user *u);
/* The effective roles: the user's own and its groups'. */
const dv_roles *dv_user_roles(const dv_user *u);
/* The roles given to the user itself. */
const dv_roles *dv_user_own_roles(const dv_user *u);
const char *dv_user_display_name(const dv_user *u); /* NULL: none */
const char *const *dv_user_groups(const dv_user *u, size_t *n);
/* Unix milliseconds of the last password change, 0 if unknown. */
int64_t dv_user_password_changed(const dv_user *u);
const dv_sasl_creds *dv_user_creds(const dv_user *u);
/* dv_roles_allow on the user's roles. */
int dv_user_allow(const dv_user *u, unsigned perms, const char *bucket, const char *scope,
                  const char *collection);
dv_user *dv_user_ref(dv_user *u);
void dv_user_release(dv_user *u); /* NULL is fine */

/* ---- The --user flag -------------------------------------------------------------------------
 * NAME:PASSWORD or NAME:PASSWORD:ROLES (ROLES as dv_roles_parse; default "admin"). The name ends
 * at the first ':'. With two or more ':' the text after the LAST one is always the role list, so
 * a password containing ':' needs its roles written out: "bob:a:b:admin" is bob, "a:b", admin. */

typedef struct dv_user_spec {
    char *name;
    char *password;
    dv_roles roles;
} dv_user_spec;

/* DV_ERR_OK and *out filled (free with dv_user_spec_clear), or DV_ERR_INVALID_ARGUMENT (empty
 * name, bad name, missing or empty password, bad roles) or DV_ERR_NO_MEMORY, with a message. */
int dv_user_spec_parse(dv_user_spec *out, const char *arg, char *err, size_t errlen);
void dv_user_spec_clear(dv_user_spec *s);

/* ---- The registry -----------------------------------------------------------------------------
 */

typedef struct dv_users dv_users;

/* An empty registry whose users' credentials use this PBKDF2 iteration count (0: 4096), with a
 * fresh random secret for fake salts. NULL on allocation or random failure. */
dv_users *dv_users_new(uint32_t iterations);
/* Frees the registry; users still referenced elsewhere live until released. */
void dv_users_free(dv_users *reg);

/* Add a user, or replace the user of the same name. name: 1..DV_USER_MAX_NAME printable ASCII
 * characters other than ( ) < > , ; : \ " / [ ] ? = { } and space, not starting with @; password:
 * bytes, may be empty; roles copied. DV_ERR_OK, DV_ERR_INVALID_ARGUMENT, DV_ERR_NO_MEMORY or a
 * crypto error, with a message. Derives credentials (three PBKDF2 runs) outside the lock. */
int dv_users_set(dv_users *reg, const char *name, size_t name_len, const char *password,
                 size_t password_len, const dv_roles *roles, char *err, size_t errlen);
/* A local user as the RBAC REST API sets it. */
typedef struct dv_user_info {
    const char *name;
    size_t name_len;
    const char *display;  /* NULL: none */
    const char *password; /* NULL: keep the user's password (refused for a new user) */
    size_t password_len;
    const char *const *groups; /* group names; groups that do not exist grant nothing */
    size_t ngroups;
    const dv_roles *roles; /* the user's own roles */
} dv_user_info;

/* Add or replace the user: its effective roles (what dv_user_allow checks) are its own roles
 * and those of its groups. DV_ERR_OK, DV_ERR_INVALID_ARGUMENT (bad name; no password for a new
 * user: "Password is required for new user.") or DV_ERR_NO_MEMORY, with a message. */
int dv_users_upsert(dv_users *reg, const dv_user_info *info, char *err, size_t errlen);
/* dv_users_set from a parsed --user flag. */
int dv_users_set_spec(dv_users *reg, const dv_user_spec *spec, char *err, size_t errlen);
/* Parse a --user flag and set the user. */
int dv_users_add_flag(dv_users *reg, const char *arg, char *err, size_t errlen);
/* The user of a server started without --user: Administrator / password, admin. */
int dv_users_add_default(dv_users *reg, char *err, size_t errlen);
/* DV_ERR_OK, or DV_ERR_USER_NOT_FOUND. */
int dv_users_remove(dv_users *reg, const char *name, size_t name_len);

/* References to every user, sorted by name (free with dv_users_list_free). DV_ERR_OK or
 * DV_ERR_NO_MEMORY. */
int dv_users_list(dv_users *reg, dv_user ***out, size_t *n);
void dv_users_list_free(dv_user **v, size_t n);

/* ---- Groups: named role sets whose roles every member user holds ---------------------------- */

typedef struct dv_group {
    char *name;
    char *description; /* NULL: none */
    char *ldap_ref;    /* NULL: none (kept, not used: divan-server has no LDAP) */
    dv_roles roles;
} dv_group;

void dv_group_clear(dv_group *g);
/* Add or replace a group (name as a user name; roles may be empty) and give its roles to its
 * members at once. DV_ERR_OK, DV_ERR_INVALID_ARGUMENT or DV_ERR_NO_MEMORY, with a message. */
int dv_users_group_set(dv_users *reg, const char *name, const char *description,
                       const char *ldap_ref, const dv_roles *roles, char *err, size_t errlen);
/* Remove a group: its members lose it and its roles. DV_ERR_OK or DV_ERR_GROUP_NOT_FOUND. */
int dv_users_group_remove(dv_users *reg, const char *name);
/* A copy of the named group (dv_group_clear it): DV_ERR_OK, DV_ERR_GROUP_NOT_FOUND or
 * DV_ERR_NO_MEMORY. */
int dv_users_group_get(dv_users *reg, const char *name, dv_group *out);
/* Copies of every group, sorted by name (free with dv_group_list_free). */
int dv_users_group_list(dv_users *reg, dv_group **out, size_t *n);
void dv_group_list_free(dv_group *v, size_t n);

/* A reference to the named user (release it), or NULL. */
dv_user *dv_users_get(dv_users *reg, const char *name, size_t name_len);
size_t dv_users_count(dv_users *reg);
/* Incremented by every set and remove. */
uint64_t dv_users_generation(dv_users *reg);

/* HTTP basic auth: a reference to the user if the password matches, else NULL
 * (unknown user, wrong password, crypto failure). One PBKDF2-SHA512 run outside the lock,
 * unknown users included (the time does not tell names apart). */
dv_user *dv_users_check_password(dv_users *reg, const char *name, size_t name_len,
                                 const char *password, size_t password_len);

/* A dv_sasl_lookup_fn: ud is the dv_users. Copies the user's credentials. */
int dv_users_sasl_lookup(void *ud, const char *user, size_t user_len, dv_sasl_creds *out);
/* The registry's random secret for dv_sasl_server_config.fake_salt_key: *len bytes, valid for
 * the registry's life. */
const uint8_t *dv_users_fake_salt_key(const dv_users *reg, size_t *len);

#endif
