/*
 * trace_events.h — the one place where everything shared between the BPF
 * programs (bpf/NAME.bpf.c) and Swift (import TraceEvents) is written: event
 * layouts, event kinds, flags, probe families and the read-only config the
 * programs get before load. Fixed-width types only; sizes are asserted here
 * and checked against Swift's MemoryLayout in Tests/AttachTests.
 */
#ifndef UPROBE_TRACE_TRACE_EVENTS_H
#define UPROBE_TRACE_TRACE_EVENTS_H

#ifndef __VMLINUX_H__ /* CO-RE programs (system.bpf.c) take the types from the generated vmlinux.h */
#include <linux/types.h>
#endif

/* Capture sizes of the strings a Go HTTP event carries (bytes, not NUL-terminated;
 * the *_len fields hold the full Go length, which may be larger). */
#define UT_METHOD_MAX 16
#define UT_PATH_MAX 128
#define UT_QUERY_MAX 128
#define UT_HOST_MAX 64

/* Which OpenSSL function an ut_ssl_event comes from. */
enum ut_ssl_function {
    UT_SSL_WRITE = 1,
    UT_SSL_WRITE_EX = 2,
    UT_SSL_READ = 3,
    UT_SSL_READ_EX = 4,
    UT_SSL_FREE = 5,     /* SSL_free: the connection is over; no data, result 0 */
};

/* Hard cap of the plaintext / statement bytes one event carries
 * (--capture-bytes is clamped to it). */
#define UT_CAPTURE_MAX 8192

/* Probe families: one per folder of Sources/Families (the BPF object of the
 * same name). The index of the per-family lost-event counters, and the high
 * byte of every event kind the family's programs send. */
enum ut_probe_family {
    UT_FAMILY_GO_HTTP = 0,
    UT_FAMILY_OPENSSL = 1,
    UT_FAMILY_MYSQL = 2,
    UT_FAMILY_POSTGRES = 3,
    UT_FAMILY_GO_GRPC = 4,
    UT_FAMILY_SYSTEM = 5,
    UT_FAMILY_COUNT = 8, /* slots of ut_lost; a new family takes the next free index */
};

/* The family's name: its BPF object, metrics label and summary name. */
static inline const char *ut_family_name(__u32 family) {
    switch (family) {
    case UT_FAMILY_GO_HTTP: return "go_http";
    case UT_FAMILY_OPENSSL: return "openssl";
    case UT_FAMILY_MYSQL: return "mysql";
    case UT_FAMILY_POSTGRES: return "postgres";
    case UT_FAMILY_GO_GRPC: return "go_grpc";
    case UT_FAMILY_SYSTEM: return "system";
    default: return 0;
    }
}

/* Every event starts with a header; `kind` says which struct follows, and its
 * high byte which family sent it (ut_event_family). */
#define UT_KIND(family, n) (((family) << 8) | (n))
enum ut_event_kind {
    UT_EVENT_GO_HTTP_SERVER = UT_KIND(UT_FAMILY_GO_HTTP, 1), /* net/http.serverHandler.ServeHTTP entry..end */
    UT_EVENT_GO_HTTP_CLIENT = UT_KIND(UT_FAMILY_GO_HTTP, 2), /* net/http.(*Transport).roundTrip entry..RET */
    UT_EVENT_GO_HTTP_HEAD = UT_KIND(UT_FAMILY_GO_HTTP, 3),   /* a Go server request began: struct ut_go_head_event + raw request head */
    UT_EVENT_SSL = UT_KIND(UT_FAMILY_OPENSSL, 1),            /* one SSL_read/SSL_write(_ex) call: struct ut_ssl_event + data */
    UT_EVENT_MYSQL_QUERY = UT_KIND(UT_FAMILY_MYSQL, 1),      /* one mysql_real_query call: struct ut_mysql_event + statement */
    UT_EVENT_PG_SEND = UT_KIND(UT_FAMILY_POSTGRES, 1),       /* a libpq PQsend* call: struct ut_pg_send_event + statement */
    UT_EVENT_PG_END = UT_KIND(UT_FAMILY_POSTGRES, 2),        /* its last result (PQgetResult returned NULL): struct ut_pg_end_event */
    UT_EVENT_GO_GRPC_SERVER = UT_KIND(UT_FAMILY_GO_GRPC, 1),  /* one RPC served: struct ut_go_grpc_event, sent at WriteStatus */
    UT_EVENT_GO_GRPC_CLIENT = UT_KIND(UT_FAMILY_GO_GRPC, 2),  /* one RPC made: struct ut_go_grpc_event, sent at clientStream.finish */
    UT_EVENT_GO_GRPC_CONTEXT = UT_KIND(UT_FAMILY_GO_GRPC, 3), /* a served RPC began with a traceparent: struct ut_go_grpc_event (no end yet) */
    UT_EVENT_TCP_CONNECT = UT_KIND(UT_FAMILY_SYSTEM, 1),     /* one outbound TCP connect, SYN_SENT..ESTABLISHED or CLOSE: struct ut_tcp_connect_event */
};

