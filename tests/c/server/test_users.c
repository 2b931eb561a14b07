#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "divan/error.h"
#include "sasl/sasl.h"
#include "server/users.h"

static dv_roles roles_ok(const char *s)
{
    dv_roles r;
    char err[1024] = "";
    int rc = dv_roles_parse(&r, s, strlen(s), err, sizeof err);
    if (rc != DV_ERR_OK) fail_msg("parse \"%s\": %s", s, err);
    return r;
}

static void roles_bad(const char *s, const char *want)
{
    dv_roles r;
    char err[1024] = "";
    assert_int_equal(dv_roles_parse(&r, s, strlen(s), err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    if (!strstr(err, want)) fail_msg("parse \"%s\": \"%s\" lacks \"%s\"", s, err, want);
    assert_null(r.v);
    assert_int_equal(r.n, 0);
}

static void check_format(const char *in, const char *want)
{
    dv_roles r = roles_ok(in);
    char buf[512];
    size_t n = dv_roles_format(&r, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    dv_roles_clear(&r);
}

static void role_parsing(void **state)
{
    (void)state;
    dv_roles r = roles_ok("admin");
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].kind, DV_ROLE_ADMIN);
    assert_null(r.v[0].bucket);
    dv_roles_clear(&r);

    r = roles_ok(" data_reader[b:s:c] , bucket_admin[*],scope_admin[b:s]");
    assert_int_equal(r.n, 3);
    assert_int_equal(r.v[0].kind, DV_ROLE_DATA_READER);
    assert_string_equal(r.v[0].bucket, "b");
    assert_string_equal(r.v[0].scope, "s");
    assert_string_equal(r.v[0].collection, "c");
    assert_int_equal(r.v[1].kind, DV_ROLE_BUCKET_ADMIN);
    assert_string_equal(r.v[1].bucket, "*");
    assert_null(r.v[1].scope);
    assert_int_equal(r.v[2].kind, DV_ROLE_SCOPE_ADMIN);
    assert_string_equal(r.v[2].scope, "s");
    assert_null(r.v[2].collection);
    dv_roles copy;
    assert_int_equal(dv_roles_copy(&copy, &r), DV_ERR_OK);
    assert_int_equal(copy.n, 3);
    assert_string_equal(copy.v[0].collection, "c");
    dv_roles_clear(&copy);
    dv_roles_clear(&r);

    /* Canonical text: wildcards after the bucket dropped, duplicates kept once. */
    check_format("ro_admin,cluster_admin", "ro_admin,cluster_admin");
    check_format("data_writer[b:*:*],data_writer[b]", "data_writer[b]");
    check_format("data_reader[*:*]", "data_reader[*]");
    check_format("data_dm_writer[travel-sample.1:in_ventory:%x]",
                 "data_dm_writer[travel-sample.1:in_ventory:%x]");
    check_format("views_admin[default],bucket_full_access[default]",
                 "views_admin[default],bucket_full_access[default]");
    /* Truncation reports the needed length. */
    r = roles_ok("admin,ro_admin");
    char small[6];
    assert_int_equal(dv_roles_format(&r, small, sizeof small), 14);
    assert_string_equal(small, "admin");
    dv_roles_clear(&r);

    assert_string_equal(dv_role_name(DV_ROLE_DATA_DM_WRITER), "data_dm_writer");
    assert_null(dv_role_name(DV_ROLE_KIND_COUNT));

    roles_bad("", "empty role list");
    roles_bad("  ", "empty role list");
    roles_bad("admin,", "empty role");
    roles_bad("admin,,ro_admin", "empty role");
    roles_bad("superuser", "unknown role \"superuser\"");
    roles_bad("superuser[b]", "unknown role \"superuser\"");
    roles_bad("Admin", "unknown role");
    roles_bad("ad min", "bad role syntax");
    roles_bad("admin[b]", "takes no parameters");
    roles_bad("data_reader", "needs a bucket");
    roles_bad("data_reader[b", "expected ']'");
    roles_bad("data_reader[b]x", "expected ']'");
    roles_bad("data_reader[]", "empty name");
    roles_bad("data_reader[b::c]", "empty name");
    roles_bad("data_reader[b:s:]", "empty name");
    roles_bad("data_reader[b:s:c:d]", "more than bucket:scope:collection");
    roles_bad("bucket_admin[b:s]", "takes [bucket]");
    roles_bad("scope_admin[b:s:c]", "takes [bucket] or [bucket:scope]");
    roles_bad("data_reader[*:s]", "only '*' may follow '*'");
    roles_bad("data_reader[b c]", "bad character");
    roles_bad("data_reader[b][c]", "bad character");
    char longname[300];
    memset(longname, 0, sizeof longname);
    strcpy(longname, "data_reader[");
    memset(longname + 12, 'x', 252);
    strcat(longname, "]");
    roles_bad(longname, "longer than");
}

static void permission_matrix(void **state)
{
    (void)state;
    const unsigned all_bucket = DV_PERM_SELECT | DV_PERM_READ | DV_PERM_WRITE | DV_PERM_MANAGE;
    const unsigned cluster = DV_PERM_CLUSTER_READ | DV_PERM_CLUSTER_ADMIN | DV_PERM_USER_ADMIN;

    dv_roles r = roles_ok("admin");
    assert_true(dv_roles_allow(&r, all_bucket | cluster, "any", "s", "c"));
    assert_true(dv_roles_allow(&r, all_bucket, "other", NULL, NULL));
    assert_true(dv_roles_allow(&r, cluster, NULL, NULL, NULL));
    dv_roles_clear(&r);

    r = roles_ok("bucket_full_access[default]");
    assert_true(dv_roles_allow(&r, all_bucket, "default", NULL, NULL));
    assert_true(dv_roles_allow(&r, all_bucket, "default", "s", "c"));
    assert_false(dv_roles_allow(&r, DV_PERM_SELECT, "other", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "other", "_default", "_default"));
    assert_false(dv_roles_allow(&r, DV_PERM_CLUSTER_READ, NULL, NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_CLUSTER_ADMIN, "default", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_USER_ADMIN, NULL, NULL, NULL));
    dv_roles_clear(&r);

    r = roles_ok("data_reader[default]");
    assert_true(dv_roles_allow(&r, DV_PERM_SELECT | DV_PERM_READ, "default", "s", "c"));
    assert_false(dv_roles_allow(&r, DV_PERM_WRITE, "default", "s", "c"));
    assert_false(dv_roles_allow(&r, DV_PERM_READ | DV_PERM_WRITE, "default", "s", "c"));
    assert_false(dv_roles_allow(&r, DV_PERM_MANAGE, "default", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_SELECT, "other", NULL, NULL));
    dv_roles_clear(&r);

    /* Roles add up. */
    r = roles_ok("data_reader[default],data_writer[default]");
    assert_true(dv_roles_allow(&r, DV_PERM_READ | DV_PERM_WRITE, "default", "s", "c"));
    dv_roles_clear(&r);

    r = roles_ok("data_writer[*]");
    assert_true(dv_roles_allow(&r, DV_PERM_SELECT | DV_PERM_WRITE, "a", "s", "c"));
    assert_true(dv_roles_allow(&r, DV_PERM_WRITE, "b", "_default", "_default"));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "a", "s", "c"));
    assert_false(dv_roles_allow(&r, DV_PERM_WRITE, NULL, NULL, NULL));
    dv_roles_clear(&r);

    /* Scoped: grants inside its scope / collection, SELECT on the bucket, nothing wider. */
    r = roles_ok("data_reader[b:inventory],data_writer[b:tenants:users]");
    assert_true(dv_roles_allow(&r, DV_PERM_SELECT, "b", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_SELECT, "c", NULL, NULL));
    assert_true(dv_roles_allow(&r, DV_PERM_READ, "b", "inventory", "hotels"));
    assert_true(dv_roles_allow(&r, DV_PERM_READ, "b", "inventory", NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "b", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "b", "_default", "_default"));
    assert_false(dv_roles_allow(&r, DV_PERM_WRITE, "b", "inventory", "hotels"));
    assert_true(dv_roles_allow(&r, DV_PERM_WRITE, "b", "tenants", "users"));
    assert_false(dv_roles_allow(&r, DV_PERM_WRITE, "b", "tenants", "orders"));
    assert_false(dv_roles_allow(&r, DV_PERM_WRITE, "b", "tenants", NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "b", "tenants", "users"));
    dv_roles_clear(&r);

    r = roles_ok("scope_admin[b:s]");
    assert_true(dv_roles_allow(&r, DV_PERM_MANAGE, "b", "s", NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_MANAGE, "b", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "b", "s", "c"));
    dv_roles_clear(&r);

    r = roles_ok("bucket_admin[default]");
    assert_true(dv_roles_allow(&r, DV_PERM_SELECT | DV_PERM_MANAGE, "default", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "default", "s", "c"));
    dv_roles_clear(&r);

    r = roles_ok("cluster_admin");
    assert_true(dv_roles_allow(&r, DV_PERM_CLUSTER_ADMIN | DV_PERM_CLUSTER_READ, NULL, NULL, NULL));
    assert_true(dv_roles_allow(&r, DV_PERM_SELECT | DV_PERM_MANAGE, "any", NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "any", "s", "c"));
    assert_false(dv_roles_allow(&r, DV_PERM_USER_ADMIN, NULL, NULL, NULL));
    dv_roles_clear(&r);

    r = roles_ok("ro_admin");
    assert_true(dv_roles_allow(&r, DV_PERM_CLUSTER_READ, NULL, NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_CLUSTER_ADMIN, NULL, NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_READ, "b", "s", "c"));
    dv_roles_clear(&r);

    r = roles_ok("security_admin");
    assert_true(dv_roles_allow(&r, DV_PERM_USER_ADMIN, NULL, NULL, NULL));
    assert_false(dv_roles_allow(&r, DV_PERM_CLUSTER_ADMIN, NULL, NULL, NULL));
    dv_roles_clear(&r);

    /* No roles, nothing; asking for nothing is always allowed. */
    dv_roles none = {0};
    assert_false(dv_roles_allow(&none, DV_PERM_SELECT, "b", NULL, NULL));
    assert_true(dv_roles_allow(&none, 0, "b", NULL, NULL));
}

