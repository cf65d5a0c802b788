// Package echo is the service the gRPC fixtures speak, written by hand (no
// protoc): a grpc.ServiceDesc and a JSON codec registered as content-subtype
// "json".
package echo

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// Service is the full service name: spans are named "uptrace.test.Echo/Call".
const Service = "uptrace.test.Echo"

// Request asks for a status code, a sleep before answering, and (Stream) a number of messages.
type Request struct {
	Code    int    `json:"code"`
	SleepMs int    `json:"sleep_ms"`
	N       int    `json:"n"`
	Relay   string `json:"relay,omitempty"` // Relay: the address to call Call on
	Spawn   bool   `json:"spawn,omitempty"` // Relay: make the call on a new goroutine
}

// Reply is one answer; Seq numbers the messages of a stream.
type Reply struct {
	Seq int `json:"seq"`
}

type codec struct{}

func (codec) Marshal(v interface{}) ([]byte, error)      { return json.Marshal(v) }
func (codec) Unmarshal(data []byte, v interface{}) error { return json.Unmarshal(data, v) }
func (codec) Name() string                               { return "json" }

func init() { encoding.RegisterCodec(codec{}) }

// Server is what the fixture server implements.
type Server interface {
	Call(context.Context, *Request) (*Reply, error)
	Stream(*Request, grpc.ServerStream) error
	Relay(context.Context, *Request) (*Reply, error)
}

// handler is grpc.MethodDesc.Handler's type (unexported in grpc-go 1.33).
type handler = func(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error)

func unary(call func(Server, context.Context, *Request) (*Reply, error)) handler {
	return func(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
		req := new(Request)
		if err := dec(req); err != nil {
			return nil, err
		}
		return call(srv.(Server), ctx, req)
	}
}

// Desc registers Server: two unary methods and one server-streaming method.
var Desc = grpc.ServiceDesc{
	ServiceName: Service,
	HandlerType: (*Server)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Call", Handler: unary(Server.Call)},
		{MethodName: "Relay", Handler: unary(Server.Relay)},
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		Handler: func(srv interface{}, stream grpc.ServerStream) error {
			req := new(Request)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			return srv.(Server).Stream(req, stream)
		},
	}},
}

// StreamDesc is the client's view of Stream.
var StreamDesc = grpc.StreamDesc{StreamName: "Stream", ServerStreams: true}

// Dial connects without TLS, every call in JSON.
func Dial(addr string) (*grpc.ClientConn, error) {
	return grpc.Dial(addr, grpc.WithInsecure(), grpc.WithDefaultCallOptions(grpc.CallContentSubtype("json")))
}
