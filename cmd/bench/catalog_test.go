package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

// TestBackendsListIsCatalog: bench backends lists every catalog entry,
// no other, in catalog order.
func TestBackendsListIsCatalog(t *testing.T) {
	dir := fakechild.BinDir(t, "server")
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"backends", "-server", filepath.Join(dir, "server")}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n")[1:] {
		got = append(got, strings.Fields(l)[0])
	}
	for _, b := range backends.Catalog {
		want = append(want, b.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("bench backends lists %v, the catalog %v", got, want)
	}
}
