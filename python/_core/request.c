/* What the front ends of couchbase._core share: the cluster options and submit()'s arguments as
 * libdivan's structs, and an engine error as the official exception
 * (couchbase.exceptions.build_exception). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "core.h"

static PyObject *error_context(const dv_res *res)
{
    const dv_error_context *x = res->ctx;
    PyObject *retry = PyList_New(0);
    if (!retry) return NULL;
    if (x->retry_reasons && *x->retry_reasons) {
        PyObject *s = PyUnicode_FromString(x->retry_reasons);
        PyObject *sep = PyUnicode_FromString(",");
        PyObject *parts = s && sep ? PyUnicode_Split(s, sep, -1) : NULL;
        Py_XDECREF(s);
        Py_XDECREF(sep);
        Py_DECREF(retry);
        if (!parts) return NULL;
        retry = parts;
    }
    PyObject *d;
    if (x->key) {
        d = Py_BuildValue("{s:s,s:s#,s:z,s:z,s:z,s:i,s:i,s:s,s:K,s:I,s:N,s:s}", "context_type",
                          "KeyValueErrorContext", "key", x->key, (Py_ssize_t)x->key_len,
                          "bucket_name", x->bucket, "scope_name", x->scope, "collection_name",
                          x->collection, "opcode", (int)x->opcode, "status_code", (int)x->status,
                          "last_dispatched_to", x->node ? x->node : "", "elapsed_us",
                          (unsigned long long)x->elapsed_us, "retry_attempts", x->retries,
                          "retry_reasons", retry, "message", x->message ? x->message : "");
    } else {
        d = Py_BuildValue("{s:z,s:s,s:I,s:N,s:s}", "bucket_name", x->bucket, "last_dispatched_to",
                          x->node ? x->node : "", "retry_attempts", x->retries, "retry_reasons",
                          retry, "message", x->message ? x->message : "");
    }
    if (!d) PyErr_Clear(); /* e.g. a key that is not UTF-8: fall back to no context */
    return d ? d : PyDict_New();
}

PyObject *dv_py_make_exception(const dv_res *res)
{
    PyObject *build = dv_py_build_exception();
    if (!build) return NULL;
    PyObject *ctx = error_context(res);
    if (!ctx) return NULL;
    PyObject *exc = PyObject_CallFunction(build, "iO", (int)res->err, ctx);
    Py_DECREF(ctx);
    return exc;
}

PyObject *dv_py_error_new(dv_error rc, const char *message)
{
    if (rc == DV_ERR_CLUSTER_CLOSED) /* what the official SDK raises */
        return PyObject_CallFunction(PyExc_RuntimeError, "s",
                                     "Cannot perform operations on a closed cluster. "
                                     "Create a new cluster instance to reconnect.");
    PyObject *build = dv_py_build_exception();
    return build ? PyObject_CallFunction(build, "iOz", (int)rc, Py_None, message) : NULL;
}

