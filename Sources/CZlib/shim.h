#ifndef UPROBE_TRACE_CZLIB_SHIM_H
#define UPROBE_TRACE_CZLIB_SHIM_H
#include <zlib.h>
#endif
