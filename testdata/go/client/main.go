// A net/http client for the GoRuntime and Go HTTP tests: fetches each URL
// given on the command line (-n times) and prints the status codes.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"example.com/greet"
)

func main() {
	n := flag.Int("n", 1, "requests per URL")
	flag.Parse()
	failed := false
	for _, url := range flag.Args() {
		for i := 0; i < *n; i++ {
			resp, err := http.Get(url)
			if err != nil {
				fmt.Println("error", err)
				failed = true
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if g := resp.Header.Get(greet.Header); g != "" {
				fmt.Println(resp.StatusCode, g)
			} else {
				fmt.Println(resp.StatusCode)
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
