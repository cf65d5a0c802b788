/*
 * postgres.bpf.c — PostgreSQL client statements of libpq (libpq.so.5) as two
 * records each: struct ut_pg_send_event (+ the statement text) when a statement
 * is sent, struct ut_pg_end_event when its last result has been returned
 * (Sources/TraceEvents/include/trace_events.h). User space joins the two by
 * (pid, PGconn*, start_ns) into one CLIENT span (PostgresTracker).
 *
 * Why these functions: libpq's synchronous calls are built on its asynchronous
 * ones. In Debian's libpq 15, PQexec = PQexecStart (drains earlier results with
 * PQgetResult) + PQsendQuery (through the PLT) + PQexecFinish (PQgetResult until
 * NULL); PQexecParams, PQprepare and PQexecPrepared do the same with
 * PQsendQueryParams, PQsendPrepare and PQsendQueryPrepared. A program using the
 * async API calls those and PQgetResult itself. So probing the four PQsend*
 * functions and PQgetResult sees every statement exactly once, sync or async.
 *
 * A statement ends at the first PQgetResult that returns NULL after at least one
 * result. libpq's PQgetResult waits for a result while a command is active, so
 * a NULL before any result means nothing was sent (the PQsend* call failed):
 * that statement is dropped without a record. Pipeline mode (several statements
 * in flight on one connection) is not followed.
 *
 * Probe hits per statement (Debian libpq 15.x, Linux 6.18):
 *  - PQsendQuery: 1, at its second instruction `jmp` (emulated; its first,
 *    `mov $1,%edx`, would be single-stepped and leaves RDI/RSI as they were).
 *    PQsendQueryParams / PQsendPrepare / PQsendQueryPrepared: 1, at the entry
 *    (`push %rbp`, emulated). The site is chosen by PostgresLayout.swift.
 *  - PQgetResult: entry uprobe (`push %rbp`, emulated) + uretprobe per call.
 *    PQexec calls it 3 times for a one-result statement (PQexecStart's drain,
 *    the result, the NULL): 6 hits. An async client calls it at least twice.
 *  => PQexec / PQexecParams / PQprepare / PQexecPrepared: 7 hits per statement,
 *     none single-stepped (measured: Benchmarks/postgres-cost.sh, ~7 µs of
 *     client CPU per PQexec; with PQsendQuery probed at its single-stepped
 *     entry, ~23 µs).
 * A uretprobe rather than entry probes on PQgetResult's RET sites: a `ret` is
 * single-stepped, and in libpq 15 PQgetResult also leaves by a tail jump
 * to an internal function, whose return no RET site of its own sees. The
 * uretprobe's breakpoint is the entry's `push %rbp` (shared with the entry
 * probe), and its return goes through the kernel's trampoline.
 */
#include "common.bpf.h"

/* A statement in flight on one connection of one process. */
struct pg_key {
    __u32 tgid;
    __u32 reserved;
    __u64 conn;
};

struct pg_inflight {
    __u64 start_ns;      /* the PQsend* entry */
    __u64 last_ns;       /* the last non-NULL PQgetResult return */
    __u32 tid;           /* the sending thread */
    __u32 results;       /* non-NULL results so far */
    __s32 status;        /* ExecStatusType of the first error result; -1 none; -2 unreadable */
    __u32 reserved;
    char sqlstate[8];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct pg_key);
    __type(value, struct pg_inflight);
} pg_inflight SEC(".maps");

/* The PGconn* of a PQgetResult call between its entry and return, by pid_tgid. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u64);
} pg_get_result_conn SEC(".maps");

#define PG_LEN_MASK (2 * UT_CAPTURE_MAX - 1)

struct pg_send_record {
    struct ut_pg_send_event ev;
    char text[2 * UT_CAPTURE_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pg_send_record);
} pg_scratch SEC(".maps");

/* ExecStatusType values that mean the statement failed. */
#define PGRES_BAD_RESPONSE 5
#define PGRES_FATAL_ERROR 7

