/*
 * go_http2.bpf.h — net/http's HTTP/2 server, for go_http.bpf.c: the stream a
 * request arrived on, from its HEADERS frame (the serve goroutine) to the
 * handler goroutine that serves it.
 *
 * Types: the bundled h2 server of net/http (h2_bundle.go, `http2serverConn`,
 * Go <= 1.26) or net/http/internal/http2 (`serverConn`, Go >= 1.27), the same
 * code and, but for responseWriterState.status, the same layouts; the offsets
 * in ut_cfg.go.h2_* are those of whichever the binary holds (GoHTTPPlan).
 * hpack.HeaderField is {Name, Value string; Sensitive bool}: Name at 0, Value
 * at 16, 40 bytes apart in a slice, unchanged since it was written.
 */
#ifndef UPROBE_TRACE_GO_HTTP2_BPF_H
#define UPROBE_TRACE_GO_HTTP2_BPF_H
#include "go_http_context.bpf.h"

/* A stream of one serverConn in one process. */
struct go_h2_stream_key {
    __u32 tgid;
    __u32 stream_id;
    __u64 sc; /* *serverConn */
};

/* What processHeaders saw: when the request's HEADERS were handled, and the
 * trace headers among its fields. */
struct go_h2_stream {
    __u64 start_ns;
    struct ut_go_h2_trace trace;
};

/* Streams between processHeaders (serve goroutine) and the handler goroutine's
 * ServeHTTP entry, which takes the entry; deleted when the handler ends. A
 * HEADERS frame that starts no handler (trailers, a refused stream, a 431)
 * leaves an entry that LRU eviction removes. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct go_h2_stream_key);
    __type(value, struct go_h2_stream);
} go_h2_streams SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct go_h2_stream);
} go_h2_scratch SEC(".maps");

/* Header fields of one HEADERS frame looked at for trace headers: regular
 * fields follow the 4-5 pseudo-fields; browsers send about 20. */
#define GO_H2_FIELDS_MAX 40
#define GO_H2_FIELD_SIZE 40

struct go_h2_field {
    struct go_string name;
    struct go_string value;
};

/* Copies the value of field `f` into `dst` (at most MAX - 1 bytes, MAX a
 * power of two: one mask bounds the size for the verifier); evaluates to its
 * full length (clamped to 0xffff; 0 when unreadable). */
#define GO_H2_COPY_VALUE(f, dst, MAX)                                                   \
    ({                                                                                  \
        __u32 n_ = (f).value.len > (MAX) - 1 ? (MAX) - 1 : (__u32)(f).value.len;       \
        __u16 full_ = (f).value.len > 0xffff ? 0xffff : (__u16)(f).value.len;           \
        asm volatile("%[n] &= %[m]" : [n] "+r"(n_) : [m] "i"((MAX) - 1));              \
        if (n_ > 0 && bpf_probe_read_user(dst, n_, (void *)(f).value.ptr) < 0)          \
            full_ = 0;                                                                  \
        full_;                                                                          \
    })

/* Looks through the decoded fields of the HEADERS frame at `frame`
 * (*MetaHeadersFrame) for traceparent and tracestate (HTTP/2 names are lower
 * case), into `t`. */
static __always_inline void go_h2_trace_fields(__u64 frame, struct ut_go_h2_trace *t) {
    struct { __u64 ptr; __s64 len; __s64 cap; } fields = {};
    if (bpf_probe_read_user(&fields, sizeof(fields), (void *)(frame + ut_cfg.go.h2_meta_fields)) < 0 || !fields.ptr || fields.len <= 0)
        return;
    __u32 count = fields.len > GO_H2_FIELDS_MAX ? GO_H2_FIELDS_MAX : (__u32)fields.len;
    for (__u32 i = 0; i < GO_H2_FIELDS_MAX; i++) {
        if (i >= count)
            break;
        struct go_h2_field f;
        char name[12] = {};
        if (bpf_probe_read_user(&f, sizeof(f), (void *)(fields.ptr + (__u64)i * GO_H2_FIELD_SIZE)) < 0)
            return;
        if (f.name.len != 11 && f.name.len != 10)
            continue;
        if (bpf_probe_read_user(name, f.name.len == 11 ? 11 : 10, (void *)f.name.ptr) < 0)
            continue;
        if (f.name.len == 11 && name[0] == 't' && name[1] == 'r' && name[2] == 'a' && name[3] == 'c' && name[4] == 'e' &&
            name[5] == 'p' && name[6] == 'a' && name[7] == 'r' && name[8] == 'e' && name[9] == 'n' && name[10] == 't') {
            t->traceparent_count++;
            t->traceparent_len = GO_H2_COPY_VALUE(f, t->traceparent, UT_H2_TRACEPARENT_MAX);
        } else if (f.name.len == 10 && name[0] == 't' && name[1] == 'r' && name[2] == 'a' && name[3] == 'c' && name[4] == 'e' &&
                   name[5] == 's' && name[6] == 't' && name[7] == 'a' && name[8] == 't' && name[9] == 'e') {
            t->tracestate_len = GO_H2_COPY_VALUE(f, t->tracestate, UT_H2_TRACESTATE_MAX);
        }
    }
}

