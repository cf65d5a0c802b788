/*
 * openssl.bpf.c — OpenSSL plaintext as struct ut_ssl_event + data
 * (Sources/TraceEvents/include/trace_events.h).
 *
 * Entry uprobes on SSL_write, SSL_write_ex, SSL_read and SSL_read_ex remember
 * the call per thread; one return program (attached as a uretprobe at each of
 * the four functions) works out how many bytes moved and sends the first
 * min(count, ut_cfg.capture_bytes, UT_CAPTURE_MAX) bytes of the buffer. The
 * HTTP parsing happens in user space (Sources/Tracing/HTTPHeadParser.swift).
 *
 * OpenSSL 1.1.1 and 3.x, x86-64 SysV ABI: RDI = SSL*, RSI = buf, RDX = num
 * (int) or size (size_t), RCX = size_t* written/readbytes (_ex only); the
 * result in RAX. None of the four calls another of them (each goes to
 * ssl_read_internal / ssl_write_internal), so one call per thread is in flight.
 *
 * Cost: 2 uprobe hits (entry + uretprobe) per SSL call. Calls that moved no
 * bytes (WANT_READ on a non-blocking socket, errors, close) send nothing.
 */
#include "common.bpf.h"

/* One call between entry and return. */
struct ssl_call {
    __u64 ssl;
    __u64 buf;
    __u64 out;      /* _ex: the size_t* the byte count is written to; 0 otherwise */
    __u64 start_ns;
    __u32 function; /* enum ut_ssl_function */
    __u32 pad;
};

/* Calls in flight, by pid_tgid (one per thread, see above). LRU so a call
 * whose return was never seen (thread killed) is evicted, not leaked. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/* The event as sent: header, then up to UT_CAPTURE_MAX bytes; too big for the stack. */
struct ssl_record {
    struct ut_ssl_event ev;
    __u8 data[UT_CAPTURE_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ssl_record);
} ssl_scratch SEC(".maps");

static __always_inline int ssl_enter(struct pt_regs *ctx, __u32 function, __u64 out) {
    if (ut_other_process())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    struct ssl_call c = {
        .ssl = PT_REGS_PARM1(ctx),
        .buf = PT_REGS_PARM2(ctx),
        .out = out,
        .function = function,
    };
    /* Taken last: the span of a client request starts at this write. */
    c.start_ns = bpf_ktime_get_boot_ns();
    bpf_map_update_elem(&ssl_calls, &id, &c, BPF_ANY);
    return 0;
}

/*
 * Hooks the entry of int SSL_write(SSL *ssl, const void *buf, int num):
 * RDI = ssl, RSI = buf, RDX = num. Returns bytes written (> 0) or <= 0.
 */
SEC("uprobe")
int ssl_write_entry(struct pt_regs *ctx) {
    return ssl_enter(ctx, UT_SSL_WRITE, 0);
}

/*
 * Hooks the entry of int SSL_write_ex(SSL *s, const void *buf, size_t num,
 * size_t *written) (OpenSSL >= 1.1.1): RDI = s, RSI = buf, RDX = num,
 * RCX = written. Returns 1 and sets *written on success.
 */
SEC("uprobe")
int ssl_write_ex_entry(struct pt_regs *ctx) {
    return ssl_enter(ctx, UT_SSL_WRITE_EX, PT_REGS_PARM4(ctx));
}

/*
 * Hooks the entry of int SSL_read(SSL *ssl, void *buf, int num):
 * RDI = ssl, RSI = buf, RDX = num. Returns bytes read (> 0) or <= 0.
 */
SEC("uprobe")
int ssl_read_entry(struct pt_regs *ctx) {
    return ssl_enter(ctx, UT_SSL_READ, 0);
}

/*
 * Hooks the entry of int SSL_read_ex(SSL *ssl, void *buf, size_t num,
 * size_t *readbytes) (OpenSSL >= 1.1.1): RDI = ssl, RSI = buf, RDX = num,
 * RCX = readbytes. Returns 1 and sets *readbytes on success.
 */
SEC("uprobe")
int ssl_read_ex_entry(struct pt_regs *ctx) {
    return ssl_enter(ctx, UT_SSL_READ_EX, PT_REGS_PARM4(ctx));
}

/*
 * Uretprobe on each of SSL_write, SSL_write_ex, SSL_read, SSL_read_ex:
 * RAX = the int result. Byte count: the result for the plain forms; for the
 * _ex forms, *written / *readbytes when the result is 1. Sends the event with
 * a copy of the first bytes of buf (the caller's buffer: for reads it holds
 * the plaintext only now, at return).
 */
SEC("uretprobe")
int ssl_return(struct pt_regs *ctx) {
    __u64 end = bpf_ktime_get_boot_ns();
    __u64 id = bpf_get_current_pid_tgid();
    struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &id);
    if (!c)
        return 0;
    struct ssl_call call = *c;
    bpf_map_delete_elem(&ssl_calls, &id);

    int ret = (int)PT_REGS_RC(ctx);
    __s64 count = ret;
    __u32 flags = 0;
    if (call.out) {
        __u64 n = 0;
        count = 0;
        if (ret == 1) {
            if (bpf_probe_read_user(&n, sizeof(n), (void *)call.out) < 0)
                flags |= UT_FLAG_READ_FAILED;
            else
                count = (__s64)n;
        }
    }
    if (count <= 0)
        return 0;

    __u32 zero = 0;
    struct ssl_record *r = bpf_map_lookup_elem(&ssl_scratch, &zero);
    if (!r)
        return 0;
    __u64 want = ut_cfg.capture_bytes;
    if ((__u64)count < want)
        want = count;
    if (want > UT_CAPTURE_MAX)
        want = UT_CAPTURE_MAX;
    __u32 n = want;
    /* Explicit bound the verifier can see on the size of both the read and
     * the output: n in [0, UT_CAPTURE_MAX]. */
    asm volatile("%[n] &= 0x3fff" : [n] "+r"(n));
    if (n > UT_CAPTURE_MAX)
        n = UT_CAPTURE_MAX;
    if (n > 0 && bpf_probe_read_user(r->data, n, (void *)call.buf) < 0) {
        flags |= UT_FLAG_READ_FAILED;
        n = 0;
    }

    r->ev.h.kind = UT_EVENT_SSL;
    r->ev.h.tgid = id >> 32;
    r->ev.h.tid = (__u32)id;
    r->ev.h.flags = flags;
    r->ev.h.goid = 0;
    r->ev.h.start_ns = call.start_ns;
    r->ev.h.end_ns = end;
    r->ev.ssl = call.ssl;
    r->ev.result = count;
    r->ev.function = call.function;
    r->ev.captured = n;
    if (bpf_ringbuf_output(&ut_events, r, sizeof(struct ut_ssl_event) + n, ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_OPENSSL);
    return 0;
}
