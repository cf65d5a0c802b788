/* syscall_names.bpf.c — the running kernel's syscall names by number, read
 * once at start, never attached (BPF_PROG_TYPE_SYSCALL, run with
 * BPF_PROG_TEST_RUN in the thread that asks).
 *
 * The kernel's own table is not reachable by name (its symbols are data,
 * absent from kallsyms without CONFIG_KALLSYMS_ALL), but its ftrace syscall
 * events carry it: each syscalls:sys_enter_NAME event (struct trace_event_call)
 * points at a struct syscall_metadata holding "sys_NAME" and the number the
 * kernel filled in at boot from its syscall table. User space opens one
 * such event as a perf event on the calling thread, so this program finds it in
 * current->perf_event_ctxp, walks the list of every trace event from there
 * (call->list is linked into ftrace_events), and for each event of the same
 * class (a syscall entry event) copies the name into system_syscall_names[nr].
 * Returns how many events it walked (0: no perf event on this thread). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define UT_SYSCALL_NR_MAX 1024
#define UT_SYSCALL_NAME_MAX 32
#define UT_TRACE_EVENTS_MAX 16384

struct syscall_name {
    char name[UT_SYSCALL_NAME_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, UT_SYSCALL_NR_MAX);
    __type(key, __u32);
    __type(value, struct syscall_name);
} system_syscall_names SEC(".maps");

struct walk {
    struct list_head *first;   /* the perf event's call->list: where the walk stops */
    struct list_head *pos;
    struct trace_event_class *syscall_class;
    __u32 walked;
};

static long visit(__u32 i, struct walk *w) {
    struct list_head *pos = w->pos;
    struct list_head *next = BPF_CORE_READ(pos, next);
    if (!next || next == w->first) return 1;
    w->pos = next;
    w->walked++;
    /* list is the first member of struct trace_event_call (the list head
     * ftrace_events itself is not an event: its class read is garbage, never equal). */
    struct trace_event_call *call = (struct trace_event_call *)next;
    if (BPF_CORE_READ(call, class) != w->syscall_class) return 0;
    struct syscall_metadata *meta = BPF_CORE_READ(call, data);
    if (!meta) return 0;
    int nr = BPF_CORE_READ(meta, syscall_nr);
    const char *name = BPF_CORE_READ(meta, name);
    if (nr < 0 || nr >= UT_SYSCALL_NR_MAX || !name) return 0;
    __u32 key = nr;
    struct syscall_name *slot = bpf_map_lookup_elem(&system_syscall_names, &key);
    if (slot) bpf_probe_read_kernel_str(slot->name, sizeof(slot->name), name);
    return 0;
}

SEC("syscall")
int system_read_syscall_names(void *ctx) {
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct perf_event_context *pctx = BPF_CORE_READ(task, perf_event_ctxp);
    if (!pctx) return 0;
    struct list_head *entry = BPF_CORE_READ(pctx, event_list.next);
    if (!entry || entry == &pctx->event_list) return 0;
    struct perf_event *event = container_of(entry, struct perf_event, event_entry);
    struct trace_event_call *call = BPF_CORE_READ(event, tp_event);
    if (!call) return 0;
    struct walk w = { .first = &call->list, .pos = &call->list, .syscall_class = BPF_CORE_READ(call, class) };
    /* The starting event is a syscall entry event too. */
    w.pos = &call->list;
    struct syscall_metadata *meta = BPF_CORE_READ(call, data);
    if (meta) {
        int nr = BPF_CORE_READ(meta, syscall_nr);
        const char *name = BPF_CORE_READ(meta, name);
        __u32 key = nr;
        struct syscall_name *slot = nr >= 0 && nr < UT_SYSCALL_NR_MAX ? bpf_map_lookup_elem(&system_syscall_names, &key) : 0;
        if (slot && name) bpf_probe_read_kernel_str(slot->name, sizeof(slot->name), name);
    }
    bpf_loop(UT_TRACE_EVENTS_MAX, visit, &w, 0);
    return w.walked;
}
