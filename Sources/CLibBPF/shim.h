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

/* bpf(2) itself, for commands libbpf 1.1 cannot build: BPF_LINK_CREATE of a
 * uprobe_multi link (Linux 6.6) postdates it. Returns the result or -1 with errno. */
static inline int uprobe_trace_bpf(int cmd, void *attr, unsigned int size) {
    return (int)syscall(__NR_bpf, cmd, attr, size);
}
#endif
