/* couchbase._core.BlockingCluster: libdivan's native driver (its own libuv thread) behind the
 * blocking API. A call submits with the GIL released and waits on a condition variable of its
 * own, so any number of Python threads share one cluster. Completions run on the driver thread
 * without the GIL: they copy the result (dv_res_dup) and wake the caller, which builds the Python
 * result. close() fails what is pending with REQUEST_CANCELED. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#include "core.h"
#include "divan/rows.h"
#include "divan/scan.h"

typedef struct {
    PyObject_HEAD dv_client *c; /* NULL once closed */
    pthread_rwlock_t lock;      /* read: submitting; write: closing */
} BlockingCluster;

/* What one call waits for: n completions, each copied into res[i]. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t remaining;
    dv_res **res;
} waiter;

typedef struct {
    waiter *w;
    size_t i;
} slot;

static void on_done(void *ud, const dv_res *res)
{
    slot *s = ud;
    dv_res *copy = dv_res_dup(res); /* NULL when out of memory: reported as MemoryError */
    pthread_mutex_lock(&s->w->mu);
    s->w->res[s->i] = copy;
    if (--s->w->remaining == 0) pthread_cond_signal(&s->w->cv);
    pthread_mutex_unlock(&s->w->mu); /* s and s->w may be gone from here on */
}

static void waiter_init(waiter *w, size_t n, dv_res **res)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->remaining = n;
    w->res = res;
}

static void waiter_done(waiter *w) /* a submit that failed: no completion will come */
{
    pthread_mutex_lock(&w->mu);
    w->remaining--;
    pthread_mutex_unlock(&w->mu);
}

static void waiter_wait(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->remaining) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

typedef enum {
    START_CONNECT,
    START_OPEN_BUCKET,
    START_PING,
    START_DIAGNOSTICS,
    START_SUBMIT
} start_kind;

