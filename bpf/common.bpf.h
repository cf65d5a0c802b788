/* Shared by every BPF program in bpf/: license, the ring buffer, lost counters, config. */
#ifndef UPROBE_TRACE_COMMON_BPF_H
#define UPROBE_TRACE_COMMON_BPF_H
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "trace_events.h"

char LICENSE[] SEC("license") = "GPL";

/* Read-only settings, filled by user space before load. */
const volatile struct ut_config ut_cfg = {};

/* Events to user space; size set before load. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 22);
} ut_events SEC(".maps");

/* Events that could not be reserved, per probe family. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, UT_FAMILY_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} ut_lost SEC(".maps");

static __always_inline void ut_count_lost(__u32 family) {
    __u64 *n = bpf_map_lookup_elem(&ut_lost, &family);
    if (n) *n += 1;
}

/* True when the config restricts tracing to another process. */
static __always_inline int ut_other_process(void) {
    __u32 want = ut_cfg.target_tgid;
    return want != 0 && (bpf_get_current_pid_tgid() >> 32) != want;
}
#endif
