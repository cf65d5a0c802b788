/*
 * go_http.bpf.c — Go net/http server and client requests as
 * struct ut_go_http_event (Sources/TraceEvents/include/trace_events.h).
 *
 * Every program here is a plain entry uprobe (SEC("uprobe")), attached by file
 * offset from user space (GoHTTPPlan); the "return" programs are attached at
 * each RET instruction of the Go function, never as uretprobes (a uretprobe
 * rewrites the return address on the goroutine stack, which the Go runtime
 * moves). One program may be attached at many offsets (one per RET).
 *
 * Register ABI: Go >= 1.17 on amd64 (ABIInternal): integer/pointer argument and
 * result words in RAX, RBX, RCX, RDI, RSI, R8..R11; the current g in R14.
 * Struct field offsets (Request.Method, runtime.g.goid, ...) come from
 * ut_cfg.go, filled before load from DWARF or GoRuntime's versioned table.
 *
 * Where ("entry" below): a function's entry probe sits on its cheap entry site
 * (GoEntrySite), which the kernel emulates instead of single-stepping: the
 * `push %rbp` after the stack check on Go >= 1.21 (once per call), the
 * stack-check `jbe` on Go 1.17-1.20. That `jbe` runs again after
 * runtime.morestack grows the stack and restarts the function, so an entry
 * program ignores a second hit for the same *Request on the same goroutine
 * while that request is in flight. Registers at both sites are as at the entry.
 *
 * Cost per request, all on emulated instructions unless said: an HTTP/1
 * server request is 2 hits (ServeHTTP entry, (*response).finishRequest entry;
 * no RET of ServeHTTP is probed); an HTTP/2 server request is 3 (the h2
 * server's processHeaders entry, ServeHTTP entry, the entry of runHandler's
 * deferred func1). A client request is 3: roundTrip entry; over HTTP/1
 * persistConn.roundTrip entry, over HTTP/2 the h2 client's writeHeaders entry
 * (Go >= 1.21 only; HTTP/2 never calls persistConn.roundTrip); and one RET of
 * roundTrip, single-stepped, since no function runs next on every path.
 * (*conn).serve's RETs (single-stepped) fire once per connection. On Go < 1.21
 * in a program with client code (Go >= 1.21 reads g.parentGoid), the runqput
 * call in runtime.newproc.func1 fires once per goroutine created: 1 per HTTP/1
 * request (its background reader), 4 per HTTP/2 request (Go 1.19: handler,
 * frame writers).
 * Stack growth adds a hit at a Go 1.17-1.20 entry, once per goroutine and depth.
 */
#include "go_http2.bpf.h"

/* Builds an in-flight entry for the request at `req` and stores it under the
 * current goroutine in `map`. Returns the entry as stored (per-CPU scratch),
 * or NULL when nothing new was stored. */
static __always_inline struct go_inflight *go_request_start(struct pt_regs *ctx, void *map, __u32 kind, __u64 req, __u64 response, __u64 conn) {
    struct go_key key;
    __u32 zero = 0;
    if (go_current_key(ctx, &key) < 0) {
        ut_count_lost(UT_FAMILY_GO_HTTP);
        return 0;
    }
    /* The same call again: a stack-check site after runtime.morestack (Go < 1.21).
     * Keep the first hit and its start time. */
    struct go_inflight *old = bpf_map_lookup_elem(map, &key);
    if (old && req && old->request == req)
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
    in->request = req;
    in->conn = conn;
    if (kind == UT_EVENT_GO_HTTP_CLIENT)
        go_find_parent(ctx, &key, &in->ev.parent);
    if (req)
        go_read_request(&in->ev, req);
    else
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    /* Taken last so the span starts as close to the call as the reads allow. */
    in->ev.h.start_ns = bpf_ktime_get_boot_ns();
    bpf_map_update_elem(map, &key, in, BPF_ANY);
    return in;
}

/* Reads response.status into the event (0 = nothing written: implicit 200). */
static __always_inline void go_read_status(struct go_inflight *in) {
    if (in->response == 0 ||
        bpf_probe_read_user(&in->ev.status, sizeof(in->ev.status),
                            (void *)(in->response + ut_cfg.go.response_status)) < 0)
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
}

/*
 * The HTTP/2 half of go_server_entry: the handler goroutine starts serving the
 * stream `sk`, whose HEADERS processHeaders saw. The request's start is that
 * time (when the server had the whole request head); the span is sent at the
 * handler's end (go_h2_handler_end). rw (`response`) is the h2 server's
 * *responseWriter (Go <= 1.26: *http2responseWriter; Go 1.27:
 * http2ResponseWriter{*http2.ResponseWriter}, one pointer, so the same word).
 */
