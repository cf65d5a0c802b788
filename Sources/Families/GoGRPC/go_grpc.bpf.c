/*
 * go_grpc.bpf.c — gRPC calls served and made by Go programs using
 * google.golang.org/grpc (its own HTTP/2 transport, internal/transport), as
 * struct ut_go_grpc_event (Sources/TraceEvents/include/trace_events.h).
 *
 * Every program is a plain entry uprobe attached by file offset (GoGRPCPlan) on
 * the function's cheap entry site (GoEntrySite): the emulated `push %rbp` after
 * the stack check on Go >= 1.21 (once per call), the emulated stack-check `jbe`
 * on Go 1.17-1.20 (once per call, plus once more after each stack growth: every
 * program below keeps the first hit of a call). Registers there are as at the
 * entry. No RET is probed and nothing is a uretprobe.
 *
 * Register ABI: Go >= 1.17 amd64 ABIInternal: argument words in RAX, RBX, RCX,
 * RDI, RSI, R8..R11 (the receiver first; an interface is two words, itab then
 * data; a string two, pointer then length); the current g in R14. Field offsets
 * come from ut_cfg.grpc (DWARF, or the table keyed by grpc-go's version) and
 * ut_cfg.go.g_goid / g_parent_goid.
 *
 * One served RPC (grpc-go 1.33 checked; hits per RPC, all emulated):
 *   (*http2Server).operateHeaders entry   1  the request's HEADERS decoded: start, traceparent
 *   (*Server).handleStream entry          1  on the RPC's own goroutine: method
 *   (*http2Server).WriteStatus entry      1  the status sent: end, code → event
 * One RPC made (unary or streaming):
 *   newClientStream entry                 1  start, method, the served RPC it runs under
 *   (*clientStream).newAttemptLocked      1  (+1 per retry, ignored) the stream's identity
 *   (*clientStream).SendMsg entry         1  (+1 per further message sent, ignored) the HTTP/2 stream
 *                                            and TCP ports, for a traced server on this host
 *   (*clientStream).finish entry          1  (streaming: 2; later calls are no-ops) end, code → event
 */
#include "common.bpf.h"

/* Most HEADERS fields searched for `traceparent` (grpc-go sends ~8 of its own). */
#define GRPC_MAX_FIELDS 24
/* "traceparent" as a little-endian u64 + u32: no memcmp in BPF. */
#define GRPC_TRACEPAR 0x7261706563617274ULL
#define GRPC_ENT 0x00746e65U

struct grpc_go_key {
    __u32 tgid;
    __u32 pad;
    __u64 goid; /* a goroutine; or a *clientStream (grpc_client_inflight) */
};

/* A served stream between HEADERS and its handler: the transport and the HTTP/2 stream id. */
struct grpc_stream_key {
    __u32 tgid;
    __u32 stream_id;
    __u64 transport; /* *http2Server */
};

struct grpc_headers {
    __u64 start_ns;
    __u16 traceparent_len;
    __u16 pad[3];
    char traceparent[UT_TRACEPARENT_MAX];
};

struct grpc_inflight {
    struct ut_go_grpc_event ev;
    __u64 stream; /* server: *transport.Stream; client: newClientStream's ctx data word (repeat check) */
    __u64 method; /* the method string's pointer (repeat check) */
    __u64 joined;    /* client: its stream is in grpc_conn_clients; server: its traced client was looked for and found */
    __u64 transport; /* server: the *http2Server */
};

/* A client RPC on its way to a server on this host: the TCP connection's two
 * ports as the client sees them and the HTTP/2 stream id. Set at the client's
 * first SendMsg (the stream id is assigned by then, the request message not
 * yet sent); read by a traced server in any process when it writes the status
 * (its handler has read that message by then). Shared by every go_grpc object. */
struct grpc_conn_key {
    __u16 client_port;
    __u16 server_port;
    __u32 stream_id;
};

struct grpc_conn_client {
    struct ut_go_request_ref client;
    struct ut_go_request_ref parent; /* the client RPC's own parent */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct grpc_conn_key);
    __type(value, struct grpc_conn_client);
} grpc_conn_clients SEC(".maps");

/* LRU maps: an RPC whose end is never seen (process killed, a client gone
 * before the status was written) is evicted instead of leaking. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192); /* an entry lives from HEADERS to the handler goroutine's start */
    __type(key, struct grpc_stream_key);
    __type(value, struct grpc_headers);
} grpc_headers SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct grpc_go_key);
    __type(value, struct grpc_inflight);
} grpc_server_inflight SEC(".maps");

