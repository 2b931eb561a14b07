/* The result of one operation, copied out of the engine's borrowed dv_res. The value is kept as
 * raw bytes in C and becomes a Python bytes object only when first read. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <string.h>

#include "core.h"

typedef struct {
    PyObject_HEAD unsigned long long cas;
    unsigned int flags;
    unsigned int expiry;
    unsigned long long counter;
    int exists, deleted;
    unsigned char datatype;
    PyObject *token; /* (partition_uuid, sequence_number, partition_id, bucket_name) or None */
    PyObject *value; /* bytes, made on first access */
    PyObject *specs; /* sub-document: tuple of (error, status, bytes or None), else None */
    char *raw;       /* the value until then (NULL: none) */
    size_t raw_len;
    char *key; /* the operation's document key (NULL: none), a str on each access */
    size_t key_len;
} Result;

static PyTypeObject ResultType;

PyObject *dv_py_result_new(const dv_res *res)
{
    Result *r = PyObject_New(Result, &ResultType);
    if (!r) return NULL;
    r->cas = res->cas;
    r->flags = res->flags;
    r->expiry = res->expiry;
    r->counter = res->counter;
    r->exists = res->exists;
    r->deleted = res->deleted;
    r->datatype = res->datatype;
    r->value = NULL;
    r->raw = NULL;
    r->raw_len = 0;
    r->token = NULL;
    r->specs = NULL;
    r->key = NULL;
    r->key_len = 0;
    if (res->ctx && res->ctx->key && res->ctx->key_len) {
        r->key = PyMem_Malloc(res->ctx->key_len);
        if (!r->key) {
            Py_DECREF(r);
            return PyErr_NoMemory();
        }
        memcpy(r->key, res->ctx->key, res->ctx->key_len);
        r->key_len = res->ctx->key_len;
    }
    if (res->specs) {
        r->specs = PyTuple_New((Py_ssize_t)res->nspecs);
        for (size_t i = 0; r->specs && i < res->nspecs; i++) {
            const dv_subdoc_res *sr = &res->specs[i];
            PyObject *t;
            if (sr->value)
                t = Py_BuildValue("(iiy#)", (int)sr->err, (int)sr->status, (const char *)sr->value,
                                  (Py_ssize_t)sr->value_len);
            else
                t = Py_BuildValue("(iiO)", (int)sr->err, (int)sr->status, Py_None);
            if (!t) {
                Py_CLEAR(r->specs);
                break;
            }
            PyTuple_SET_ITEM(r->specs, (Py_ssize_t)i, t);
        }
        if (!r->specs) {
            Py_DECREF(r);
            return NULL;
        }
    } else {
        Py_INCREF(Py_None);
        r->specs = Py_None;
    }
    if (res->has_token) {
        r->token = Py_BuildValue("(KKHz)", (unsigned long long)res->token.partition_uuid,
                                 (unsigned long long)res->token.sequence_number,
                                 res->token.partition_id, res->token.bucket_name);
    } else {
        Py_INCREF(Py_None);
        r->token = Py_None;
    }
    if (r->token && res->value) {
        r->raw = PyMem_Malloc(res->value_len ? res->value_len : 1);
        if (r->raw) {
            memcpy(r->raw, res->value, res->value_len);
            r->raw_len = res->value_len;
        } else {
            PyErr_NoMemory();
        }
    }
    if (!r->token || (res->value && !r->raw)) {
        Py_DECREF(r);
        return NULL;
    }
    return (PyObject *)r;
}

static void result_dealloc(Result *r)
{
    Py_XDECREF(r->token);
    Py_XDECREF(r->specs);
    Py_XDECREF(r->value);
    PyMem_Free(r->raw);
    PyMem_Free(r->key);
    PyObject_Free(r);
}

static PyObject *result_key(Result *r, void *closure)
{
    (void)closure;
    if (!r->key) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(r->key, (Py_ssize_t)r->key_len, "surrogateescape");
}

static PyObject *result_value(Result *r, void *closure)
{
    (void)closure;
    if (!r->value) {
        if (!r->raw) Py_RETURN_NONE;
        r->value = PyBytes_FromStringAndSize(r->raw, (Py_ssize_t)r->raw_len);
        if (!r->value) return NULL;
        PyMem_Free(r->raw);
        r->raw = NULL;
    }
    Py_INCREF(r->value);
    return r->value;
}

static PyObject *result_token(Result *r, void *closure)
{
    (void)closure;
    Py_INCREF(r->token);
    return r->token;
}

static PyObject *result_specs(Result *r, void *closure)
{
    (void)closure;
    Py_INCREF(r->specs);
    return r->specs;
}

static PyObject *result_bool(Result *r, void *closure)
{
    return PyBool_FromLong(closure ? r->deleted : r->exists);
}

static PyMemberDef result_members[] = {
    {"cas", T_ULONGLONG, offsetof(Result, cas), READONLY, NULL},
    {"flags", T_UINT, offsetof(Result, flags), READONLY, NULL},
    {"expiry", T_UINT, offsetof(Result, expiry), READONLY, "absolute Unix seconds, 0: none"},
    {"counter", T_ULONGLONG, offsetof(Result, counter), READONLY, NULL},
    {"datatype", T_UBYTE, offsetof(Result, datatype), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef result_getset[] = {
    {"value", (getter)result_value, NULL, "the document's bytes (None if none)", NULL},
    {"key", (getter)result_key, NULL, "the operation's document key (None if none)", NULL},
    {"token", (getter)result_token, NULL,
     "(partition_uuid, sequence_number, partition_id, bucket_name) or None", NULL},
    {"specs", (getter)result_specs, NULL,
     "sub-document: a tuple of (error, status, value bytes or None) per spec, else None", NULL},
    {"exists", (getter)result_bool, NULL, NULL, NULL},
    {"deleted", (getter)result_bool, NULL, NULL, (void *)1},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ResultType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core.Result",
    .tp_doc = "What the engine returned for one operation.",
    .tp_basicsize = sizeof(Result),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)result_dealloc,
    .tp_members = result_members,
    .tp_getset = result_getset,
};

/* ping, diagnostics: a tuple of (id, remote, bucket or None, state, last_activity_us, error,
 * latency_us, local or None, service: None for KV, "query" or "mgmt") per endpoint. */
PyObject *dv_py_endpoints_new(const dv_res *res)
{
    PyObject *t = PyTuple_New((Py_ssize_t)res->nendpoints);
    for (size_t i = 0; t && i < res->nendpoints; i++) {
        const dv_endpoint *ep = &res->endpoints[i];
        PyObject *item = Py_BuildValue(
            "(IsziKiKzz)", ep->id, ep->remote ? ep->remote : "", ep->bucket, (int)ep->state,
            (unsigned long long)ep->last_activity_us, (int)ep->err,
            (unsigned long long)ep->latency_us, ep->local[0] ? ep->local : NULL, ep->service);
        if (!item) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, item);
    }
    return t;
}

int dv_py_result_init(PyObject *m)
{
    if (PyType_Ready(&ResultType) < 0) return -1;
    Py_INCREF(&ResultType);
    if (PyModule_AddObject(m, "Result", (PyObject *)&ResultType) < 0) {
        Py_DECREF(&ResultType);
        return -1;
    }
    return 0;
}
