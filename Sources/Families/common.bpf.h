/* Shared by every BPF program in bpf/: license, the ring buffer, lost counters, config. */
#ifndef UPROBE_TRACE_COMMON_BPF_H
#define UPROBE_TRACE_COMMON_BPF_H
#ifndef __VMLINUX_H__ /* CO-RE programs include the generated vmlinux.h first instead */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#endif
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

/* Wakeups of the reader: a wakeup per record (libbpf's default, adaptive)
 * costs the tool a context switch per event — at 20k requests/s most of its
 * CPU time. So a record wakes the reader only once an eighth of the ring buffer
 * (at most 64 KiB) is waiting; the reader also polls every few milliseconds
 * (RingBufferReader), which bounds how long a record waits. */
static __always_inline __u64 ut_wakeup_flags(void) {
    __u64 size = bpf_ringbuf_query(&ut_events, BPF_RB_RING_SIZE);
    __u64 threshold = size / 8 < 65536 ? size / 8 : 65536;
    return bpf_ringbuf_query(&ut_events, BPF_RB_AVAIL_DATA) >= threshold ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* True when the config restricts tracing to another process. */
static __always_inline int ut_other_process(void) {
    __u32 want = ut_cfg.target_tgid;
    return want != 0 && (bpf_get_current_pid_tgid() >> 32) != want;
}
#endif