/* The family an event kind belongs to. */
static inline __u32 ut_event_family(__u32 kind) { return kind >> 8; }

/* ut_event_header.flags */
enum ut_event_flags {
    UT_FLAG_PANIC = 1 << 0,  /* server: the handler panicked (closed at (*conn).serve's RET) */
    UT_FLAG_ERROR = 1 << 1,  /* client: roundTrip returned a non-nil error */
    UT_FLAG_READ_FAILED = 1 << 2, /* a user-memory read failed; some fields are empty */
    UT_FLAG_HTTP2 = 1 << 3,  /* Go server request or head record of an HTTP/2 stream (net/http's h2 server) */
};

struct ut_event_header {
    __u32 kind;      /* enum ut_event_kind */
    __u32 tgid;      /* process id */
    __u32 tid;       /* thread id at entry */
    __u32 flags;     /* enum ut_event_flags */
    __u64 goid;      /* Go goroutine id (runtime.g.goid), 0 outside Go */
    __u64 start_ns;  /* bpf_ktime_get_boot_ns() at the entry probe */
    __u64 end_ns;    /* bpf_ktime_get_boot_ns() at the return probe */
};

/* Names one Go HTTP request (server or client) while it is in flight and after:
 * the process, the goroutine, and the boot time its entry probe fired. All zero: none. */
struct ut_go_request_ref {
    __u32 tgid;
    __u32 reserved;
    __u64 goid;
    __u64 start_ns;
};

/* One Go HTTP request, server or client: filled at entry, sent at return. */
struct ut_go_http_event {
    struct ut_event_header h;
    /* client: the server request in flight on this goroutine or on the goroutine
     * that created it (same process); server: the client request in another
     * traced process whose TCP connection this request arrived on. */
    struct ut_go_request_ref parent;
    /* server only: `parent`'s own parent (the request that client call was made for). */
    struct ut_go_request_ref grandparent;
    __s64 status;           /* server: response.status (0 = implicit 200); client: Response.StatusCode */
    __s64 content_length;   /* Request.ContentLength (-1 unknown) */
    __u16 method_len;       /* full lengths of the Go strings */
    __u16 path_len;
    __u16 query_len;
    __u16 host_len;
    char method[UT_METHOD_MAX];
    char path[UT_PATH_MAX];
    char query[UT_QUERY_MAX];
    char host[UT_HOST_MAX];
};

/* Sent at ServeHTTP entry, before anything the handler does: the server
 * request's identity (h.tgid, h.goid, h.start_ns, as in its later
 * ut_go_http_event), the traced client it came from (if any), and the bytes
 * of the connection's read buffer (bufio.Reader) that end where the request
 * just parsed ends — the raw request head (with pipelining, what came before
 * it too); `captured` bytes follow (0 when the buffer could not be read). */
struct ut_go_head_event {
    struct ut_event_header h;
    struct ut_go_request_ref parent;       /* as in ut_go_http_event (server) */
    struct ut_go_request_ref grandparent;
    __u32 captured;
    __u32 reserved;
};

/* The most a head record carries: net/http's server reader is a 4096-byte bufio.Reader. */
#define UT_GO_HEAD_MAX 4096

/* One OpenSSL read or write, sent at return; `captured` bytes of the
 * plaintext buffer follow the struct (variable-length record). */