static __always_inline void go_h2_server_start(struct pt_regs *ctx, __u64 rw, __u64 req, struct go_h2_stream *s,
                                               struct go_h2_stream_key *sk) {
    __u64 start = s->start_ns;
    struct go_inflight *in = go_request_start(ctx, &go_server_inflight, UT_EVENT_GO_HTTP_SERVER, req, rw, sk->sc);
    if (!in)
        return;
    in->ev.h.flags |= UT_FLAG_HTTP2;
    in->ev.h.start_ns = start;
    in->h2_stream = sk->stream_id;
    go_h2_find_remote_client(in, sk);
    go_h2_emit_head(in, s);
    struct go_key key = {.tgid = in->ev.h.tgid, .pad = 0, .goid = in->ev.h.goid};
    bpf_map_update_elem(&go_server_inflight, &key, in, BPF_EXIST);
}

/*
 * Hooks the entry of net/http.serverHandler.ServeHTTP(sh, rw, req)
 * (Go 1.17..1.27, amd64 ABIInternal): RAX = sh (its *Server), RBX = rw's itab,
 * RCX = rw's data word, RDI = req (*net/http.Request). 1 hit per request,
 * HTTP/1 or HTTP/2. An HTTP/2 request (rw leads to a stream that
 * go_h2_headers recorded) goes to go_h2_server_start and ends at
 * go_h2_handler_end. An HTTP/1 request is recorded only when rw is a
 * *net/http.response with response.req == req: its end is
 * (*response).finishRequest, which an HTTP/2 request never reaches.
 * Neither is ever read with the other's layouts. For HTTP/1: remembers
 * *response and its *conn; joins a traced client on the other end of the
 * connection; sends the raw request head (for traceparent) as its own record.
 */
SEC("uprobe")
int go_server_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 response = ctx->rcx, req = ctx->rdi, conn = 0, owner = 0;
    struct go_h2_stream_key sk;
    struct go_h2_stream *stream = go_h2_stream_of(response, &sk);
    if (stream) {
        go_h2_server_start(ctx, response, req, stream, &sk);
        return 0;
    }
    if (!response || !req ||
        bpf_probe_read_user(&owner, sizeof(owner), (void *)(response + ut_cfg.go.response_req)) < 0 || owner != req)
        return 0;
    bpf_probe_read_user(&conn, sizeof(conn), (void *)(response + ut_cfg.go.response_conn));
    struct go_inflight *in = go_request_start(ctx, &go_server_inflight, UT_EVENT_GO_HTTP_SERVER, req, response, conn);
    if (!in)
        return 0;
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
 * Hooks the entry of the h2 server's processHeaders(sc, f)
 * (net/http.(*http2serverConn).processHeaders, Go 1.17..1.26;
 * net/http/internal/http2.(*serverConn).processHeaders, Go 1.27; amd64
 * ABIInternal): RAX = sc (*serverConn), RBX = f (*MetaHeadersFrame), on the
 * connection's serve goroutine, once per HEADERS frame received (1 hit per
 * request; a request with trailers 2). Notes the time and the trace headers
 * under {sc, f.StreamID} for the handler goroutine, which the serve goroutine
 * starts later in this call.
 */
SEC("uprobe")
int go_h2_headers(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 start = bpf_ktime_get_boot_ns();
    __u64 frame = ctx->rbx, headers = 0;
    __u32 zero = 0;
    struct go_h2_stream_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .stream_id = 0, .sc = ctx->rax};
    if (!frame || !key.sc ||
        bpf_probe_read_user(&headers, sizeof(headers), (void *)(frame + ut_cfg.go.h2_meta_headers)) < 0 || !headers ||
        bpf_probe_read_user(&key.stream_id, sizeof(key.stream_id), (void *)(headers + ut_cfg.go.h2_frame_stream_id)) < 0 ||
        !key.stream_id)
        return 0;
    struct go_h2_stream *s = bpf_map_lookup_elem(&go_h2_scratch, &zero);
    if (!s)
        return 0;
    __builtin_memset(s, 0, sizeof(*s));
    s->start_ns = start;
    go_h2_trace_fields(frame, &s->trace);
    /* BPF_NOEXIST: trailers (a second HEADERS frame) keep the request's start. */
    bpf_map_update_elem(&go_h2_streams, &key, s, BPF_NOEXIST);
    return 0;
}

