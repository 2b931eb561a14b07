/* couchbase._core's asyncio adapter: libdivan's sans-I/O engine (src/client/engine.h) driven from
 * an asyncio loop's own thread. No I/O thread, no call_soon_threadsafe:
 *   - hooks.connect  -> loop.create_connection(conn, host, port), where conn is a Conn: an
 *                       asyncio Protocol written in C (it is its own protocol factory);
 *   - hooks.write    -> transport.write; hooks.close -> transport.close (or cancel the connect);
 *   - hooks.timer    -> loop.call_at(at, cluster._timer), one handle, replaced on re-arm;
 *   - hooks.now      -> loop.time() in ns, so that now and call_at share one clock;
 *   - each event that may produce output schedules one loop.call_soon(cluster._flush) per
 *     iteration: what an iteration issues goes out in one write per connection.
 * An operation is an Op (a C object, not a closure): it holds the Future the caller awaits, is
 * the engine's callback data, and is the Future's done callback (a cancelled Future cancels the
 * operation in the engine; its late reply is dropped there). Completions resolve the Future
 * directly: we are on the loop's thread. Results are Result objects whose value becomes bytes on
 * first access. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "client/engine.h"
#include "core.h"
#include "divan/rows.h"
#include "divan/scan.h"

/* ---- Types ------------------------------------------------------------------------------------
 */

typedef struct Conn Conn;

typedef struct {
    PyObject_HEAD dv_engine *e;
    PyObject *loop;
    int monotonic;          /* the loop's time() is CLOCK_MONOTONIC: read it here, without a call */
    PyObject *future_type;  /* asyncio.Future when the loop's create_future() is asyncio's own
                               (called here with loop=, without its Python frame), else NULL */
    PyObject *timer_handle; /* the armed call_at handle, or NULL */
    int flush_scheduled;
    /* Being destroyed: 1 by the last reference going (errors of a closed loop are silenced),
     * 2 by the garbage collector breaking a cycle (the loop and the transports may be half
     * cleared already: the hooks call no Python at all, futures are left alone). */
    int dying;
    Conn **conns; /* live connections, by engine id (few: a linear scan is enough) */
    size_t nconns, capconns;
} Cluster;

struct Conn {
    PyObject_HEAD Cluster
        *cluster; /* borrowed; NULL once the engine closed it or the cluster went away */
    uint32_t id;
    int connected;
    PyObject *transport;
    PyObject *task; /* the create_connection task (asyncio keeps only weak references) */
};

typedef struct {
    PyObject_HEAD Cluster
        *cluster; /* strong: an operation keeps its cluster alive until it completes */
    PyObject *future;
    PyObject *result_type; /* called as result_type(result, extra) to give the future's value */
    PyObject *extra;
    uint64_t id;
    int done;      /* the engine completed it */
    int watching;  /* op is the future's done callback (added once submitted) */
    int endpoints; /* ping, diagnostics: the value is the endpoints, not a Result */
    int http;      /* http_request: the value is (status, body); 2: with node, elapsed_us */
} Op;

static PyTypeObject ClusterType, ConnType, OpType;

/* The method names called once or more per operation, interned once (no format string parsed
 * and no argument tuple built per call). */
static PyObject *s_create_future, *s_add_done_callback, *s_remove_done_callback, *s_done,
    *s_cancelled, *s_set_result, *s_set_exception, *s_loop_kwnames;

/* ---- Cluster helpers --------------------------------------------------------------------------
 */

static void cluster_schedule_flush(Cluster *c)
{
    if (c->flush_scheduled || !c->e) return;
    PyObject *cb = PyObject_GetAttrString((PyObject *)c, "_flush");
    PyObject *r = cb ? PyObject_CallMethod(c->loop, "call_soon", "O", cb) : NULL;
    Py_XDECREF(cb);
    if (!r) {
        PyErr_WriteUnraisable((PyObject *)c);
        return;
    }
    Py_DECREF(r);
    c->flush_scheduled = 1;
}

static Conn *cluster_find(Cluster *c, uint32_t id, size_t *at)
{
    for (size_t i = 0; i < c->nconns; i++) {
        if (c->conns[i]->id == id) {
            if (at) *at = i;
            return c->conns[i];
        }
    }
    return NULL;
}

/* Forget conn (the table's reference is returned to the caller, who must drop it). */
static Conn *cluster_detach(Cluster *c, uint32_t id)
{
    size_t at;
    Conn *k = cluster_find(c, id, &at);
    if (!k) return NULL;
    c->conns[at] = c->conns[--c->nconns];
    k->cluster = NULL;
    return k;
}

/* An error raised by Python code a hook called: the hooks cannot return it. */
static void report(Cluster *c, PyObject *where)
{
    if (c->dying)
        PyErr_Clear();
    else
        PyErr_WriteUnraisable(where);
}

static void conn_shut(Cluster *c, Conn *k)
{
    PyObject *r = NULL;
    if (c->dying == 2) return;
    if (k->transport) {
        r = PyObject_CallMethod(k->transport, "close", NULL);
    } else if (k->task) {
        r = PyObject_CallMethod(k->task, "cancel", NULL);
    }
    if (!r && PyErr_Occurred()) report(c, (PyObject *)k);
    Py_XDECREF(r);
}

