// A net/http server for the GoRuntime and Go HTTP tests.
//
//	/sleep?ms=N    sleeps N ms, answers 200 with the time it measured itself
//	/status?code=N answers with status N
//	/panic         panics inside the handler (net/http recovers it)
//	/hello         answers 200 with the greet.Header header set
//	/call?url=U    calls U with net/http (client spans inside a server span);
//	               with &go=1 the call is made from a new goroutine
//	/exec?path=P   answers 200, then replaces the process with program P
//	               (arguments: the further arg= values), as a wrapper that execs does
//	/_timings      the server's own measurement of every request so far
//	               ("URI NANOSECONDS" lines, from the outermost handler's
//	               entry to its return), then forgets them
//
// With -tls-cert and -tls-key it serves TLS instead (HTTP/2 by ALPN, HTTP/1.1
// for clients that ask for it); with -h2c it serves cleartext HTTP/2 to
// clients that start with the HTTP/2 preface (prior knowledge) as well
// (Go 1.24 or newer).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"example.com/greet"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	certFile := flag.String("tls-cert", "", "serve TLS (and HTTP/2) with this certificate (PEM)")
	keyFile := flag.String("tls-key", "", "the private key of -tls-cert (PEM)")
	h2c := flag.Bool("h2c", false, "also serve cleartext HTTP/2 with prior knowledge (Go 1.24 or newer)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(greet.Header, greet.Value("client"))
		fmt.Fprintln(w, "hello")
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Header().Set("X-Handler-Ns", strconv.FormatInt(time.Since(start).Nanoseconds(), 10))
		fmt.Fprintf(w, "slept %d ms\n", ms)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil || code < 100 || code > 999 {
			code = 400
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic("testdata server: deliberate panic")
	})
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("url")
		call := func() (int, error) {
			resp, err := http.Get(target)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, nil
		}
		var code int
		var err error
		if r.URL.Query().Get("go") == "1" {
			done := make(chan struct{})
			go func() { code, err = call(); close(done) }()
			<-done
		} else {
			code, err = call()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "upstream %d\n", code)
	})
	mux.HandleFunc("/exec", func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Query().Get("path")
		argv := append([]string{path}, r.URL.Query()["arg"]...)
		fmt.Fprintf(w, "exec %s\n", path)
		// After the response is out, so the request completes.
		time.AfterFunc(100*time.Millisecond, func() {
			log.Fatal(syscall.Exec(path, argv, os.Environ()))
		})
	})

	// The outermost handler measures each request itself, so tests can compare
	// span durations with what the program saw, and keeps the numbers in memory
	// (printing them here would add a write to every request).
	var timings sync.Map
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_timings" {
			timings.Range(func(k, v any) bool {
				fmt.Fprintf(w, "%s %d\n", k, v)
				timings.Delete(k)
				return true
			})
			return
		}
		start := time.Now()
		mux.ServeHTTP(w, r)
		timings.Store(r.RequestURI, time.Since(start).Nanoseconds())
	})

	srv := &http.Server{Handler: root}
	if *h2c {
		enableH2C(srv)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The test reads the port from the first line.
	fmt.Fprintf(os.Stdout, "listening %s\n", ln.Addr())
	if *certFile != "" {
		log.Fatal(srv.ServeTLS(ln, *certFile, *keyFile))
	}
	log.Fatal(srv.Serve(ln))
}

// enableH2C sets srv.Protocols to HTTP/1 and unencrypted HTTP/2. Through
// reflection, so that this file still builds with Go releases before 1.24,
// which have no Server.Protocols (there -h2c is an error).
func enableH2C(srv *http.Server) {
	field := reflect.ValueOf(srv).Elem().FieldByName("Protocols")
	if !field.IsValid() {
		log.Fatalf("-h2c needs Go 1.24 or newer (http.Server.Protocols); this is %s", runtime.Version())
	}
	p := reflect.New(field.Type().Elem())
	p.MethodByName("SetHTTP1").Call([]reflect.Value{reflect.ValueOf(true)})
	p.MethodByName("SetUnencryptedHTTP2").Call([]reflect.Value{reflect.ValueOf(true)})
	field.Set(p)
}