struct ut_ssl_event {
    struct ut_event_header h;  /* start_ns: entry, end_ns: return */
    __u64 ssl;                 /* the SSL* (connection identity within the process) */
    __s64 result;              /* bytes transferred (for _ex: *written / *readbytes when it returned 1); <= 0: error or none */
    __u32 function;            /* enum ut_ssl_function */
    __u32 captured;            /* bytes of data that follow */
};

/* One mysql_real_query(MYSQL*, const char*, unsigned long) call, sent at
 * return; `captured` bytes of the statement follow the struct. */
struct ut_mysql_event {
    struct ut_event_header h;  /* start_ns: entry, end_ns: return */
    __u64 mysql;               /* the MYSQL* handle */
    __s64 result;              /* return value: 0 ok, non-zero error */
    __u64 length;              /* statement length the caller passed */
    __u32 captured;            /* bytes of the statement that follow */
    __u32 reserved;
};

/* Capture sizes of a gRPC event's method name ("/package.Service/Method") and
 * incoming traceparent (55 characters in version 00). */
#define UT_GRPC_METHOD_MAX 128
#define UT_TRACEPARENT_MAX 56
#define UT_GRPC_TARGET_MAX 64

/* One gRPC call, server or client (go_grpc.bpf.c). */
struct ut_go_grpc_event {
    struct ut_event_header h;        /* start_ns: HEADERS decoded (server) / newClientStream entry (client); end_ns: status */
    struct ut_go_request_ref parent; /* client: the served RPC it runs under (same process; goroutine or its creator);
                                        server: the traced client RPC (any process on this host) that sent it */
    struct ut_go_request_ref grandparent; /* server: `parent`'s own parent */
    __s32 status_code;               /* grpc status code; -1: not read (UT_FLAG_READ_FAILED) */
    __u16 method_len;                /* full lengths of the Go strings */
    __u16 traceparent_len;           /* server: the incoming `traceparent` metadata; 0: none */
    char method[UT_GRPC_METHOD_MAX];
    char traceparent[UT_TRACEPARENT_MAX];
    __u16 target_len;                /* client: the dial target (ClientConn.target, e.g. "host:port", "dns:///host:port") */
    __u16 reserved[3];
    char target[UT_GRPC_TARGET_MAX];
};

/* Byte offsets of the grpc-go struct fields go_grpc.bpf.c reads (DWARF, or the
 * table keyed by grpc-go's module version: Sources/Families/GoGRPC/GoGRPCOffsets.swift). */
struct ut_go_grpc_offsets {
    __u64 meta_frame_headers;    /* x/net/http2.MetaHeadersFrame.HeadersFrame (*HeadersFrame) */
    __u64 meta_frame_fields;     /* x/net/http2.MetaHeadersFrame.Fields ([]hpack.HeaderField) */
    __u64 frame_stream_id;       /* HeadersFrame.FrameHeader + FrameHeader.StreamID (uint32) */
    __u64 header_field_name;     /* x/net/http2/hpack.HeaderField.Name (string) */
    __u64 header_field_value;    /* hpack.HeaderField.Value (string) */
    __u64 header_field_size;     /* sizeof(hpack.HeaderField): the slice stride */
    __u64 stream_id;             /* grpc/internal/transport.Stream.id (uint32) */
    __u64 stream_method;         /* transport.Stream.method (string) */
    __u64 stream_status;         /* transport.Stream.status (*status.Status) */
    __u64 status_proto;          /* grpc/internal/status.Status.s (*spb.Status) */
    __u64 error_proto;           /* grpc/internal/status.Error.e (*spb.Status) */
    __u64 proto_code;            /* genproto googleapis/rpc/status.Status.Code (int32) */
    __u64 client_stream_attempt; /* grpc.clientStream.attempt (*csAttempt) */
    __u64 attempt_stream;        /* grpc.csAttempt.s (*transport.Stream) */
    __u64 client_conn_target;    /* grpc.ClientConn.target (string) */
    __u64 server_conn;           /* transport.http2Server.conn (net.Conn) */
    __u64 client_conn;           /* transport.http2Client.conn (net.Conn) */
    __u64 attempt_transport;     /* grpc.csAttempt.t (transport.ClientTransport) */
};