PyObject *dv_py_take_error(void)
{
    PyObject *t, *val, *tb;
    PyErr_Fetch(&t, &val, &tb);
    PyErr_NormalizeException(&t, &val, &tb);
    if (val && tb) PyException_SetTraceback(val, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return val;
}

PyObject *dv_py_raise(dv_error rc, const char *message)
{
    PyObject *exc = dv_py_error_new(rc, message);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

int dv_py_parse_opts(PyObject *args, PyObject *kw, PyObject **loop, dv_client_opts *o)
{
    static char *kwlist[] = {"loop",
                             "connstr",
                             "username",
                             "password",
                             "kv_timeout_ms",
                             "kv_durable_timeout_ms",
                             "connect_timeout_ms",
                             "bootstrap_timeout_ms",
                             "trust_store_path",
                             "tls_verify",
                             "cert_path",
                             "key_path",
                             NULL};
    unsigned long long t[4] = {0};
    const char *verify = NULL;
    memset(o, 0, sizeof *o);
    int ok = loop ? PyArg_ParseTupleAndKeywords(args, kw, "Oszz|KKKKzzzz", kwlist, loop,
                                                &o->connstr, &o->username, &o->password, &t[0],
                                                &t[1], &t[2], &t[3], &o->trust_store_path, &verify,
                                                &o->cert_path, &o->key_path)
                  : PyArg_ParseTupleAndKeywords(args, kw, "szz|KKKKzzzz", kwlist + 1, &o->connstr,
                                                &o->username, &o->password, &t[0], &t[1], &t[2],
                                                &t[3], &o->trust_store_path, &verify, &o->cert_path,
                                                &o->key_path);
    if (!ok) return -1;
    if (verify && strcmp(verify, "peer") && strcmp(verify, "none")) {
        PyErr_Format(PyExc_ValueError, "tls_verify is 'peer' or 'none', not '%s'", verify);
        return -1;
    }
    o->tls_verify = !verify                   ? DV_CLIENT_TLS_VERIFY_DEFAULT
                    : !strcmp(verify, "peer") ? DV_CLIENT_TLS_VERIFY_PEER
                                              : DV_CLIENT_TLS_VERIFY_NONE;
    o->kv_timeout_ms = t[0];
    o->kv_durable_timeout_ms = t[1];
    o->connect_timeout_ms = t[2];
    o->bootstrap_timeout_ms = t[3];
    return 0;
}

/* specs: a sequence of (opcode, flags, path: str, value: bytes) tuples, 1..DV_MAX_SPECS of them.
 * Fills ops, borrowing from the returned tuple (a copy, so that no Python code run before the
 * submit can change what ops points to; the caller releases it after the submit). NULL with an
 * exception on a malformed spec. */
static PyObject *parse_specs(PyObject *specs, dv_subdoc_op *ops, size_t *n)
{
    PyObject *seq = PySequence_Tuple(specs);
    if (!seq) return NULL;
    Py_ssize_t len = PyTuple_GET_SIZE(seq);
    if (len < 1 || len > DV_MAX_SPECS) {
        PyErr_Format(PyExc_ValueError, "between 1 and %d specs are needed", DV_MAX_SPECS);
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        Py_ssize_t path_len = 0, value_len = 0;
        if (!PyTuple_Check(item) ||
            !PyArg_ParseTuple(item, "bbs#y#", &ops[i].opcode, &ops[i].flags, &ops[i].path,
                              &path_len, (const char **)&ops[i].value, &value_len)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "a spec is (opcode, flags, path, value)");
            Py_DECREF(seq);
            return NULL;
        }
        ops[i].path_len = (size_t)path_len;
        ops[i].value_len = (size_t)value_len;
    }
    *n = (size_t)len;
    return seq;
}

/* submit()'s parameters, in their positional order. */
enum {
    A_KIND,
    A_BUCKET,
    A_SCOPE,
    A_COLLECTION,
    A_KEY,
    A_VALUE,
    A_FLAGS,
    A_DATATYPE,
    A_EXPIRY,
    A_CAS,
    A_DURABILITY,
    A_TIMEOUT,
    A_WITH_EXPIRY,
    A_PRESERVE,
    A_DELTA,
    A_INITIAL,
    A_HAS_INITIAL,
    A_LOCK_TIME,
    A_RESULT_TYPE,
    A_EXTRA,
    A_SPECS,
    A_STORE_SEMANTICS,
    A_ACCESS_DELETED,
    A_REPLICA_INDEX,
    A_PERSIST_TO,
    A_REPLICATE_TO,
    A_COUNT
};
#define A_REQUIRED 5 /* kind .. key */

static const char *const arg_names[A_COUNT] = {
    "kind",        "bucket",          "scope",          "collection",      "key",
    "value",       "flags",           "datatype",       "expiry",          "cas",
    "durability",  "timeout_ms",      "with_expiry",    "preserve_expiry", "delta",
    "initial",     "has_initial",     "lock_time",      "result_type",     "extra",
    "specs",       "store_semantics", "access_deleted", "replica_index",   "persist_to",
    "replicate_to"};
static PyObject *arg_interned[A_COUNT];

/* The parameter a keyword names: by identity first (the names a caller's code spells are
 * interned, as these are), then by value. -1 with a TypeError if none. */
static int arg_index(PyObject *name)
{
    if (!arg_interned[0])
        for (int i = 0; i < A_COUNT; i++) {
            arg_interned[i] = PyUnicode_InternFromString(arg_names[i]);
            if (!arg_interned[i]) return -1;
        }
    for (int i = 0; i < A_COUNT; i++)
        if (name == arg_interned[i]) return i;
    if (PyUnicode_Check(name))
        for (int i = 0; i < A_COUNT; i++)
            if (PyUnicode_Compare(name, arg_interned[i]) == 0) return i;
    PyErr_Format(PyExc_TypeError, "submit() got an unexpected keyword argument '%S'", name);
    return -1;
}

static int set_slot(PyObject **v, int i, PyObject *value)
{
    if (i < 0) return -1;
    if (v[i]) {
        PyErr_Format(PyExc_TypeError, "submit() got multiple values for argument '%s'",
                     arg_names[i]);
        return -1;
    }
    v[i] = value;
    return 0;
}

/* The converters: each fails with the exception the argument's type or range calls for. */
static int as_text(PyObject *o, int i, const char **s, Py_ssize_t *len, int none_ok)
{
    if (o == Py_None && none_ok) {
        *s = NULL;
        if (len) *len = 0;
        return 0;
    }
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!*s) return -1;
        if (len) {
            *len = n;
        } else if (strlen(*s) != (size_t)n) {
            PyErr_Format(PyExc_ValueError, "submit() argument '%s': embedded null character",
                         arg_names[i]);
            return -1;
        }
        return 0;
    }
    if (len && PyBytes_Check(o)) {
        *s = PyBytes_AS_STRING(o);
        *len = PyBytes_GET_SIZE(o);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "submit() argument '%s' must be str%s, not %.50s", arg_names[i],
                 len ? ", bytes" : "", Py_TYPE(o)->tp_name);
    return -1;
}

