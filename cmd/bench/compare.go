package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/results/report"
)

const compareDoc = `Compare puts two run directories side by side, cell by cell: for each
metric the median and 95% confidence interval of each run, the change, and
a verdict from a Mann-Whitney U-test (as benchstat computes them). With
-gobench it also writes both runs in the Go benchmark format, for benchstat.
`

func cmdCompare(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", "[flags] A B", compareDoc)
	gobench := fs.Bool("gobench", false, "also write A's and B's rows in Go benchmark format as OUT/old.txt and OUT/new.txt, for benchstat")
	out := fs.String("out", ".", "directory `OUT` for the -gobench files")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("compare", "want two run directories")
	}
	a, err := readRows(fs.Arg(0), stderr)
	if err != nil {
		return err
	}
	b, err := readRows(fs.Arg(1), stderr)
	if err != nil {
		return err
	}
	if err := report.Compare(stdout, a, b); err != nil {
		return err
	}
	if !*gobench {
		return nil
	}
	oldPath, newPath := filepath.Join(*out, "old.txt"), filepath.Join(*out, "new.txt")
	if err := writeGoBench(oldPath, a); err != nil {
		return err
	}
	if err := writeGoBench(newPath, b); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nbenchstat %s %s\n", oldPath, newPath)
	return nil
}

func writeGoBench(path string, rows []results.Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.WriteGoBench(f, rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
