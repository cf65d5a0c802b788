/*
 * go_http.bpf.h — the in-flight maps of go_http.bpf.c and the helpers that
 * start, look up and finish a request. Trace-context helpers (goroutine
 * ancestry, TCP ports, the raw request head) are in go_http_context.bpf.h.
 */
#ifndef UPROBE_TRACE_GO_HTTP_BPF_H
#define UPROBE_TRACE_GO_HTTP_BPF_H
#include "common.bpf.h"

/* A request in flight, by process and goroutine. */
struct go_key {
    __u32 tgid;
    __u32 pad;
    __u64 goid;
};

/* The event as it will be sent, plus what the end probes need. */
struct go_inflight {
    struct ut_go_http_event ev;
    __u64 response; /* server: *net/http.response (ServeHTTP's rw data word) */
    __u64 request;  /* *net/http.Request: tells a repeated entry hit from a new call */
    __u64 conn;     /* server: *net/http.conn (response.conn); HTTP/2: *serverConn */
    __u32 h2_stream; /* HTTP/2 server: the stream id (0: an HTTP/1 request) */
    __u32 pad;
};

/* Server requests between ServeHTTP's entry and finishRequest's entry (or
 * (*conn).serve's return). LRU, so an entry whose end was never seen (process
 * killed, probe detached mid-request) is eventually evicted instead of leaking. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct go_key);
    __type(value, struct go_inflight);
} go_server_inflight SEC(".maps");

/* Client requests between roundTrip entry and its RET: a separate map because
 * a handler goroutine is inside ServeHTTP while it calls roundTrip, so both
 * are in flight under the same {tgid, goid}. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct go_key);
    __type(value, struct go_inflight);
} go_client_inflight SEC(".maps");

/* Scratch space for building an in-flight entry: too big for the BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct go_inflight);
} go_scratch SEC(".maps");

/* Go string header: what a `string` field holds. */
struct go_string {
    __u64 ptr;
    __s64 len;
};

/* {tgid, goid} of the running goroutine; g is in R14 (ABIInternal). */
static __always_inline int go_current_key(struct pt_regs *ctx, struct go_key *key) {
    __u64 goid = 0;
    key->tgid = bpf_get_current_pid_tgid() >> 32;
    key->pad = 0;
    if (bpf_probe_read_user(&goid, sizeof(goid), (void *)(ctx->r14 + ut_cfg.go.g_goid)) < 0)
        return -1;
    key->goid = goid;
    return 0;
}

/* Copies up to `max` bytes of the Go string at `field` into `dst`; stores the
 * full Go length (clamped to 0xffff) in *len_out. Returns < 0 on a failed read. */
static __always_inline int go_read_string(void *field, char *dst, __u32 max, __u16 *len_out) {
    struct go_string s;
    if (bpf_probe_read_user(&s, sizeof(s), field) < 0)
        return -1;
    if (s.len <= 0) {
        *len_out = 0;
        return 0;
    }
    *len_out = s.len > 0xffff ? 0xffff : (__u16)s.len;
    __u32 n = s.len > max ? max : (__u32)s.len;
    if (n > max) /* keep the verifier's bound explicit */
        n = max;
    return bpf_probe_read_user(dst, n, (void *)s.ptr);
}

/* Fills method, path, query, host and content length from a *net/http.Request. */
static __always_inline void go_read_request(struct ut_go_http_event *ev, __u64 req) {
    int bad = 0;
    __u64 url = 0;
    if (go_read_string((void *)(req + ut_cfg.go.request_method), ev->method, UT_METHOD_MAX, &ev->method_len) < 0)
        bad = 1;
    if (go_read_string((void *)(req + ut_cfg.go.request_host), ev->host, UT_HOST_MAX, &ev->host_len) < 0)
        bad = 1;
    if (bpf_probe_read_user(&ev->content_length, sizeof(ev->content_length),
                            (void *)(req + ut_cfg.go.request_content_length)) < 0)
        bad = 1;
    if (bpf_probe_read_user(&url, sizeof(url), (void *)(req + ut_cfg.go.request_url)) < 0 || url == 0) {
        bad = 1;
    } else {
        if (go_read_string((void *)(url + ut_cfg.go.url_path), ev->path, UT_PATH_MAX, &ev->path_len) < 0)
            bad = 1;
        if (go_read_string((void *)(url + ut_cfg.go.url_raw_query), ev->query, UT_QUERY_MAX, &ev->query_len) < 0)
            bad = 1;
    }
    if (bad)
        ev->h.flags |= UT_FLAG_READ_FAILED;
}

/* Sends `in` to the ring buffer (or counts it lost). */
static __always_inline void go_emit(struct go_inflight *in) {
    struct ut_go_http_event *e = bpf_ringbuf_reserve(&ut_events, sizeof(*e), 0);
    if (!e) {
        ut_count_lost(UT_FAMILY_GO_HTTP);
        return;
    }
    __builtin_memcpy(e, &in->ev, sizeof(*e));
    bpf_ringbuf_submit(e, ut_wakeup_flags());
}

/* The request pending on the current goroutine in `map` (key filled in), or NULL. */
static __always_inline struct go_inflight *go_pending(struct pt_regs *ctx, void *map, struct go_key *key) {
    if (go_current_key(ctx, key) < 0)
        return 0;
    return bpf_map_lookup_elem(map, key);
}

/* Sends the finished request and forgets it. */
static __always_inline void go_finish(void *map, struct go_key *key, struct go_inflight *in) {
    go_emit(in);
    bpf_map_delete_elem(map, key);
}
#endif