/* ---- Engine hooks (never call dv_engine_* from here) -------------------------------------- */

static uint64_t hook_now(void *ud)
{
    Cluster *c = ud;
    if (c->dying == 2) return 0;
    if (c->monotonic) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    PyObject *t = PyObject_CallMethod(c->loop, "time", NULL);
    double s = t ? PyFloat_AsDouble(t) : 0.0;
    Py_XDECREF(t);
    if (PyErr_Occurred()) report(c, c->loop);
    return s > 0 ? (uint64_t)(s * 1e9) : 0;
}

static void hook_connect(void *ud, uint32_t id, const char *host, uint16_t port)
{
    Cluster *c = ud;
    if (c->dying) return; /* the engine's connect timeout fails what waits for it */
    Conn *k = PyObject_GC_New(Conn, &ConnType);
    if (!k) goto fail;
    k->cluster = c;
    k->id = id;
    k->connected = 0;
    k->transport = NULL;
    k->task = NULL;
    PyObject_GC_Track(k);
    if (c->nconns == c->capconns) {
        size_t cap = c->capconns ? c->capconns * 2 : 8;
        Conn **n = PyMem_Realloc(c->conns, cap * sizeof(*n));
        if (!n) {
            Py_DECREF(k);
            goto fail;
        }
        c->conns = n;
        c->capconns = cap;
    }
    c->conns[c->nconns++] = k; /* the table owns the reference */
    PyObject *coro = PyObject_CallMethod(c->loop, "create_connection", "OsH", (PyObject *)k, host,
                                         (unsigned short)port);
    if (coro) {
        k->task = PyObject_CallMethod(c->loop, "create_task", "O", coro);
        Py_DECREF(coro);
    }
    PyObject *r = NULL;
    if (k->task) {
        PyObject *cb = PyObject_GetAttrString((PyObject *)k, "_connect_done");
        r = cb ? PyObject_CallMethod(k->task, "add_done_callback", "O", cb) : NULL;
        Py_XDECREF(cb);
    }
    if (r) {
        Py_DECREF(r);
        return;
    }
    /* Report the failure from a later iteration (never re-entrantly): the Conn's _failed. */
    PyErr_WriteUnraisable((PyObject *)k);
    PyObject *cb = PyObject_GetAttrString((PyObject *)k, "_failed");
    r = cb ? PyObject_CallMethod(c->loop, "call_soon", "O", cb) : NULL;
    Py_XDECREF(cb);
    if (r) {
        Py_DECREF(r);
        return;
    }
fail:
    /* No way to report it: the engine's connect timeout will. */
    if (PyErr_Occurred()) PyErr_WriteUnraisable(c->loop);
}

static void hook_write(void *ud, uint32_t id, const uint8_t *p, size_t n)
{
    Cluster *c = ud;
    Conn *k = cluster_find(c, id, NULL);
    if (!k || !k->transport || c->dying) return;
    PyObject *b = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    PyObject *r = b ? PyObject_CallMethod(k->transport, "write", "O", b) : NULL;
    Py_XDECREF(b);
    if (!r) report(c, (PyObject *)k);
    Py_XDECREF(r);
}

/* A streaming response's reader is behind: the transport stops reading (a transport that
 * cannot pause keeps reading, and the rows wait in memory). */
static void hook_pause(void *ud, uint32_t id, int paused)
{
    Cluster *c = ud;
    Conn *k = cluster_find(c, id, NULL);
    if (!k || !k->transport || c->dying) return;
    PyObject *r =
        PyObject_CallMethod(k->transport, paused ? "pause_reading" : "resume_reading", NULL);
    if (!r) PyErr_Clear();
    Py_XDECREF(r);
}

static void hook_close(void *ud, uint32_t id)
{
    Cluster *c = ud;
    Conn *k = cluster_detach(c, id);
    if (!k) return;
    conn_shut(c, k);
    Py_DECREF(k);
}

static void hook_timer(void *ud, uint64_t at_ns)
{
    Cluster *c = ud;
    if (c->timer_handle && c->dying != 2) {
        PyObject *r = PyObject_CallMethod(c->timer_handle, "cancel", NULL);
        if (!r) report(c, c->timer_handle);
        Py_XDECREF(r);
    }
    Py_CLEAR(c->timer_handle);
    if (!at_ns || c->dying) return;
    PyObject *cb = PyObject_GetAttrString((PyObject *)c, "_timer");
    c->timer_handle =
        cb ? PyObject_CallMethod(c->loop, "call_at", "dO", (double)at_ns / 1e9, cb) : NULL;
    Py_XDECREF(cb);
    if (!c->timer_handle) report(c, c->loop);
}

/* ---- Op: the engine's callback data and the future's done callback ------------------------ */

static int future_done(PyObject *f)
{
    PyObject *r = PyObject_CallMethodNoArgs(f, s_done);
    int done = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    return done;
}

