#ifndef UPROBE_TRACE_CLIBDW_SHIM_H
#define UPROBE_TRACE_CLIBDW_SHIM_H
#include <elfutils/libdw.h>
#include <dwarf.h>
#endif
