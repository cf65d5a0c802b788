// A larger net/http server (>= 8 MB with DWARF) for the Symbols and GoRuntime
// benchmarks: the testdata server plus the standard-library packages a typical
// service links (JSON, templates, gzip, images, RPC, SQL, crypto, XML).
package main

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/rpc"
	"net/smtp"
	"os"
	"regexp"
	"text/tabwriter"
)

type Arith int

func (a *Arith) Double(x int, y *int) error { *y = 2 * x; return nil }

func main() {
	_ = sql.Drivers()
	_ = rpc.Register(new(Arith))
	_ = smtp.PlainAuth("", "", "", "")
	_ = httputil.NewSingleHostReverseProxy
	tmpl := template.Must(template.New("t").Parse("<p>{{.}}</p>"))
	re := regexp.MustCompile(`^/([a-z]+)$`)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch m := re.FindStringSubmatch(r.URL.Path); {
		case m == nil:
			http.NotFound(w, r)
		case m[1] == "json":
			json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path})
		case m[1] == "xml":
			xml.NewEncoder(w).Encode(struct{ Path string }{r.URL.Path})
		case m[1] == "png":
			png.Encode(w, image.NewRGBA(image.Rect(0, 0, 4, 4)))
		case m[1] == "gzip":
			gz := gzip.NewWriter(w)
			fmt.Fprintln(gz, "hello")
			gz.Close()
		case m[1] == "key":
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			w.Write(der)
		default:
			tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
			tmpl.Execute(tw, m[1])
			tw.Flush()
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