static __always_inline void pg_send_end(struct pg_key *key, struct pg_inflight *f, __u64 end_ns) {
    struct ut_pg_end_event ev = {};
    ev.h.kind = UT_EVENT_PG_END;
    ev.h.tgid = key->tgid;
    ev.h.tid = f->tid;
    ev.h.start_ns = f->start_ns;
    ev.h.end_ns = end_ns;
    ev.conn = key->conn;
    ev.results = f->results;
    ev.status = f->status;
    __builtin_memcpy(ev.sqlstate, f->sqlstate, sizeof(ev.sqlstate));
    if (bpf_ringbuf_output(&ut_events, &ev, sizeof(ev), ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_POSTGRES);
}

/*
 * A statement sent on `conn`: starts its in-flight entry and sends its text.
 * `stmt` is the statement text (NULL for PQsendQueryPrepared), `name` the
 * prepared statement's name (PQsendPrepare, PQsendQueryPrepared; else NULL).
 */
static __always_inline int pg_send(__u64 conn, __u64 stmt, __u64 name, __s32 n_params, __u32 function) {
    if (ut_other_process() || conn == 0)
        return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    __u64 id = bpf_get_current_pid_tgid();
    struct pg_key key = { .tgid = id >> 32, .conn = conn };
    struct pg_inflight *old = bpf_map_lookup_elem(&pg_inflight, &key);
    __s32 async_off = ut_cfg.pg.conn_async_status;
    __s32 async_status = -1;
    if (async_off > 0 && bpf_probe_read_user(&async_status, sizeof(async_status), (void *)(conn + async_off)) < 0)
        async_status = -1;
    if (async_status > 0)
        /* Not PGASYNC_IDLE: libpq refuses this send ("another command is
         * already in progress"; or pipeline mode, not followed). The
         * statement in flight, if any, keeps its entry. */
        return 0;
    if (old && old->results > 0) {
        if (async_status < 0 && old->status < 0)
            /* Layout unknown: results without an error are still coming, so
             * libpq will refuse this send; keep the running statement. */
            return 0;
        /* The connection is idle but the last statement never returned its
         * NULL (it broke after an error result): it ended with its last result. */
        pg_send_end(&key, old, old->last_ns);
    }
    /* An entry without results is a send libpq refused or could not make
     * (no PQgetResult came): it is replaced, and never becomes a span. */
    struct pg_inflight f = { .start_ns = now, .tid = (__u32)id, .status = -1 };
    bpf_map_update_elem(&pg_inflight, &key, &f, BPF_ANY);

    __u32 zero = 0;
    struct pg_send_record *r = bpf_map_lookup_elem(&pg_scratch, &zero);
    if (!r)
        return 0;
    r->ev.h.kind = UT_EVENT_PG_SEND;
    r->ev.h.tgid = key.tgid;
    r->ev.h.tid = (__u32)id;
    r->ev.h.flags = 0;
    r->ev.h.goid = 0;
    r->ev.h.start_ns = now;
    r->ev.h.end_ns = now;
    r->ev.conn = conn;
    r->ev.function = function;
    r->ev.n_params = n_params;
    r->ev.length = ~0ULL;
    r->ev.name_len = 0;
    r->ev.db_len = 0;

    if (name) {
        long got = bpf_probe_read_user_str(r->ev.name, sizeof(r->ev.name), (void *)name);
        if (got > 0)
            r->ev.name_len = got - 1;
        else
            r->ev.h.flags |= UT_FLAG_READ_FAILED;
    }
    __s32 db_off = ut_cfg.pg.conn_db_name;
    if (db_off > 0) {
        __u64 db = 0;
        if (bpf_probe_read_user(&db, sizeof(db), (void *)(conn + db_off)) == 0 && db) {
            long got = bpf_probe_read_user_str(r->ev.db, sizeof(r->ev.db), (void *)db);
            if (got > 1)
                r->ev.db_len = got - 1;
        }
    }

    __u32 n = 0;
    __u64 cap = ut_cfg.capture_bytes;
    if (cap > UT_CAPTURE_MAX)
        cap = UT_CAPTURE_MAX;
    if (stmt && cap > 0) {
        /* Up to cap + 1 bytes before the NUL, so that a statement of exactly
         * cap bytes is told apart from a longer one. */
        long got = bpf_probe_read_user_str(r->text, (cap + 2) & PG_LEN_MASK, (void *)stmt);
        if (got > 0) {
            n = got - 1;
            if (n <= cap)
                r->ev.length = n;
            else
                n = cap;
        } else {
            r->ev.h.flags |= UT_FLAG_READ_FAILED;
        }
    } else if (stmt) {
        r->ev.length = ~0ULL;
    } else {
        r->ev.length = 0;
    }
    n &= PG_LEN_MASK;
    r->ev.captured = n;
    if (bpf_ringbuf_output(&ut_events, r, sizeof(r->ev) + n, ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_POSTGRES);
    return 0;
}

/* int PQsendQuery(PGconn *conn, const char *query): RDI conn, RSI query.
 * 1 hit per statement (at the entry or the first emulated instruction before
 * which RDI and RSI are unchanged). */
SEC("uprobe")
int pg_send_query(struct pt_regs *ctx) {
    return pg_send(ctx->rdi, ctx->rsi, 0, 0, UT_PG_SEND_QUERY);
}

/* int PQsendQueryParams(PGconn *conn, const char *command, int nParams,
 * const Oid *paramTypes, const char *const *paramValues, ...): RDI, RSI, EDX.
 * The parameter values are never read. 1 hit per statement. */
SEC("uprobe")
int pg_send_query_params(struct pt_regs *ctx) {
    return pg_send(ctx->rdi, ctx->rsi, 0, (__s32)ctx->rdx, UT_PG_SEND_QUERY_PARAMS);
}

/* int PQsendPrepare(PGconn *conn, const char *stmtName, const char *query,
 * int nParams, const Oid *paramTypes): RDI, RSI, RDX, ECX. 1 hit per statement. */
SEC("uprobe")
int pg_send_prepare(struct pt_regs *ctx) {
    return pg_send(ctx->rdi, ctx->rdx, ctx->rsi, (__s32)ctx->rcx, UT_PG_SEND_PREPARE);
}

/* int PQsendQueryPrepared(PGconn *conn, const char *stmtName, int nParams,
 * const char *const *paramValues, ...): RDI, RSI, EDX. The parameter values
 * are never read. 1 hit per statement. */
SEC("uprobe")
int pg_send_query_prepared(struct pt_regs *ctx) {
    return pg_send(ctx->rdi, 0, ctx->rsi, (__s32)ctx->rdx, UT_PG_SEND_QUERY_PREPARED);
}

/* PGresult *PQgetResult(PGconn *conn) entry: RDI conn, kept for the return
 * probe. 1 hit per PQgetResult call (`push %rbp`, emulated). */
SEC("uprobe")
int pg_get_result_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u64 conn = ctx->rdi;
    bpf_map_update_elem(&pg_get_result_conn, &id, &conn, BPF_ANY);
    return 0;
}

/* Reads the SQLSTATE ('C' field) of an error result into f->sqlstate. */
static __always_inline void pg_read_sqlstate(__u64 res, struct pg_inflight *f) {
    __s32 fields_off = ut_cfg.pg.result_err_fields;
    if (fields_off <= 0)
        return;
    __u64 field = 0;
    if (bpf_probe_read_user(&field, sizeof(field), (void *)(res + fields_off)) < 0)
        return;
    /* libpq keeps the fields of one ErrorResponse in a list: at most ~20 kinds. */
    for (int i = 0; i < 24 && field; i++) {
        char code = 0;
        if (bpf_probe_read_user(&code, 1, (void *)(field + ut_cfg.pg.field_code)) < 0)
            return;
        if (code == 'C') {
            char state[8] = {};
            if (bpf_probe_read_user_str(state, 6, (void *)(field + ut_cfg.pg.field_contents)) == 6)
                __builtin_memcpy(f->sqlstate, state, sizeof(state));
            return;
        }
        if (bpf_probe_read_user(&field, sizeof(field), (void *)(field + ut_cfg.pg.field_next)) < 0)
            return;
    }
}

/* PQgetResult return (uretprobe): RAX the PGresult*, NULL when the statement
 * has no more results. 1 hit per PQgetResult call. */
SEC("uretprobe")
int pg_get_result_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    __u64 id = bpf_get_current_pid_tgid();
    __u64 *conn = bpf_map_lookup_elem(&pg_get_result_conn, &id);
    if (!conn)
        return 0;
    struct pg_key key = { .tgid = id >> 32, .conn = *conn };
    bpf_map_delete_elem(&pg_get_result_conn, &id);
    struct pg_inflight *f = bpf_map_lookup_elem(&pg_inflight, &key);
    if (!f)
        return 0;
    __u64 res = ctx->rax;
    if (res) {
        f->results += 1;
        f->last_ns = now;
        if (f->status != -1)
            return 0; /* the first error result is the one reported */
        __s32 status_off = ut_cfg.pg.result_status;
        __s32 st = -2;
        if (status_off <= 0 || bpf_probe_read_user(&st, sizeof(st), (void *)(res + status_off)) < 0) {
            f->status = -2;
            return 0;
        }
        if (st == PGRES_BAD_RESPONSE || st == PGRES_FATAL_ERROR) {
            f->status = st;
            pg_read_sqlstate(res, f);
        }
        return 0;
    }
    if (f->results > 0)
        pg_send_end(&key, f, now);
    bpf_map_delete_elem(&pg_inflight, &key);
    return 0;
}
