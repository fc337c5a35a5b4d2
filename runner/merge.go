package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// Generator is one load generator's output: its summary and interval log.
type Generator struct {
	Summary summary.Summary
	JSON    string // path of the summary
	Hlog    string // path of the interval log
}

// FindGenerators reads the generators named by inputs: each input is a
// summary file X.json or a directory of them; each summary's interval log
// is X.hlog beside it, or the log the summary names. The same input or the
// same file named twice is refused, as is a file that is not a summary.
func FindGenerators(inputs []string) ([]Generator, error) {
	seen := map[string]string{} // absolute path → input that named it
	var gens []Generator
	for _, in := range inputs {
		paths, err := summaryFiles(in)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, fmt.Errorf("merge: %w", err)
			}
			if prev, ok := seen[abs]; ok {
				return nil, fmt.Errorf("merge: %s is named twice (by %s and %s); each generator counts once", p, prev, in)
			}
			seen[abs] = in
			g, err := readGenerator(p)
			if err != nil {
				return nil, err
			}
			gens = append(gens, g)
		}
	}
	return gens, nil
}

// summaryFiles lists the .json summaries input names.
func summaryFiles(input string) ([]string, error) {
	st, err := os.Stat(input)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if !st.IsDir() {
		return []string{input}, nil
	}
	paths, err := filepath.Glob(filepath.Join(input, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("merge: no .json summaries in %s", input)
	}
	return paths, nil
}

func readGenerator(path string) (Generator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Generator{}, fmt.Errorf("merge: %w", err)
	}
	g := Generator{JSON: path}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&g.Summary); err != nil {
		return Generator{}, fmt.Errorf("merge: %s: not a loadgen summary: %w", path, err)
	}
	if g.Summary.Target == "" || g.Summary.Workload == "" {
		return Generator{}, fmt.Errorf("merge: %s: not a loadgen summary (no target or workload)", path)
	}
	g.Hlog = strings.TrimSuffix(path, ".json") + ".hlog"
	if _, err := os.Stat(g.Hlog); err != nil {
		if g.Summary.HlogPath == "" {
			return Generator{}, fmt.Errorf("merge: %s has no .hlog beside it", path)
		}
		g.Hlog = g.Summary.HlogPath
		if !filepath.IsAbs(g.Hlog) {
			g.Hlog = filepath.Join(filepath.Dir(path), filepath.Base(g.Hlog))
		}
	}
	return g, nil
}

// MergeMeta is what a merged row records that the generators do not know.
type MergeMeta struct {
	RunID   string
	Backend string // must be a known backend
	Commit  string // of the server measured; "" = unknown
}

// checkOneCell returns an error naming the first reason gens are not one
// cell measured by distinct generators at the same time: they must drive
// the same target with the same workload, connections per generator,
// pipeline depth, rate mode (open or closed loop) and payload; no two may
// be the same generator; and their measured windows (start_time plus
// duration_s) must all overlap.
func checkOneCell(gens []Generator) error {
	if len(gens) == 0 {
		return errors.New("merge: no generators")
	}
	first := gens[0]
	for _, g := range gens[1:] {
		if err := sameCell(first, g); err != nil {
			return err
		}
	}
	if err := distinctGenerators(gens); err != nil {
		return err
	}
	return overlappingWindows(gens)
}

// sameCell compares the cell parameters of two generators.
func sameCell(a, b Generator) error {
	x, y := a.Summary, b.Summary
	type param struct {
		name string
		a, b any
	}
	for _, p := range []param{
		{"target", x.Target, y.Target},
		{"workload", x.Workload, y.Workload},
		{"connections", x.Conns, y.Conns},
		{"pipeline", x.Pipeline, y.Pipeline},
		{"rate mode (open loop)", x.Rate > 0, y.Rate > 0},
		{"payload_bytes", x.PayloadBytes, y.PayloadBytes},
	} {
		if p.a != p.b {
			return fmt.Errorf("merge: not one cell: %s has %s %v, %s has %v", a.JSON, p.name, p.a, b.JSON, p.b)
		}
	}
	return nil
}

// distinctGenerators refuses two summaries of the same generator run (a
// copy of one file counted twice).
func distinctGenerators(gens []Generator) error {
	type id struct {
		start            string
		requests, rd, wr uint64
		gcpu, duration   float64
	}
	seen := map[id]string{}
	for _, g := range gens {
		s := g.Summary
		k := id{s.StartTime, s.Requests, s.BytesRead, s.BytesWritten, s.GeneratorCPUSeconds, s.DurationSeconds}
		if prev, ok := seen[k]; ok {
			return fmt.Errorf("merge: %s and %s are the same generator run (same start, requests and bytes)", prev, g.JSON)
		}
		seen[k] = g.JSON
	}
	return nil
}

