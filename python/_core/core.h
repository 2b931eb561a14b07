/* Shared between the files of couchbase._core (internal: nothing here is exported). */
#ifndef DV_PY_CORE_H
#define DV_PY_CORE_H

#include <Python.h>

#include "divan/client.h"

/* couchbase.exceptions.build_exception, imported once (borrowed), or NULL with an exception. */
PyObject *dv_py_build_exception(void);
/* A Result holding a copy of what res says (its value becomes bytes on first access). */
PyObject *dv_py_result_new(const dv_res *res);
int dv_py_result_init(PyObject *m);
/* ping, diagnostics: a tuple of (id, remote, bucket or None, state, last_activity_us, error,
 * latency_us, local, service) per endpoint of res. */
PyObject *dv_py_endpoints_new(const dv_res *res);
/* Raise the exception for rc (message: NULL for the table's); returns NULL. CLUSTER_CLOSED
 * raises RuntimeError, as the official SDK does on a closed cluster. */
PyObject *dv_py_raise(dv_error rc, const char *message);
/* The pending Python error as an exception object with its traceback (new reference; the error
 * is cleared), or NULL if none is pending. */
PyObject *dv_py_take_error(void);
/* The exception dv_py_raise raises, as a new reference (NULL with a Python error). */
PyObject *dv_py_error_new(dv_error rc, const char *message);
/* The cluster's constructor arguments: [loop,] connstr, username, password and the timeouts in
 * milliseconds (loop NULL: no loop argument). -1 with a Python error. */
int dv_py_parse_opts(PyObject *args, PyObject *kw, PyObject **loop, dv_client_opts *o);
/* The exception for a failed res (new reference), or NULL with a Python error. */
PyObject *dv_py_make_exception(const dv_res *res);
/* submit(kind, bucket, scope, collection, key, value=None, flags=0, ...)'s arguments as *out;
 * ops holds DV_MAX_SPECS entries for lookup_in/mutate_in. out points into args and into *keep
 * (a new reference or NULL), which the caller releases once the request was submitted.
 * *result_type and *extra are borrowed. -1 with a Python error on bad arguments. */
int dv_py_parse_request(PyObject *args, PyObject *kw, dv_req *out, dv_subdoc_op *ops,
                        PyObject **keep, PyObject **result_type, PyObject **extra);
/* The same from a vectorcall's arguments (METH_FASTCALL | METH_KEYWORDS). */
int dv_py_parse_request_fast(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                             dv_req *out, dv_subdoc_op *ops, PyObject **keep,
                             PyObject **result_type, PyObject **extra);
/* http_request(service, method, path, body=None, content_type=None, timeout_ms=0,
 * idempotent=False, detail=False)'s arguments as *out (service "query" or "mgmt"; body bytes
 * or str) and *detail. out points into args and into *keep (a new reference or NULL). -1 with
 * a Python error. */
int dv_py_parse_http(PyObject *args, PyObject *kw, dv_http_req *out, PyObject **keep, int *detail);
/* A completed HTTP request's (status, body bytes), with detail (status, body, node "host:port",
 * elapsed_us). */
PyObject *dv_py_http_value(const dv_res *res, int detail);
/* A completed HTTP request: dv_py_http_value, or its exception raised (NULL). */
PyObject *dv_py_http_result(const dv_res *res, int detail);
int dv_py_asyncio_init(PyObject *m);
/* scan.c: a _Scan over dv_kvscan with the owner's io (io.ud: the owner, which the _Scan keeps
 * alive and which must stay valid until its engine or driver is closed; async: io.ready is the
 * scan's own); args and kw as Cluster.scan takes them. */
struct dv_kvscan_io;
PyObject *dv_py_scan_new(PyObject *owner, const struct dv_kvscan_io *io, int async, PyObject *args,
                         PyObject *kw);
int dv_py_scan_init(PyObject *m);
/* rows.c: a _Rows over dv_rows with the owner's io (as for _Scan); args and kw as
 * http_request takes them. */
struct dv_rows_io;
PyObject *dv_py_rows_new(PyObject *owner, const struct dv_rows_io *io, int async, PyObject *args,
                         PyObject *kw);
int dv_py_rows_init(PyObject *m);
/* Resolve the future *waiter (if any, and not done) with None, and forget it (asyncio's
 * wait() of _Scan and _Rows). */
void dv_py_resolve_waiter(PyObject **waiter);
int dv_py_blocking_init(PyObject *m);

#endif