/* Without the GIL (or with it, for a batch): start one request unless the client is closed. */
static dv_error start(BlockingCluster *b, start_kind kind, const char *bucket, const dv_req *q,
                      slot *s)
{
    dv_error rc = DV_ERR_CLUSTER_CLOSED;
    pthread_rwlock_rdlock(&b->lock);
    if (b->c) {
        switch (kind) {
        case START_CONNECT:
            rc = dv_client_connect(b->c, on_done, s);
            break;
        case START_OPEN_BUCKET:
            rc = dv_client_open_bucket(b->c, bucket, on_done, s);
            break;
        case START_PING:
            rc = dv_client_ping(b->c, bucket, on_done, s);
            break;
        case START_DIAGNOSTICS:
            rc = dv_client_diagnostics(b->c, on_done, s);
            break;
        case START_SUBMIT:
            rc = dv_client_submit(b->c, q, on_done, s);
            break;
        }
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

/* What a completed request becomes in Python, as a new reference with *failed telling which:
 * result_type(Result, extra) (the endpoints tuple for ping and diagnostics; None when
 * result_type is None), or the exception (the engine's, or a Python error raised while building
 * the result). Frees res. NULL only when not even the exception could be made. */
static PyObject *outcome(dv_res *res, start_kind kind, PyObject *result_type, PyObject *extra,
                         int *failed)
{
    PyObject *v = NULL;
    *failed = 1;
    if (!res) {
        PyErr_NoMemory();
    } else if (res->err != DV_ERR_OK) {
        v = dv_py_make_exception(res);
    } else if (kind == START_PING || kind == START_DIAGNOSTICS) {
        v = dv_py_endpoints_new(res);
        *failed = !v;
    } else if (result_type == Py_None) {
        v = Py_None;
        Py_INCREF(v);
        *failed = 0;
    } else {
        PyObject *r = dv_py_result_new(res);
        if (r) v = PyObject_CallFunctionObjArgs(result_type, r, extra, NULL);
        Py_XDECREF(r);
        *failed = !v;
    }
    dv_res_free(res);
    if (!v) { /* a Python error: it becomes the outcome */
        v = dv_py_take_error();
        *failed = 1;
    }
    return v;
}

/* One request, waited for with the GIL released; returns its value or raises. */
static PyObject *run_one(BlockingCluster *b, start_kind kind, const char *bucket, const dv_req *q,
                         PyObject *result_type, PyObject *extra)
{
    dv_res *res = NULL;
    waiter w;
    slot s = {&w, 0};
    dv_error rc;
    waiter_init(&w, 1, &res);
    Py_BEGIN_ALLOW_THREADS;
    rc = start(b, kind, bucket, q, &s);
    if (rc != DV_ERR_OK) waiter_done(&w);
    waiter_wait(&w);
    Py_END_ALLOW_THREADS;
    if (rc != DV_ERR_OK) return dv_py_raise(rc, NULL);
    int failed;
    PyObject *v = outcome(res, kind, result_type, extra, &failed);
    if (v && failed) {
        PyErr_SetObject((PyObject *)Py_TYPE(v), v);
        Py_CLEAR(v);
    }
    return v;
}

static int bc_init(BlockingCluster *b, PyObject *args, PyObject *kw)
{
    dv_client_opts o;
    if (dv_py_parse_opts(args, kw, NULL, &o) < 0) return -1;
    if (b->c) {
        PyErr_SetString(PyExc_RuntimeError, "BlockingCluster already initialized");
        return -1;
    }
    char err[256] = "";
    dv_error rc = dv_client_new(&o, &b->c, err, sizeof err);
    if (rc != DV_ERR_OK) {
        dv_py_raise(rc, err);
        return -1;
    }
    return 0;
}

static PyObject *bc_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    BlockingCluster *b = (BlockingCluster *)type->tp_alloc(type, 0);
    if (!b) return NULL;
    b->c = NULL;
    /* Writer first: a close is not kept waiting by a stream of submitting threads. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&b->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return (PyObject *)b;
}

static void bc_shutdown(BlockingCluster *b)
{
    dv_client *c;
    if (!b->c) return; /* closed already (a racing close finds NULL under the lock) */
    Py_BEGIN_ALLOW_THREADS;
    pthread_rwlock_wrlock(&b->lock);
    c = b->c;
    b->c = NULL;
    pthread_rwlock_unlock(&b->lock);
    dv_client_close(c); /* completes what is pending (REQUEST_CANCELED), then frees */
    Py_END_ALLOW_THREADS;
}

static void bc_dealloc(BlockingCluster *b)
{
    bc_shutdown(b);
    pthread_rwlock_destroy(&b->lock);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static PyObject *bc_close(BlockingCluster *b, PyObject *unused)
{
    (void)unused;
    bc_shutdown(b);
    Py_RETURN_NONE;
}

static PyObject *bc_connect(BlockingCluster *b, PyObject *unused)
{
    (void)unused;
    return run_one(b, START_CONNECT, NULL, NULL, Py_None, Py_None);
}

static PyObject *bc_open_bucket(BlockingCluster *b, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    return run_one(b, START_OPEN_BUCKET, name, NULL, Py_None, Py_None);
}

static PyObject *bc_ping(BlockingCluster *b, PyObject *args)
{
    const char *bucket = NULL;
    if (!PyArg_ParseTuple(args, "|z", &bucket)) return NULL;
    return run_one(b, START_PING, bucket, NULL, Py_None, Py_None);
}

static PyObject *bc_diagnostics(BlockingCluster *b, PyObject *unused)
{
    (void)unused;
    return run_one(b, START_DIAGNOSTICS, NULL, NULL, Py_None, Py_None);
}

/* set_credentials(username, password): for the connections opened from now on. */
static PyObject *bc_set_credentials(BlockingCluster *b, PyObject *args)
{
    const char *user, *pass;
    if (!PyArg_ParseTuple(args, "ss", &user, &pass)) return NULL;
    dv_error rc = b->c ? dv_client_set_credentials(b->c, user, pass) : DV_ERR_CLUSTER_CLOSED;
    if (rc != DV_ERR_OK) return dv_py_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* close_bucket(name): its connections close; a later use opens it again. */
static PyObject *bc_close_bucket(BlockingCluster *b, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    dv_error rc = b->c ? dv_client_close_bucket(b->c, name) : DV_ERR_CLUSTER_CLOSED;
    if (rc != DV_ERR_OK) return dv_py_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* The range scan's hooks: its operations go to the driver (ud is the BlockingCluster, which the
 * _Scan keeps alive; completions run on the driver thread, without the GIL). */
static dv_error scan_submit(void *ud, const dv_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    BlockingCluster *b = ud;
    *id = 0;
    pthread_rwlock_rdlock(&b->lock);
    dv_error rc = b->c ? dv_client_submit(b->c, req, cb, cb_ud) : DV_ERR_REQUEST_CANCELED;
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

/* The streamed rows' hooks: to the driver, under the lock that close() takes (a _Rows may
 * outlive its cluster's close, whose driver then has failed the request already). */
static dv_error rows_http(void *ud, const dv_http_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    BlockingCluster *b = ud;
    dv_error rc = DV_ERR_CLUSTER_CLOSED;
    pthread_rwlock_rdlock(&b->lock);
    if (b->c) rc = dv_client_http(b->c, req, cb, cb_ud, id);
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

static void rows_ctl(void *ud, uint64_t id, int resume)
{
    BlockingCluster *b = ud;
    pthread_rwlock_rdlock(&b->lock);
    if (b->c) (resume ? dv_client_http_resume : dv_client_cancel)(b->c, id);
    pthread_rwlock_unlock(&b->lock);
}

static void rows_cancel(void *ud, uint64_t id)
{
    rows_ctl(ud, id, 0);
}

static void rows_resume(void *ud, uint64_t id)
{
    rows_ctl(ud, id, 1);
}

static PyObject *bc_query_rows(BlockingCluster *b, PyObject *args, PyObject *kw)
{
    dv_rows_io io = {b, rows_http, rows_cancel, rows_resume, NULL, NULL};
    return dv_py_rows_new((PyObject *)b, &io, 0, args, kw);
}

static PyObject *bc_scan(BlockingCluster *b, PyObject *args, PyObject *kw)
{
    if (!b->c) return dv_py_raise(DV_ERR_CLUSTER_CLOSED, NULL);
    dv_kvscan_io io = {b, scan_submit, NULL, NULL, NULL};
    return dv_py_scan_new((PyObject *)b, &io, 0, args, kw);
}

static PyObject *bc_submit(BlockingCluster *b, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    dv_req q;
    dv_subdoc_op ops[DV_MAX_SPECS];
    PyObject *keep = NULL, *result_type, *extra;
    if (dv_py_parse_request_fast(args, nargs, kwnames, &q, ops, &keep, &result_type, &extra) < 0)
        return NULL;
    PyObject *v = run_one(b, START_SUBMIT, NULL, &q, result_type, extra);
    Py_XDECREF(keep);
    return v;
}

/* submit_all([(args, kwargs), ...]): every request checked, then all sent at once (each is
 * encoded as it is submitted), then one wait with the GIL released for all of them. A list of
 * outcomes in the same order: each a result or the exception object. Arguments that do not
 * parse raise before anything is sent. */
static PyObject *bc_submit_all(BlockingCluster *b, PyObject *reqs)
{
    PyObject *seq = PySequence_Fast(reqs, "submit_all takes a sequence of (args, kwargs)");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    size_t un = (size_t)n;
    dv_res **res = PyMem_Calloc(un ? un : 1, sizeof *res);
    slot *slots = PyMem_Calloc(un ? un : 1, sizeof *slots);
    dv_error *rcs = PyMem_Calloc(un ? un : 1, sizeof *rcs);
    PyObject **types = PyMem_Calloc(un ? un : 1, sizeof *types);
    PyObject **extras = PyMem_Calloc(un ? un : 1, sizeof *extras);
    PyObject *out = NULL;
    if (!res || !slots || !rcs || !types || !extras) {
        PyErr_NoMemory();
        goto done;
    }
    /* Every request is checked before any is sent: a bad one sends nothing. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *args, *kw, *keep = NULL, *t, *x;
        dv_req q;
        dv_subdoc_op ops[DV_MAX_SPECS];
        if (!PyArg_ParseTuple(item, "O!O!", &PyTuple_Type, &args, &PyDict_Type, &kw) ||
            dv_py_parse_request(args, kw, &q, ops, &keep, &t, &x) < 0)
            goto done;
        Py_XDECREF(keep);
    }
    waiter w;
    waiter_init(&w, un, res);
    Py_ssize_t sent = 0;
    int closed = 0;
    for (; sent < n; sent++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, sent);
        PyObject *args, *kw;
        dv_req q;
        dv_subdoc_op ops[DV_MAX_SPECS];
        PyObject *keep = NULL, *type, *extra;
        if (!PyArg_ParseTuple(item, "O!O!", &PyTuple_Type, &args, &PyDict_Type, &kw) ||
            dv_py_parse_request(args, kw, &q, ops, &keep, &type, &extra) < 0)
            break;
        Py_INCREF(type);
        types[sent] = type;
        Py_INCREF(extra);
        extras[sent] = extra;
        slots[sent] = (slot){&w, (size_t)sent};
        rcs[sent] = start(b, START_SUBMIT, NULL, &q, &slots[sent]);
        Py_XDECREF(keep);
        if (rcs[sent] != DV_ERR_OK) waiter_done(&w);
        if (rcs[sent] == DV_ERR_CLUSTER_CLOSED) closed = 1;
    }
    for (Py_ssize_t i = sent; i < n; i++) waiter_done(&w); /* never sent */
    PyObject *t, *val, *tb;
    PyErr_Fetch(&t, &val, &tb); /* a parse error, raised once the rest has completed */
    Py_BEGIN_ALLOW_THREADS;
    waiter_wait(&w);
    Py_END_ALLOW_THREADS;
    PyErr_Restore(t, val, tb);
    if (sent < n) goto done;
    if (closed) {
        dv_py_raise(DV_ERR_CLUSTER_CLOSED, NULL);
        goto done;
    }
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        int failed;
        PyObject *v = rcs[i] != DV_ERR_OK
                          ? dv_py_error_new(rcs[i], NULL)
                          : outcome(res[i], START_SUBMIT, types[i], extras[i], &failed);
        res[i] = NULL;
        if (!v)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, v);
    }
done:
    for (Py_ssize_t i = 0; res && i < n; i++) dv_res_free(res[i]);
    for (Py_ssize_t i = 0; types && extras && i < n; i++) {
        Py_XDECREF(types[i]);
        Py_XDECREF(extras[i]);
    }
    PyMem_Free(res);
    PyMem_Free(slots);
    PyMem_Free(rcs);
    PyMem_Free(types);
    PyMem_Free(extras);
    Py_DECREF(seq);
    return out;
}

/* http_request(...) -> (status, body), waited for with the GIL released. */
static PyObject *bc_http_request(BlockingCluster *b, PyObject *args, PyObject *kw)
{
    dv_http_req q;
    PyObject *keep = NULL;
    int detail;
    if (dv_py_parse_http(args, kw, &q, &keep, &detail) < 0) return NULL;
    dv_res *res = NULL;
    waiter w;
    slot s = {&w, 0};
    dv_error rc = DV_ERR_CLUSTER_CLOSED;
    waiter_init(&w, 1, &res);
    Py_BEGIN_ALLOW_THREADS;
    pthread_rwlock_rdlock(&b->lock);
    if (b->c) rc = dv_client_http(b->c, &q, on_done, &s, NULL);
    pthread_rwlock_unlock(&b->lock);
    if (rc != DV_ERR_OK) waiter_done(&w);
    waiter_wait(&w);
    Py_END_ALLOW_THREADS;
    Py_XDECREF(keep);
    if (rc != DV_ERR_OK) return dv_py_raise(rc, NULL);
    if (!res) return PyErr_NoMemory();
    PyObject *v = dv_py_http_result(res, detail);
    dv_res_free(res);
    return v;
}

static PyMethodDef bc_methods[] = {
    {"http_request", (PyCFunction)(void (*)(void))bc_http_request, METH_VARARGS | METH_KEYWORDS,
     "http_request(service, method, path, body=None, content_type=None, timeout_ms=0, "
     "idempotent=False) -> (status, body)."},
    {"connect", (PyCFunction)(void (*)(void))bc_connect, METH_NOARGS,
     "connect(): waits for the cluster-level connection."},
    {"open_bucket", (PyCFunction)(void (*)(void))bc_open_bucket, METH_VARARGS,
     "open_bucket(name): waits until the bucket has a config."},
    {"close_bucket", (PyCFunction)(void (*)(void))bc_close_bucket, METH_VARARGS,
     "close_bucket(name): its connections close; a later use opens it again."},
    {"set_credentials", (PyCFunction)(void (*)(void))bc_set_credentials, METH_VARARGS,
     "set_credentials(username, password): for the connections opened from now on."},
    {"submit", (PyCFunction)(void (*)(void))bc_submit, METH_FASTCALL | METH_KEYWORDS,
     "submit(kind, bucket, scope, collection, key, ...) -> result_type(Result, extra)."},
    {"query_rows", (PyCFunction)(void (*)(void))bc_query_rows, METH_VARARGS | METH_KEYWORDS,
     "query_rows(service, method, path, body=None, ...) -> _Rows: rows streamed."},
    {"scan", (PyCFunction)(void (*)(void))bc_scan, METH_VARARGS | METH_KEYWORDS,
     "scan(bucket, scope, collection, **spec) -> _Scan: a KV range scan."},
    {"submit_all", (PyCFunction)(void (*)(void))bc_submit_all, METH_O,
     "submit_all([(args, kwargs), ...]) -> [result or exception, ...], sent at once."},
    {"ping", (PyCFunction)(void (*)(void))bc_ping, METH_VARARGS,
     "ping(bucket=None) -> ((id, remote, bucket, state, last, error, latency_us), ...)."},
    {"diagnostics", (PyCFunction)(void (*)(void))bc_diagnostics, METH_NOARGS,
     "diagnostics() -> the state of every KV connection, as ping's tuples."},
    {"close", (PyCFunction)(void (*)(void))bc_close, METH_NOARGS,
     "Fail pending operations (RequestCanceledException), close the connections."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject BlockingClusterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core.BlockingCluster",
    .tp_doc = "BlockingCluster(connstr, username, password, kv_timeout_ms=0, ...): libdivan's "
              "native driver, shared by any number of threads.",
    .tp_basicsize = sizeof(BlockingCluster),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = bc_new,
    .tp_init = (initproc)bc_init,
    .tp_dealloc = (destructor)bc_dealloc,
    .tp_methods = bc_methods,
};

int dv_py_blocking_init(PyObject *m)
{
    if (PyType_Ready(&BlockingClusterType) < 0) return -1;
    Py_INCREF(&BlockingClusterType);
    if (PyModule_AddObject(m, "BlockingCluster", (PyObject *)&BlockingClusterType) < 0) {
        Py_DECREF(&BlockingClusterType);
        return -1;
    }
    return 0;
}
