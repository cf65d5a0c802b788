// A gRPC client for the GoGRPC tests. Reads one command per stdin line and
// answers each with one stdout line, so a test can attach between commands:
//
//	call CODE SLEEP_MS [TRACEPARENT]   unary Call          → "code N"
//	stream N CODE [TRACEPARENT]        server-streaming    → "code N got M"
//	missing NAME 0                     a unary call of a method the server lacks → "code 12"
//	deadline MS CODE SLEEP_MS          a Call with a deadline MS from now → "code N"
//	par N CODE SLEEP_MS                N concurrent Calls, one goroutine each, on the one connection
//	                                   → "codes C1 ... CN"
//	relay CODE SLEEP_MS ADDR [go]      unary Relay: the server calls Call(CODE, SLEEP_MS) on ADDR
//	                                   (with go: from a goroutine it starts)
//
// A command prefixed with `timed` also prints the call's own duration as
// measured around it: "code N ns T".
// It prints `ready` once connected.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"example.com/grpcfixture/echo"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	addr := flag.String("addr", "", "server address")
	flag.Parse()
	conn, err := echo.Dial(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		timed := len(f) > 0 && f[0] == "timed"
		if timed {
			f = f[1:]
		}
		if len(f) < 3 {
			fmt.Println("bad command")
			continue
		}
		a, _ := strconv.Atoi(f[1])
		ctx := context.Background()
		if len(f) > 3 && (f[0] == "call" || f[0] == "stream") {
			ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", f[3])
		}
		switch f[0] {
		case "call":
			b, _ := strconv.Atoi(f[2])
			start := time.Now()
			err := conn.Invoke(ctx, "/"+echo.Service+"/Call", &echo.Request{Code: a, SleepMs: b}, new(echo.Reply))
			took := time.Since(start)
			if timed {
				fmt.Println("code", int(status.Code(err)), "ns", took.Nanoseconds())
			} else {
				fmt.Println("code", int(status.Code(err)))
			}
		case "relay":
			if len(f) < 4 {
				fmt.Println("bad command")
				continue
			}
			b, _ := strconv.Atoi(f[2])
			err := conn.Invoke(ctx, "/"+echo.Service+"/Relay", &echo.Request{Code: a, SleepMs: b, Relay: f[3], Spawn: len(f) > 4 && f[4] == "go"}, new(echo.Reply))
			fmt.Println("code", int(status.Code(err)))
		case "missing":
			err := conn.Invoke(ctx, "/"+echo.Service+"/"+f[1], &echo.Request{}, new(echo.Reply))
			fmt.Println("code", int(status.Code(err)))
		case "deadline":
			code, _ := strconv.Atoi(f[2])
			sleep := 0
			if len(f) > 3 {
				sleep, _ = strconv.Atoi(f[3])
			}
			dctx, cancel := context.WithTimeout(context.Background(), time.Duration(a)*time.Millisecond)
			err := conn.Invoke(dctx, "/"+echo.Service+"/Call", &echo.Request{Code: code, SleepMs: sleep}, new(echo.Reply))
			cancel()
			fmt.Println("code", int(status.Code(err)))
		case "par":
			code, _ := strconv.Atoi(f[2])
			sleep := 0
			if len(f) > 3 {
				sleep, _ = strconv.Atoi(f[3])
			}
			codes := make([]string, a)
			var wg sync.WaitGroup
			for i := 0; i < a; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					err := conn.Invoke(context.Background(), "/"+echo.Service+"/Call", &echo.Request{Code: code, SleepMs: sleep}, new(echo.Reply))
					codes[i] = strconv.Itoa(int(status.Code(err)))
				}(i)
			}
			wg.Wait()
			fmt.Println("codes", strings.Join(codes, " "))
		case "stream":
			b, _ := strconv.Atoi(f[2])
			s, err := conn.NewStream(ctx, &echo.StreamDesc, "/"+echo.Service+"/Stream")
			got := 0
			if err == nil {
				err = s.SendMsg(&echo.Request{N: a, Code: b})
			}
			if err == nil {
				err = s.CloseSend()
			}
			for err == nil {
				if err = s.RecvMsg(new(echo.Reply)); err == nil {
					got++
				}
			}
			if err == io.EOF {
				err = nil
			}
			fmt.Println("code", int(status.Code(err)), "got", got)
		default:
			fmt.Println("bad command")
		}
	}
}
