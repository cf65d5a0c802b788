/*
 * mysql.bpf.c — MySQL/MariaDB client statements as struct ut_mysql_event
 * (Sources/TraceEvents/include/trace_events.h) followed by the statement bytes.
 *
 * Hooks `int mysql_real_query(MYSQL *mysql, const char *stmt, unsigned long length)`
 * of libmariadb (MariaDB Connector/C 3.x, `libmariadb.so.3`) and libmysqlclient
 * with an entry uprobe and a uretprobe, both attached by file offset from user
 * space. A uretprobe, not entry probes on the RET sites: in libmariadb 3.3
 * mysql_real_query's success path ends in a tail jump (`jmp *%rax` to
 * read_query_result), so its own RET is only reached on some paths.
 *
 * Cost: 2 uprobe hits per statement (entry + uretprobe). The statement is
 * copied at return: the caller's buffer is still valid then, and a failed call
 * costs the same copy as a good one.
 */
#include "common.bpf.h"

/* A call between entry and return, per thread. */
struct mysql_call {
    __u64 mysql;    /* MYSQL* (RDI) */
    __u64 stmt;     /* const char* (RSI) */
    __u64 length;   /* unsigned long (RDX); (unsigned long)-1: NUL-terminated */
    __u64 start_ns;
};

/* Calls in flight by pid_tgid. LRU, so a call whose return was never seen
 * (thread killed mid-call, probe detached) is eventually evicted. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct mysql_call);
} mysql_inflight SEC(".maps");

/* Masks a length so the verifier sees it bounded by the record's buffer. */
#define MYSQL_LEN_MASK (2 * UT_CAPTURE_MAX - 1)

/* The record as sent: header and the captured statement. The buffer is twice
 * the longest capture so that `len & MYSQL_LEN_MASK` stays inside it: a mask
 * the verifier cannot lose, where a clamp by comparison may be reordered. */
struct mysql_record {
    struct ut_mysql_event ev;
    char stmt[2 * UT_CAPTURE_MAX];
};

/* Scratch space for the record: far too big for the 512-byte BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct mysql_record);
} mysql_scratch SEC(".maps");

/*
 * Hooks the entry of mysql_real_query (x86-64 SysV): RDI = MYSQL*, RSI = the
 * statement, RDX = its length ((unsigned long)-1 makes the library call
 * strlen). Remembers them and the entry time for the return probe.
 */
SEC("uprobe")
int mysql_query_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    struct mysql_call call = {
        .mysql = ctx->rdi,
        .stmt = ctx->rsi,
        .length = ctx->rdx,
    };
    call.start_ns = bpf_ktime_get_boot_ns();
    bpf_map_update_elem(&mysql_inflight, &id, &call, BPF_ANY);
    return 0;
}

/*
 * Hooks the return of mysql_real_query (uretprobe): RAX = the int result
 * (0 ok, non-zero error). Copies min(length, ut_cfg.capture_bytes,
 * UT_CAPTURE_MAX) bytes of the statement after the header and sends
 * header + captured bytes (variable size) with bpf_ringbuf_output.
 */
SEC("uretprobe")
int mysql_query_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    __u64 id = bpf_get_current_pid_tgid();
    struct mysql_call *call = bpf_map_lookup_elem(&mysql_inflight, &id);
    if (!call)
        return 0;
    __u32 zero = 0;
    struct mysql_record *r = bpf_map_lookup_elem(&mysql_scratch, &zero);
    if (!r) {
        bpf_map_delete_elem(&mysql_inflight, &id);
        return 0;
    }
    r->ev.h.kind = UT_EVENT_MYSQL_QUERY;
    r->ev.h.tgid = id >> 32;
    r->ev.h.tid = (__u32)id;
    r->ev.h.flags = 0;
    r->ev.h.goid = 0;
    r->ev.h.start_ns = call->start_ns;
    r->ev.h.end_ns = end;
    r->ev.mysql = call->mysql;
    r->ev.result = (__s64)(int)ctx->rax;
    r->ev.length = call->length;
    r->ev.reserved = 0;

    __u64 cap = ut_cfg.capture_bytes;
    if (cap > UT_CAPTURE_MAX)
        cap = UT_CAPTURE_MAX;
    __u32 n = 0;
    if (call->length == ~0ULL) {
        /* NUL-terminated: read up to cap + 1 bytes before the NUL, so a
         * string of exactly cap bytes is told apart from a longer one; the
         * length is known only when the NUL came first. */
        if (cap > 0) {
            long got = bpf_probe_read_user_str(r->stmt, (cap + 2) & MYSQL_LEN_MASK, (void *)call->stmt);
            if (got > 0) {
                n = got - 1;
                if (n <= cap)
                    r->ev.length = n;
                else
                    n = cap;
            } else {
                r->ev.h.flags |= UT_FLAG_READ_FAILED;
            }
        }
    } else {
        __u64 want = call->length < cap ? call->length : cap;
        n = want;
        if (n > UT_CAPTURE_MAX) /* keep the verifier's bound explicit */
            n = UT_CAPTURE_MAX;
        if (n > 0 && bpf_probe_read_user(r->stmt, n & MYSQL_LEN_MASK, (void *)call->stmt) < 0) {
            r->ev.h.flags |= UT_FLAG_READ_FAILED;
            n = 0;
        }
    }
    n &= MYSQL_LEN_MASK;
    r->ev.captured = n;
    bpf_map_delete_elem(&mysql_inflight, &id);
    if (bpf_ringbuf_output(&ut_events, r, sizeof(r->ev) + n, ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_MYSQL);
    return 0;
}
