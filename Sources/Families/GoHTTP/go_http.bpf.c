/*
 * go_http.bpf.c — Go net/http server and client requests as
 * struct ut_go_http_event (Sources/TraceEvents/include/trace_events.h).
 *
 * Every program here is a plain entry uprobe (SEC("uprobe")), attached by file
 * offset from user space; the "return" programs are attached at each RET
 * instruction of the Go function, never as uretprobes (a uretprobe rewrites
 * the return address on the goroutine stack, which the Go runtime moves).
 * One program may be attached at many offsets (one per RET).
 *
 * Register ABI: Go >= 1.17 on amd64 (ABIInternal): integer/pointer argument and
 * result words in RAX, RBX, RCX, RDI, RSI, R8..R11; the current g in R14.
 * Struct field offsets (Request.Method, runtime.g.goid, ...) come from
 * ut_cfg.go, filled before load from DWARF or GoRuntime's versioned table.
 *
 * Cost: 2 uprobe hits per server request (ServeHTTP entry + one RET) and 3 per
 * client request (roundTrip entry + one RET + persistConn.roundTrip entry, which
 * names the TCP connection); (*conn).serve's RETs fire once per connection, not
 * per request; runtime.newproc1's RET once per goroutine created. Trace context
 * costs no hit of its own: the raw request head is copied from the connection's
 * read buffer at ServeHTTP entry. An entry probe fires a second time when
 * the goroutine's stack grows at that call (runtime.morestack restarts the
 * function): once per goroutine and depth, not per request.
 */
#include "common.bpf.h"

/* A request in flight, by process and goroutine. */
struct go_key {
    __u32 tgid;
    __u32 pad;
    __u64 goid;
};

/* The event as it will be sent, plus what the return probe needs. */
struct go_inflight {
    struct ut_go_http_event ev;
    __u64 response; /* server: *net/http.response (ServeHTTP's rw data word) */
    __u64 caller;   /* return address at entry ([RSP]) */
};

/* A second entry hit of the same call comes within this time (see go_request_start). */
#define GO_REENTRY_NS (100ULL * 1000 * 1000)

/* Server requests between ServeHTTP entry and its RET. LRU, so an entry whose
 * return was never seen (process killed, probe detached mid-request) is
 * eventually evicted instead of leaking. */
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

/* Which in-flight server request a goroutine works for: set when a goroutine is
 * created (runtime.newproc1) by one that is inside ServeHTTP or is itself such a
 * descendant, up to GO_ANCESTOR_DEPTH generations. Goroutine ids are never
 * reused, so an entry only goes stale by age (LRU). */
#define GO_ANCESTOR_DEPTH 4
struct go_ancestor {
    struct ut_go_request_ref request;
    __u32 depth;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct go_key);
    __type(value, struct go_ancestor);
} go_ancestors SEC(".maps");

/* The client request being sent on a TCP connection, by the connection's two
 * ports as the client sees them (local, remote); set at persistConn.roundTrip
 * entry, read by a traced server in another process at ServeHTTP entry. */
struct go_conn_key {
    __u16 client_port;
    __u16 server_port;
};

struct go_conn_client {
    struct ut_go_request_ref client;
    struct ut_go_request_ref parent; /* the client request's own parent */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct go_conn_key);
    __type(value, struct go_conn_client);
} go_conn_clients SEC(".maps");

/* A head record as sent: the event and the copied bytes. */
struct go_head_record {
    struct ut_go_head_event ev;
    char data[UT_GO_HEAD_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct go_head_record);
} go_head_scratch SEC(".maps");

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

/* The request this goroutine works for, if any: a server request in flight on
 * it, else the one its creator (or its creator's creator...) was serving. */
static __always_inline void go_find_parent(struct go_key *key, struct ut_go_request_ref *parent) {
    struct go_inflight *server = bpf_map_lookup_elem(&go_server_inflight, key);
    if (server) {
        parent->tgid = key->tgid;
        parent->goid = key->goid;
        parent->start_ns = server->ev.h.start_ns;
        return;
    }
    struct go_ancestor *a = bpf_map_lookup_elem(&go_ancestors, key);
    if (a)
        *parent = a->request;
}

/* Builds an in-flight entry for the request at `req` and stores it under the
 * current goroutine in `map`. Returns the entry as stored (per-CPU scratch),
 * or NULL when nothing new was stored. */