/* Client RPCs between newClientStream's entry and newAttemptLocked, by goroutine
 * (a few microseconds each: few entries needed). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct grpc_go_key);
    __type(value, struct grpc_inflight);
} grpc_client_pending SEC(".maps");

/* Client RPCs from newAttemptLocked to finish, by *clientStream (a stream may
 * be received on by another goroutine than the one that opened it). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct grpc_go_key);
    __type(value, struct grpc_inflight);
} grpc_client_inflight SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct grpc_inflight);
} grpc_scratch SEC(".maps");

struct go_str {
    __u64 ptr;
    __s64 len;
};

static __always_inline int grpc_goroutine(struct pt_regs *ctx, struct grpc_go_key *key) {
    key->tgid = bpf_get_current_pid_tgid() >> 32;
    key->pad = 0;
    key->goid = 0;
    return bpf_probe_read_user(&key->goid, sizeof(key->goid), (void *)(ctx->r14 + ut_cfg.go.g_goid));
}

static __always_inline struct grpc_inflight *grpc_fresh(__u32 kind, __u64 goid) {
    __u32 zero = 0;
    struct grpc_inflight *in = bpf_map_lookup_elem(&grpc_scratch, &zero);
    if (!in)
        return 0;
    __builtin_memset(in, 0, sizeof(*in));
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    in->ev.h.kind = kind;
    in->ev.h.tgid = pid_tgid >> 32;
    in->ev.h.tid = (__u32)pid_tgid;
    in->ev.h.goid = goid;
    in->ev.status_code = -1;
    return in;
}

/* Copies the Go string {ptr, len} into the event's method. */
static __always_inline void grpc_copy_method(struct grpc_inflight *in, __u64 ptr, __s64 len) {
    in->method = ptr;
    if (len <= 0 || !ptr)
        return;
    in->ev.method_len = len > 0xffff ? 0xffff : (__u16)len;
    __u32 n = len > UT_GRPC_METHOD_MAX ? UT_GRPC_METHOD_MAX : (__u32)len;
    if (n > UT_GRPC_METHOD_MAX)
        n = UT_GRPC_METHOD_MAX;
    if (bpf_probe_read_user(in->ev.method, n, (void *)ptr) < 0)
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
}

/* The code of the *spb.Status at `proto`; -1 when unreadable or out of range. */
static __always_inline __s32 grpc_proto_code(__u64 proto) {
    __s32 code = -1;
    if (!proto || bpf_probe_read_user(&code, sizeof(code), (void *)(proto + ut_cfg.grpc.proto_code)) < 0)
        return -1;
    return code >= 0 && code <= 16 ? code : -1;
}

static __always_inline void grpc_emit(struct grpc_inflight *in) {
    struct ut_go_grpc_event *e = bpf_ringbuf_reserve(&ut_events, sizeof(*e), 0);
    if (!e) {
        ut_count_lost(UT_FAMILY_GO_GRPC);
        return;
    }
    __builtin_memcpy(e, &in->ev, sizeof(*e));
    bpf_ringbuf_submit(e, ut_wakeup_flags());
}

/* Local and remote TCP ports of the net.Conn interface at `field` (a
 * *net.TCPConn: its first word is the *netFD). Zero when unreadable; another
 * kind of connection reads as ports that match nothing. */
static __always_inline void grpc_conn_ports(__u64 field, __u16 *local, __u16 *remote) {
    __u64 conn = 0, fd = 0, laddr = 0, raddr = 0;
    __s64 port = 0;
    *local = *remote = 0;
    if (bpf_probe_read_user(&conn, sizeof(conn), (void *)(field + 8)) < 0 || !conn ||
        bpf_probe_read_user(&fd, sizeof(fd), (void *)conn) < 0 || !fd)
        return;
    if (bpf_probe_read_user(&laddr, sizeof(laddr), (void *)(fd + ut_cfg.go.netfd_laddr + 8)) == 0 && laddr &&
        bpf_probe_read_user(&port, sizeof(port), (void *)(laddr + ut_cfg.go.tcpaddr_port)) == 0)
        *local = (__u16)port;
    if (bpf_probe_read_user(&raddr, sizeof(raddr), (void *)(fd + ut_cfg.go.netfd_raddr + 8)) == 0 && raddr &&
        bpf_probe_read_user(&port, sizeof(port), (void *)(raddr + ut_cfg.go.tcpaddr_port)) == 0)
        *remote = (__u16)port;
}

