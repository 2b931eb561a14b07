/* couchbase._core: the C extension of divan's Python SDK. It drives libdivan's engine from the
 * caller's event loop (asyncio.c) and hands results over as C objects (result.c). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

static PyMethodDef core_methods[] = {
    {"_alloc_live", core_alloc_live, METH_NOARGS, "libdivan's live allocations (-1: not counted)."},
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
    if (dv_py_result_init(m) < 0 || dv_py_asyncio_init(m) < 0 || dv_py_blocking_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