static void op_complete(void *ud, const dv_res *res)
{
    Op *op = ud;
    op->done = 1;
    /* The garbage collector is breaking a cycle of which op is part: nobody can await it. */
    if (!op->future || !op->cluster || op->cluster->dying == 2) {
        Py_DECREF(op);
        return;
    }
    /* Resolved here, op need not watch for cancellation: one loop callback less. A future's
     * callbacks are cleared once it is done, so finding none of op's tells that it was
     * cancelled meanwhile (without a done() call per operation). */
    int done;
    if (op->watching) {
        PyObject *rm =
            PyObject_CallMethodOneArg(op->future, s_remove_done_callback, (PyObject *)op);
        Py_ssize_t removed = rm ? PyLong_AsSsize_t(rm) : -1;
        Py_XDECREF(rm);
        done = removed < 0 ? future_done(op->future) : removed == 0;
        if (removed < 0) PyErr_Clear();
        op->watching = 0;
    } else {
        done = future_done(op->future);
    }
    PyObject *r = NULL;
    if (done == 0) {
        PyObject *v = NULL;
        if (res->err == DV_ERR_OK) {
            v = op->http        ? dv_py_http_value(res, op->http == 2)
                : op->endpoints ? dv_py_endpoints_new(res)
                                : dv_py_result_new(res);
            if (v && op->result_type != Py_None) {
                PyObject *w = PyObject_CallFunctionObjArgs(op->result_type, v, op->extra, NULL);
                Py_SETREF(v, w);
            }
            if (v) r = PyObject_CallMethodOneArg(op->future, s_set_result, v);
        } else {
            v = dv_py_make_exception(res);
            if (v) r = PyObject_CallMethodOneArg(op->future, s_set_exception, v);
        }
        if (!v) {
            /* Hand the Python error (from the transcoder, say) to the caller instead. */
            PyObject *val = dv_py_take_error();
            if (val) r = PyObject_CallMethodOneArg(op->future, s_set_exception, val);
            Py_XDECREF(val);
        }
        Py_XDECREF(v);
    }
    if (done < 0 || (done == 0 && !r)) PyErr_WriteUnraisable(op->future);
    Py_XDECREF(r);
    Py_DECREF(op); /* the engine's reference */
}

static int op_traverse(Op *op, visitproc visit, void *arg)
{
    Py_VISIT(op->cluster);
    Py_VISIT(op->future);
    Py_VISIT(op->result_type);
    Py_VISIT(op->extra);
    return 0;
}

static int op_clear(Op *op)
{
    Py_CLEAR(op->cluster);
    Py_CLEAR(op->future);
    Py_CLEAR(op->result_type);
    Py_CLEAR(op->extra);
    return 0;
}

static void op_dealloc(Op *op)
{
    PyObject_GC_UnTrack(op);
    op_clear(op);
    PyObject_GC_Del(op);
}

/* The future's done callback: a cancelled future cancels the operation. */
static PyObject *op_call(Op *op, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    if (op->done || !op->cluster || !op->cluster->e) Py_RETURN_NONE;
    PyObject *r = PyObject_CallMethodNoArgs(op->future, s_cancelled);
    int cancelled = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (cancelled < 0) return NULL;
    if (cancelled) {
        Cluster *c = op->cluster;
        Py_INCREF(c);
        dv_engine_cancel(c->e, op->id); /* completes it now: op_complete drops the reply */
        cluster_schedule_flush(c);
        Py_DECREF(c);
    }
    Py_RETURN_NONE;
}

static PyTypeObject OpType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core._Op",
    .tp_basicsize = sizeof(Op),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)op_dealloc,
    .tp_traverse = (traverseproc)op_traverse,
    .tp_clear = (inquiry)op_clear,
    .tp_call = (ternaryfunc)op_call,
};

/* A new Op with its future; the caller submits it and gives the engine one reference. */
static Op *op_new(Cluster *c, PyObject *result_type, PyObject *extra)
{
    Op *op = PyObject_GC_New(Op, &OpType);
    if (!op) return NULL;
    Py_INCREF(c);
    op->cluster = c;
    op->future = NULL;
    Py_INCREF(result_type);
    op->result_type = result_type;
    Py_INCREF(extra);
    op->extra = extra;
    op->id = 0;
    op->done = 0;
    op->watching = 0;
    op->endpoints = 0;
    op->http = 0;
    PyObject_GC_Track(op);
    if (c->future_type) {
        PyObject *argv[] = {c->loop};
        op->future = PyObject_Vectorcall(c->future_type, argv, 0, s_loop_kwnames);
    } else {
        op->future = PyObject_CallMethodNoArgs(c->loop, s_create_future);
    }
    if (!op->future) {
        Py_DECREF(op);
        return NULL;
    }
    return op;
}

/* After a submit: on success the engine holds a reference (taken before the call); on a
 * synchronous failure, raise it. Returns the future (new reference) or NULL. */