/* Names the traced client (any process on this host) that sent the served RPC
 * `in`: its connection's ports (the server's t.conn, reversed) and the stream
 * id key grpc_conn_clients, which the client's first SendMsg filled. Tried when
 * the RPC's first child call starts and at its status; the first success
 * counts. Not with a caller's traceparent (it wins: see GoGRPCContexts).
 * Returns 1 when it joined now. */
static __always_inline int grpc_server_join(struct grpc_inflight *in) {
    if (in->joined || in->ev.traceparent_len || !in->transport)
        return 0;
    struct grpc_conn_key ck = {};
    grpc_conn_ports(in->transport + ut_cfg.grpc.server_conn, &ck.server_port, &ck.client_port);
    if (!ck.client_port || bpf_probe_read_user(&ck.stream_id, sizeof(ck.stream_id), (void *)(in->stream + ut_cfg.grpc.stream_id)) < 0)
        return 0;
    struct grpc_conn_client *c = bpf_map_lookup_elem(&grpc_conn_clients, &ck);
    if (!c)
        return 0;
    in->ev.parent = c->client;
    in->ev.grandparent = c->parent;
    in->joined = 1;
    bpf_map_delete_elem(&grpc_conn_clients, &ck);
    return 1;
}

/*
 * Hooks the entry of internal/transport.(*http2Server).operateHeaders(t, frame,
 * handle, traceCtx) (grpc-go 1.33): RAX = t, RBX = frame
 * (*http2.MetaHeadersFrame), on the connection's reader goroutine, once per
 * HEADERS frame (every one starts an RPC on a gRPC server). Remembers when the
 * RPC began and its `traceparent` metadata, found in the frame's decoded field
 * slice (at most GRPC_MAX_FIELDS fields, no map walked), for handleStream.
 * Hits: 1 per served RPC (emulated).
 */
SEC("uprobe")
int grpc_server_headers(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    __u64 frame = ctx->rbx, headers = 0;
    struct grpc_stream_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .transport = ctx->rax};
    if (!frame || bpf_probe_read_user(&headers, sizeof(headers), (void *)(frame + ut_cfg.grpc.meta_frame_headers)) < 0 || !headers ||
        bpf_probe_read_user(&key.stream_id, sizeof(key.stream_id), (void *)(headers + ut_cfg.grpc.frame_stream_id)) < 0)
        return 0;
    /* The same call again (stack-check site after morestack): keep the first. */
    if (bpf_map_lookup_elem(&grpc_headers, &key))
        return 0;
    struct grpc_headers h = {.start_ns = now};
    struct go_str fields = {};
    if (bpf_probe_read_user(&fields, sizeof(fields), (void *)(frame + ut_cfg.grpc.meta_frame_fields)) == 0 && fields.ptr) {
        __u64 stride = ut_cfg.grpc.header_field_size;
        for (int i = 0; i < GRPC_MAX_FIELDS; i++) {
            if (i >= fields.len)
                break;
            __u64 field = fields.ptr + i * stride;
            struct go_str name = {};
            __u64 head = 0; /* "tracepar" */
            __u32 tail = 0; /* "ent" */
            if (bpf_probe_read_user(&name, sizeof(name), (void *)(field + ut_cfg.grpc.header_field_name)) < 0)
                break;
            if (name.len != 11 || bpf_probe_read_user(&head, 8, (void *)name.ptr) < 0 ||
                bpf_probe_read_user(&tail, 3, (void *)(name.ptr + 8)) < 0)
                continue;
            if (head != GRPC_TRACEPAR || tail != GRPC_ENT) /* hpack field names are lowercase */
                continue;
            struct go_str value = {};
            if (bpf_probe_read_user(&value, sizeof(value), (void *)(field + ut_cfg.grpc.header_field_value)) < 0 || value.len <= 0)
                break;
            __u32 n = value.len > UT_TRACEPARENT_MAX ? UT_TRACEPARENT_MAX : (__u32)value.len;
            if (n > UT_TRACEPARENT_MAX)
                n = UT_TRACEPARENT_MAX;
            if (bpf_probe_read_user(h.traceparent, n, (void *)value.ptr) == 0)
                h.traceparent_len = value.len > 0xffff ? 0xffff : (__u16)value.len;
            break;
        }
    }
    bpf_map_update_elem(&grpc_headers, &key, &h, BPF_ANY);
    return 0;
}

