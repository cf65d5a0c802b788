/* system.bpf.c — the system view of the traced processes: their syscalls
 * (--syscalls) and TCP connections (--tcp). Kernel hooks, not uprobes, so this
 * is a CO-RE object: the kernel's types come from the generated vmlinux.h and
 * every field read through a struct pointer is relocated by libbpf at load.
 *
 * Only tracepoints (no kprobes, fentry or fexit: kernels without
 * CONFIG_KPROBE_EVENTS or BPF trampolines run it too). Every hook but the
 * socket state tracepoint runs in the task that made the call and starts with
 * one comparison of the current tgid with ut_cfg.target_tgid (no map lookup):
 * an untraced process's syscall costs the raw tracepoint's BPF call and that
 * compare. One object is loaded per traced pid. */
#include "vmlinux.h"
#include "../common.bpf.h"
#include <bpf/bpf_core_read.h>

#define UT_AF_INET 2
#define UT_AF_INET6 10
#define UT_MSG_PEEK 2

/* Syscall statistics per (tgid, nr), per CPU: no atomics on the hot path. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct ut_syscall_key);
    __type(value, struct ut_syscall_stats);
} system_syscalls SEC(".maps");

/* When the syscall in progress on a thread began (0: none seen): task-local
 * storage, cheaper than a hash keyed by tid and gone with the thread. */
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, __u64);
} system_syscall_start SEC(".maps");

/* TCP counters per tgid, per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct ut_tcp_stats);
} system_tcp SEC(".maps");

/* Failed connects per (tgid, errno), per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 1024);
    __type(key, struct ut_tcp_error_key);
    __type(value, __u64);
} system_tcp_errors SEC(".maps");

/* A traced process's connect in flight, from SYN_SENT to its next state. */
struct connect_start {
    __u64 start_ns;
    __u32 tgid;
    __u32 tid;
};

/* Key: the struct sock *. The later state changes run in softirq context, in
 * whatever process the CPU was in, so the connecting process is remembered here. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, struct connect_start);
} system_connecting SEC(".maps");

/* The current thread's tgid when it is the traced process, else 0. */
static __always_inline __u32 traced_tgid(__u64 pid_tgid) {
    __u32 tgid = pid_tgid >> 32;
    return tgid == ut_cfg.target_tgid ? tgid : 0;
}

/* floor(log2(v)) for v > 0, 0 for 0; no loop for the verifier to walk. */
static __always_inline __u32 log2_u64(__u64 v) {
    __u32 r = 0;
    if (v >> 32) { v >>= 32; r += 32; }
    if (v >> 16) { v >>= 16; r += 16; }
    if (v >> 8) { v >>= 8; r += 8; }
    if (v >> 4) { v >>= 4; r += 4; }
    if (v >> 2) { v >>= 2; r += 2; }
    if (v >> 1) { r += 1; }
    return r;
}

/* raw_syscalls:sys_enter, as a raw tracepoint (no perf event, no trace
 * record: the cheapest kernel hook) — every syscall of every process on the
 * host: this is what the untraced pay, the program's entry and one compare.
 * For the traced process: remember when the syscall began. Hits: 1 per syscall. */
SEC("raw_tp/sys_enter")
int BPF_PROG(system_sys_enter, struct pt_regs *regs, long nr) {
    if (!traced_tgid(bpf_get_current_pid_tgid())) return 0;
    __u64 *start = bpf_task_storage_get(&system_syscall_start, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (start) *start = bpf_ktime_get_boot_ns();
    return 0;
}

/* raw_syscalls:sys_exit (raw tracepoint: regs, ret; the number is regs->orig_ax)
 * — count the syscall and put its duration in its log2 bucket. A syscall
 * entered before attach has no start and is not counted; one that never
 * returns (exit, exit_group) is not counted either. Hits: 1 per syscall. */
SEC("raw_tp/sys_exit")
int BPF_PROG(system_sys_exit, struct pt_regs *regs, long ret) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = traced_tgid(id);
    if (!tgid) return 0;
    __u64 *start = bpf_task_storage_get(&system_syscall_start, bpf_get_current_task_btf(), 0, 0);
    if (!start || !*start) return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    __u64 d = now > *start ? now - *start : 0;
    *start = 0;
    struct ut_syscall_key key = { .tgid = tgid, .nr = (__u32)BPF_CORE_READ(regs, orig_ax) };
    struct ut_syscall_stats *s = bpf_map_lookup_elem(&system_syscalls, &key);
    if (!s) {
        struct ut_syscall_stats zero = {};
        bpf_map_update_elem(&system_syscalls, &key, &zero, BPF_NOEXIST);
        s = bpf_map_lookup_elem(&system_syscalls, &key);
        if (!s) return 0;
    }
    __u32 b = log2_u64(d);
    if (b >= UT_SYSCALL_BUCKETS) b = UT_SYSCALL_BUCKETS - 1;
    s->count += 1;
    s->total_ns += d;
    s->buckets[b] += 1;
    return 0;
}

static __always_inline struct ut_tcp_stats *tcp_stats(__u32 tgid) {
    struct ut_tcp_stats *s = bpf_map_lookup_elem(&system_tcp, &tgid);
    if (s) return s;
    struct ut_tcp_stats zero = {};
    bpf_map_update_elem(&system_tcp, &tgid, &zero, BPF_NOEXIST);
    return bpf_map_lookup_elem(&system_tcp, &tgid);
}

