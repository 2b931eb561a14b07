/* Users and groups on disk; see persist_users.h. */
#include "server/persist_users.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/errmsg.h"
#include "base/log.h"

#define FORMAT 1

struct dv_users_store {
    char *path, *dir;
    dv_users *users;
    dv_user **flags; /* the users the command line set (references) */
    size_t nflags;
    pthread_mutex_t mu;
    char *last; /* the text last written */
};

static int is_flag_user(const dv_users_store *st, const dv_user *u)
{
    for (size_t i = 0; i < st->nflags; i++)
        if (st->flags[i] == u) return 1;
    return 0;
}

static json_t *b64(const void *p, size_t n)
{
    dv_buf b;
    dv_buf_init(&b);
    json_t *s = NULL;
    if (dv_base64_encode(&b, p, n) == 0)
        s = json_stringn((const char *)dv_buf_head(&b), dv_buf_size(&b));
    dv_buf_free(&b);
    return s;
}

static json_t *roles_json(const dv_roles *r)
{
    size_t n = dv_roles_format(r, NULL, 0);
    char *text = dv_malloc(n + 1);
    if (!text) return NULL;
    dv_roles_format(r, text, n + 1);
    json_t *s = json_string(text);
    dv_free(text);
    return s;
}

static json_t *user_json(const dv_user *u)
{
    const dv_sasl_creds *c = dv_user_creds(u);
    json_t *scram = json_array();
    for (unsigned h = 0; h < DV_SASL_HASH_COUNT; h++) {
        const dv_sasl_scram_secret *s = &c->scram[h];
        size_t d = dv_sasl_hash_size((dv_sasl_hash)h);
        json_array_append_new(scram,
                              json_pack("{s:o, s:I, s:o, s:o}", "salt", b64(s->salt, s->salt_len),
                                        "iterations", (json_int_t)s->iterations, "storedKey",
                                        b64(s->stored_key, d), "serverKey", b64(s->server_key, d)));
    }
    size_t ng;
    const char *const *groups = dv_user_groups(u, &ng);
    json_t *ga = json_array();
    for (size_t i = 0; i < ng; i++) json_array_append_new(ga, json_string(groups[i]));
    json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:o}", "name", dv_user_name(u), "roles",
                          roles_json(dv_user_own_roles(u)), "groups", ga, "passwordChanged",
                          (json_int_t)dv_user_password_changed(u), "scram", scram);
    if (o && dv_user_display_name(u))
        json_object_set_new(o, "displayName", json_string(dv_user_display_name(u)));
    return o;
}

static char *dump(dv_users_store *st)
{
    json_t *root = json_pack("{s:i}", "format", FORMAT);
    json_t *users = json_array(), *groups = json_array();
    dv_user **v;
    size_t n;
    if (dv_users_list(st->users, &v, &n) == DV_ERR_OK) {
        for (size_t i = 0; i < n; i++)
            if (!is_flag_user(st, v[i])) json_array_append_new(users, user_json(v[i]));
        dv_users_list_free(v, n);
    }
    dv_group *g;
    if (dv_users_group_list(st->users, &g, &n) == DV_ERR_OK) {
        for (size_t i = 0; i < n; i++) {
            json_t *o =
                json_pack("{s:s, s:o}", "name", g[i].name, "roles", roles_json(&g[i].roles));
            if (o && g[i].description)
                json_object_set_new(o, "description", json_string(g[i].description));
            if (o && g[i].ldap_ref) json_object_set_new(o, "ldapRef", json_string(g[i].ldap_ref));
            json_array_append_new(groups, o);
        }
        dv_group_list_free(g, n);
    }
    json_object_set_new(root, "users", users);
    json_object_set_new(root, "groups", groups);
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    return text;
}

/* Write text to path atomically. 0 or -1 with errno. */
static int write_file(const char *dir, const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void dv_users_store_save(dv_users_store *st)
{
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    char *text = dump(st);
    if (text && (!st->last || strcmp(text, st->last) != 0)) {
        if (write_file(st->dir, st->path, text) == 0) {
            free(st->last);
            st->last = text;
            text = NULL;
        } else {
            dv_log(DV_LOG_WARN, "persist", "%s: the users were not saved: %s", st->path,
                   strerror(errno));
        }
    }
    free(text);
    pthread_mutex_unlock(&st->mu);
}

static int get_b64(json_t *o, const char *key, uint8_t *out, size_t cap, size_t *n)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? dv_base64_decode(s, strlen(s), DV_BASE64_STRICT, out, cap, n) : -1;
}

static int parse_roles(json_t *o, dv_roles *r, char *why, size_t whylen)
{
    const char *s = json_string_value(json_object_get(o, "roles"));
    memset(r, 0, sizeof *r);
    if (!s) return -1;
    if (!*s) return 0; /* no roles of its own */
    return dv_roles_parse(r, s, strlen(s), why, whylen) == DV_ERR_OK ? 0 : -1;
}

