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
int dv_py_asyncio_init(PyObject *m);

#endif
