package loadgen

import (
	"context"
	"testing"
)

// benchRun sends b.N requests over one connection and reports allocations
// per request (setup is spread over b.N and rounds to zero).
func benchRun(b *testing.B, target string, cfg Config) {
	cfg.Target = target
	cfg.Conns = 1
	cfg.Requests = uint64(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if res.Summary.Requests != uint64(b.N) || res.Summary.Errors != 0 {
		b.Fatalf("requests %d of %d, errors %v", res.Summary.Requests, b.N, res.Summary.ErrorKinds)
	}
}

func BenchmarkHTTPRequest(b *testing.B) {
	resp := []byte(okResp)
	addr := httpServer(b, func(int, []byte) []byte { return resp })
	benchRun(b, "http://"+addr+"/plaintext", Config{})
}

func BenchmarkHTTPRequestPipelined(b *testing.B) {
	resp := []byte(okResp)
	addr := httpServer(b, func(int, []byte) []byte { return resp })
	benchRun(b, "http://"+addr+"/plaintext", Config{Pipeline: 16})
}

func BenchmarkEchoRequest(b *testing.B) {
	addr := echoServer(b, -1)
	benchRun(b, "tcp://"+addr, Config{Payload: 64})
}
