/*
 * go_http_context.bpf.h — what joins Go requests into traces, for
 * go_http.bpf.c: goroutine ancestry (a client call made for a server request),
 * the TCP connection between a traced client and a traced server on this host,
 * and the raw request head (for an incoming traceparent).
 */
#ifndef UPROBE_TRACE_GO_HTTP_CONTEXT_BPF_H
#define UPROBE_TRACE_GO_HTTP_CONTEXT_BPF_H
#include "go_http.bpf.h"

/* Which in-flight server request a goroutine works for, on Go < 1.21 (no
 * g.parentGoid): set when a goroutine is created (runtime.newproc1) by one that
 * is inside ServeHTTP or is itself such a descendant, up to GO_ANCESTOR_DEPTH
 * generations. Goroutine ids are never reused, so an entry only goes stale by
 * age (LRU). */
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

/* The request this goroutine works for, if any: a server request in flight on
 * it, else the one its creator was serving. The creator is g.parentGoid on
 * Go >= 1.21 (one generation: the ids of further ancestors are not in the g);
 * on older Go the go_ancestors entry runtime.newproc1's probe left (up to
 * GO_ANCESTOR_DEPTH generations). */
static __always_inline void go_find_parent(struct pt_regs *ctx, struct go_key *key, struct ut_go_request_ref *parent) {
    struct go_inflight *server = bpf_map_lookup_elem(&go_server_inflight, key);
    if (server) {
        parent->tgid = key->tgid;
        parent->goid = key->goid;
        parent->start_ns = server->ev.h.start_ns;
        return;
    }
    if (ut_cfg.go.g_parent_goid) {
        struct go_key up = {.tgid = key->tgid, .pad = 0, .goid = 0};
        if (bpf_probe_read_user(&up.goid, sizeof(up.goid), (void *)(ctx->r14 + ut_cfg.go.g_parent_goid)) < 0 || !up.goid)
            return;
        server = bpf_map_lookup_elem(&go_server_inflight, &up);
        if (server) {
            parent->tgid = up.tgid;
            parent->goid = up.goid;
            parent->start_ns = server->ev.h.start_ns;
        }
        return;
    }
    struct go_ancestor *a = bpf_map_lookup_elem(&go_ancestors, key);
    if (a)
        *parent = a->request;
}

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

#endif