/*
 * Hooks the entry of grpc.(*Server).handleStream(s, t, stream, trInfo)
 * (grpc-go 1.33): RAX = s, RBX = t's itab, RCX = t's data word (the
 * *http2Server), RDI = stream (*transport.Stream), on the goroutine the RPC is
 * served on (its handler and WriteStatus run there). Starts the server RPC
 * under that goroutine, with the start time and traceparent operateHeaders
 * left (or now, for a transport that has no operateHeaders, e.g. ServeHTTP's);
 * with a traceparent, sends a CONTEXT record first so that client calls the
 * handler makes join the caller's trace. Hits: 1 per served RPC (emulated).
 */
SEC("uprobe")
int grpc_server_begin(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    __u64 stream = ctx->rdi;
    struct grpc_go_key key;
    if (!stream || grpc_goroutine(ctx, &key) < 0)
        return 0;
    struct grpc_inflight *old = bpf_map_lookup_elem(&grpc_server_inflight, &key);
    if (old && old->stream == stream)
        return 0;
    struct grpc_inflight *in = grpc_fresh(UT_EVENT_GO_GRPC_SERVER, key.goid);
    if (!in)
        return 0;
    in->stream = stream;
    in->transport = ctx->rcx;
    struct go_str method = {};
    if (bpf_probe_read_user(&method, sizeof(method), (void *)(stream + ut_cfg.grpc.stream_method)) < 0)
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    else
        grpc_copy_method(in, method.ptr, method.len);
    struct grpc_stream_key hk = {.tgid = key.tgid, .transport = ctx->rcx};
    in->ev.h.start_ns = now;
    if (bpf_probe_read_user(&hk.stream_id, sizeof(hk.stream_id), (void *)(stream + ut_cfg.grpc.stream_id)) == 0) {
        struct grpc_headers *h = bpf_map_lookup_elem(&grpc_headers, &hk);
        if (h) {
            in->ev.h.start_ns = h->start_ns;
            in->ev.traceparent_len = h->traceparent_len;
            __builtin_memcpy(in->ev.traceparent, h->traceparent, UT_TRACEPARENT_MAX);
            bpf_map_delete_elem(&grpc_headers, &hk);
        }
    }
    if (in->ev.traceparent_len) {
        in->ev.h.kind = UT_EVENT_GO_GRPC_CONTEXT;
        grpc_emit(in);
        in->ev.h.kind = UT_EVENT_GO_GRPC_SERVER;
    }
    bpf_map_update_elem(&grpc_server_inflight, &key, in, BPF_ANY);
    return 0;
}

/*
 * Hooks the entry of internal/transport.(*http2Server).WriteStatus(t, s, st)
 * (grpc-go 1.33): RAX = t, RBX = s (*Stream), RCX = st (*status.Status), on
 * the RPC's goroutine: the status that ends the RPC, unary or streaming, is
 * being written. Ends the span there with st's code, and names the traced
 * client (any process on this host) that sent the RPC: its connection's ports
 * (t.conn) and the stream id key grpc_conn_clients. Hits: 1 per served RPC
 * (emulated); a repeated hit finds nothing in flight.
 */
SEC("uprobe")
int grpc_server_status(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    struct grpc_go_key key;
    if (grpc_goroutine(ctx, &key) < 0)
        return 0;
    struct grpc_inflight *in = bpf_map_lookup_elem(&grpc_server_inflight, &key);
    if (!in || in->stream != ctx->rbx)
        return 0;
    in->ev.h.end_ns = now;
    grpc_server_join(in);
    __u64 proto = 0;
    if (ctx->rcx && bpf_probe_read_user(&proto, sizeof(proto), (void *)(ctx->rcx + ut_cfg.grpc.status_proto)) == 0)
        in->ev.status_code = proto ? grpc_proto_code(proto) : 0; /* a nil *spb.Status is OK */
    if (in->ev.status_code < 0)
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    grpc_emit(in);
    bpf_map_delete_elem(&grpc_server_inflight, &key);
    return 0;
}

/* The served RPC this goroutine works for: one on it, else one on the goroutine
 * that created it (g.parentGoid, Go >= 1.21; one generation). */