static __always_inline struct go_inflight *go_request_start(struct pt_regs *ctx, void *map, __u32 kind, __u64 req, __u64 response) {
    struct go_key key;
    __u32 zero = 0;
    __u64 caller = 0;
    if (go_current_key(ctx, &key) < 0) {
        ut_count_lost(UT_FAMILY_GO_HTTP);
        return 0;
    }
    /* The Go prologue checks the stack; when it must grow, runtime.morestack
     * copies the stack and jumps back to the function's first instruction, so
     * the entry probe fires twice for one call. Keep the first hit: same
     * goroutine, same return address, shortly after. (An entry left over from a
     * call whose RET was never seen fails the time test and is replaced.) */
    bpf_probe_read_user(&caller, sizeof(caller), (void *)ctx->rsp);
    struct go_inflight *old = bpf_map_lookup_elem(map, &key);
    if (old && old->caller == caller && bpf_ktime_get_boot_ns() - old->ev.h.start_ns < GO_REENTRY_NS)
        return 0;
    struct go_inflight *in = bpf_map_lookup_elem(&go_scratch, &zero);
    if (!in)
        return 0;
    __builtin_memset(in, 0, sizeof(*in));
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    in->ev.h.kind = kind;
    in->ev.h.tgid = pid_tgid >> 32;
    in->ev.h.tid = (__u32)pid_tgid;
    in->ev.h.goid = key.goid;
    in->ev.content_length = -1;
    in->response = response;
    in->caller = caller;
    if (kind == UT_EVENT_GO_HTTP_CLIENT)
        go_find_parent(&key, &in->ev.parent);
    if (req)
        go_read_request(&in->ev, req);
    else
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    /* Taken last so the span starts as close to the call as the reads allow. */
    in->ev.h.start_ns = bpf_ktime_get_boot_ns();
    bpf_map_update_elem(map, &key, in, BPF_ANY);
    return in;
}

/* Local and remote TCP ports of the net.Conn interface stored at `field`
 * (a *net.TCPConn: its first word is the *netFD). Zero when unreadable; a
 * connection of another type reads as garbage ports that match nothing. */
static __always_inline void go_conn_ports(__u64 field, __u16 *local, __u16 *remote) {
    __u64 iface[2] = {}, fd = 0, laddr[2] = {}, raddr[2] = {};
    __s64 lport = 0, rport = 0;
    *local = *remote = 0;
    if (bpf_probe_read_user(iface, sizeof(iface), (void *)field) < 0 || !iface[1])
        return;
    if (bpf_probe_read_user(&fd, sizeof(fd), (void *)iface[1]) < 0 || !fd)
        return;
    if (bpf_probe_read_user(laddr, sizeof(laddr), (void *)(fd + ut_cfg.go.netfd_laddr)) < 0 || !laddr[1] ||
        bpf_probe_read_user(raddr, sizeof(raddr), (void *)(fd + ut_cfg.go.netfd_raddr)) < 0 || !raddr[1])
        return;
    if (bpf_probe_read_user(&lport, sizeof(lport), (void *)(laddr[1] + ut_cfg.go.tcpaddr_port)) < 0 ||
        bpf_probe_read_user(&rport, sizeof(rport), (void *)(raddr[1] + ut_cfg.go.tcpaddr_port)) < 0)
        return;
    *local = (__u16)lport;
    *remote = (__u16)rport;
}

/* Joins a server request to the traced client request (another process, same
 * host) that sent it on this TCP connection: that client must still be in
 * flight, with the start time it registered for the connection. */
static __always_inline void go_find_remote_client(struct go_inflight *in, __u64 conn) {
    struct go_conn_key ck;
    __u16 local, remote;
    go_conn_ports(conn + ut_cfg.go.conn_rwc, &local, &remote);
    if (!local || !remote)
        return;
    ck.client_port = remote;
    ck.server_port = local;
    struct go_conn_client *c = bpf_map_lookup_elem(&go_conn_clients, &ck);
    if (!c)
        return;
    struct go_key client = {.tgid = c->client.tgid, .pad = 0, .goid = c->client.goid};
    struct go_inflight *pending = bpf_map_lookup_elem(&go_client_inflight, &client);
    if (!pending || pending->ev.h.start_ns != c->client.start_ns)
        return;
    in->ev.parent = c->client;
    in->ev.grandparent = c->parent;
}

/* Sends the head record of the server request `in` (see ut_go_head_event):
 * its identity and parents, and the bytes of the connection's bufio.Reader
 * that end where the request just parsed ends (bufio.Reader.r) — the raw
 * request head. net/http reads the head through this 4096-byte buffer and has
 * not touched it since (the body is read later, by the handler). */
