package runner

import (
	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// EndpointWriter receives the per-endpoint rows of one cell repetition;
// *results.AppendTable[results.EndpointRow] is one.
type EndpointWriter interface {
	Write([]results.EndpointRow) error
}

// writeEndpoints hands eps to w unless either is empty.
func writeEndpoints(w EndpointWriter, eps []results.EndpointRow) error {
	if w == nil || len(eps) == 0 {
		return nil
	}
	return w.Write(eps)
}

// KeepEndpoints returns the filter for results.OpenEndpoints of a resumed
// run: it keeps the endpoint rows of the cell repetitions in done (see
// Completed), which will not run again, and drops those of cells that
// will.
func KeepEndpoints(done map[string]bool) func(results.EndpointRow) bool {
	return func(e results.EndpointRow) bool { return done[rowID(e.Cell, e.Rep)] }
}

// setWorkloadColumns fills the workload parameter columns of a cell's row:
// handler_us for delay and cpu, mix and seed for a mix.
func setWorkloadColumns(r *results.Row, c Cell) {
	if c.Workload.HasHandlerTime() {
		r.HandlerUs = new(int64(c.Workload.HandlerUs))
	}
	if c.Workload.Mix != "" {
		r.Mix = c.Workload.Mix
		r.Seed = new(c.Seed())
	}
}

// endpointRows turns the generator's per-endpoint statistics into rows of
// endpoints.csv, with the identity columns of the cell's row.
func endpointRows(row results.Row, s *summary.Summary) []results.EndpointRow {
	if len(s.Endpoints) == 0 {
		return nil
	}
	out := make([]results.EndpointRow, len(s.Endpoints))
	for i, e := range s.Endpoints {
		out[i] = results.EndpointRow{
			RunID: row.RunID, Cell: row.Cell, Rep: row.Rep, Backend: row.Backend,
			Workload: row.Workload, Conns: row.Conns,
			Path: e.Path, Weight: e.Weight, Requests: e.Requests, Errors: e.Errors,
			P50Us: e.Latency.P50, P90Us: e.Latency.P90, P99Us: e.Latency.P99,
			P999Us: e.Latency.P999, MaxUs: e.Latency.Max, MeanUs: e.Latency.Mean,
			Attempt: row.Attempt,
		}
	}
	return out
}