/* Which libpq function sent a statement (ut_pg_send_event.function). */
enum ut_pg_function {
    UT_PG_SEND_QUERY = 1,           /* PQsendQuery (PQexec) */
    UT_PG_SEND_QUERY_PARAMS = 2,    /* PQsendQueryParams (PQexecParams) */
    UT_PG_SEND_PREPARE = 3,         /* PQsendPrepare (PQprepare) */
    UT_PG_SEND_QUERY_PREPARED = 4,  /* PQsendQueryPrepared (PQexecPrepared) */
};

#define UT_PG_NAME_MAX 64

/* A statement a libpq connection sent, at the PQsend* entry (h.start_ns =
 * h.end_ns); `captured` bytes of the statement text follow (none for
 * PQsendQueryPrepared, which names a prepared statement instead). */
struct ut_pg_send_event {
    struct ut_event_header h;
    __u64 conn;                     /* the PGconn* */
    __u32 function;                 /* enum ut_pg_function */
    __s32 n_params;                 /* nParams of the *Params / *Prepared / Prepare calls, else 0 */
    __u64 length;                   /* the statement's full length when known (strlen within the capture), else ~0 */
    __u32 captured;                 /* bytes of the statement that follow */
    __u16 name_len;                 /* bytes of `name` (stmtName, not NUL-terminated; 0: unnamed) */
    __u16 db_len;                   /* bytes of `db` (PQdb(conn)); 0: unknown */
    char name[UT_PG_NAME_MAX];      /* PQsendPrepare / PQsendQueryPrepared: the statement name */
    char db[UT_PG_NAME_MAX];        /* the connection's database name */
};

/* The end of a statement: the PQgetResult call that returned NULL after at
 * least one result. h.start_ns is the send's (the join key with its
 * ut_pg_send_event), h.end_ns the NULL return. */
struct ut_pg_end_event {
    struct ut_event_header h;
    __u64 conn;
    __u32 results;                  /* non-NULL results the statement returned */
    __s32 status;                   /* ExecStatusType of the first error result; -1: no error result, -2: status not readable */
    char sqlstate[8];               /* its SQLSTATE (5 characters, NUL-padded); empty: none or not readable */
};

/* Where libpq keeps what the probes read, decoded from the library's own
 * accessors (PQresultStatus, PQresultErrorField, PQdb, PQtransactionStatus) by
 * Sources/Families/Postgres/PostgresLayout.swift. result_status,
 * result_err_fields, conn_db_name, conn_async_status: 0 = unknown, not read
 * (none of those fields is a struct's first); the field_* are used only with
 * result_err_fields. */
struct ut_pg_offsets {
    __s32 result_status;            /* PGresult.resultStatus (int) */
    __s32 result_err_fields;        /* PGresult.errFields (PGMessageField*) */
    __s32 field_next;               /* PGMessageField.next */
    __s32 field_code;               /* PGMessageField.code (char) */
    __s32 field_contents;           /* PGMessageField.contents (char[]) */
    __s32 conn_db_name;             /* PGconn.dbName (char*) */
    __s32 conn_async_status;        /* PGconn.asyncStatus (PGAsyncStatusType; 0 = PGASYNC_IDLE) */
    __s32 reserved;
};

/* One outbound TCP connect of a traced process (system.bpf.c): h.start_ns when
 * the socket entered SYN_SENT (in connect()), h.end_ns when it left it;
 * h.tid is the connecting thread. */
struct ut_tcp_connect_event {
    struct ut_event_header h;
    __s32 error;      /* 0: established; else the errno the connect failed with (sk_err), -1: closed with none */
    __u16 family;     /* AF_INET or AF_INET6 */
    __u16 dport;      /* peer port, host order */
    __u16 sport;      /* local port, host order */
    __u16 reserved[3];
    __u8 daddr[16];   /* peer address: 4 bytes (AF_INET) or 16 (AF_INET6) */
    __u8 saddr[16];
};

/* --syscalls: per-CPU statistics of one syscall of one traced process
 * (BPF_MAP_TYPE_PERCPU_HASH system_syscalls, key struct ut_syscall_key).
 * Latency bucket i counts calls of [2^i, 2^(i+1)) ns (bucket 0: < 2 ns, the
 * last one: everything from 2^(UT_SYSCALL_BUCKETS-1) ns on). */
