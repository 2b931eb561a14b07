/* libdivan is the client library and the layers under it (see src/CMakeLists.txt); this
 * file only gives the shared library a source of its own. */
#include "divan/divan.h"
