package main

import (
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

func TestChooseCPUs(t *testing.T) {
	avail, err := cpuset.Available()
	if err != nil {
		t.Fatal(err)
	}
	s, g, warn, err := chooseCPUs("", "")
	if err != nil {
		t.Fatal(err)
	}
	if s[0] != avail[0] || (len(avail) > 1 && (g[0] != avail[1] || warn != "")) || (len(avail) == 1 && warn == "") {
		t.Fatalf("defaults %s %s %q with %s available", s, g, warn, avail)
	}
	if _, _, _, err := chooseCPUs("1023", ""); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("unavailable CPU accepted: %v", err)
	}
	if _, _, _, err := chooseCPUs("", "x"); err == nil || cli.Code(err) != cli.ExitUsage {
		t.Fatalf("bad list: %v", err)
	}
	if _, _, warn, _ := chooseCPUs(avail.String(), avail.String()); warn == "" {
		t.Fatal("no warning for shared CPUs")
	}
}