/* sock:inet_sock_set_state — TCP state changes of every socket on the host.
 * Entering SYN_SENT (in connect(), in the connecting thread) starts a traced
 * process's connect; leaving SYN_SENT ends it: ESTABLISHED counts an outbound
 * connection, anything else a failed connect with the socket's error
 * (sk_err: ECONNREFUSED after a RST, ETIMEDOUT, ...). Either way one
 * UT_EVENT_TCP_CONNECT record. Other changes cost one hash lookup at most.
 * Hits: ~4-6 per TCP connection (host-wide), 2 of them reach the map. */
SEC("tracepoint/sock/inet_sock_set_state")
int system_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx) {
    if (ctx->protocol != IPPROTO_TCP) return 0;
    __u64 sk = (__u64)ctx->skaddr;
    if (ctx->newstate == TCP_SYN_SENT) {
        __u64 id = bpf_get_current_pid_tgid();
        __u32 tgid = traced_tgid(id);
        if (!tgid) return 0;
        struct connect_start c = { .start_ns = bpf_ktime_get_boot_ns(), .tgid = tgid, .tid = (__u32)id };
        bpf_map_update_elem(&system_connecting, &sk, &c, BPF_ANY);
        return 0;
    }
    if (ctx->oldstate != TCP_SYN_SENT) return 0;
    struct connect_start *found = bpf_map_lookup_elem(&system_connecting, &sk);
    if (!found) return 0;
    struct connect_start c = *found;
    bpf_map_delete_elem(&system_connecting, &sk);
    __u64 now = bpf_ktime_get_boot_ns();

    int error = 0;
    if (ctx->newstate == TCP_ESTABLISHED) {
        struct ut_tcp_stats *s = tcp_stats(c.tgid);
        if (s) s->outbound += 1;
    } else {
        error = BPF_CORE_READ((struct sock *)sk, sk_err);
        if (error == 0) error = -1;
        struct ut_tcp_error_key key = { .tgid = c.tgid, .error = error };
        __u64 *n = bpf_map_lookup_elem(&system_tcp_errors, &key);
        if (n) {
            *n += 1;
        } else {
            __u64 one = 1;
            bpf_map_update_elem(&system_tcp_errors, &key, &one, BPF_NOEXIST);
        }
    }

    struct ut_tcp_connect_event *e = bpf_ringbuf_reserve(&ut_events, sizeof(*e), 0);
    if (!e) {
        ut_count_lost(UT_FAMILY_SYSTEM);
        return 0;
    }
    __builtin_memset(e, 0, sizeof(*e));
    e->h.kind = UT_EVENT_TCP_CONNECT;
    e->h.tgid = c.tgid;
    e->h.tid = c.tid;
    e->h.flags = error ? UT_FLAG_ERROR : 0;
    e->h.start_ns = c.start_ns;
    e->h.end_ns = now;
    e->error = error;
    e->family = ctx->family;
    e->dport = ctx->dport;
    e->sport = ctx->sport;
    /* The verifier allows only fixed-size loads from the context: copy the arrays with a helper. */
    if (ctx->family == UT_AF_INET6) {
        bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
        bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
    } else {
        bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
        bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
    }
    bpf_ringbuf_submit(e, ut_wakeup_flags());
    return 0;
}

/* accept() / accept4() returned (syscalls:sys_exit_accept[4], only those
 * syscalls reach it): the new descriptor's socket, looked up in the calling
 * task's file table; a TCP one is an inbound connection. Hits: 1 per accept host-wide. */
static __always_inline int count_accept(long fd) {
    __u32 tgid = traced_tgid(bpf_get_current_pid_tgid());
    if (!tgid || fd < 0) return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *file = 0;
    if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) < 0 || !file) return 0;
    struct socket *sock = BPF_CORE_READ(file, private_data);
    if (!sock) return 0;
    struct sock *sk = BPF_CORE_READ(sock, sk);
    if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP) return 0;
    struct ut_tcp_stats *s = tcp_stats(tgid);
    if (s) s->inbound += 1;
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int system_tcp_accept4(struct syscall_trace_exit *ctx) { return count_accept(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_accept")
int system_tcp_accept(struct syscall_trace_exit *ctx) { return count_accept(ctx->ret); }

/* sock:sock_send_length / sock_recv_length — the result of every socket
 * send/receive (sock_sendmsg / sock_recvmsg, so write/read/sendmsg/recvmsg on
 * a socket too), in the calling task. TCP payload bytes of the traced process;
 * a MSG_PEEK read copies nothing away and is skipped. Hits: 1 per socket I/O call host-wide. */
static __always_inline int count_bytes(struct trace_event_raw_sock_msg_length *ctx, int received) {
    __u32 tgid = traced_tgid(bpf_get_current_pid_tgid());
    if (!tgid || ctx->protocol != IPPROTO_TCP || ctx->ret <= 0) return 0;
    if (received && (ctx->flags & UT_MSG_PEEK)) return 0;
    struct ut_tcp_stats *s = tcp_stats(tgid);
    if (!s) return 0;
    if (received) s->bytes_received += ctx->ret;
    else s->bytes_sent += ctx->ret;
    return 0;
}

SEC("tracepoint/sock/sock_send_length")
int system_tcp_sent(struct trace_event_raw_sock_msg_length *ctx) { return count_bytes(ctx, 0); }

SEC("tracepoint/sock/sock_recv_length")
int system_tcp_received(struct trace_event_raw_sock_msg_length *ctx) { return count_bytes(ctx, 1); }