static PyObject *op_started(Cluster *c, Op *op, dv_error rc)
{
    if (rc != DV_ERR_OK) {
        Py_DECREF(op); /* the engine's: it will never call back */
        Py_DECREF(op);
        return dv_py_raise(rc, NULL);
    }
    cluster_schedule_flush(c);
    PyObject *future = op->future;
    Py_INCREF(future);
    if (!op->done) {
        PyObject *r = PyObject_CallMethodOneArg(future, s_add_done_callback, (PyObject *)op);
        if (!r) PyErr_WriteUnraisable(future);
        op->watching = r != NULL;
        Py_XDECREF(r);
    }
    Py_DECREF(op);
    return future;
}

/* ---- Cluster ----------------------------------------------------------------------------------
 */

/* Whether loop.time() is CLOCK_MONOTONIC, as asyncio's own loops (time.monotonic) and uvloop's
 * (libuv's clock, in ms) give it: then the engine's clock is read in C, and call_at still agrees
 * with it. Another loop's time() is called. 1, 0, or -1 with a Python error. */
static int loop_is_monotonic(PyObject *loop)
{
    PyObject *mod = PyImport_ImportModule("asyncio.base_events");
    if (!mod) return -1;
    PyObject *base = PyObject_GetAttrString(mod, "BaseEventLoop");
    Py_DECREF(mod);
    if (!base) return -1;
    PyObject *std = PyObject_GetAttrString(base, "time");
    Py_DECREF(base);
    PyObject *mine = std ? PyObject_GetAttrString((PyObject *)Py_TYPE(loop), "time") : NULL;
    int same = mine && mine == std;
    PyObject *modname = PyObject_GetAttrString((PyObject *)Py_TYPE(loop), "__module__");
    const char *m = modname && PyUnicode_Check(modname) ? PyUnicode_AsUTF8(modname) : NULL;
    int uv = m && (strcmp(m, "uvloop") == 0 || strncmp(m, "uvloop.", 7) == 0);
    Py_XDECREF(modname);
    Py_XDECREF(std);
    Py_XDECREF(mine);
    PyErr_Clear(); /* a loop type without time(): called as before, which reports */
    return same || uv;
}

/* Whether loop.create_future is asyncio's own BaseEventLoop.create_future, which returns
 * asyncio.Future(loop=loop): then *type is that Future type (new reference), else NULL. 0, or
 * -1 with a Python error. */
/* uvloop's Loop (the class itself, not a subclass, which could override create_future) makes
 * asyncio.Future(loop=self) in create_future, as asyncio's loops do. */
static int is_uvloop(PyObject *loop)
{
    PyObject *mods = PyImport_GetModuleDict(); /* borrowed; a uvloop loop's module is there */
    PyObject *m = mods ? PyDict_GetItemString(mods, "uvloop") : NULL;
    PyObject *cls = m ? PyObject_GetAttrString(m, "Loop") : NULL;
    int yes = cls && (PyObject *)Py_TYPE(loop) == cls;
    Py_XDECREF(cls);
    PyErr_Clear();
    return yes;
}

static int loop_makes_std_futures(PyObject *loop, PyObject **type)
{
    *type = NULL;
    PyObject *be = PyImport_ImportModule("asyncio.base_events");
    PyObject *fu = be ? PyImport_ImportModule("asyncio.futures") : NULL;
    PyObject *base = fu ? PyObject_GetAttrString(be, "BaseEventLoop") : NULL;
    PyObject *std = base ? PyObject_GetAttrString(base, "create_future") : NULL;
    PyObject *mine =
        std ? PyObject_GetAttrString((PyObject *)Py_TYPE(loop), "create_future") : NULL;
    int std_loop = (mine && mine == std) || (fu && is_uvloop(loop));
    if (std_loop) *type = PyObject_GetAttrString(fu, "Future");
    int failed = !be || !fu || !base || !std || (std_loop && !*type);
    Py_XDECREF(be);
    Py_XDECREF(fu);
    Py_XDECREF(base);
    Py_XDECREF(std);
    Py_XDECREF(mine);
    if (failed) return -1;
    PyErr_Clear(); /* a loop type without create_future: called as before, which reports */
    return 0;
}

static int cluster_init(Cluster *c, PyObject *args, PyObject *kw)
{
    PyObject *loop;
    dv_client_opts o;
    if (dv_py_parse_opts(args, kw, &loop, &o) < 0) return -1;
    if (c->e) {
        PyErr_SetString(PyExc_RuntimeError, "AsyncCluster already initialized");
        return -1;
    }
    Py_INCREF(loop);
    Py_XSETREF(c->loop, loop);
    c->monotonic = loop_is_monotonic(loop);
    if (c->monotonic < 0) return -1;
    Py_CLEAR(c->future_type);
    if (loop_makes_std_futures(loop, &c->future_type) < 0) return -1;
    dv_engine_hooks h = {.ud = c,
                         .now = hook_now,
                         .connect = hook_connect,
                         .write = hook_write,
                         .close = hook_close,
                         .timer = hook_timer,
                         .pause = hook_pause};
    dv_error rc = DV_ERR_OK;
    char err[256] = "";
    c->e = dv_engine_new(&o, &h, &rc, err, sizeof err);
    if (!c->e) {
        dv_py_raise(rc, err);
        return -1;
    }
    return 0;
}

