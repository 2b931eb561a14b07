/* couchbase._core: the C extension of divan's Python SDK. It drives libdivan's engine from the
 * caller's event loop (asyncio.c) and hands results over as C objects (result.c). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "core.h"

static PyObject *build_exception_fn;

PyObject *dv_py_build_exception(void)
{
    if (!build_exception_fn) {
        PyObject *m = PyImport_ImportModule("couchbase.exceptions");
        if (!m) return NULL;
        build_exception_fn = PyObject_GetAttrString(m, "build_exception");
        Py_DECREF(m);
    }
    return build_exception_fn;
}

/* Live allocations of libdivan (-1 when not counted): tests check that closing frees them all. */
static PyObject *core_alloc_live(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyLong_FromLong(dv_alloc_live());
}

/* libdivan's log lines to a Python callable fn(level, subsystem, message), level as
 * dv_log_level (0 error .. 4 trace). Lines come from the caller's thread (asyncio) or from a
 * blocking cluster's driver thread: the hook takes the GIL, and drops lines once the interpreter
 * is finalizing. */
static PyObject *log_fn;

#if PY_VERSION_HEX >= 0x030D0000
#define dv_py_finalizing() Py_IsFinalizing()
#else
#define dv_py_finalizing() _Py_IsFinalizing()
#endif

static void log_to_python(void *ud, dv_log_level level, const char *subsystem, const char *msg)
{
    (void)ud;
    if (dv_py_finalizing()) return;
    PyGILState_STATE g = PyGILState_Ensure();
    if (log_fn) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb); /* a line logged while an exception is being raised */
        PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
        PyObject *fn = log_fn;
        Py_INCREF(fn);
        PyObject *r = text ? PyObject_CallFunction(fn, "isO", (int)level, subsystem, text) : NULL;
        if (!r) PyErr_WriteUnraisable(fn);
        Py_XDECREF(r);
        Py_XDECREF(text);
        Py_DECREF(fn);
        PyErr_Restore(type, value, tb);
    }
    PyGILState_Release(g);
}

/* set_log_hook(fn, max_level): fn receives every line at or below max_level; None restores
 * libdivan's default (warnings and errors on stderr). */
static PyObject *core_set_log_hook(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *fn;
    int max_level = DV_LOG_WARN;
    if (!PyArg_ParseTuple(args, "O|i:set_log_hook", &fn, &max_level)) return NULL;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "set_log_hook: fn must be callable or None");
        return NULL;
    }
    if (max_level < DV_LOG_ERROR) max_level = DV_LOG_ERROR;
    if (max_level > DV_LOG_TRACE) max_level = DV_LOG_TRACE;
    if (fn == Py_None) {
        dv_set_log_hook(NULL, NULL, DV_LOG_WARN);
        Py_CLEAR(log_fn);
    } else {
        Py_INCREF(fn);
        Py_XSETREF(log_fn, fn);
        dv_set_log_hook(log_to_python, NULL, (dv_log_level)max_level);
    }
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"_alloc_live", core_alloc_live, METH_NOARGS, "libdivan's live allocations (-1: not counted)."},
    {"set_log_hook", core_set_log_hook, METH_VARARGS,
     "set_log_hook(fn, max_level=1): libdivan's log lines to fn(level, subsystem, message)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "couchbase._core",
    .m_doc = "divan's engine on Python event loops.",
    .m_size = -1,
    .m_methods = core_methods,
};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    if (dv_py_result_init(m) < 0 || dv_py_asyncio_init(m) < 0 || dv_py_blocking_init(m) < 0 ||
        dv_py_scan_init(m) < 0 || dv_py_rows_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