static int as_u64(PyObject *o, int i, unsigned long long *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "submit() argument '%s' must be int, not %.50s", arg_names[i],
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    unsigned long long x = PyLong_AsUnsignedLongLongMask(o);
    if (x == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

static int as_byte(PyObject *o, int i, unsigned char *out)
{
    long x = PyLong_Check(o) ? PyLong_AsLong(o) : -2;
    if (x == -1 && PyErr_Occurred()) return -1;
    if (x < 0 || x > 255) {
        PyErr_Format(x == -2 ? PyExc_TypeError : PyExc_OverflowError,
                     "submit() argument '%s' must be an int from 0 to 255", arg_names[i]);
        return -1;
    }
    *out = (unsigned char)x;
    return 0;
}

static int as_bool(PyObject *o, int *out)
{
    int t = PyObject_IsTrue(o);
    if (t < 0) return -1;
    *out = t;
    return 0;
}

/* The request from its parameters' values (v[i] NULL: not given). */
static int parse_slots(PyObject *const *v, dv_req *out, dv_subdoc_op *ops, PyObject **keep,
                       PyObject **result_type_out, PyObject **extra_out)
{
    for (int i = 0; i < A_REQUIRED; i++)
        if (!v[i]) {
            PyErr_Format(PyExc_TypeError, "submit() missing required argument '%s'", arg_names[i]);
            return -1;
        }
    dv_req q = {0};
    unsigned long long u = 0;
    long kind = PyLong_Check(v[A_KIND]) ? PyLong_AsLong(v[A_KIND]) : -1;
    if (kind == -1 && PyErr_Occurred()) return -1;
    if (kind < 0 || kind >= DV_KV_OP_KIND_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unsupported operation kind");
        return -1;
    }
    Py_ssize_t key_len = 0, value_len = 0;
    if (as_text(v[A_BUCKET], A_BUCKET, &q.bucket, NULL, 0) ||
        as_text(v[A_SCOPE], A_SCOPE, &q.scope, NULL, 1) ||
        as_text(v[A_COLLECTION], A_COLLECTION, &q.collection, NULL, 1) ||
        as_text(v[A_KEY], A_KEY, (const char **)&q.key, &key_len, 0) ||
        (v[A_VALUE] && as_text(v[A_VALUE], A_VALUE, (const char **)&q.value, &value_len, 1)))
        return -1;
    q.key_len = (size_t)key_len;
    q.value_len = (size_t)value_len;
    /* the 32-bit fields take the low bits, as the unchecked formats did */
    if (v[A_FLAGS] && as_u64(v[A_FLAGS], A_FLAGS, &u)) return -1;
    q.flags = (uint32_t)u;
    u = 0;
    if (v[A_EXPIRY] && as_u64(v[A_EXPIRY], A_EXPIRY, &u)) return -1;
    q.expiry = (uint32_t)u;
    u = 0;
    if (v[A_LOCK_TIME] && as_u64(v[A_LOCK_TIME], A_LOCK_TIME, &u)) return -1;
    q.lock_time = (uint32_t)u;
    unsigned long long cas = 0, timeout = 0, delta = 0, initial = 0;
    if ((v[A_CAS] && as_u64(v[A_CAS], A_CAS, &cas)) ||
        (v[A_TIMEOUT] && as_u64(v[A_TIMEOUT], A_TIMEOUT, &timeout)) ||
        (v[A_DELTA] && as_u64(v[A_DELTA], A_DELTA, &delta)) ||
        (v[A_INITIAL] && as_u64(v[A_INITIAL], A_INITIAL, &initial)))
        return -1;
    unsigned char datatype = 0, durability = 0, replica = 0, persist = 0, replicate = 0;
    if ((v[A_DATATYPE] && as_byte(v[A_DATATYPE], A_DATATYPE, &datatype)) ||
        (v[A_DURABILITY] && as_byte(v[A_DURABILITY], A_DURABILITY, &durability)) ||
        (v[A_REPLICA_INDEX] && as_byte(v[A_REPLICA_INDEX], A_REPLICA_INDEX, &replica)) ||
        (v[A_PERSIST_TO] && as_byte(v[A_PERSIST_TO], A_PERSIST_TO, &persist)) ||
        (v[A_REPLICATE_TO] && as_byte(v[A_REPLICATE_TO], A_REPLICATE_TO, &replicate)))
        return -1;
    int with_expiry = 0, preserve = 0, has_initial = 0, access_deleted = 0;
    if ((v[A_WITH_EXPIRY] && as_bool(v[A_WITH_EXPIRY], &with_expiry)) ||
        (v[A_PRESERVE] && as_bool(v[A_PRESERVE], &preserve)) ||
        (v[A_HAS_INITIAL] && as_bool(v[A_HAS_INITIAL], &has_initial)) ||
        (v[A_ACCESS_DELETED] && as_bool(v[A_ACCESS_DELETED], &access_deleted)))
        return -1;
    long store = 0;
    if (v[A_STORE_SEMANTICS]) {
        store = PyLong_Check(v[A_STORE_SEMANTICS]) ? PyLong_AsLong(v[A_STORE_SEMANTICS]) : -1;
        if (store == -1 && PyErr_Occurred()) return -1;
    }
    if (store < DV_STORE_REPLACE || store > DV_STORE_INSERT) {
        PyErr_SetString(PyExc_ValueError, "store_semantics must be 0, 1 or 2");
        return -1;
    }
    PyObject *seq = NULL;
    if (kind == DV_KV_LOOKUP_IN || kind == DV_KV_MUTATE_IN) {
        seq = parse_specs(v[A_SPECS] ? v[A_SPECS] : Py_None, ops, &q.nspecs);
        if (!seq) return -1;
        q.specs = ops;
    }
    q.kind = (dv_op_kind)kind;
    q.store_semantics = (dv_store_semantics)store;
    q.access_deleted = access_deleted;
    q.replica_index = replica;
    q.persist_to = persist;
    q.replicate_to = replicate;
    q.datatype = datatype;
    q.cas = cas;
    q.durability = durability;
    q.timeout_ms = timeout;
    q.with_expiry = with_expiry;
    q.preserve_expiry = preserve;
    q.delta = delta;
    q.initial = initial;
    q.has_initial = has_initial;
    *out = q;
    *keep = seq;
    *result_type_out = v[A_RESULT_TYPE] ? v[A_RESULT_TYPE] : Py_None;
    *extra_out = v[A_EXTRA] ? v[A_EXTRA] : Py_None;
    return 0;
}

int dv_py_parse_request(PyObject *args, PyObject *kw, dv_req *out, dv_subdoc_op *ops,
                        PyObject **keep, PyObject **result_type, PyObject **extra)
{
    PyObject *v[A_COUNT] = {0};
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n > A_COUNT) {
        PyErr_Format(PyExc_TypeError, "submit() takes at most %d arguments", A_COUNT);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) v[i] = PyTuple_GET_ITEM(args, i);
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (kw && PyDict_Next(kw, &pos, &name, &value))
        if (set_slot(v, arg_index(name), value)) return -1;
    return parse_slots(v, out, ops, keep, result_type, extra);
}

int dv_py_parse_request_fast(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                             dv_req *out, dv_subdoc_op *ops, PyObject **keep,
                             PyObject **result_type, PyObject **extra)
{
    PyObject *v[A_COUNT] = {0};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > A_COUNT) {
        PyErr_Format(PyExc_TypeError, "submit() takes at most %d arguments", A_COUNT);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) v[i] = args[i];
    for (Py_ssize_t i = 0; i < nkw; i++)
        if (set_slot(v, arg_index(PyTuple_GET_ITEM(kwnames, i)), args[nargs + i])) return -1;
    return parse_slots(v, out, ops, keep, result_type, extra);
}