// overlappingWindows checks that all measured windows share some time.
func overlappingWindows(gens []Generator) error {
	var lastStart, firstEnd time.Time
	var lastStarter, firstEnder string
	for i, g := range gens {
		start, err := time.Parse(time.RFC3339Nano, g.Summary.StartTime)
		if err != nil {
			return fmt.Errorf("merge: %s: start_time %q: want RFC 3339", g.JSON, g.Summary.StartTime)
		}
		end := start.Add(time.Duration(g.Summary.DurationSeconds * float64(time.Second)))
		if i == 0 || start.After(lastStart) {
			lastStart, lastStarter = start, g.JSON
		}
		if i == 0 || end.Before(firstEnd) {
			firstEnd, firstEnder = end, g.JSON
		}
	}
	if !lastStart.Before(firstEnd) {
		return fmt.Errorf("merge: measured windows do not overlap: %s ended at %s, before %s started at %s",
			firstEnder, firstEnd.Format(time.RFC3339Nano), lastStarter, lastStart.Format(time.RFC3339Nano))
	}
	return nil
}

// MergeRow adds several generators' results for one cell (see
// checkOneCell) into one row: requests, errors, connections, rates and
// generator CPU are summed; latency comes from the exactly merged
// histograms (never averaged percentiles); rps is the summed requests over
// the longest window. What generators do not measure — the server's
// resources, and the uncorrected latency and send lag, whose histograms
// are not merged — is left empty.
func MergeRow(gens []Generator, meta MergeMeta) (results.Row, error) {
	if err := checkOneCell(gens); err != nil {
		return results.Row{}, err
	}
	if _, err := backends.Lookup(meta.Backend); err != nil {
		return results.Row{}, fmt.Errorf("merge: %w", err)
	}
	w, err := workloadOf(gens[0].Summary)
	if err != nil {
		return results.Row{}, err
	}
	sum, start, paths := addSummaries(gens)
	h, _, err := results.MergeHlogs(paths)
	if err != nil {
		return results.Row{}, err
	}
	sum.Latency = summary.PercentilesOf(h)
	if sum.DurationSeconds > 0 {
		sum.RPS = float64(sum.Requests) / sum.DurationSeconds
	}
	c := Cell{Backend: meta.Backend, Workload: w, Conns: sum.Conns, Pipeline: sum.Pipeline, Rate: sum.Rate, Rep: 1}
	if w.UsePayload {
		c.Payload = sum.PayloadBytes
	}
	r := results.Row{
		RunID: meta.RunID, Cell: c.Key(), Rep: c.Rep, Backend: c.Backend,
		Proto: string(w.Proto), Workload: w.Name,
		Conns: c.Conns, Pipeline: c.Pipeline, Rate: c.Rate, Payload: c.Payload,
		Commit: meta.Commit, StartTime: start.UTC().Format(time.RFC3339),
	}
	setWorkloadColumns(&r, c)
	fillRow(&r, &sum)
	r.Status, r.Reason = results.Judge(results.Evidence{Summary: &sum, Rate: r.Rate})
	r.UncorrectedP99Us, r.SendLagP99Us = nil, nil
	return r, nil
}

// addSummaries sums the generators' counts into one summary without server
// stats, and returns the earliest start and the interval logs.
func addSummaries(gens []Generator) (sum summary.Summary, start time.Time, hlogs []string) {
	first := gens[0].Summary
	sum.Workload, sum.Pipeline, sum.PayloadBytes = first.Workload, first.Pipeline, first.PayloadBytes
	sum.ErrorKinds = map[string]uint64{}
	for _, g := range gens {
		s := g.Summary
		sum.Conns += s.Conns
		sum.Rate += s.Rate
		sum.Requests += s.Requests
		sum.Errors += s.Errors
		sum.GeneratorCPUSeconds += s.GeneratorCPUSeconds
		sum.DurationSeconds = max(sum.DurationSeconds, s.DurationSeconds)
		if s.StopReason == summary.StopServerExited {
			sum.StopReason = s.StopReason
		}
		if s.Saturated && !sum.Saturated {
			sum.Saturated, sum.SaturatedReason = true, s.SaturatedReason
		}
		for k, v := range s.ErrorKinds {
			sum.ErrorKinds[k] += v
		}
		if t, err := time.Parse(time.RFC3339Nano, s.StartTime); err == nil && (start.IsZero() || t.Before(start)) {
			start = t
		}
		hlogs = append(hlogs, g.Hlog)
	}
	return sum, start, hlogs
}

// workloadOf finds the plan workload a summary drove, from its target.
func workloadOf(s summary.Summary) (Workload, error) {
	u, err := url.Parse(s.Target)
	if err != nil {
		return Workload{}, fmt.Errorf("merge: target %q: %w", s.Target, err)
	}
	if w, ok, err := handlerWorkload(s, u); ok || err != nil {
		return w, err
	}
	if s.ServerIdle != nil {
		return Workload{}, fmt.Errorf("merge: %s was an idle run; idle runs measure one server's memory and are not merged", s.Target)
	}
	for _, w := range Workloads {
		if w.Idle {
			continue // an idle summary carries server_idle, refused above
		}
		if (w.Proto == backends.ProtoEcho) == (s.Workload == summary.WorkloadEcho) && w.Path == u.Path && w.Churn == s.Churn {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("merge: target %s (%s) is no plan workload", s.Target, s.Workload)
}