/* The stream the handler at ServeHTTP entry serves, if `rw` (the
 * ResponseWriter's data word) is the h2 server's *responseWriter of a stream
 * whose HEADERS processHeaders saw: rw.rws (first and only field) → stream →
 * {sc, id}. For any other writer (net/http's *response) the words read are no
 * key in go_h2_streams. */
static __always_inline struct go_h2_stream *go_h2_stream_of(__u64 rw, struct go_h2_stream_key *key) {
    __u64 rws = 0, st = 0;
    if (!ut_cfg.go.h2_meta_fields || !rw)
        return 0;
    key->tgid = bpf_get_current_pid_tgid() >> 32;
    key->stream_id = 0;
    key->sc = 0;
    if (bpf_probe_read_user(&rws, sizeof(rws), (void *)rw) < 0 || !rws ||
        bpf_probe_read_user(&st, sizeof(st), (void *)(rws + ut_cfg.go.h2_rws_stream)) < 0 || !st ||
        bpf_probe_read_user(&key->sc, sizeof(key->sc), (void *)(st + ut_cfg.go.h2_stream_sc)) < 0 || !key->sc ||
        bpf_probe_read_user(&key->stream_id, sizeof(key->stream_id), (void *)(st + ut_cfg.go.h2_stream_id)) < 0 || !key->stream_id)
        return 0;
    return bpf_map_lookup_elem(&go_h2_streams, key);
}

/* The client request (a traced Go client in another process on this host)
 * that sends HTTP/2 stream `stream_id` on the TCP connection with these ports
 * as the client sees them; set at the h2 client's writeHeaders, read by a
 * traced h2 server when the stream's handler starts. Unlike HTTP/1 the ports
 * alone do not name a request: streams of one connection run at once. */
struct go_h2_conn_key {
    __u16 client_port;
    __u16 server_port;
    __u32 stream_id;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct go_h2_conn_key);
    __type(value, struct go_conn_client);
} go_h2_conn_clients SEC(".maps");

/* Ports of the TCP connection under the *tls.Conn held in the net.Conn
 * interface at `field` (HTTP/2 in net/http is over TLS; another conn type
 * reads as ports that match nothing). */
static __always_inline void go_tls_conn_ports(__u64 field, __u16 *local, __u16 *remote) {
    __u64 iface[2] = {};
    *local = *remote = 0;
    if (bpf_probe_read_user(iface, sizeof(iface), (void *)field) < 0 || !iface[1])
        return;
    go_conn_ports(iface[1] + ut_cfg.go.tls_conn_conn, local, remote);
}

/* Joins the HTTP/2 server request `in` on stream `sk` to the traced client
 * request that sent it, if that client is still in flight. */
static __always_inline void go_h2_find_remote_client(struct go_inflight *in, struct go_h2_stream_key *sk) {
    struct go_h2_conn_key ck = {};
    __u16 local, remote;
    if (!ut_cfg.go.h2_server_conn)
        return;
    go_tls_conn_ports(sk->sc + ut_cfg.go.h2_server_conn, &local, &remote);
    if (!local || !remote)
        return;
    ck.client_port = remote;
    ck.server_port = local;
    ck.stream_id = sk->stream_id;
    struct go_conn_client *c = bpf_map_lookup_elem(&go_h2_conn_clients, &ck);
    if (!c)
        return;
    struct go_key client = {.tgid = c->client.tgid, .pad = 0, .goid = c->client.goid};
    struct go_inflight *pending = bpf_map_lookup_elem(&go_client_inflight, &client);
    if (!pending || pending->ev.h.start_ns != c->client.start_ns)
        return;
    in->ev.parent = c->client;
    in->ev.grandparent = c->parent;
}

/* A head record for an HTTP/2 server request: its identity (as its later
 * event) and the trace headers its HEADERS frame had (ut_go_h2_trace). */
static __always_inline void go_h2_emit_head(struct go_inflight *in, struct go_h2_stream *s) {
    __u32 zero = 0;
    struct go_head_record *rec = bpf_map_lookup_elem(&go_head_scratch, &zero);
    if (!rec)
        return;
    rec->ev.h = in->ev.h;
    rec->ev.h.kind = UT_EVENT_GO_HTTP_HEAD;
    rec->ev.parent = in->ev.parent;
    rec->ev.grandparent = in->ev.grandparent;
    rec->ev.captured = sizeof(struct ut_go_h2_trace);
    rec->ev.reserved = 0;
    __builtin_memcpy(rec->data, &s->trace, sizeof(struct ut_go_h2_trace));
    if (bpf_ringbuf_output(&ut_events, rec, sizeof(struct ut_go_head_event) + sizeof(struct ut_go_h2_trace), ut_wakeup_flags()) < 0)
        ut_count_lost(UT_FAMILY_GO_HTTP);
}
#endif
