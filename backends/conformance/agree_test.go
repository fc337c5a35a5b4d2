package conformance

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// The C programs follow the Go engine in backends/h1 rule by rule, so on
// any input they must write what an h1 backend writes: random pipelines
// of valid, odd and broken requests, sent in random pieces, must get the
// same bytes (Date aside) from every program as from threads.

// agreeRounds is the number of random inputs; CONFORMANCE_AGREE_ROUNDS
// raises it for a longer search.
func agreeRounds(t *testing.T) int {
	if s := os.Getenv("CONFORMANCE_AGREE_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("CONFORMANCE_AGREE_ROUNDS: %v", err)
		}
		return n
	}
	return 300
}

func TestProgramsAgreeWithH1(t *testing.T) {
	ref := start(t, "threads", backends.ProtoHTTP)
	var names, addrs []string
	for _, b := range backends.Catalog {
		if b.External() && b.Serves(backends.ProtoHTTP) {
			if _, skip, _ := programPath(b.Program); skip != "" {
				t.Logf("%s left out: %s", b.Name, skip)
				continue
			}
			names = append(names, b.Name)
			addrs = append(addrs, start(t, b.Name, backends.ProtoHTTP))
		}
	}
	if len(names) == 0 {
		t.Skip("no program to compare")
	}
	rng := rand.New(rand.NewPCG(18, 18))
	for i := range agreeRounds(t) {
		in := randomInput(rng)
		cuts := randomCuts(rng, len(in))
		want, err := converse(ref, in, cuts)
		if err != nil {
			t.Fatalf("input %d: threads: %v\ninput: %q", i, err, in)
		}
		for k, addr := range addrs {
			got, err := converse(addr, in, cuts)
			if err != nil || got != want {
				t.Fatalf("input %d: %s differs from threads (%v)\ninput: %q\n  got: %q\n want: %q", i, names[k], err, in, clip(got), clip(want))
			}
		}
	}
}

var dateLine = regexp.MustCompile(`\r\nDate: [^\r]*\r\n`)

// converse sends in, cut into pieces at cuts, shuts the write side and
// returns everything read until the server closes, Date values blanked.
func converse(addr, in string, cuts []int) (string, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	got := readAllAsync(c)
	prev := 0
	for _, cut := range append(cuts, len(in)) {
		if _, err := io.WriteString(c, in[prev:cut]); err != nil {
			break // the server closed early; what it wrote is compared
		}
		prev = cut
		time.Sleep(100 * time.Microsecond)
	}
	c.(*net.TCPConn).CloseWrite()
	b := <-got
	return dateLine.ReplaceAllString(string(b), "\r\nDate: <date>\r\n"), nil
}

// randomCuts returns up to four sorted cut points in (0, n).
func randomCuts(rng *rand.Rand, n int) []int {
	var cuts []int
	for k := rng.IntN(5); k > 0 && n > 1; k-- {
		cuts = append(cuts, 1+rng.IntN(n-1))
	}
	for i := range cuts { // sort: a few elements
		for j := i + 1; j < len(cuts); j++ {
			if cuts[j] < cuts[i] {
				cuts[i], cuts[j] = cuts[j], cuts[i]
			}
		}
	}
	return cuts
}

// randomInput is one to four requests built from valid and broken parts,
// sometimes with a byte changed.
func randomInput(rng *rand.Rand) string {
	var b strings.Builder
	for k := 1 + rng.IntN(4); k > 0; k-- {
		b.WriteString(randomRequest(rng))
	}
	s := []byte(b.String())
	if len(s) > 0 && rng.IntN(4) == 0 {
		i := rng.IntN(len(s))
		switch rng.IntN(3) {
		case 0:
			s[i] = pick(rng, []byte(" \t\r\n:;,0aZ\x00\x7f\xff"))
		case 1:
			s = append(s[:i], s[i+1:]...)
		case 2:
			s = append(s[:i], append([]byte{pick(rng, []byte(" \r\n:x"))}, s[i:]...)...)
		}
	}
	return string(s)
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func randomRequest(rng *rand.Rand) string {
	eol := "\r\n"
	if rng.IntN(10) == 0 {
		eol = "\n"
	}
	var b strings.Builder
	if rng.IntN(15) == 0 {
		b.WriteString(eol)
	}
	method := pick(rng, []string{"GET", "GET", "POST", "HEAD", "PUT", "G@T", ""})
	target := pick(rng, []string{"/plaintext", "/plaintext?a=1", "/echo", "/nope", "/", "*", "http://h/plaintext",
		"https://h?us=5", "/delay?us=0", "/delay?us=10", "/cpu?us=1", "/cpu?x&us=2", "/delay?us=", "/cpu?us=1&us=1",
		"/delay?us=10000001", "/cpu?us=0x1", "/echo?x=1"})
	version := pick(rng, []string{"HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.10", "http/1.1"})
	fmt.Fprintf(&b, "%s %s %s%s", method, target, version, eol)
	body := strings.Repeat(string(pick(rng, []byte("abc\r\n0"))), pick(rng, []int{0, 0, 1, 5, 100, 5000}))
	chunked := false
	for k := rng.IntN(5); k >= 0; k-- {
		switch rng.IntN(14) {
		case 0, 1, 2:
			b.WriteString("Host: test" + eol)
		case 3:
			b.WriteString(pick(rng, []string{"Connection: close", "Connection: keep-alive", "connection: Keep-Alive, x", "Connection:"}) + eol)
		case 4:
			fmt.Fprintf(&b, "Content-Length: %d%s", len(body), eol)
		case 5:
			b.WriteString(pick(rng, []string{"Content-Length: x", "Content-Length: 99999999999999999999", "Content-Length: 1048577", "Content-Length:  3 "}) + eol)
		case 6:
			b.WriteString(pick(rng, []string{"Transfer-Encoding: chunked", "transfer-encoding: CHUNKED", "Transfer-Encoding: gzip"}) + eol)
			chunked = true
		case 7:
			b.WriteString("X-Fold: a" + eol + pick(rng, []string{" b", "\tc"}) + eol)
		case 8:
			b.WriteString(pick(rng, []string{"X-Bad : v", "no colon", ": empty", "Host : test", " Host: test"}) + eol)
		case 9:
			b.WriteString("X-Pad: " + strings.Repeat("p", pick(rng, []int{10, 4000, 8100, 9000})) + eol)
		default:
			b.WriteString("X-Any: " + pick(rng, []string{"1", "", "\xff", "a\tb"}) + eol)
		}
	}
	b.WriteString(eol)
	if chunked {
		b.WriteString(randomChunks(rng, body))
	} else if rng.IntN(3) > 0 {
		b.WriteString(body)
	}
	return b.String()
}

// randomChunks encodes body in random chunks, with extensions, trailers
// or broken framing now and then.
func randomChunks(rng *rand.Rand, body string) string {
	var b strings.Builder
	for len(body) > 0 {
		k := min(len(body), 1+rng.IntN(300))
		fmt.Fprintf(&b, "%x%s\r\n%s\r\n", k, pick(rng, []string{"", "", ";e=1", " ;e", "g"}), body[:k])
		body = body[k:]
	}
	b.WriteString(pick(rng, []string{"0\r\n\r\n", "0\r\n\r\n", "0\r\nT: 1\r\n\r\n", "0\r\nbad\r\n\r\n", "0\n\n", "100000\r\n", "fffffffffffffffff\r\n"}))
	return b.String()
}