int dv_py_parse_http(PyObject *args, PyObject *kw, dv_http_req *out, PyObject **keep, int *detail)
{
    static char *names[] = {"service",    "method",     "path",   "body", "content_type",
                            "timeout_ms", "idempotent", "detail", NULL};
    const char *service, *method, *path, *ctype = NULL;
    PyObject *body = Py_None;
    unsigned long long timeout_ms = 0;
    int idempotent = 0;
    *keep = NULL;
    memset(out, 0, sizeof *out);
    *detail = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sss|OzKpp:http_request", names, &service, &method,
                                     &path, &body, &ctype, &timeout_ms, &idempotent, detail))
        return -1;
    if (strcmp(service, "query") == 0) {
        out->service = DV_HTTP_QUERY;
    } else if (strcmp(service, "mgmt") == 0) {
        out->service = DV_HTTP_MGMT;
    } else {
        PyErr_Format(PyExc_ValueError, "http_request: unknown service %s", service);
        return -1;
    }
    if (body != Py_None) {
        if (PyUnicode_Check(body)) {
            *keep = PyUnicode_AsUTF8String(body);
            if (!*keep) return -1;
        } else if (PyBytes_Check(body)) {
            Py_INCREF(body);
            *keep = body;
        } else {
            PyErr_SetString(PyExc_TypeError, "http_request: body must be bytes, str or None");
            return -1;
        }
        out->body = PyBytes_AS_STRING(*keep);
        out->body_len = (size_t)PyBytes_GET_SIZE(*keep);
    }
    out->method = method;
    out->path = path;
    out->content_type = ctype;
    out->timeout_ms = timeout_ms;
    out->idempotent = idempotent;
    return 0;
}

