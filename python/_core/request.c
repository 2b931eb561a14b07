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
                             NULL};
    unsigned long long t[4] = {0};
    memset(o, 0, sizeof *o);
    int ok =
        loop ? PyArg_ParseTupleAndKeywords(args, kw, "Oszz|KKKK", kwlist, loop, &o->connstr,
                                           &o->username, &o->password, &t[0], &t[1], &t[2], &t[3])
             : PyArg_ParseTupleAndKeywords(args, kw, "szz|KKKK", kwlist + 1, &o->connstr,
                                           &o->username, &o->password, &t[0], &t[1], &t[2], &t[3]);
    if (!ok) return -1;
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

int dv_py_parse_request(PyObject *args, PyObject *kw, dv_req *out, dv_subdoc_op *ops,
                        PyObject **keep, PyObject **result_type_out, PyObject **extra_out)
{
    /* clang-format off */
    static char *kwlist[] = {
        "kind", "bucket", "scope", "collection", "key", "value", "flags", "datatype", "expiry",
        "cas", "durability", "timeout_ms", "with_expiry", "preserve_expiry", "delta", "initial",
        "has_initial", "lock_time", "result_type", "extra", "specs", "store_semantics",
        "access_deleted", "replica_index", "persist_to", "replicate_to", NULL};
    /* clang-format on */
    dv_req q = {0};
    int kind;
    Py_ssize_t key_len = 0, value_len = 0;
    unsigned char datatype = 0, durability = 0;
    unsigned long long cas = 0, timeout = 0, delta = 0, initial = 0;
    int with_expiry = 0, preserve = 0, has_initial = 0;
    unsigned int flags = 0, expiry = 0, lock_time = 0;
    PyObject *result_type = Py_None, *extra = Py_None, *specs = Py_None;
    int store_semantics = 0, access_deleted = 0;
    unsigned char replica_index = 0, persist_to = 0, replicate_to = 0;
    if (!PyArg_ParseTupleAndKeywords(
            args, kw, "iszzs#|z#IbIKbKppKKpIOOOipbbb", kwlist, &kind, &q.bucket, &q.scope,
            &q.collection, (const char **)&q.key, &key_len, (const char **)&q.value, &value_len,
            &flags, &datatype, &expiry, &cas, &durability, &timeout, &with_expiry, &preserve,
            &delta, &initial, &has_initial, &lock_time, &result_type, &extra, &specs,
            &store_semantics, &access_deleted, &replica_index, &persist_to, &replicate_to))
        return -1;
    if (kind < 0 || kind >= DV_KV_OP_KIND_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unsupported operation kind");
        return -1;
    }
    if (store_semantics < DV_STORE_REPLACE || store_semantics > DV_STORE_INSERT) {
        PyErr_SetString(PyExc_ValueError, "store_semantics must be 0, 1 or 2");
        return -1;
    }
    PyObject *seq = NULL;
    if (kind == DV_KV_LOOKUP_IN || kind == DV_KV_MUTATE_IN) {
        seq = parse_specs(specs, ops, &q.nspecs);
        if (!seq) return -1;
        q.specs = ops;
    }
    q.store_semantics = (dv_store_semantics)store_semantics;
    q.access_deleted = access_deleted;
    q.replica_index = replica_index;
    q.persist_to = persist_to;
    q.replicate_to = replicate_to;
    q.kind = (dv_op_kind)kind;
    q.key_len = (size_t)key_len;
    q.value_len = (size_t)value_len;
    q.flags = flags;
    q.datatype = datatype;
    q.expiry = expiry;
    q.cas = cas;
    q.durability = durability;
    q.timeout_ms = timeout;
    q.with_expiry = with_expiry;
    q.preserve_expiry = preserve;
    q.delta = delta;
    q.initial = initial;
    q.has_initial = has_initial;
    q.lock_time = lock_time;
    *out = q;
    *keep = seq;
    *result_type_out = result_type;
    *extra_out = extra;
    return 0;
}
