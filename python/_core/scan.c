/* couchbase._core._Scan: libdivan's dv_kvscan (include/divan/scan.h) for Collection.scan on the
 * three front ends. The cluster types make one with their own submit hook (scan() of Cluster and
 * BlockingCluster); Python reads it in batches:
 *   next_batch(n) -> a list of up to n items, each (key, cas, flags, expiry, datatype, value or
 *                    None when ids only); None once the scan is complete; raises its error.
 *                    Blocking: waits (GIL released) for the first item. Asyncio: returns what
 *                    has arrived, maybe [], and wait() gives a future resolved when there is
 *                    more to say.
 *   cancel()      -> stops it (the server's scans are cancelled too); the next call raises
 *                    RequestCanceledException. Dropping the object cancels as well. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "core.h"
#include "divan/scan.h"

typedef struct {
    PyObject_HEAD dv_kvscan *s;
    PyObject *owner;  /* the cluster object (strong) */
    PyObject *waiter; /* asyncio: the future of wait(), or NULL */
    int async;
    int closing;
} Scan;

static PyTypeObject ScanType;

/* io.ready (asyncio, on the loop's thread, from a completion). */
static void scan_ready(void *ud)
{
    Scan *sc = ud;
    if (!sc->closing) dv_py_resolve_waiter(&sc->waiter);
}

static int take_bytes(PyObject *o, const char *what, const void **p, size_t *n)
{
    if (o == NULL || o == Py_None) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    char *b;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(o, &b, &len) < 0) {
        PyErr_Format(PyExc_TypeError, "scan: %s must be bytes", what);
        return -1;
    }
    *p = b;
    *n = (size_t)len;
    return 0;
}

PyObject *dv_py_scan_new(PyObject *owner, const dv_kvscan_io *io, int async, PyObject *args,
                         PyObject *kw)
{
    static char *kwlist[] = {"bucket",   "scope",         "collection", "sampling",    "start",
                             "end",      "excl_start",    "excl_end",   "samples",     "seed",
                             "ids_only", "item_limit",    "byte_limit", "concurrency", "timeout_ms",
                             "tokens",   "time_limit_ms", NULL};
    const char *bucket, *scope = NULL, *collection = NULL;
    int sampling = 0, excl_start = 0, excl_end = 0, ids_only = 0;
    PyObject *start = NULL, *end = NULL, *tokens = NULL;
    unsigned long long samples = 0, seed = 0, timeout_ms = 0;
    unsigned int item_limit = 0, byte_limit = 0, concurrency = 1, time_limit_ms = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zzpOOppKKpIIIKOI:scan", kwlist, &bucket, &scope,
                                     &collection, &sampling, &start, &end, &excl_start, &excl_end,
                                     &samples, &seed, &ids_only, &item_limit, &byte_limit,
                                     &concurrency, &timeout_ms, &tokens, &time_limit_ms))
        return NULL;
    dv_kvscan_opts o;
    memset(&o, 0, sizeof o);
    o.bucket = bucket;
    o.scope = scope;
    o.collection = collection;
    o.spec.sampling = sampling;
    if (take_bytes(start, "start", &o.spec.start, &o.spec.start_len) < 0 ||
        take_bytes(end, "end", &o.spec.end, &o.spec.end_len) < 0)
        return NULL;
    o.spec.excl_start = excl_start;
    o.spec.excl_end = excl_end;
    o.spec.samples = samples;
    o.spec.seed = seed;
    o.spec.ids_only = ids_only;
    o.spec.item_limit = item_limit;
    o.spec.byte_limit = byte_limit;
    o.spec.time_limit_ms = time_limit_ms;
    o.concurrency = concurrency;
    o.timeout_ms = timeout_ms;
    dv_token *toks = NULL;
    PyObject *seq = NULL;
    if (tokens && tokens != Py_None) {
        seq = PySequence_Fast(tokens, "scan: tokens must be a sequence");
        if (!seq) return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        toks = PyMem_Calloc((size_t)n + 1, sizeof *toks);
        if (!toks) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned long long uuid, sn;
            unsigned short vb;
            const char *bn;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "KKHz", &uuid, &sn, &vb, &bn)) {
                PyMem_Free(toks);
                Py_DECREF(seq);
                return NULL;
            }
            toks[i] = (dv_token){uuid, sn, vb, bn};
        }
        o.tokens = toks;
        o.ntokens = (size_t)n;
    }
    Scan *sc = PyObject_New(Scan, &ScanType);
    if (!sc) {
        PyMem_Free(toks);
        Py_XDECREF(seq);
        return NULL;
    }
    sc->s = NULL;
    Py_INCREF(owner);
    sc->owner = owner;
    sc->waiter = NULL;
    sc->async = async;
    sc->closing = 0;
    dv_kvscan_io x = *io;
    if (async) {
        x.ready = scan_ready;
        x.ready_ud = sc;
    }
    char err[256] = "";
    dv_error rc = dv_kvscan_new(&o, &x, &sc->s, err, sizeof err);
    PyMem_Free(toks);
    Py_XDECREF(seq);
    if (rc != DV_ERR_OK) {
        Py_DECREF(sc);
        return dv_py_raise(rc, err[0] ? err : NULL);
    }
    return (PyObject *)sc;
}

