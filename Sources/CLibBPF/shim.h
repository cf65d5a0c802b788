#ifndef UPROBE_TRACE_CLIBBPF_SHIM_H
#define UPROBE_TRACE_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
/* BTF queries: where a global variable sits inside .rodata. */
#include <bpf/btf.h>
#include <linux/perf_event.h>
#endif