static int load_user(dv_users *users, json_t *o, char *why, size_t whylen)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    json_t *scram = json_object_get(o, "scram"), *groups = json_object_get(o, "groups");
    if (!name || !json_is_array(scram) || json_array_size(scram) != DV_SASL_HASH_COUNT ||
        (groups && !json_is_array(groups)))
        return -1;
    dv_user *have = dv_users_get(users, name, strlen(name));
    if (have) { /* a --user flag sets this one */
        dv_user_release(have);
        return 0;
    }
    dv_sasl_creds c;
    memset(&c, 0, sizeof c);
    for (unsigned h = 0; h < DV_SASL_HASH_COUNT; h++) {
        json_t *s = json_array_get(scram, h);
        size_t d = dv_sasl_hash_size((dv_sasl_hash)h), n;
        json_int_t it = json_integer_value(json_object_get(s, "iterations"));
        if (get_b64(s, "salt", c.scram[h].salt, sizeof c.scram[h].salt, &c.scram[h].salt_len) ||
            !c.scram[h].salt_len || get_b64(s, "storedKey", c.scram[h].stored_key, d, &n) ||
            n != d || get_b64(s, "serverKey", c.scram[h].server_key, d, &n) || n != d ||
            it < DV_SASL_MIN_ITERATIONS || it > DV_SASL_MAX_ITERATIONS)
            return -1;
        c.scram[h].iterations = (uint32_t)it;
    }
    dv_roles roles;
    if (parse_roles(o, &roles, why, whylen) != 0) return -1;
    size_t ng = groups ? json_array_size(groups) : 0;
    const char **gn = ng ? dv_calloc(ng, sizeof *gn) : NULL;
    int bad = ng && !gn;
    for (size_t i = 0; i < ng && !bad; i++)
        if (!(gn[i] = json_string_value(json_array_get(groups, i)))) bad = 1;
    dv_user_info info = {.name = name,
                         .name_len = strlen(name),
                         .display = json_string_value(json_object_get(o, "displayName")),
                         .groups = gn,
                         .ngroups = ng,
                         .roles = &roles};
    if (!bad)
        bad = dv_users_restore(users, &info, &c,
                               json_integer_value(json_object_get(o, "passwordChanged")), why,
                               whylen) != DV_ERR_OK;
    dv_free(gn);
    dv_roles_clear(&roles);
    memset(&c, 0, sizeof c);
    return bad ? -1 : 0;
}

static int load(dv_users *users, const char *text, size_t len, char *why, size_t whylen)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *us = json_object_get(root, "users"), *gs = json_object_get(root, "groups");
    int bad = !json_is_object(root) ||
              json_integer_value(json_object_get(root, "format")) != FORMAT || !json_is_array(us) ||
              !json_is_array(gs);
    /* Groups first: a user's effective roles include its groups'. */
    for (size_t i = 0; !bad && i < json_array_size(gs); i++) {
        json_t *o = json_array_get(gs, i);
        const char *name = json_string_value(json_object_get(o, "name"));
        dv_roles roles;
        if (!name || parse_roles(o, &roles, why, whylen) != 0) {
            bad = 1;
            break;
        }
        bad = dv_users_group_set(users, name, json_string_value(json_object_get(o, "description")),
                                 json_string_value(json_object_get(o, "ldapRef")), &roles, why,
                                 whylen) != DV_ERR_OK;
        dv_roles_clear(&roles);
    }
    for (size_t i = 0; !bad && i < json_array_size(us); i++)
        bad = load_user(users, json_array_get(us, i), why, whylen) != 0;
    json_decref(root);
    return bad ? -1 : 0;
}

dv_error dv_users_store_open(const char *dir, dv_users *users, dv_users_store **out, char *errbuf,
                             size_t errlen)
{
    *out = NULL;
    dv_users_store *st = dv_calloc(1, sizeof *st);
    if (!st) return DV_ERR_NO_MEMORY;
    pthread_mutex_init(&st->mu, NULL);
    st->users = users;
    st->dir = dv_strdup(dir);
    size_t n = strlen(dir) + sizeof "/users.json";
    st->path = dv_malloc(n);
    if (!st->dir || !st->path) {
        dv_users_store_free(st);
        return DV_ERR_NO_MEMORY;
    }
    snprintf(st->path, n, "%s/users.json", dir);
    /* The flags' users, before anything is loaded. */
    if (dv_users_list(users, &st->flags, &st->nflags) != DV_ERR_OK) {
        dv_users_store_free(st);
        return DV_ERR_NO_MEMORY;
    }
    FILE *f = fopen(st->path, "r");
    if (f) {
        dv_buf b;
        dv_buf_init(&b);
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) dv_buf_append(&b, chunk, got);
        fclose(f);
        char why[256] = "";
        int bad = load(users, (const char *)dv_buf_head(&b), dv_buf_size(&b), why, sizeof why);
        dv_buf_free(&b);
        if (bad) {
            dv_error rc =
                dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "%s: not a valid users file%s%s",
                          st->path, why[0] ? ": " : "", why);
            dv_users_store_free(st);
            return rc;
        }
    } else if (errno != ENOENT) {
        dv_error rc =
            dv_errmsg(errbuf, errlen, DV_ERR_INVALID_ARGUMENT, "%s: %s", st->path, strerror(errno));
        dv_users_store_free(st);
        return rc;
    }
    st->last = dump(st);
    *out = st;
    return DV_ERR_OK;
}

void dv_users_store_free(dv_users_store *st)
{
    if (!st) return;
    if (st->flags) dv_users_list_free(st->flags, st->nflags);
    free(st->last);
    dv_free(st->path);
    dv_free(st->dir);
    pthread_mutex_destroy(&st->mu);
    dv_free(st);
}