static PyObject *item_tuple(const dv_kvscan_item *it)
{
    PyObject *key = PyUnicode_DecodeUTF8(it->key, (Py_ssize_t)it->key_len, "surrogateescape");
    if (!key) return NULL;
    if (it->ids_only) {
        PyObject *t = PyTuple_Pack(1, key);
        Py_DECREF(key);
        return t;
    }
    return Py_BuildValue("(NKIIBy#)", key, (unsigned long long)it->cas, (unsigned)it->flags,
                         (unsigned)it->expiry, (unsigned char)it->datatype,
                         it->value ? (const char *)it->value : "", (Py_ssize_t)it->value_len);
}

static PyObject *scan_next_batch(Scan *sc, PyObject *arg)
{
    Py_ssize_t max = PyLong_AsSsize_t(arg);
    if (max < 0 && PyErr_Occurred()) return NULL;
    if (max < 1) max = 1;
    if (!sc->s) return dv_py_raise(DV_ERR_REQUEST_CANCELED, "the scan is closed");
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    dv_kvscan_item it;
    dv_error err = DV_ERR_OK;
    char msg[256] = "";
    int r;
    if (!sc->async) {
        /* The first item may take a round trip: wait for it without the GIL. */
        Py_BEGIN_ALLOW_THREADS;
        r = dv_kvscan_next(sc->s, &it, 1, &err, msg, sizeof msg);
        Py_END_ALLOW_THREADS;
    } else {
        r = dv_kvscan_next(sc->s, &it, 0, &err, msg, sizeof msg);
    }
    while (r == 1) {
        PyObject *t = item_tuple(&it);
        if (!t || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(t);
        if (PyList_GET_SIZE(list) >= max) return list;
        r = dv_kvscan_next(sc->s, &it, 0, &err, msg, sizeof msg);
    }
    if (r == 0 || PyList_GET_SIZE(list) > 0) return list; /* the end is said next time */
    Py_DECREF(list);
    if (err == DV_ERR_OK) Py_RETURN_NONE;
    return dv_py_raise(err, msg[0] ? msg : NULL);
}

static PyObject *scan_wait(Scan *sc, PyObject *loop)
{
    if (!sc->async) {
        PyErr_SetString(PyExc_TypeError, "wait() is for asyncio scans");
        return NULL;
    }
    PyObject *f = PyObject_CallMethod(loop, "create_future", NULL);
    if (!f) return NULL;
    /* Called right after a next_batch that had nothing, on the loop's thread: nothing can
     * have arrived in between. */
    Py_XSETREF(sc->waiter, f);
    Py_INCREF(f);
    return f;
}

static PyObject *scan_cancel(Scan *sc, PyObject *unused)
{
    (void)unused;
    if (sc->s) dv_kvscan_cancel(sc->s);
    Py_RETURN_NONE;
}

static PyObject *scan_inflight(Scan *sc, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(sc->s ? dv_kvscan_inflight(sc->s) : 0);
}

static void scan_close(Scan *sc)
{
    sc->closing = 1;
    if (sc->s) {
        dv_kvscan *s = sc->s;
        sc->s = NULL;
        if (sc->async) {
            dv_kvscan_free(s);
        } else {
            Py_BEGIN_ALLOW_THREADS;
            dv_kvscan_free(s);
            Py_END_ALLOW_THREADS;
        }
    }
    dv_py_resolve_waiter(&sc->waiter); /* an iteration waiting for this scan ends */
}

static PyObject *scan_close_m(Scan *sc, PyObject *unused)
{
    (void)unused;
    scan_close(sc);
    Py_RETURN_NONE;
}

static void scan_dealloc(Scan *sc)
{
    scan_close(sc);
    Py_CLEAR(sc->owner);
    PyObject_Free(sc);
}

static PyMethodDef scan_methods[] = {
    {"next_batch", (PyCFunction)(void (*)(void))scan_next_batch, METH_O,
     "next_batch(n): up to n items, None at the end."},
    {"wait", (PyCFunction)(void (*)(void))scan_wait, METH_O,
     "wait(loop): a future resolved when the scan has more to say (asyncio)."},
    {"cancel", (PyCFunction)(void (*)(void))scan_cancel, METH_NOARGS, "Stop the scan."},
    {"close", (PyCFunction)(void (*)(void))scan_close_m, METH_NOARGS, "Cancel and free."},
    {"_inflight", (PyCFunction)(void (*)(void))scan_inflight, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ScanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core._Scan",
    .tp_basicsize = sizeof(Scan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)scan_dealloc,
    .tp_methods = scan_methods,
};

int dv_py_scan_init(PyObject *m)
{
    (void)m;
    return PyType_Ready(&ScanType);
}