/*
 * Hooks the entry of the h2 client's writeHeaders(cc, streamID, endStream,
 * maxFrameSize, hdrs) (net/http.(*http2ClientConn).writeHeaders, Go 1.21..1.26;
 * net/http/internal/http2.(*ClientConn).writeHeaders, Go 1.27; amd64
 * ABIInternal): RAX = cc, RBX = streamID, on the goroutine the client stream
 * runs on (cs.doRequest), which the goroutine inside Transport.roundTrip
 * created: g.parentGoid names it (Go >= 1.21 only; not attached on older Go).
 * 1 hit per HTTP/2 client request (2 with trailers). Records the request under
 * the connection's ports and the stream id for a traced server on this host.
 */
SEC("uprobe")
int go_h2_client_headers(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 cc = ctx->rax;
    struct go_key up = {.tgid = bpf_get_current_pid_tgid() >> 32, .pad = 0, .goid = 0};
    if (!cc || !ut_cfg.go.g_parent_goid ||
        bpf_probe_read_user(&up.goid, sizeof(up.goid), (void *)(ctx->r14 + ut_cfg.go.g_parent_goid)) < 0 || !up.goid)
        return 0;
    struct go_inflight *in = bpf_map_lookup_elem(&go_client_inflight, &up);
    if (!in)
        return 0;
    struct go_h2_conn_key ck = {};
    go_tls_conn_ports(cc + ut_cfg.go.h2_client_tconn, &ck.client_port, &ck.server_port);
    if (!ck.client_port || !ck.server_port)
        return 0;
    ck.stream_id = (__u32)ctx->rbx;
    struct go_conn_client c = {};
    c.client.tgid = up.tgid;
    c.client.goid = up.goid;
    c.client.start_ns = in->ev.h.start_ns;
    c.parent = in->ev.parent;
    bpf_map_update_elem(&go_h2_conn_clients, &ck, &c, BPF_ANY);
    return 0;
}

/*
 * Hooks the entry of the closure the h2 server's runHandler defers
 * (net/http.(*http2serverConn).runHandler.func1, Go 1.17..1.26;
 * net/http/internal/http2.(*serverConn).runHandler.func1, Go 1.27; amd64):
 * on the handler goroutine, right after the handler returned or panicked (1
 * hit per HTTP/2 request). No registers but g (R14) are read. Ends the
 * request in flight on this goroutine: g._panic is set while a panic runs
 * deferred calls (UT_FLAG_PANIC, status 500), else the status is
 * responseWriterState.status (0: nothing written yet, an implicit 200 that
 * handlerDone, called next, writes).
 */
SEC("uprobe")
int go_h2_handler_end(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    __u64 panicking = 0, rws = 0;
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_server_inflight, &key);
    if (!in || !in->h2_stream)
        return 0;
    in->ev.h.end_ns = end;
    bpf_probe_read_user(&panicking, sizeof(panicking), (void *)(ctx->r14 + ut_cfg.go.g_panic));
    if (panicking) {
        in->ev.h.flags |= UT_FLAG_PANIC;
        in->ev.status = 500;
    } else if (bpf_probe_read_user(&rws, sizeof(rws), (void *)in->response) < 0 || !rws ||
               bpf_probe_read_user(&in->ev.status, sizeof(in->ev.status), (void *)(rws + ut_cfg.go.h2_rws_status)) < 0) {
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    }
    struct go_h2_stream_key sk = {.tgid = key.tgid, .stream_id = in->h2_stream, .sc = in->conn};
    bpf_map_delete_elem(&go_h2_streams, &sk);
    go_finish(&go_server_inflight, &key, in);
    return 0;
}

/*
 * Hooks the entry of net/http.(*response).finishRequest(w) (Go 1.17..1.27,
 * amd64 ABIInternal): RAX = w (*net/http.response), on the goroutine running
 * (*conn).serve, which calls it right after ServeHTTP returns on every path
 * that is neither hijacked nor panicking (the only other caller,
 * sendExpectationFailed, runs before ServeHTTP: nothing is in flight then).
 * Ends that request: reads response.status (0 = implicit 200) before
 * finishRequest writes it, and sends the event.
 */
SEC("uprobe")
int go_server_finish(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_server_inflight, &key);
    if (!in || in->h2_stream || in->response != ctx->rax)
        return 0;
    in->ev.h.end_ns = end;
    go_read_status(in);
    go_finish(&go_server_inflight, &key, in);
    return 0;
}

