package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-c", "0", "http://127.0.0.1:1/"},
		{"-bogus", "http://127.0.0.1:1/"},
		{"ftp://127.0.0.1:1/"},
		{"-start-at", "tomorrow", "http://127.0.0.1:1/"},
		{"-source-ips", "127.0.0.x", "http://127.0.0.1:1/"},
		{"-body", "10", "tcp://127.0.0.1:1"},
	} {
		err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err = %v, want a one-line usage error", args, err)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp (exit status 0)", err)
	}
	if !strings.Contains(stderr.String(), "usage: loadgen") {
		t.Errorf("-h: stderr = %q, want the usage", stderr.String())
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 5e8),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestJSONAgainstEcho(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	var out bytes.Buffer
	jsonOut := filepath.Join(t.TempDir(), "sum.json")
	args := []string{"-c", "2", "-n", "500", "-d", "5s", "-warmup", "0", "-json", "-json-out", jsonOut, "tcp://" + ln.Addr().String()}
	if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var s summary.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if s.Requests != 500 || s.Workload != "echo" || s.Conns != 2 || s.PayloadBytes != 64 || s.StopReason != "requests" || s.Latency.P50 <= 0 {
		t.Fatalf("summary %+v", s)
	}
	if len(s.ErrorKinds) != 7 {
		t.Fatalf("error kinds %v, want all 7 listed", s.ErrorKinds)
	}
	file, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, out.Bytes()) {
		t.Fatalf("-json-out file differs from stdout:\n%s\n%s", file, out.Bytes())
	}
}

func TestWarnsWhenNothingCompleted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // answers every connection with garbage, then closes it
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("garbage\r\n\r\n"))
			c.Close()
		}
	}()
	var stderr bytes.Buffer
	args := []string{"-c", "1", "-d", "300ms", "-warmup", "0", "-json", "http://" + ln.Addr().String() + "/"}
	if err := run(context.Background(), args, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "warning: no request completed") {
		t.Fatalf("stderr %q, want a warning", stderr.String())
	}
}