/* Fail what is pending with REQUEST_CANCELED, close the connections, forget the loop's handles. */
static void cluster_shutdown(Cluster *c)
{
    if (c->e) {
        dv_engine *e = c->e;
        dv_engine_free(e); /* hooks and callbacks run: c->e stays valid until this returns */
        c->e = NULL;
    }
    hook_timer(c, 0);
    while (c->nconns) {
        Conn *k = cluster_detach(c, c->conns[0]->id);
        conn_shut(c, k);
        Py_DECREF(k);
    }
}

static PyObject *cluster_close(Cluster *c, PyObject *unused)
{
    (void)unused;
    cluster_shutdown(c);
    Py_RETURN_NONE;
}

static int cluster_traverse(Cluster *c, visitproc visit, void *arg)
{
    Py_VISIT(c->loop);
    Py_VISIT(c->future_type);
    Py_VISIT(c->timer_handle);
    for (size_t i = 0; i < c->nconns; i++) Py_VISIT(c->conns[i]);
    return 0;
}

static int cluster_clear(Cluster *c)
{
    if (!c->dying) c->dying = 2;
    cluster_shutdown(c);
    Py_CLEAR(c->loop);
    Py_CLEAR(c->future_type);
    return 0;
}

static void cluster_dealloc(Cluster *c)
{
    PyObject_GC_UnTrack(c);
    if (!c->dying) c->dying = 1;
    cluster_clear(c);
    PyMem_Free(c->conns);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *cluster_flush(Cluster *c, PyObject *unused)
{
    (void)unused;
    c->flush_scheduled = 0;
    if (c->e) dv_engine_flush(c->e);
    Py_RETURN_NONE;
}

static PyObject *cluster_timer(Cluster *c, PyObject *unused)
{
    (void)unused;
    Py_CLEAR(c->timer_handle); /* it fired */
    if (c->e) {
        dv_engine_timer(c->e);
        cluster_schedule_flush(c);
    }
    Py_RETURN_NONE;
}

/* Operations on a closed cluster raise what the official SDK raises. */
static int cluster_check(Cluster *c)
{
    if (c->e) return 0;
    dv_py_raise(DV_ERR_CLUSTER_CLOSED, NULL);
    return -1;
}

/* connect() -> Future[None]: the cluster-level connection. */
static PyObject *cluster_connect(Cluster *c, PyObject *unused)
{
    (void)unused;
    if (cluster_check(c)) return NULL;
    Op *op = op_new(c, Py_None, Py_None);
    if (!op) return NULL;
    Py_INCREF(op);
    return op_started(c, op, dv_engine_connect(c->e, op_complete, op));
}

/* open_bucket(name) -> Future[None]. */
static PyObject *cluster_open_bucket(Cluster *c, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (cluster_check(c)) return NULL;
    Op *op = op_new(c, Py_None, Py_None);
    if (!op) return NULL;
    Py_INCREF(op);
    return op_started(c, op, dv_engine_open_bucket(c->e, name, op_complete, op));
}

/* close_bucket(name): its connections close; a later use opens it again. */
static PyObject *cluster_close_bucket(Cluster *c, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (cluster_check(c)) return NULL;
    dv_error rc = dv_engine_close_bucket(c->e, name);
    cluster_schedule_flush(c);
    if (rc != DV_ERR_OK) return dv_py_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* set_credentials(username, password): for the connections opened from now on. */
static PyObject *cluster_set_credentials(Cluster *c, PyObject *args)
{
    const char *user, *pass;
    if (!PyArg_ParseTuple(args, "ss", &user, &pass)) return NULL;
    if (cluster_check(c)) return NULL;
    dv_error rc = dv_engine_set_credentials(c->e, user, pass);
    if (rc != DV_ERR_OK) return dv_py_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* ping(bucket=None) -> Future[tuple of endpoints]: a NOOP on each KV connection of the bucket
 * (None: the cluster-level connection). */
static PyObject *cluster_ping(Cluster *c, PyObject *args)
{
    const char *bucket = NULL;
    if (!PyArg_ParseTuple(args, "|z", &bucket)) return NULL;
    if (cluster_check(c)) return NULL;
    Op *op = op_new(c, Py_None, Py_None);
    if (!op) return NULL;
    op->endpoints = 1;
    Py_INCREF(op);
    return op_started(c, op, dv_engine_ping(c->e, bucket, op_complete, op));
}

/* diagnostics() -> Future[tuple of endpoints]: the state of every KV connection. */
static PyObject *cluster_diagnostics(Cluster *c, PyObject *unused)
{
    (void)unused;
    if (cluster_check(c)) return NULL;
    Op *op = op_new(c, Py_None, Py_None);
    if (!op) return NULL;
    op->endpoints = 1;
    Py_INCREF(op);
    return op_started(c, op, dv_engine_diagnostics(c->e, op_complete, op));
}

/* submit(kind, bucket, scope, collection, key, value=None, ...) -> Future[Result] (or
 * result_type(Result, extra) when result_type is given). */
static PyObject *cluster_submit(Cluster *c, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    dv_req q;
    dv_subdoc_op ops[DV_MAX_SPECS];
    PyObject *keep = NULL, *result_type, *extra;
    if (dv_py_parse_request_fast(args, nargs, kwnames, &q, ops, &keep, &result_type, &extra) < 0)
        return NULL;
    if (cluster_check(c)) {
        Py_XDECREF(keep);
        return NULL;
    }
    Op *op = op_new(c, result_type, extra);
    if (!op) {
        Py_XDECREF(keep);
        return NULL;
    }
    Py_INCREF(op);
    dv_error rc = dv_engine_submit(c->e, &q, op_complete, op, &op->id);
    Py_XDECREF(keep);
    return op_started(c, op, rc);
}

/* http_request(service, method, path, body=None, content_type=None, timeout_ms=0,
 * idempotent=False) -> Future[(status, body)]: one request to the query or management service
 * of a node from the config; a cancelled future cancels it. */
static PyObject *cluster_http_request(Cluster *c, PyObject *args, PyObject *kw)
{
    dv_http_req q;
    PyObject *keep = NULL;
    int detail;
    if (dv_py_parse_http(args, kw, &q, &keep, &detail) < 0) return NULL;
    if (cluster_check(c)) {
        Py_XDECREF(keep);
        return NULL;
    }
    Op *op = op_new(c, Py_None, Py_None);
    if (!op) {
        Py_XDECREF(keep);
        return NULL;
    }
    op->http = detail ? 2 : 1;
    Py_INCREF(op);
    dv_error rc = dv_engine_http(c->e, &q, op_complete, op, &op->id);
    Py_XDECREF(keep);
    return op_started(c, op, rc);
}

/* The range scan's hooks: its operations go to this cluster's engine (ud is the Cluster; a
 * create may complete after its _Scan is gone, while the engine lives: dv_engine_free fails
 * what is pending first, and a submit from those completions is refused). */
static dv_error scan_submit(void *ud, const dv_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    Cluster *c = ud;
    if (!c->e || c->dying == 2) return DV_ERR_REQUEST_CANCELED;
    dv_error rc = dv_engine_submit(c->e, req, cb, cb_ud, id);
    if (rc == DV_ERR_OK && !c->dying) cluster_schedule_flush(c);
    return rc;
}

static void scan_cancel_op(void *ud, uint64_t id)
{
    Cluster *c = ud;
    if (c->e && c->dying != 2) dv_engine_cancel(c->e, id);
}

/* The streamed rows' hooks: the request goes to this cluster's engine (as the scan's). */
static dv_error rows_http(void *ud, const dv_http_req *req, dv_res_cb cb, void *cb_ud, uint64_t *id)
{
    Cluster *c = ud;
    if (!c->e || c->dying == 2) return DV_ERR_REQUEST_CANCELED;
    dv_error rc = dv_engine_http(c->e, req, cb, cb_ud, id);
    if (rc == DV_ERR_OK && !c->dying) cluster_schedule_flush(c);
    return rc;
}

static void rows_resume(void *ud, uint64_t id)
{
    Cluster *c = ud;
    if (c->e && c->dying != 2) dv_engine_http_resume(c->e, id);
}

/* query_rows(service, method, path, body=None, ...) -> _Rows (see rows.c). */
static PyObject *cluster_query_rows(Cluster *c, PyObject *args, PyObject *kw)
{
    if (cluster_check(c)) return NULL;
    dv_rows_io io = {c, rows_http, scan_cancel_op, rows_resume, NULL, NULL};
    return dv_py_rows_new((PyObject *)c, &io, 1, args, kw);
}

/* scan(bucket, scope, collection, **spec) -> _Scan (see scan.c). */
static PyObject *cluster_scan(Cluster *c, PyObject *args, PyObject *kw)
{
    if (cluster_check(c)) return NULL;
    dv_kvscan_io io = {c, scan_submit, scan_cancel_op, NULL, NULL};
    return dv_py_scan_new((PyObject *)c, &io, 1, args, kw);
}

static PyObject *cluster_pending(Cluster *c, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(c->e ? dv_engine_pending(c->e) : 0);
}

static PyMethodDef cluster_methods[] = {
    {"connect", (PyCFunction)(void (*)(void))cluster_connect, METH_NOARGS,
     "connect() -> Future: the cluster-level connection."},
    {"open_bucket", (PyCFunction)(void (*)(void))cluster_open_bucket, METH_VARARGS,
     "open_bucket(name) -> Future: resolved once the bucket has a config."},
    {"close_bucket", (PyCFunction)(void (*)(void))cluster_close_bucket, METH_VARARGS,
     "close_bucket(name): its connections close; a later use opens it again."},
    {"set_credentials", (PyCFunction)(void (*)(void))cluster_set_credentials, METH_VARARGS,
     "set_credentials(username, password): for the connections opened from now on."},
    {"ping", (PyCFunction)(void (*)(void))cluster_ping, METH_VARARGS,
     "ping(bucket=None) -> Future: (id, remote, bucket, state, last_activity_us, error, "
     "latency_us) per KV endpoint."},
    {"diagnostics", (PyCFunction)(void (*)(void))cluster_diagnostics, METH_NOARGS,
     "diagnostics() -> Future: the same tuples for every KV connection."},
    {"submit", (PyCFunction)(void (*)(void))cluster_submit, METH_FASTCALL | METH_KEYWORDS,
     "submit(kind, bucket, scope, collection, key, value=None, ...) -> Future."},
    {"http_request", (PyCFunction)(void (*)(void))cluster_http_request,
     METH_VARARGS | METH_KEYWORDS,
     "http_request(service, method, path, body=None, content_type=None, timeout_ms=0, "
     "idempotent=False) -> Future[(status, body)]."},
    {"close", (PyCFunction)(void (*)(void))cluster_close, METH_NOARGS,
     "Fail pending operations (RequestCanceledException), close the connections."},
    {"query_rows", (PyCFunction)(void (*)(void))cluster_query_rows, METH_VARARGS | METH_KEYWORDS,
     "query_rows(service, method, path, body=None, content_type=None, timeout_ms=0, "
     "idempotent=False) -> _Rows: a request whose response's rows stream."},
    {"scan", (PyCFunction)(void (*)(void))cluster_scan, METH_VARARGS | METH_KEYWORDS,
     "scan(bucket, scope, collection, **spec) -> _Scan: a KV range scan."},
    {"pending", (PyCFunction)(void (*)(void))cluster_pending, METH_NOARGS,
     "Operations accepted and not completed yet."},
    {"_flush", (PyCFunction)(void (*)(void))cluster_flush, METH_NOARGS, NULL},
    {"_timer", (PyCFunction)(void (*)(void))cluster_timer, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ClusterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core.AsyncCluster",
    .tp_doc = "AsyncCluster(loop, connstr, username, password, kv_timeout_ms=0, "
              "kv_durable_timeout_ms=0, connect_timeout_ms=0, bootstrap_timeout_ms=0, "
              "trust_store_path=None, tls_verify=None, cert_path=None, key_path=None): "
              "libdivan's engine on an asyncio loop.",
    .tp_basicsize = sizeof(Cluster),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)cluster_init,
    .tp_dealloc = (destructor)cluster_dealloc,
    .tp_traverse = (traverseproc)cluster_traverse,
    .tp_clear = (inquiry)cluster_clear,
    .tp_methods = cluster_methods,
};

/* ---- Conn: the asyncio Protocol ---------------------------------------------------------------
 */

static int conn_traverse(Conn *k, visitproc visit, void *arg)
{
    Py_VISIT(k->transport);
    Py_VISIT(k->task);
    return 0;
}

static int conn_clear(Conn *k)
{
    Py_CLEAR(k->transport);
    Py_CLEAR(k->task);
    return 0;
}

static void conn_dealloc(Conn *k)
{
    PyObject_GC_UnTrack(k);
    conn_clear(k);
    PyObject_GC_Del(k);
}

/* The protocol factory: create_connection calls conn() and gets conn. */
static PyObject *conn_call(Conn *k, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    Py_INCREF(k);
    return (PyObject *)k;
}

/* Report a closed or failed connection to the engine (once). */
static void conn_lost(Conn *k, dv_error err)
{
    Cluster *c = k->cluster;
    if (!c || !c->e) return;
    Conn *same = cluster_detach(c, k->id);
    Py_INCREF(c);
    dv_engine_closed(c->e, k->id, err);
    cluster_schedule_flush(c);
    Py_DECREF(c);
    Py_XDECREF(same);
}

/* The transport's own end ("sockname": (host, port, ...)) as "ip:port" for ping and diagnostics;
 * nothing when the transport does not say. */
static void report_local_address(Cluster *c, Conn *k, PyObject *transport)
{
    PyObject *name = PyObject_CallMethod(transport, "get_extra_info", "s", "sockname");
    const char *host = NULL;
    int port = -1;
    if (name && PyTuple_Check(name) && PyTuple_GET_SIZE(name) >= 2) {
        host = PyUnicode_Check(PyTuple_GET_ITEM(name, 0))
                   ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(name, 0))
                   : NULL;
        port = (int)PyLong_AsLong(PyTuple_GET_ITEM(name, 1));
    }
    if (host && port >= 0) {
        char addr[64];
        snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
        dv_engine_local_address(c->e, k->id, addr);
    }
    Py_XDECREF(name);
    PyErr_Clear();
}

static PyObject *conn_connection_made(Conn *k, PyObject *transport)
{
    Cluster *c = k->cluster;
    if (!c || !c->e) { /* closed while connecting */
        PyObject *r = PyObject_CallMethod(transport, "close", NULL);
        Py_XDECREF(r);
        if (!r) return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(transport);
    Py_XSETREF(k->transport, transport);
    k->connected = 1;
    Py_INCREF(c);
    report_local_address(c, k, transport);
    dv_engine_connected(c->e, k->id);
    cluster_schedule_flush(c);
    Py_DECREF(c);
    Py_RETURN_NONE;
}

static PyObject *conn_data_received(Conn *k, PyObject *data)
{
    Cluster *c = k->cluster;
    if (!c || !c->e) Py_RETURN_NONE;
    Py_buffer b;
    if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0) return NULL;
    Py_INCREF(c);
    dv_engine_data(c->e, k->id, b.buf, (size_t)b.len);
    cluster_schedule_flush(c);
    Py_DECREF(c);
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

static PyObject *conn_eof_received(Conn *k, PyObject *unused)
{
    (void)unused;
    (void)k;
    Py_RETURN_NONE; /* let the transport close itself: connection_lost reports it */
}

static PyObject *conn_connection_lost(Conn *k, PyObject *exc)
{
    conn_lost(k, exc == Py_None ? DV_ERR_OK : DV_ERR_END_OF_STREAM);
    Py_CLEAR(k->transport);
    Py_RETURN_NONE;
}

static PyObject *conn_noop(Conn *k, PyObject *unused)
{
    (void)k;
    (void)unused;
    Py_RETURN_NONE;
}

/* create_connection's task finished: a failure (refused, unresolvable) is a closed connection. */
static PyObject *conn_connect_done(Conn *k, PyObject *task)
{
    PyObject *r = PyObject_CallMethod(task, "cancelled", NULL);
    int cancelled = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (cancelled < 0) return NULL;
    if (!cancelled) {
        PyObject *exc = PyObject_CallMethod(task, "exception", NULL); /* marks it retrieved */
        if (!exc) return NULL;
        int failed = exc != Py_None;
        if (failed && !k->connected) { /* what the engine cannot know: why, in the OS's words */
            PyObject *why = PyObject_Str(exc);
            const char *w = why ? PyUnicode_AsUTF8(why) : NULL;
            if (!w) PyErr_Clear();
            dv_log(DV_LOG_INFO, "client", "connection %u: connect: %s: %s", k->id,
                   Py_TYPE(exc)->tp_name, w ? w : "?");
            Py_XDECREF(why);
        }
        Py_DECREF(exc);
        if (failed && !k->connected) conn_lost(k, DV_ERR_SERVICE_NOT_AVAILABLE);
    }
    Py_CLEAR(k->task);
    Py_RETURN_NONE;
}

static PyObject *conn_failed(Conn *k, PyObject *unused)
{
    (void)unused;
    conn_lost(k, DV_ERR_SERVICE_NOT_AVAILABLE);
    Py_RETURN_NONE;
}

static PyMethodDef conn_methods[] = {
    {"connection_made", (PyCFunction)(void (*)(void))conn_connection_made, METH_O, NULL},
    {"data_received", (PyCFunction)(void (*)(void))conn_data_received, METH_O, NULL},
    {"eof_received", (PyCFunction)(void (*)(void))conn_eof_received, METH_NOARGS, NULL},
    {"connection_lost", (PyCFunction)(void (*)(void))conn_connection_lost, METH_O, NULL},
    {"pause_writing", (PyCFunction)(void (*)(void))conn_noop, METH_NOARGS, NULL},
    {"resume_writing", (PyCFunction)(void (*)(void))conn_noop, METH_NOARGS, NULL},
    {"_connect_done", (PyCFunction)(void (*)(void))conn_connect_done, METH_O, NULL},
    {"_failed", (PyCFunction)(void (*)(void))conn_failed, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "couchbase._core._Conn",
    .tp_doc = "One engine connection as an asyncio Protocol (and its own protocol factory).",
    .tp_basicsize = sizeof(Conn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_traverse = (traverseproc)conn_traverse,
    .tp_clear = (inquiry)conn_clear,
    .tp_call = (ternaryfunc)conn_call,
    .tp_methods = conn_methods,
};

int dv_py_asyncio_init(PyObject *m)
{
    PyObject *loop_name = PyUnicode_InternFromString("loop");
    s_loop_kwnames = loop_name ? PyTuple_Pack(1, loop_name) : NULL;
    Py_XDECREF(loop_name);
    if (!s_loop_kwnames || !(s_create_future = PyUnicode_InternFromString("create_future")) ||
        !(s_add_done_callback = PyUnicode_InternFromString("add_done_callback")) ||
        !(s_remove_done_callback = PyUnicode_InternFromString("remove_done_callback")) ||
        !(s_done = PyUnicode_InternFromString("done")) ||
        !(s_cancelled = PyUnicode_InternFromString("cancelled")) ||
        !(s_set_result = PyUnicode_InternFromString("set_result")) ||
        !(s_set_exception = PyUnicode_InternFromString("set_exception")))
        return -1;
    if (PyType_Ready(&ClusterType) < 0 || PyType_Ready(&ConnType) < 0 || PyType_Ready(&OpType) < 0)
        return -1;
    Py_INCREF(&ClusterType);
    if (PyModule_AddObject(m, "AsyncCluster", (PyObject *)&ClusterType) < 0) {
        Py_DECREF(&ClusterType);
        return -1;
    }
    return 0;
}
