package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
)

// TestBackendUsageIsCatalog: -backend's usage lists the catalog's names,
// all of them, in its order.
func TestBackendUsageIsCatalog(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseArgs([]string{"-h"}, &out); err == nil {
		t.Fatal("-h: no error")
	}
	names := make([]string, len(backends.Catalog))
	for i, b := range backends.Catalog {
		names[i] = b.Name
	}
	want := "\tbackend: " + strings.Join(names, ", ") + " (default \"stdlib\")\n"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("usage lacks %q:\n%s", want, out.String())
	}
}
