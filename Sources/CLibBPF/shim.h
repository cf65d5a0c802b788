#ifndef UPROBE_TRACE_CLIBBPF_SHIM_H
#define UPROBE_TRACE_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/perf_event.h>
#endif