#define UT_SYSCALL_BUCKETS 36
struct ut_syscall_key {
    __u32 tgid;
    __u32 nr;
};
struct ut_syscall_stats {
    __u64 count;
    __u64 total_ns;
    __u64 buckets[UT_SYSCALL_BUCKETS];
};

/* --tcp: per-CPU counters of one traced process (system_tcp, key: tgid). */
struct ut_tcp_stats {
    __u64 outbound;       /* connects that reached ESTABLISHED */
    __u64 inbound;        /* connections accept() returned */
    __u64 bytes_sent;     /* TCP payload bytes sent (sock:sock_send_length results) */
    __u64 bytes_received; /* TCP payload bytes received (sock:sock_recv_length results, MSG_PEEK excluded) */
};
/* --tcp: failed connects per process and errno (system_tcp_errors, value: __u64 count). */
struct ut_tcp_error_key {
    __u32 tgid;
    __s32 error;
};

/* Byte offsets of the Go struct fields the probes read (from DWARF or the
 * per-version table in GoRuntime); set before load, never compiled in. */
struct ut_go_offsets {
    __u64 request_method;          /* net/http.Request.Method (string) */
    __u64 request_url;             /* net/http.Request.URL (*url.URL) */
    __u64 request_host;            /* net/http.Request.Host (string) */
    __u64 request_content_length;  /* net/http.Request.ContentLength (int64) */
    __u64 url_path;                /* net/url.URL.Path (string) */
    __u64 url_raw_query;           /* net/url.URL.RawQuery (string) */
    __u64 response_status;         /* net/http.response.status (int) */
    __u64 client_status_code;      /* net/http.Response.StatusCode (int) */
    __u64 g_goid;                  /* runtime.g.goid (int64) */
    __u64 g_m;                     /* runtime.g.m (*m) */
    __u64 m_curg;                  /* runtime.m.curg (*g) */
    __u64 response_conn;           /* net/http.response.conn (*conn) */
    __u64 conn_rwc;                /* net/http.conn.rwc (net.Conn) */
    __u64 conn_bufr;               /* net/http.conn.bufr (*bufio.Reader) */
    __u64 bufio_reader_buf;        /* bufio.Reader.buf ([]byte) */
    __u64 bufio_reader_r;          /* bufio.Reader.r (int) */
    __u64 persist_conn_conn;       /* net/http.persistConn.conn (net.Conn) */
    __u64 netfd_laddr;             /* net.netFD.laddr (net.Addr) */
    __u64 netfd_raddr;             /* net.netFD.raddr (net.Addr) */
    __u64 tcpaddr_port;            /* net.TCPAddr.Port (int) */
    __u64 response_req;            /* net/http.response.req (*Request) */
    __u64 conn_hijacked;           /* net/http.conn.hijackedv (bool) */
    __u64 g_parent_goid;           /* runtime.g.parentGoid (uint64, Go >= 1.21); 0: absent, use runtime.newproc1 */
    /* net/http's HTTP/2 server: the bundled http2* types (Go <= 1.26) or
     * net/http/internal/http2 (Go >= 1.27); all 0 when not probed. */
    __u64 h2_meta_headers;         /* MetaHeadersFrame.HeadersFrame (*HeadersFrame, embedded) */
    __u64 h2_meta_fields;          /* MetaHeadersFrame.Fields ([]hpack.HeaderField) */
    __u64 h2_frame_stream_id;      /* HeadersFrame.FrameHeader + FrameHeader.StreamID (uint32) */
    __u64 h2_rws_stream;           /* responseWriterState.stream (*stream) */
    __u64 h2_rws_status;           /* responseWriterState.status (int) */
    __u64 h2_stream_sc;            /* stream.sc (*serverConn) */
    __u64 h2_stream_id;            /* stream.id (uint32) */
    __u64 g_panic;                 /* runtime.g._panic (*_panic) */
    __u64 h2_server_conn;          /* serverConn.conn (net.Conn); 0: no client join over HTTP/2 */
    __u64 h2_client_tconn;         /* ClientConn.tconn (net.Conn) */
    __u64 tls_conn_conn;           /* crypto/tls.Conn.conn (net.Conn) */
};

