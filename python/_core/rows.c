/* couchbase._core._Rows: libdivan's dv_rows (include/divan/rows.h) for the streamed rows of
 * Cluster.query and Scope.query. The cluster types make one with their own io
 * (query_rows() of Cluster and BlockingCluster, the arguments of http_request); Python reads
 * it in batches:
 *   next_batch(n) -> a list of up to n rows, each the bytes of its JSON; None once the response
 *                    is complete. Blocking: waits (GIL released) for the first row. Asyncio:
 *                    returns what has arrived, maybe [], and wait(loop) gives a future resolved
 *                    when there is more to say.
 *   result()      -> once next_batch gave None: (status, body without the rows, node,
 *                    elapsed_us), or raises the request's error (timeout, cancelled, ...).
 *   cancel()      -> stops it (the request's connection is closed). Dropping the object
 *                    cancels as well. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core.h"
#include "divan/rows.h"

typedef struct {
    PyObject_HEAD dv_rows *r;
    PyObject *owner;  /* the cluster object (strong) */
    PyObject *waiter; /* asyncio: the future of wait(), or NULL */
    int async;
    int closing;
} Rows;

static PyTypeObject RowsType;

/* io.ready (asyncio, on the loop's thread, from a completion or a row). */
static void rows_ready(void *ud)
{
    Rows *w = ud;
    if (!w->closing) dv_py_resolve_waiter(&w->waiter);
}

PyObject *dv_py_rows_new(PyObject *owner, const dv_rows_io *io, int async, PyObject *args,
                         PyObject *kw)
{
    dv_http_req q;
    PyObject *keep = NULL;
    int detail;
    if (dv_py_parse_http(args, kw, &q, &keep, &detail) < 0) return NULL;
    Rows *w = PyObject_New(Rows, &RowsType);
    if (!w) {
        Py_XDECREF(keep);
        return NULL;
    }
    w->r = NULL;
    Py_INCREF(owner);
    w->owner = owner;
    w->waiter = NULL;
    w->async = async;
    w->closing = 0;
    dv_rows_io x = *io;
    if (async) {
        x.ready = rows_ready;
        x.ready_ud = w;
    }
    dv_error rc;
    if (async) {
        rc = dv_rows_new(&q, &x, &w->r);
    } else {
        Py_BEGIN_ALLOW_THREADS;
        rc = dv_rows_new(&q, &x, &w->r);
        Py_END_ALLOW_THREADS;
    }
    Py_XDECREF(keep);
    if (rc != DV_ERR_OK) {
        Py_DECREF(w);
        return dv_py_raise(rc, NULL);
    }
    return (PyObject *)w;
}

static PyObject *rows_next_batch(Rows *w, PyObject *arg)
{
    Py_ssize_t max = PyLong_AsSsize_t(arg);
    if (max < 0 && PyErr_Occurred()) return NULL;
    if (max < 1) max = 1;
    if (!w->r) return dv_py_raise(DV_ERR_REQUEST_CANCELED, "the query is closed");
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    const char *row;
    size_t len;
    int r;
    if (!w->async) {
        Py_BEGIN_ALLOW_THREADS;
        r = dv_rows_next(w->r, &row, &len, 1);
        Py_END_ALLOW_THREADS;
    } else {
        r = dv_rows_next(w->r, &row, &len, 0);
    }
    while (r == 1) {
        PyObject *b = PyBytes_FromStringAndSize(row, (Py_ssize_t)len);
        if (!b || PyList_Append(list, b) < 0) {
            Py_XDECREF(b);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(b);
        if (PyList_GET_SIZE(list) >= max) return list;
        r = dv_rows_next(w->r, &row, &len, 0);
    }
    if (r == 0 || PyList_GET_SIZE(list) > 0) return list; /* the end is said next time */
    Py_DECREF(list);
    Py_RETURN_NONE;
}

static PyObject *rows_result(Rows *w, PyObject *unused)
{
    (void)unused;
    const dv_res *res = w->r ? dv_rows_result(w->r) : NULL;
    if (!res) {
        PyErr_SetString(PyExc_RuntimeError, "result(): the response is not complete");
        return NULL;
    }
    return dv_py_http_result(res, 1);
}

static PyObject *rows_wait(Rows *w, PyObject *loop)
{
    if (!w->async) {
        PyErr_SetString(PyExc_TypeError, "wait() is for asyncio queries");
        return NULL;
    }
    PyObject *f = PyObject_CallMethod(loop, "create_future", NULL);
    if (!f) return NULL;
    /* Called right after a next_batch that had nothing, on the loop's thread: nothing can
     * have arrived in between. */
    Py_XSETREF(w->waiter, f);
    Py_INCREF(f);
    return f;
}

static PyObject *rows_cancel(Rows *w, PyObject *unused)
{
    (void)unused;
    if (w->r) dv_rows_cancel(w->r);
    Py_RETURN_NONE;
}

static PyObject *rows_buffered(Rows *w, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(w->r ? dv_rows_buffered(w->r) : 0);
}

static void rows_close(Rows *w)
{
    w->closing = 1;
    if (w->r) {
        dv_rows *r = w->r;
        w->r = NULL;
        if (w->async) {
            dv_rows_free(r);
        } else {
            Py_BEGIN_ALLOW_THREADS;
            dv_rows_free(r);
            Py_END_ALLOW_THREADS;
        }
    }
    dv_py_resolve_waiter(&w->waiter); /* an iteration waiting for these rows ends */
}

static PyObject *rows_close_m(Rows *w, PyObject *unused)
{
    (void)unused;
    rows_close(w);
    Py_RETURN_NONE;
}

static void rows_dealloc(Rows *w)
{
    rows_close(w);
    Py_CLEAR(w->owner);
    PyObject_Free(w);
}

static PyMethodDef rows_methods[] = {
    {"next_batch", (PyCFunction)(void (*)(void))rows_next_batch, METH_O,
     "next_batch(n): up to n rows (bytes), None once the response is complete."},
    {"result", (PyCFunction)(void (*)(void))rows_result, METH_NOARGS,
     "result(): (status, body, node, elapsed_us) of the complete response, or its error."},
    {"wait", (PyCFunction)(void (*)(void))rows_wait, METH_O,
     "wait(loop): a future resolved when there is more to say (asyncio)."},
    {"cancel", (PyCFunction)(void (*)(void))rows_cancel, METH_NOARGS, "Stop the request."},
    {"close", (PyCFunction)(void (*)(void))rows_close_m, METH_NOARGS, "Cancel and free."},
    {"_buffered", (PyCFunction)(void (*)(void))rows_buffered, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject RowsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core._Rows",
    .tp_basicsize = sizeof(Rows),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)rows_dealloc,
    .tp_methods = rows_methods,
};

int dv_py_rows_init(PyObject *m)
{
    (void)m;
    return PyType_Ready(&RowsType);
}
