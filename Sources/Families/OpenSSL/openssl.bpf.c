/*
 * openssl.bpf.c — OpenSSL plaintext as struct ut_ssl_event + data
 * (Sources/TraceEvents/include/trace_events.h).
 *
 * Entry uprobes on SSL_write, SSL_write_ex, SSL_read and SSL_read_ex remember
 * the call per thread; one return program (attached as a uretprobe at each of
 * the four functions) works out how many bytes moved and sends the first
 * min(count, ut_cfg.capture_bytes, UT_CAPTURE_MAX) bytes of the buffer. The
 * HTTP parsing happens in user space (Sources/Tracing/HTTPHeadParser.swift;
 * HTTP/2 frames and HPACK: HTTP2Stream.swift, HPACKDecoder.swift). An entry
 * probe on SSL_free (ssl_free_entry, below) tells user space a connection is
 * over, because the next connection may get the same SSL*.
 *
 * OpenSSL 1.1.1 and 3.x, x86-64 SysV ABI: RDI = SSL*, RSI = buf, RDX = num
 * (int) or size (size_t), RCX = size_t* written/readbytes (_ex only); the
 * result in RAX. None of the four calls another of them (each goes to
 * ssl_read_internal / ssl_write_internal), so one call per thread is in flight.
 *
 * Two placements (OpenSSLSites.swift chooses, per direction):
 * - Internal (Debian's OpenSSL 3.0: the public functions start with
 *   `sub $N,%rsp`, single-stepped, then call the internal function with RDI,
 *   RSI unchanged and RCX = &count): ssl_*_internal_entry + ssl_return on the
 *   internal function, whose entry is a `push` (emulated). The return address
 *   tells which public function called; other callers (BIO_f_ssl) are ignored.
 * - Entry: ssl_*_entry + ssl_return on the public functions themselves.
 *
 * Cost: 2 uprobe hits (entry + uretprobe) per SSL call; about 1.5 µs with the
 * internal placement, 25+ µs under KVM at the public entry. Calls that moved
 * no bytes (WANT_READ on a non-blocking socket, errors, close) send nothing.
 * Measured on nginx 1.22 (Debian's OpenSSL 3.0, internal placement, all
 * emulated): 6.1 hits per request on a kept-alive h2 connection (100 requests:
 * read 204 + write 102 entries, 306 returns, 1 SSL_free: a read with data and
 * one that finds none, one write, per request), 6.05 on kept-alive HTTP/1.1;
 * a new h2 connection per request: 22.5 (handshake reads and writes + SSL_free).
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
 * The entry of the internal function behind a pair of public ones: the return
 * address at (RSP), minus the probe address, says which public function made
 * the call (`a` → function `fa`, `b` → `fb`, from ut_cfg.ssl); any other caller
 * is not traced. RDI = ssl, RSI = buf, RDX = size, RCX = size_t* count: for the
 * plain forms it points at the wrapper's local count, which it returns.
 */
static __always_inline int ssl_internal_enter(struct pt_regs *ctx, __s64 a, __u32 fa, __s64 b, __u32 fb) {
    if (ut_other_process())
        return 0;
    __u64 ret_addr = 0;
    if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)PT_REGS_SP(ctx)) < 0)
        return 0;
    __s64 delta = (__s64)(ret_addr - PT_REGS_IP(ctx));
    if (a && delta == a)
        return ssl_enter(ctx, fa, PT_REGS_PARM4(ctx));
    if (b && delta == b)
        return ssl_enter(ctx, fb, PT_REGS_PARM4(ctx));
    return 0;
}

/*
 * Hooks the entry of OpenSSL 3.x's static int ssl_read_internal(SSL *s,
 * void *buf, size_t num, size_t *readbytes), called by SSL_read (RCX = its
 * local count) and SSL_read_ex (RCX = the caller's readbytes). Returns 1 and
 * sets *readbytes on success, <= 0 otherwise (SSL_read then returns that).
 */
SEC("uprobe")
int ssl_read_internal_entry(struct pt_regs *ctx) {
    return ssl_internal_enter(ctx, ut_cfg.ssl.read, UT_SSL_READ, ut_cfg.ssl.read_ex, UT_SSL_READ_EX);
}

/*
 * Hooks the entry of OpenSSL 3.x's int ssl_write_internal(SSL *s,
 * const void *buf, size_t num, size_t *written), called by SSL_write and
 * SSL_write_ex the same way as ssl_read_internal above.
 */
SEC("uprobe")
int ssl_write_internal_entry(struct pt_regs *ctx) {
    return ssl_internal_enter(ctx, ut_cfg.ssl.write, UT_SSL_WRITE, ut_cfg.ssl.write_ex, UT_SSL_WRITE_EX);
}

/*
 * Uretprobe on each of SSL_write, SSL_write_ex, SSL_read, SSL_read_ex, or on
 * ssl_read_internal / ssl_write_internal: RAX = the int result. Byte count:
 * the result for the plain forms at their own return; with a count pointer
 * (_ex, or any call of the internal functions), *count when the result is > 0. Sends the event with
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
        if (ret > 0) {
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

/*
 * Hooks void SSL_free(SSL *s): RDI = s. The connection is over and its SSL*
 * may come back from malloc for the next one (an event-loop server reuses it
 * at once), so user space forgets the connection's state. Placed at the
 * entry, or on Debian's OpenSSL 3.0 at the first push after the entry's
 * `test %rdi,%rdi; je` (RDI unchanged; NULL never reaches it): emulated.
 * Hits: 1 per connection (SSL_free call), none per request.
 */
SEC("uprobe")
int ssl_free_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u64 now = bpf_ktime_get_boot_ns();
    struct ut_ssl_event ev = {};
    ev.h.kind = UT_EVENT_SSL;
    ev.h.tgid = id >> 32;
    ev.h.tid = (__u32)id;
    ev.h.start_ns = now;
    ev.h.end_ns = now;
    ev.ssl = PT_REGS_PARM1(ctx);
    ev.function = UT_SSL_FREE;
    if (bpf_ringbuf_output(&ut_events, &ev, sizeof(ev), ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_OPENSSL);
    return 0;
}
