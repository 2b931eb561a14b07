/* divan: the umbrella header of the public C API. */
#ifndef DIVAN_H
#define DIVAN_H

#include "divan/base.h"
#include "divan/client.h"
#include "divan/error.h"
#include "divan/rows.h"
#include "divan/scan.h"

#define DV_VERSION_MAJOR  0
#define DV_VERSION_MINOR  1
#define DV_VERSION_PATCH  0
#define DV_VERSION_STRING "0.1.0"

#endif