static __always_inline void go_emit_head(struct go_inflight *in, __u64 conn) {
    struct { __u64 ptr; __s64 len; __s64 cap; } buf = {};
    __u64 bufr = 0;
    __s64 r = 0;
    __u32 zero = 0, n = 0;
    struct go_head_record *rec = bpf_map_lookup_elem(&go_head_scratch, &zero);
    if (!rec)
        return;
    if (conn && bpf_probe_read_user(&bufr, sizeof(bufr), (void *)(conn + ut_cfg.go.conn_bufr)) == 0 && bufr &&
        bpf_probe_read_user(&buf, sizeof(buf), (void *)(bufr + ut_cfg.go.bufio_reader_buf)) == 0 &&
        bpf_probe_read_user(&r, sizeof(r), (void *)(bufr + ut_cfg.go.bufio_reader_r)) == 0 &&
        r > 0 && r <= buf.len && buf.ptr) {
        /* At most UT_GO_HEAD_MAX - 1 bytes, so that one mask bounds the size for
         * the verifier (a completely full buffer loses its first byte). */
        n = r >= UT_GO_HEAD_MAX ? UT_GO_HEAD_MAX - 1 : (__u32)r;
        __u64 from = buf.ptr + (__u64)r - n;
        asm volatile("%[n] &= %[mask]" : [n] "+r"(n) : [mask] "i"(UT_GO_HEAD_MAX - 1));
        if (n > 0 && bpf_probe_read_user(rec->data, n, (void *)from) < 0)
            n = 0;
    }
    rec->ev.h = in->ev.h;
    rec->ev.h.kind = UT_EVENT_GO_HTTP_HEAD;
    rec->ev.parent = in->ev.parent;
    rec->ev.grandparent = in->ev.grandparent;
    rec->ev.captured = n;
    rec->ev.reserved = 0;
    asm volatile("%[n] &= %[mask]" : [n] "+r"(n) : [mask] "i"(UT_GO_HEAD_MAX - 1));
    if (bpf_ringbuf_output(&ut_events, rec, sizeof(struct ut_go_head_event) + n, ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_GO_HTTP);
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

/*
 * Hooks the entry of net/http.serverHandler.ServeHTTP(sh, rw, req)
 * (Go 1.17..1.26, amd64 ABIInternal): RAX = sh (its *Server), RBX = rw's itab,
 * RCX = rw's data word (*net/http.response for HTTP/1), RDI = req
 * (*net/http.Request). Reads the request and remembers *response for the RET;
 * joins a traced client on the other end of the connection; sends the raw
 * request head (for traceparent) as its own record.
 */
SEC("uprobe")
int go_server_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 response = ctx->rcx, conn = 0;
    struct go_inflight *in = go_request_start(ctx, &go_server_inflight, UT_EVENT_GO_HTTP_SERVER, ctx->rdi, response);
    if (!in)
        return 0;
    if (response)
        bpf_probe_read_user(&conn, sizeof(conn), (void *)(response + ut_cfg.go.response_conn));
    if (conn)
        go_find_remote_client(in, conn);
    go_emit_head(in, conn);
    if (in->ev.parent.start_ns) {
        struct go_key key = {.tgid = in->ev.h.tgid, .pad = 0, .goid = in->ev.h.goid};
        bpf_map_update_elem(&go_server_inflight, &key, in, BPF_EXIST);
    }
    return 0;
}

/*
 * Hooks every RET of net/http.serverHandler.ServeHTTP (Go 1.17..1.26, amd64):
 * registers hold nothing useful (no results); the goroutine (R14) is the one
 * that entered. Reads response.status (0 = nothing written yet: implicit 200)
 * and sends the event.
 */
SEC("uprobe")
int go_server_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_server_inflight, &key);
    if (!in)
        return 0;
    in->ev.h.end_ns = end;
    if (in->response == 0 ||
        bpf_probe_read_user(&in->ev.status, sizeof(in->ev.status),
                            (void *)(in->response + ut_cfg.go.response_status)) < 0)
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    go_finish(&go_server_inflight, &key, in);
    return 0;
}

/*
 * Hooks every RET of net/http.(*conn).serve (Go 1.17..1.26, amd64): reached
 * once per connection. A handler that panics never gets to ServeHTTP's RET;
 * net/http recovers the panic in (*conn).serve's deferred function, which
 * then returns. So a ServeHTTP still pending on this goroutine here is a
 * panicked request: sent with UT_FLAG_PANIC and status 500.
 */
SEC("uprobe")
int go_conn_serve_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_server_inflight, &key);
    if (!in)
        return 0;
    in->ev.h.end_ns = end;
    in->ev.h.flags |= UT_FLAG_PANIC;
    in->ev.status = 500;
    go_finish(&go_server_inflight, &key, in);
    return 0;
}

