package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/runner"
)

const backendsDoc = `Backends lists every backend: its name, the protocols it serves, whether
it can run here ("available", or "not built" for a program that make build
did not put next to the server binary) and its design. A plan that names a
backend that is not built is refused before anything runs.
`

func cmdBackends(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("backends", "[-server PATH]", backendsDoc)
	server := fs.String("server", "", "server binary; programs are looked for next to it (default: next to bench)")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("backends", "takes no arguments")
	}
	serverPath, err := findBinary(*server, "server")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "backend\tprotocols\there\tdesign")
	for _, b := range backends.Catalog {
		here := "available"
		if err := runner.CheckProgram(serverPath, b); errors.Is(err, runner.ErrNotBuilt) {
			here = "not built (" + b.Program + ")"
		}
		protos := make([]string, len(b.Protos))
		for i, p := range b.Protos {
			protos[i] = string(p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Name, strings.Join(protos, ","), here, b.Design)
	}
	return tw.Flush()
}
