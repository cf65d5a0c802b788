// A net/http client for the GoRuntime and Go HTTP tests: fetches each URL
// given on the command line (-n times) and prints the status codes.
// With -insecure it speaks TLS without checking the server's certificate
// (HTTP/2 when the server offers it); -proto prints each response's protocol
// after its status code.
package main

import (
	"flag"
	"fmt"
	"crypto/tls"
	"io"
	"net/http"
	"os"

	"example.com/greet"
)

func main() {
	n := flag.Int("n", 1, "requests per URL")
	insecure := flag.Bool("insecure", false, "accept any TLS certificate (and ask for HTTP/2)")
	proto := flag.Bool("proto", false, "print the protocol (HTTP/1.1, HTTP/2.0) after each status")
	flag.Parse()
	client := http.DefaultClient
	if *insecure {
		client = &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			ForceAttemptHTTP2: true,
		}}
	}
	failed := false
	for _, url := range flag.Args() {
		for i := 0; i < *n; i++ {
			resp, err := client.Get(url)
			if err != nil {
				fmt.Println("error", err)
				failed = true
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			line := fmt.Sprint(resp.StatusCode)
			if *proto {
				line += " " + resp.Proto
			}
			if g := resp.Header.Get(greet.Header); g != "" {
				line += " " + g
			}
			fmt.Println(line)
		}
	}
	if failed {
		os.Exit(1)
	}
}