/*
 * Hooks every RET of net/http.(*conn).serve (Go 1.17..1.27, amd64): reached
 * once per connection, on the goroutine that served its requests; no
 * registers are read. A request still in flight here never reached
 * finishRequest: either the handler hijacked the connection (conn.hijackedv
 * set: a normal end, status as written) or it panicked and net/http recovered
 * the panic in (*conn).serve's deferred function (sent with UT_FLAG_PANIC and
 * status 500).
 */
SEC("uprobe")
int go_conn_serve_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 end = bpf_ktime_get_boot_ns();
    __u8 hijacked = 0;
    struct go_key key;
    struct go_inflight *in = go_pending(ctx, &go_server_inflight, &key);
    if (!in || in->h2_stream)
        return 0;
    in->ev.h.end_ns = end;
    if (in->conn)
        bpf_probe_read_user(&hijacked, sizeof(hijacked), (void *)(in->conn + ut_cfg.go.conn_hijacked));
    if (hijacked) {
        go_read_status(in);
    } else {
        in->ev.h.flags |= UT_FLAG_PANIC;
        in->ev.status = 500;
    }
    go_finish(&go_server_inflight, &key, in);
    return 0;
}

/*
 * Hooks the entry of net/http.(*Transport).roundTrip(t, req)
 * (Go 1.17..1.27, amd64 ABIInternal): RAX = t (*Transport), RBX = req
 * (*net/http.Request). Every client request of a Go program goes through it
 * (http.Get, Client.Do, the default transport). A repeated hit for the same
 * req (Go < 1.21 stack growth) is ignored by go_request_start.
 */
SEC("uprobe")
int go_client_entry(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    go_request_start(ctx, &go_client_inflight, UT_EVENT_GO_HTTP_CLIENT, ctx->rbx, 0, 0);
    return 0;
}

/*
 * Hooks the entry of net/http.(*persistConn).roundTrip(pc, req) (Go 1.17..1.27,
 * amd64 ABIInternal): RAX = pc (*persistConn), on the goroutine that is inside
 * Transport.roundTrip, once the connection for the request is chosen. Records
 * the connection's ports for the client request in flight, so that a traced
 * server on this host can name it as its parent. A repeated hit (Go < 1.21
 * stack growth) writes the same entry again.
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

/* A goroutine was created (Go < 1.21): its *g is `newg` (goid assigned), on
 * the system stack (R14 is g0; the goroutine that executed the `go` statement
 * is g0.m.curg). When that goroutine serves a request (or descends from one),
 * the new goroutine inherits it, one generation deeper. */
static __always_inline void go_goroutine_created(struct pt_regs *ctx, __u64 newg) {
    __u64 m = 0, curg = 0;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct go_key parent = {.tgid = tgid, .pad = 0, .goid = 0};
    struct go_key child = {.tgid = tgid, .pad = 0, .goid = 0};
    if (!newg || bpf_probe_read_user(&m, sizeof(m), (void *)(ctx->r14 + ut_cfg.go.g_m)) < 0 || !m)
        return;
    if (bpf_probe_read_user(&curg, sizeof(curg), (void *)(m + ut_cfg.go.m_curg)) < 0 || !curg)
        return;
    if (bpf_probe_read_user(&parent.goid, sizeof(parent.goid), (void *)(curg + ut_cfg.go.g_goid)) < 0)
        return;
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
            return;
        a = *up;
        a.depth += 1;
    }
    if (bpf_probe_read_user(&child.goid, sizeof(child.goid), (void *)(newg + ut_cfg.go.g_goid)) < 0)
        return;
    bpf_map_update_elem(&go_ancestors, &child, &a, BPF_ANY);
}

/*
 * Hooks the `call runtime.runqput` in runtime.newproc.func1 (Go 1.17..1.20
 * only, amd64; newer Go records g.parentGoid and this probe is not attached):
 * the closure newproc runs on the system stack calls newproc1, then
 * runqput(pp, newg, true): at the call (emulated), RBX = newg. Once per
 * goroutine created (an HTTP/1 request starts one, an HTTP/2 request about 4).
 */
SEC("uprobe")
int go_newproc_runqput(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    go_goroutine_created(ctx, ctx->rbx);
    return 0;
}

/*
 * Hooks every RET of runtime.newproc1 (Go 1.17..1.20, amd64), single-stepped:
 * only where newproc.func1 has no single runqput call to probe instead.
 * RAX = the new goroutine's *g.
 */
SEC("uprobe")
int go_newproc_return(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    go_goroutine_created(ctx, ctx->rax);
    return 0;
}

/*
 * Hooks every RET of net/http.(*Transport).roundTrip (Go 1.17..1.27, amd64):
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