PyObject *dv_py_http_value(const dv_res *res, int detail)
{
    const char *body = res->value ? (const char *)res->value : "";
    if (detail)
        return Py_BuildValue("(iy#sK)", res->http_status, body, (Py_ssize_t)res->value_len,
                             res->ctx && res->ctx->node ? res->ctx->node : "",
                             (unsigned long long)(res->ctx ? res->ctx->elapsed_us : 0));
    return Py_BuildValue("(iy#)", res->http_status, body, (Py_ssize_t)res->value_len);
}

void dv_py_resolve_waiter(PyObject **waiter)
{
    PyObject *f = *waiter;
    if (!f) return;
    *waiter = NULL;
    PyObject *done = PyObject_CallMethod(f, "done", NULL);
    int d = done ? PyObject_IsTrue(done) : 1;
    Py_XDECREF(done);
    if (!d) {
        PyObject *r = PyObject_CallMethod(f, "set_result", "O", Py_None);
        if (!r) PyErr_WriteUnraisable(f);
        Py_XDECREF(r);
    }
    PyErr_Clear();
    Py_DECREF(f);
}

PyObject *dv_py_http_result(const dv_res *res, int detail)
{
    if (res->err == DV_ERR_OK) return dv_py_http_value(res, detail);
    PyObject *exc = dv_py_make_exception(res);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}
