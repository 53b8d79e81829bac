/* util: see util.h.  (Being filled in.) */
#include "util/util.h"
typedef int cf_util_placeholder_t;