/*
 * Hooks the entry of net/http.(*Transport).roundTrip(t, req)
 * (Go 1.17..1.26, amd64 ABIInternal): RAX = t (*Transport), RBX = req
 * (*net/http.Request). Every client request of a Go program goes through it
 * (http.Get, Client.Do, the default transport).
 */
SEC("uprobe")
int go_client_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    go_request_start(ctx, &go_client_inflight, UT_EVENT_GO_HTTP_CLIENT, ctx->rbx, 0);
    return 0;
}

/*
 * Hooks the entry of net/http.(*persistConn).roundTrip(pc, req) (Go 1.17..1.26,
 * amd64 ABIInternal): RAX = pc (*persistConn), on the goroutine that is inside
 * Transport.roundTrip, once the connection for the request is chosen. Records
 * the connection's ports for the client request in flight, so that a traced
 * server on this host can name it as its parent.
 */
SEC("uprobe")
int go_client_conn_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_client_inflight, &key);
    if (!in || !ctx->rax)
        return 0;
    struct go_conn_key ck;
    go_conn_ports(ctx->rax + ut_cfg.go.persist_conn_conn, &ck.client_port, &ck.server_port);
    if (!ck.client_port || !ck.server_port)
        return 0;
    struct go_conn_client c = {};
    c.client.tgid = key.tgid;
    c.client.goid = key.goid;
    c.client.start_ns = in->ev.h.start_ns;
    c.parent = in->ev.parent;
    bpf_map_update_elem(&go_conn_clients, &ck, &c, BPF_ANY);
    return 0;
}

/*
 * Hooks every RET of runtime.newproc1 (Go 1.17..1.26, amd64): RAX = the new
 * goroutine's *g (its goid already assigned). newproc1 runs on the system
 * stack, so R14 is g0; the goroutine that executed the `go` statement is
 * g0.m.curg. When that goroutine serves a request (or descends from one), the
 * new goroutine inherits it, one generation deeper.
 */
SEC("uprobe")
int go_newproc_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 newg = ctx->rax, m = 0, curg = 0;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct go_key parent = {.tgid = tgid, .pad = 0, .goid = 0};
    struct go_key child = {.tgid = tgid, .pad = 0, .goid = 0};
    if (!newg || bpf_probe_read_user(&m, sizeof(m), (void *)(ctx->r14 + ut_cfg.go.g_m)) < 0 || !m)
        return 0;
    if (bpf_probe_read_user(&curg, sizeof(curg), (void *)(m + ut_cfg.go.m_curg)) < 0 || !curg)
        return 0;
    if (bpf_probe_read_user(&parent.goid, sizeof(parent.goid), (void *)(curg + ut_cfg.go.g_goid)) < 0)
        return 0;
    struct go_ancestor a = {};
    struct go_inflight *server = bpf_map_lookup_elem(&go_server_inflight, &parent);
    if (server) {
        a.request.tgid = tgid;
        a.request.goid = parent.goid;
        a.request.start_ns = server->ev.h.start_ns;
        a.depth = 1;
    } else {
        struct go_ancestor *up = bpf_map_lookup_elem(&go_ancestors, &parent);
        if (!up || up->depth >= GO_ANCESTOR_DEPTH)
            return 0;
        a = *up;
        a.depth += 1;
    }
    if (bpf_probe_read_user(&child.goid, sizeof(child.goid), (void *)(newg + ut_cfg.go.g_goid)) < 0)
        return 0;
    bpf_map_update_elem(&go_ancestors, &child, &a, BPF_ANY);
    return 0;
}

/*
 * Hooks every RET of net/http.(*Transport).roundTrip (Go 1.17..1.26, amd64):
 * results (*Response, error) are in RAX = *Response, RBX = error itab,
 * RCX = error data. Status from Response.StatusCode; UT_FLAG_ERROR when the
 * error is non-nil or there is no response.
 */
SEC("uprobe")
int go_client_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    __u64 resp = ctx->rax, err_itab = ctx->rbx;
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_client_inflight, &key);
    if (!in)
        return 0;
    in->ev.h.end_ns = end;
    if (resp == 0 || err_itab != 0) {
        in->ev.h.flags |= UT_FLAG_ERROR;
    } else if (bpf_probe_read_user(&in->ev.status, sizeof(in->ev.status),
                                   (void *)(resp + ut_cfg.go.client_status_code)) < 0) {
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    }
    go_finish(&go_client_inflight, &key, in);
    return 0;
}
