// A gRPC server for the GoGRPC tests: serves uptrace.test.Echo (package
// echo) and prints `listening HOST:PORT` once it accepts connections.
// Call answers with the requested status code after the requested sleep;
// Stream sends N replies, then the requested status; Relay makes a Call to
// another server (a client RPC made while serving one), on the handler's
// goroutine or (Spawn) on one it starts.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"example.com/grpcfixture/echo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type server struct{}

func result(code int) error {
	if code == 0 {
		return nil
	}
	return status.Errorf(codes.Code(code), "requested status %d", code)
}

func (server) Call(_ context.Context, req *echo.Request) (*echo.Reply, error) {
	time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
	if err := result(req.Code); err != nil {
		return nil, err
	}
	return &echo.Reply{}, nil
}

func (server) Stream(req *echo.Request, stream grpc.ServerStream) error {
	for i := 0; i < req.N; i++ {
		if err := stream.SendMsg(&echo.Reply{Seq: i}); err != nil {
			return err
		}
		time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
	}
	return result(req.Code)
}

func (server) Relay(ctx context.Context, req *echo.Request) (*echo.Reply, error) {
	conn, err := echo.Dial(req.Relay)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	reply := new(echo.Reply)
	call := func() error {
		return conn.Invoke(ctx, "/"+echo.Service+"/Call", &echo.Request{Code: req.Code, SleepMs: req.SleepMs}, reply)
	}
	if !req.Spawn {
		return reply, call()
	}
	done := make(chan error)
	go func() { done <- call() }()
	return reply, <-done
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	s.RegisterService(&echo.Desc, server{})
	fmt.Println("listening", l.Addr())
	if err := s.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