/* The trace headers of an HTTP/2 request as its HEADERS frame decoded them:
 * the bytes of a head record (ut_go_head_event) with UT_FLAG_HTTP2. The
 * lengths are the full lengths; at most the array sizes are copied. */
#define UT_H2_TRACEPARENT_MAX 64
#define UT_H2_TRACESTATE_MAX 256
struct ut_go_h2_trace {
    __u16 traceparent_len;
    __u16 tracestate_len;
    __u16 traceparent_count; /* how many traceparent fields the frame had (more than one: none is used) */
    __u16 reserved;
    char traceparent[UT_H2_TRACEPARENT_MAX];
    char tracestate[UT_H2_TRACESTATE_MAX];
};

/* Where OpenSSL's public read/write functions call the internal function
 * the probes sit on (ssl_read_internal / ssl_write_internal in 3.x): for each
 * caller, (return address of its call − entry of the internal function), the
 * same in the file and at run time. 0: that caller is not probed this way
 * (Sources/Families/OpenSSL/OpenSSLSites.swift finds them). */
struct ut_ssl_callers {
    __s64 read;
    __s64 read_ex;
    __s64 write;
    __s64 write_ex;
};

/* Read-only config of every program (a `const volatile` global in BPF). */
struct ut_config {
    __u32 target_tgid;   /* 0: any process that maps the probed file */
    __u32 capture_bytes; /* plaintext/statement bytes to copy per call, <= UT_CAPTURE_MAX */
    struct ut_go_offsets go;
    struct ut_ssl_callers ssl;
    struct ut_pg_offsets pg;
    struct ut_go_grpc_offsets grpc;
};

#define UT_EVENT_HEADER_SIZE 40
#define UT_GO_REQUEST_REF_SIZE 24
#define UT_GO_HTTP_EVENT_SIZE (40 + 2 * UT_GO_REQUEST_REF_SIZE + 16 + 8 + UT_METHOD_MAX + UT_PATH_MAX + UT_QUERY_MAX + UT_HOST_MAX)
#define UT_GO_OFFSETS_SIZE (34 * 8)
#define UT_GO_H2_TRACE_SIZE (8 + UT_H2_TRACEPARENT_MAX + UT_H2_TRACESTATE_MAX)
#define UT_GO_HEAD_EVENT_SIZE (40 + 2 * UT_GO_REQUEST_REF_SIZE + 8)
#define UT_SSL_CALLERS_SIZE (4 * 8)
#define UT_PG_OFFSETS_SIZE (8 * 4)
#define UT_GO_GRPC_OFFSETS_SIZE (18 * 8)
#define UT_CONFIG_SIZE (8 + UT_GO_OFFSETS_SIZE + UT_SSL_CALLERS_SIZE + UT_PG_OFFSETS_SIZE + UT_GO_GRPC_OFFSETS_SIZE)
#define UT_GO_GRPC_EVENT_SIZE (40 + 2 * UT_GO_REQUEST_REF_SIZE + 8 + UT_GRPC_METHOD_MAX + UT_TRACEPARENT_MAX + 8 + UT_GRPC_TARGET_MAX)
#define UT_SSL_EVENT_SIZE (40 + 24)
#define UT_MYSQL_EVENT_SIZE (40 + 32)
#define UT_PG_SEND_EVENT_SIZE (40 + 32 + 2 * UT_PG_NAME_MAX)
#define UT_PG_END_EVENT_SIZE (40 + 24)
#define UT_TCP_CONNECT_EVENT_SIZE (40 + 16 + 32)
#define UT_SYSCALL_STATS_SIZE (16 + 8 * UT_SYSCALL_BUCKETS)

/* The same sizes as enum constants: Swift imports these, but not a macro with
 * more than one operator (UT_GO_HTTP_EVENT_SIZE). */