static void spec_ok(const char *arg, const char *name, const char *pw, const char *roles)
{
    dv_user_spec s;
    char err[1024] = "";
    int rc = dv_user_spec_parse(&s, arg, err, sizeof err);
    if (rc != DV_ERR_OK) fail_msg("--user %s: %s", arg, err);
    assert_string_equal(s.name, name);
    assert_string_equal(s.password, pw);
    char buf[256];
    dv_roles_format(&s.roles, buf, sizeof buf);
    assert_string_equal(buf, roles);
    dv_user_spec_clear(&s);
}

static void spec_bad(const char *arg, const char *want)
{
    dv_user_spec s;
    char err[1024] = "";
    assert_int_equal(dv_user_spec_parse(&s, arg, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    if (!strstr(err, want)) fail_msg("--user %s: \"%s\" lacks \"%s\"", arg, err, want);
    assert_null(s.name);
    assert_null(s.password);
    assert_null(s.roles.v);
}

static void flag_parsing(void **state)
{
    (void)state;
    spec_ok("alice:secret", "alice", "secret", "admin");
    spec_ok("bob:pw:data_reader[default],data_writer[default]", "bob", "pw",
            "data_reader[default],data_writer[default]");
    spec_ok("carol:a:b:c:ro_admin", "carol", "a:b:c", "ro_admin");
    spec_ok("dave:p w=!:bucket_full_access[travel-sample]", "dave", "p w=!",
            "bucket_full_access[travel-sample]");

    spec_bad("", "empty user name");
    spec_bad(":pw", "empty user name");
    spec_bad(":pw:admin", "empty user name");
    spec_bad("alice", "missing password");
    spec_bad("alice:", "empty password");
    spec_bad("alice::admin", "empty password");
    spec_bad("alice:pw:", "empty role list");
    spec_bad("alice:pw:root", "unknown role \"root\"");
    spec_bad("alice:pw:data_reader[b", "expected ']'");
    spec_bad("alice:pw:admin[b]", "takes no parameters");
    spec_bad("al ice:pw", "not allowed");
    spec_bad("@ab:pw", "not allowed");
    spec_ok("ann@example.com:pw", "ann@example.com", "pw", "admin");
    /* A password with ':' needs its roles: otherwise its tail reads as roles. */
    spec_bad("alice:a:b", "unknown role \"b\"");
    dv_user_spec_clear(NULL);
}

static void passwords(void **state)
{
    (void)state;
    dv_users *reg = dv_users_new(4096);
    assert_non_null(reg);
    char err[1024] = "";
    assert_int_equal(dv_users_add_default(reg, err, sizeof err), DV_ERR_OK);
    assert_int_equal(dv_users_add_flag(reg, "reader:r3ad:er:data_reader[default]", err, sizeof err),
                     DV_ERR_OK);
    assert_int_equal(dv_users_count(reg), 2);

    dv_user *u = dv_users_check_password(reg, "Administrator", 13, "password", 8);
    assert_non_null(u);
    assert_string_equal(dv_user_name(u), "Administrator");
    assert_true(dv_user_allow(u, DV_PERM_USER_ADMIN | DV_PERM_WRITE, "x", "s", "c"));
    dv_user_release(u);

    u = dv_users_check_password(reg, "reader", 6, "r3ad:er", 7);
    assert_non_null(u);
    assert_true(dv_user_allow(u, DV_PERM_READ, "default", "_default", "_default"));
    assert_false(dv_user_allow(u, DV_PERM_WRITE, "default", "_default", "_default"));
    assert_int_equal(dv_user_roles(u)->n, 1);
    dv_user_release(u);

    assert_null(dv_users_check_password(reg, "Administrator", 13, "Password", 8));
    assert_null(dv_users_check_password(reg, "Administrator", 13, "", 0));
    assert_null(dv_users_check_password(reg, "Administrator", 12, "password", 8));
    assert_null(dv_users_check_password(reg, "nobody", 6, "password", 8));

    /* The registry keeps no cleartext: the stored credentials are salted keys. */
    u = dv_users_get(reg, "reader", 6);
    assert_non_null(u);
    const dv_sasl_creds *c = dv_user_creds(u);
    assert_int_equal(c->scram[DV_SASL_HASH_SHA512].iterations, 4096);
    assert_int_equal(c->scram[DV_SASL_HASH_SHA512].salt_len, DV_SASL_SALT_LEN);
    assert_null(memmem(c, sizeof *c, "r3ad:er", 7));
    dv_user_release(u);

    size_t klen = 0;
    const uint8_t *key = dv_users_fake_salt_key(reg, &klen);
    assert_non_null(key);
    assert_int_equal(klen, 32);
    dv_users_free(reg);
}

static void add_replace_remove(void **state)
{
    (void)state;
    dv_users *reg = dv_users_new(0);
    assert_non_null(reg);
    char err[1024] = "";
    assert_int_equal(dv_users_count(reg), 0);
    uint64_t gen = dv_users_generation(reg);

    dv_roles r = roles_ok("data_reader[a]");
    assert_int_equal(dv_users_set(reg, "u", 1, "one", 3, &r, err, sizeof err), DV_ERR_OK);
    dv_roles_clear(&r);
    assert_true(dv_users_generation(reg) > gen);
    dv_user *old = dv_users_get(reg, "u", 1);
    assert_non_null(old);
    assert_int_equal(dv_user_creds(old)->scram[0].iterations, DV_SASL_MIN_ITERATIONS);

    /* Same name replaces: new password and roles; a held handle keeps the old ones. */
    r = roles_ok("data_writer[b]");
    gen = dv_users_generation(reg);
    assert_int_equal(dv_users_set(reg, "u", 1, "two", 3, &r, err, sizeof err), DV_ERR_OK);
    dv_roles_clear(&r);
    assert_true(dv_users_generation(reg) > gen);
    assert_int_equal(dv_users_count(reg), 1);
    assert_null(dv_users_check_password(reg, "u", 1, "one", 3));
    dv_user *cur = dv_users_check_password(reg, "u", 1, "two", 3);
    assert_non_null(cur);
    assert_true(dv_user_allow(cur, DV_PERM_WRITE, "b", "s", "c"));
    assert_false(dv_user_allow(cur, DV_PERM_READ, "a", "s", "c"));
    assert_true(dv_user_allow(old, DV_PERM_READ, "a", "s", "c"));
    dv_user_release(old);

    r = roles_ok("admin");
    assert_int_equal(dv_users_set(reg, "v", 1, "", 0, &r, err, sizeof err), DV_ERR_OK);
    assert_int_equal(dv_users_set(reg, "w", 1, "x", 1, &r, err, sizeof err), DV_ERR_OK);
    assert_int_equal(dv_users_count(reg), 3);
    assert_int_equal(dv_users_set(reg, "", 0, "x", 1, &r, err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "empty user name"));
    assert_int_equal(dv_users_set(reg, "a:b", 3, "x", 1, &r, err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT);
    char longname[DV_USER_MAX_NAME + 2];
    memset(longname, 'n', sizeof longname);
    assert_int_equal(dv_users_set(reg, longname, sizeof longname, "x", 1, &r, err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "longer than"));
    dv_roles_clear(&r);

    /* Remove: the user's handle outlives it. */
    assert_int_equal(dv_users_remove(reg, "u", 1), DV_ERR_OK);
    assert_int_equal(dv_users_remove(reg, "u", 1), DV_ERR_USER_NOT_FOUND);
    assert_int_equal(dv_users_remove(reg, "nobody", 6), DV_ERR_USER_NOT_FOUND);
    assert_null(dv_users_get(reg, "u", 1));
    assert_string_equal(dv_user_name(cur), "u");
    dv_user_release(cur);
    assert_int_equal(dv_users_count(reg), 2);
    dv_user *v = dv_users_check_password(reg, "v", 1, "", 0);
    assert_non_null(v);
    dv_user_release(v);
    assert_int_equal(dv_users_remove(reg, "v", 1), DV_ERR_OK);
    assert_int_equal(dv_users_remove(reg, "w", 1), DV_ERR_OK);
    assert_int_equal(dv_users_count(reg), 0);

    /* Errors from the flag reach the caller. */
    assert_int_equal(dv_users_add_flag(reg, "x:y:nope", err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "unknown role"));
    assert_int_equal(dv_users_count(reg), 0);
    dv_users_free(reg);
    dv_users_free(NULL);
}

/* One SCRAM-SHA512 conversation between src/sasl's client and server, the server looking the
 * user up in the registry. Returns the server's final result. */
static dv_sasl_result scram(dv_users *reg, const char *user, const char *password)
{
    size_t klen;
    const uint8_t *key = dv_users_fake_salt_key(reg, &klen);
    dv_sasl_server_config scfg = {dv_users_sasl_lookup, reg, key, klen, 0, NULL};
    dv_sasl_client_config ccfg = {DV_SASL_SCRAM_SHA512, user, password, NULL, 0};
    dv_sasl_server *s = dv_sasl_server_new(DV_SASL_SCRAM_SHA512, &scfg);
    assert_non_null(s);
    dv_sasl_client *c = NULL;
    const uint8_t *msg, *out;
    size_t msg_len, out_len;
    assert_int_equal(dv_sasl_client_start(&ccfg, &c, &msg, &msg_len), DV_ERR_OK);
    assert_int_equal(dv_sasl_server_step(s, msg, msg_len, &out, &out_len), DV_SASL_CONTINUE);
    assert_int_equal(dv_sasl_client_step(c, out, out_len, &msg, &msg_len), DV_SASL_CONTINUE);
    dv_sasl_result res = dv_sasl_server_step(s, msg, msg_len, &out, &out_len);
    if (res == DV_SASL_SUCCESS) {
        assert_int_equal(dv_sasl_client_step(c, out, out_len, NULL, NULL), DV_SASL_SUCCESS);
        assert_string_equal(dv_sasl_server_user(s), user);
    } else {
        assert_int_equal(dv_sasl_server_error(s), DV_ERR_AUTHENTICATION_FAILURE);
    }
    dv_sasl_client_free(c);
    dv_sasl_server_free(s);
    return res;
}

static void scram_through_registry(void **state)
{
    (void)state;
    dv_users *reg = dv_users_new(4096);
    assert_non_null(reg);
    char err[1024] = "";
    assert_int_equal(dv_users_add_default(reg, err, sizeof err), DV_ERR_OK);
    assert_int_equal(dv_users_add_flag(reg, "app:s3cret:data_reader[default]", err, sizeof err),
                     DV_ERR_OK);
    assert_int_equal(scram(reg, "Administrator", "password"), DV_SASL_SUCCESS);
    assert_int_equal(scram(reg, "app", "s3cret"), DV_SASL_SUCCESS);
    assert_int_equal(scram(reg, "app", "wrong"), DV_SASL_ERROR);
    assert_int_equal(scram(reg, "ghost", "s3cret"), DV_SASL_ERROR);

    dv_sasl_creds creds;
    assert_int_equal(dv_users_sasl_lookup(reg, "app", 3, &creds), 1);
    assert_int_equal(dv_users_sasl_lookup(reg, "ap", 2, &creds), 0);
    /* Removed users no longer authenticate. */
    assert_int_equal(dv_users_remove(reg, "app", 3), DV_ERR_OK);
    assert_int_equal(scram(reg, "app", "s3cret"), DV_SASL_ERROR);
    dv_users_free(reg);
}

/* Readers never miss a user that is being replaced, nor see a half-built one. */
typedef struct {
    dv_users *reg;
    atomic_int *stop;
    int misses;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    while (!atomic_load(a->stop)) {
        dv_user *u = dv_users_get(a->reg, "shared", 6);
        dv_sasl_creds creds;
        if (!u || dv_user_roles(u)->n != 1 || !dv_users_sasl_lookup(a->reg, "shared", 6, &creds) ||
            creds.scram[DV_SASL_HASH_SHA512].iterations != 4096)
            a->misses++;
        dv_user_release(u);
    }
    return NULL;
}

static void concurrent_readers(void **state)
{
    (void)state;
    dv_users *reg = dv_users_new(4096);
    assert_non_null(reg);
    char err[256] = "";
    assert_int_equal(dv_users_add_flag(reg, "shared:p0:data_reader[a]", err, sizeof err),
                     DV_ERR_OK);
    atomic_int stop;
    atomic_init(&stop, 0);
    pthread_t th[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (reader_arg){reg, &stop, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "shared:p%d:data_%s[a]", i, i % 2 ? "writer" : "reader");
        assert_int_equal(dv_users_add_flag(reg, flag, err, sizeof err), DV_ERR_OK);
        assert_int_equal(dv_users_add_flag(reg, "other:x", err, sizeof err), DV_ERR_OK);
        assert_int_equal(dv_users_remove(reg, "other", 5), DV_ERR_OK);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].misses, 0);
    }
    dv_user *u = dv_users_check_password(reg, "shared", 6, "p5", 2);
    assert_non_null(u);
    assert_true(dv_user_allow(u, DV_PERM_WRITE, "a", "s", "c"));
    dv_user_release(u);
    dv_users_free(reg);
}

/* A group's roles are its members' at once; a member keeps its password through the changes. */
static void groups_grant(void **state)
{
    (void)state;
    dv_users *reg = dv_users_new(0);
    assert_non_null(reg);
    char err[512] = "";
    dv_roles none = {0}, rr = roles_ok("data_reader[b]"), own = roles_ok("data_writer[c]");
    assert_int_equal(dv_users_group_set(reg, "g", "readers", NULL, &rr, err, sizeof err),
                     DV_ERR_OK);
    const char *groups[] = {"g", "missing"};
    dv_user_info info = {.name = "m",
                         .name_len = 1,
                         .password = "pw1234",
                         .password_len = 6,
                         .groups = groups,
                         .ngroups = 2,
                         .roles = &own};
    assert_int_equal(dv_users_upsert(reg, &info, err, sizeof err), DV_ERR_OK);
    dv_user *u = dv_users_check_password(reg, "m", 1, "pw1234", 6);
    assert_non_null(u);
    assert_true(dv_user_allow(u, DV_PERM_READ, "b", "s", "c"));
    assert_true(dv_user_allow(u, DV_PERM_WRITE, "c", NULL, NULL));
    assert_false(dv_user_allow(u, DV_PERM_WRITE, "b", NULL, NULL));
    assert_int_equal(dv_user_own_roles(u)->n, 1);
    assert_true(dv_user_password_changed(u) > 0);
    dv_user_release(u);

    /* The group changes: the member's roles follow, its password stays. */
    dv_roles wr = roles_ok("data_writer[b]");
    uint64_t gen = dv_users_generation(reg);
    assert_int_equal(dv_users_group_set(reg, "g", NULL, NULL, &wr, err, sizeof err), DV_ERR_OK);
    assert_true(dv_users_generation(reg) > gen);
    u = dv_users_check_password(reg, "m", 1, "pw1234", 6);
    assert_non_null(u);
    assert_false(dv_user_allow(u, DV_PERM_READ, "b", NULL, NULL));
    assert_true(dv_user_allow(u, DV_PERM_WRITE, "b", NULL, NULL));
    dv_user_release(u);

    /* A password-less update keeps the password; a new user needs one. */
    info.password = NULL;
    info.ngroups = 1;
    assert_int_equal(dv_users_upsert(reg, &info, err, sizeof err), DV_ERR_OK);
    u = dv_users_check_password(reg, "m", 1, "pw1234", 6);
    assert_non_null(u);
    dv_user_release(u);
    info.name = "n";
    assert_int_equal(dv_users_upsert(reg, &info, err, sizeof err), DV_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "Password is required for new user.");

    /* The group goes: so do its roles and the member's membership. */
    assert_int_equal(dv_users_group_remove(reg, "g"), DV_ERR_OK);
    assert_int_equal(dv_users_group_remove(reg, "g"), DV_ERR_GROUP_NOT_FOUND);
    u = dv_users_get(reg, "m", 1);
    size_t ng;
    dv_user_groups(u, &ng);
    assert_int_equal(ng, 0);
    assert_false(dv_user_allow(u, DV_PERM_WRITE, "b", NULL, NULL));
    assert_true(dv_user_allow(u, DV_PERM_WRITE, "c", NULL, NULL));
    dv_user_release(u);

    dv_group *gl;
    size_t n;
    assert_int_equal(dv_users_group_set(reg, "z", NULL, NULL, &none, err, sizeof err), DV_ERR_OK);
    assert_int_equal(dv_users_group_set(reg, "a", "d", "cn=x", &rr, err, sizeof err), DV_ERR_OK);
    assert_int_equal(dv_users_group_set(reg, "bad name", NULL, NULL, &rr, err, sizeof err),
                     DV_ERR_INVALID_ARGUMENT);
    assert_int_equal(dv_users_group_list(reg, &gl, &n), DV_ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(gl[0].name, "a");
    assert_string_equal(gl[0].ldap_ref, "cn=x");
    assert_string_equal(gl[1].name, "z");
    dv_group_list_free(gl, n);
    dv_user **ul;
    assert_int_equal(dv_users_list(reg, &ul, &n), DV_ERR_OK);
    assert_int_equal(n, 1);
    dv_users_list_free(ul, n);

    dv_roles_clear(&rr);
    dv_roles_clear(&wr);
    dv_roles_clear(&own);
    dv_users_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(role_parsing),       cmocka_unit_test(permission_matrix),
        cmocka_unit_test(flag_parsing),       cmocka_unit_test(passwords),
        cmocka_unit_test(add_replace_remove), cmocka_unit_test(scram_through_registry),
        cmocka_unit_test(concurrent_readers), cmocka_unit_test(groups_grant),
    };
    return TU_RUN(tests);
}
