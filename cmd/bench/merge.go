package main

import (
	"context"
	"io"

	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner"
)

const mergeDoc = `Merge adds the results of several load generators that drove one server
at the same time (one cell) into one summary.csv row: counts are summed and
latency percentiles come from the exactly merged .hlog histograms. Each
INPUT is a generator's JSON summary (loadgen -json-out X.json, with X.hlog
beside it) or a directory of them.

Merge refuses, with the reason, anything that is not one cell measured by
distinct generators: different targets, workloads, connections per
generator, pipeline depths, rate modes (open or closed loop) or payloads;
the same file or directory twice; windows (start_time + duration_s) that do
not overlap. Server resources are not measured by generators, so those
columns are empty in the merged row.
`

func cmdMerge(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", "-backend NAME [flags] INPUT...", mergeDoc)
	out := fs.String("out", "", "append the merged row to this CSV `FILE` (default: print CSV to stdout)")
	var meta runner.MergeMeta
	fs.StringVar(&meta.Backend, "backend", "", "backend the generators drove (required)")
	fs.StringVar(&meta.RunID, "run-id", "merged", "run id of the merged row")
	fs.StringVar(&meta.Commit, "commit", "", "commit of the server measured (default: read from -server)")
	server := fs.String("server", "", "server `BINARY` measured, to read its commit from")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usagef("merge", "want at least one INPUT")
	case meta.Backend == "":
		return usagef("merge", "-backend is required")
	}
	if meta.Commit == "" && *server != "" {
		meta.Commit = runner.DetectEnv(*server).Commit
	}
	gens, err := runner.FindGenerators(fs.Args())
	if err != nil {
		return err
	}
	row, err := runner.MergeRow(gens, meta)
	if err != nil {
		return err
	}
	return appendRow(*out, row, stdout, stderr)
}

// appendRow appends row to the CSV file path, or prints it with a header
// to stdout when path is empty.
func appendRow(path string, row results.Row, stdout, stderr io.Writer) error {
	var w *results.CSVWriter
	if path == "" {
		w = results.NewCSVWriter(stdout)
	} else {
		var err error
		if w, _, err = results.OpenCSV(path, stderr); err != nil {
			return err
		}
	}
	if err := w.Write(row); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