static __always_inline void grpc_find_parent(struct pt_regs *ctx, struct grpc_go_key *key, struct ut_go_request_ref *parent) {
    struct grpc_inflight *server = bpf_map_lookup_elem(&grpc_server_inflight, key);
    struct grpc_go_key up = {.tgid = key->tgid, .pad = 0, .goid = key->goid};
    if (!server && ut_cfg.go.g_parent_goid) {
        if (bpf_probe_read_user(&up.goid, sizeof(up.goid), (void *)(ctx->r14 + ut_cfg.go.g_parent_goid)) < 0 || !up.goid)
            return;
        server = bpf_map_lookup_elem(&grpc_server_inflight, &up);
    }
    if (server) {
        parent->tgid = up.tgid;
        parent->goid = up.goid;
        parent->start_ns = server->ev.h.start_ns;
        /* The served RPC's own caller, before this child's span can need its context. */
        if (grpc_server_join(server)) {
            server->ev.h.kind = UT_EVENT_GO_GRPC_CONTEXT;
            grpc_emit(server);
            server->ev.h.kind = UT_EVENT_GO_GRPC_SERVER;
        }
    }
}

/*
 * Hooks the entry of grpc.newClientStream(ctx, desc, cc, method, opts...)
 * (grpc-go 1.33; Invoke and NewStream both come here): RAX/RBX = ctx (itab,
 * data), RCX = desc, RDI = cc (*ClientConn: its dial target), RSI/R8 = method
 * (ptr, len). Starts a client RPC on this goroutine, parented to the served RPC
 * it runs under.
 * Hits: 1 per RPC made (emulated).
 */
SEC("uprobe")
int grpc_client_begin(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    struct grpc_go_key key;
    if (grpc_goroutine(ctx, &key) < 0)
        return 0;
    /* The same call again (stack-check site after morestack): keep the first. */
    struct grpc_inflight *old = bpf_map_lookup_elem(&grpc_client_pending, &key);
    if (old && old->stream == ctx->rbx && old->method == ctx->rsi)
        return 0;
    struct grpc_inflight *in = grpc_fresh(UT_EVENT_GO_GRPC_CLIENT, key.goid);
    if (!in)
        return 0;
    in->stream = ctx->rbx;
    grpc_copy_method(in, ctx->rsi, (__s64)ctx->r8);
    struct go_str target = {};
    if (ctx->rdi && bpf_probe_read_user(&target, sizeof(target), (void *)(ctx->rdi + ut_cfg.grpc.client_conn_target)) == 0 &&
        target.len > 0 && target.ptr) {
        __u32 n = target.len > UT_GRPC_TARGET_MAX ? UT_GRPC_TARGET_MAX : (__u32)target.len;
        if (n > UT_GRPC_TARGET_MAX)
            n = UT_GRPC_TARGET_MAX;
        if (bpf_probe_read_user(in->ev.target, n, (void *)target.ptr) == 0)
            in->ev.target_len = target.len > 0xffff ? 0xffff : (__u16)target.len;
    }
    grpc_find_parent(ctx, &key, &in->ev.parent);
    in->ev.h.start_ns = bpf_ktime_get_boot_ns();
    bpf_map_update_elem(&grpc_client_pending, &key, in, BPF_ANY);
    return 0;
}

/*
 * Hooks the entry of grpc.(*clientStream).newAttemptLocked(cs, sh, trInfo)
 * (grpc-go 1.33): RAX = cs. newClientStream calls it right after making cs;
 * the RPC pending on this goroutine moves under cs. Later attempts (retries)
 * find nothing pending. Hits: 1 per RPC made, +1 per retry (emulated).
 */
SEC("uprobe")
int grpc_client_stream(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    struct grpc_go_key key;
    if (!ctx->rax || grpc_goroutine(ctx, &key) < 0)
        return 0;
    struct grpc_inflight *in = bpf_map_lookup_elem(&grpc_client_pending, &key);
    if (!in)
        return 0;
    struct grpc_go_key cs = {.tgid = key.tgid, .pad = 0, .goid = ctx->rax};
    bpf_map_update_elem(&grpc_client_inflight, &cs, in, BPF_ANY);
    bpf_map_delete_elem(&grpc_client_pending, &key);
    return 0;
}

