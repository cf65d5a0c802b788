#ifndef UPROBE_TRACE_CLIBBPF_SHIM_H
#define UPROBE_TRACE_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
/* BTF queries: where a global variable sits inside .rodata. */
#include <bpf/btf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

/* perf_event_open(2) has no libc wrapper and Swift cannot call the variadic
 * syscall(); `uprobe-trace doctor` opens one uprobe event with it. */
static inline int uprobe_trace_perf_event_open(struct perf_event_attr *attr, int pid, int cpu,
                                               int group_fd, unsigned long flags) {
    return (int)syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags);
}
#endif
