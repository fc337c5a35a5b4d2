package runner

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// Generator is one load generator's output: its summary and interval log.
type Generator struct {
	Summary summary.Summary
	Hlog    string
}

// FindGenerators pairs each X.json summary in dirs with its X.hlog (or the
// log the summary names). Files that are not loadgen summaries are errors.
func FindGenerators(dirs []string) ([]Generator, error) {
	var gens []Generator
	for _, dir := range dirs {
		paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("merge: no .json summaries in %s", dir)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("merge: %w", err)
			}
			var g Generator
			if err := json.Unmarshal(data, &g.Summary); err != nil {
				return nil, fmt.Errorf("merge: %s: %w", p, err)
			}
			g.Hlog = strings.TrimSuffix(p, ".json") + ".hlog"
			if _, err := os.Stat(g.Hlog); err != nil {
				if g.Summary.HlogPath == "" {
					return nil, fmt.Errorf("merge: %s has no .hlog beside it", p)
				}
				g.Hlog = g.Summary.HlogPath
				if !filepath.IsAbs(g.Hlog) {
					g.Hlog = filepath.Join(dir, filepath.Base(g.Hlog))
				}
			}
			gens = append(gens, g)
		}
	}
	return gens, nil
}

// MergeRow adds several generators' results into one row: requests, errors
// and generator CPU are summed, connections and rates too; latency comes from
// the exactly merged histograms (never averaged percentiles); rps is the
// summed requests over the longest window. Server columns come from the
// first generator that sampled the server.
func MergeRow(gens []Generator) (results.Row, error) {
	if len(gens) == 0 {
		return results.Row{}, errors.New("merge: no generators")
	}
	first := gens[0].Summary
	var (
		sum   summary.Summary
		paths []string
		kinds = map[string]uint64{}
	)
	sum.Workload, sum.Pipeline, sum.PayloadBytes = first.Workload, first.Pipeline, first.PayloadBytes
	for _, g := range gens {
		s := g.Summary
		if s.Workload != first.Workload || s.PayloadBytes != first.PayloadBytes {
			return results.Row{}, fmt.Errorf("merge: %s: workload %s/%d bytes differs from %s/%d bytes",
				g.Hlog, s.Workload, s.PayloadBytes, first.Workload, first.PayloadBytes)
		}
		sum.Conns += s.Conns
		sum.Rate += s.Rate
		sum.Requests += s.Requests
		sum.Errors += s.Errors
		sum.GeneratorCPUSeconds += s.GeneratorCPUSeconds
		sum.DurationSeconds = max(sum.DurationSeconds, s.DurationSeconds)
		sum.Saturated = sum.Saturated || s.Saturated
		if s.Saturated && sum.SaturatedReason == "" {
			sum.SaturatedReason = s.SaturatedReason
		}
		for k, v := range s.ErrorKinds {
			kinds[k] += v
		}
		if sum.Server == nil && s.Server != nil {
			sum.Server = s.Server
		}
		paths = append(paths, g.Hlog)
	}
	sum.ErrorKinds = kinds
	h, _, err := results.MergeHlogs(paths)
	if err != nil {
		return results.Row{}, err
	}
	sum.Latency = summary.PercentilesOf(h)
	if sum.DurationSeconds > 0 {
		sum.RPS = float64(sum.Requests) / sum.DurationSeconds
	}
	proto := "http"
	if first.Workload == summary.WorkloadEcho {
		proto = string(backends.ProtoEcho)
	}
	r := results.Row{
		Cell: fmt.Sprintf("merged/%s/c%d/p%d/r%s/b%d", proto, sum.Conns, sum.Pipeline, formatRate(sum.Rate), sum.PayloadBytes),
		Rep:  1, Proto: proto, Workload: string(first.Workload),
		Conns: sum.Conns, Pipeline: sum.Pipeline, Rate: sum.Rate, Payload: sum.PayloadBytes,
	}
	fillRow(&r, &sum)
	return r, nil
}

func cmdMerge(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("out", "", "append the merged row to this CSV `FILE` (default: print CSV to stdout)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 0 {
		return usagef("bench merge needs at least one directory")
	}
	gens, err := FindGenerators(fs.Args())
	if err != nil {
		return err
	}
	row, err := MergeRow(gens)
	if err != nil {
		return err
	}
	var w *results.CSVWriter
	if *out == "" {
		w = results.NewCSVWriter(stdout)
	} else if w, _, err = results.OpenCSV(*out, os.Stderr); err != nil {
		return err
	}
	if err := w.Write(row); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