/*
 * Hooks the entry of grpc.(*clientStream).SendMsg(cs, m) (grpc-go 1.33): RAX
 * = cs. The first time per RPC: cs.attempt.s has its HTTP/2 stream id and
 * cs.attempt.t (*http2Client) its TCP connection; records them for a traced
 * server on this host. Hits: 1 per RPC made, +1 per further message sent
 * (a no-op) (emulated).
 */
SEC("uprobe")
int grpc_client_send(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    struct grpc_go_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .pad = 0, .goid = ctx->rax};
    struct grpc_inflight *in = bpf_map_lookup_elem(&grpc_client_inflight, &key);
    if (!in || in->joined)
        return 0;
    in->joined = 1;
    __u64 attempt = 0, stream = 0;
    struct grpc_conn_key ck = {};
    if (bpf_probe_read_user(&attempt, sizeof(attempt), (void *)(ctx->rax + ut_cfg.grpc.client_stream_attempt)) < 0 || !attempt ||
        bpf_probe_read_user(&stream, sizeof(stream), (void *)(attempt + ut_cfg.grpc.attempt_stream)) < 0 || !stream ||
        bpf_probe_read_user(&ck.stream_id, sizeof(ck.stream_id), (void *)(stream + ut_cfg.grpc.stream_id)) < 0)
        return 0;
    __u64 transport = 0; /* the ClientTransport interface's data word: *http2Client */
    if (bpf_probe_read_user(&transport, sizeof(transport), (void *)(attempt + ut_cfg.grpc.attempt_transport + 8)) < 0 || !transport)
        return 0;
    grpc_conn_ports(transport + ut_cfg.grpc.client_conn, &ck.client_port, &ck.server_port);
    if (!ck.client_port || !ck.server_port)
        return 0;
    struct grpc_conn_client c = {.parent = in->ev.parent};
    c.client.tgid = in->ev.h.tgid;
    c.client.goid = in->ev.h.goid;
    c.client.start_ns = in->ev.h.start_ns;
    bpf_map_update_elem(&grpc_conn_clients, &ck, &c, BPF_ANY);
    return 0;
}

/*
 * Hooks the entry of grpc.(*clientStream).finish(cs, err) (grpc-go 1.33): RAX
 * = cs, RBX/RCX = err (itab, data). The RPC ends here (unary: in RecvMsg after
 * the status; streaming: when RecvMsg sees the end, or on cancel). The code:
 * OK for a nil err; else the status the transport stream received
 * (cs.attempt.s.status: set whenever the server's status arrived, which also
 * covers err == io.EOF); else err itself, a *status.Error (grpc turns every
 * error it passes here into one). Hits: 1 per unary RPC, 2 per streaming RPC
 * (the stream's context watcher calls it again: a no-op) (emulated).
 */
SEC("uprobe")
int grpc_client_end(struct pt_regs *ctx) {
    if (ut_other_process())
        return 0;
    __u64 now = bpf_ktime_get_boot_ns();
    struct grpc_go_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .pad = 0, .goid = ctx->rax};
    struct grpc_inflight *in = bpf_map_lookup_elem(&grpc_client_inflight, &key);
    if (!in)
        return 0;
    in->ev.h.end_ns = now;
    if (ctx->rbx == 0) {
        in->ev.status_code = 0;
    } else {
        __u64 attempt = 0, stream = 0, st = 0, proto = 0;
        bpf_probe_read_user(&attempt, sizeof(attempt), (void *)(ctx->rax + ut_cfg.grpc.client_stream_attempt));
        if (attempt)
            bpf_probe_read_user(&stream, sizeof(stream), (void *)(attempt + ut_cfg.grpc.attempt_stream));
        if (stream)
            bpf_probe_read_user(&st, sizeof(st), (void *)(stream + ut_cfg.grpc.stream_status));
        if (st && bpf_probe_read_user(&proto, sizeof(proto), (void *)(st + ut_cfg.grpc.status_proto)) == 0) {
            in->ev.status_code = proto ? grpc_proto_code(proto) : 0;
        } else if (ctx->rcx && bpf_probe_read_user(&proto, sizeof(proto), (void *)(ctx->rcx + ut_cfg.grpc.error_proto)) == 0) {
            in->ev.status_code = grpc_proto_code(proto);
        }
    }
    if (in->ev.status_code < 0)
        in->ev.h.flags |= UT_FLAG_READ_FAILED;
    grpc_emit(in);
    bpf_map_delete_elem(&grpc_client_inflight, &key);
    return 0;
}