enum ut_layout_size {
    UT_SIZEOF_EVENT_HEADER = UT_EVENT_HEADER_SIZE,
    UT_SIZEOF_GO_HTTP_EVENT = UT_GO_HTTP_EVENT_SIZE,
    UT_SIZEOF_GO_REQUEST_REF = UT_GO_REQUEST_REF_SIZE,
    UT_SIZEOF_GO_HEAD_EVENT = UT_GO_HEAD_EVENT_SIZE,
    UT_SIZEOF_GO_HEAD_MAX = UT_GO_HEAD_MAX,
    UT_SIZEOF_GO_OFFSETS = UT_GO_OFFSETS_SIZE,
    UT_SIZEOF_GO_H2_TRACE = UT_GO_H2_TRACE_SIZE,
    UT_SIZEOF_CONFIG = UT_CONFIG_SIZE,
    UT_SIZEOF_SSL_EVENT = UT_SSL_EVENT_SIZE,
    UT_SIZEOF_MYSQL_EVENT = UT_MYSQL_EVENT_SIZE,
    UT_SIZEOF_PG_SEND_EVENT = UT_PG_SEND_EVENT_SIZE,
    UT_SIZEOF_PG_END_EVENT = UT_PG_END_EVENT_SIZE,
    UT_SIZEOF_PG_OFFSETS = UT_PG_OFFSETS_SIZE,
    UT_SIZEOF_CAPTURE_MAX = UT_CAPTURE_MAX,
    UT_SIZEOF_GO_GRPC_EVENT = UT_GO_GRPC_EVENT_SIZE,
    UT_SIZEOF_GO_GRPC_OFFSETS = UT_GO_GRPC_OFFSETS_SIZE,
    UT_SIZEOF_TCP_CONNECT_EVENT = UT_TCP_CONNECT_EVENT_SIZE,
    UT_SIZEOF_SYSCALL_STATS = UT_SYSCALL_STATS_SIZE,
    UT_SIZEOF_TCP_STATS = 32,
};

_Static_assert(sizeof(struct ut_event_header) == UT_EVENT_HEADER_SIZE, "ut_event_header layout");
_Static_assert(sizeof(struct ut_go_http_event) == UT_GO_HTTP_EVENT_SIZE, "ut_go_http_event layout");
_Static_assert(sizeof(struct ut_go_request_ref) == UT_GO_REQUEST_REF_SIZE, "ut_go_request_ref layout");
_Static_assert(sizeof(struct ut_go_head_event) == UT_GO_HEAD_EVENT_SIZE, "ut_go_head_event layout");
_Static_assert(sizeof(struct ut_go_offsets) == UT_GO_OFFSETS_SIZE, "ut_go_offsets layout");
_Static_assert(sizeof(struct ut_go_h2_trace) == UT_GO_H2_TRACE_SIZE, "ut_go_h2_trace layout");
_Static_assert(sizeof(struct ut_config) == UT_CONFIG_SIZE, "ut_config layout");
_Static_assert(sizeof(struct ut_ssl_event) == UT_SSL_EVENT_SIZE, "ut_ssl_event layout");
_Static_assert(sizeof(struct ut_mysql_event) == UT_MYSQL_EVENT_SIZE, "ut_mysql_event layout");
_Static_assert(sizeof(struct ut_pg_send_event) == UT_PG_SEND_EVENT_SIZE, "ut_pg_send_event layout");
_Static_assert(sizeof(struct ut_pg_end_event) == UT_PG_END_EVENT_SIZE, "ut_pg_end_event layout");
_Static_assert(sizeof(struct ut_pg_offsets) == UT_PG_OFFSETS_SIZE, "ut_pg_offsets layout");
_Static_assert(sizeof(struct ut_go_grpc_event) == UT_GO_GRPC_EVENT_SIZE, "ut_go_grpc_event layout");
_Static_assert(sizeof(struct ut_go_grpc_offsets) == UT_GO_GRPC_OFFSETS_SIZE, "ut_go_grpc_offsets layout");
_Static_assert(sizeof(struct ut_tcp_connect_event) == UT_TCP_CONNECT_EVENT_SIZE, "ut_tcp_connect_event layout");
_Static_assert(sizeof(struct ut_syscall_stats) == UT_SYSCALL_STATS_SIZE, "ut_syscall_stats layout");
_Static_assert(sizeof(struct ut_tcp_stats) == 32, "ut_tcp_stats layout");

#endif
