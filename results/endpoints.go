package results

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// EndpointsFile is the name of the per-endpoint results in a run directory.
const EndpointsFile = "endpoints.csv"

// EndpointRow is one entry of a request mix in one cell × repetition: one
// line of endpoints.csv. Its identity columns repeat those of the cell's
// Row; the numbers come from the generator's per-endpoint statistics.
// Columns are only ever appended, as in summary.csv.
type EndpointRow struct {
	RunID    string `csv:"run_id"`
	Cell     string `csv:"cell"`
	Rep      int    `csv:"rep"`
	Backend  string `csv:"backend"`
	Workload string `csv:"workload"`
	Conns    int    `csv:"conns"`

	Path     string  `csv:"path"`   // path and query as written in the mix
	Weight   int     `csv:"weight"` // relative weight in the mix
	Requests uint64  `csv:"requests"`
	Errors   uint64  `csv:"errors"`
	P50Us    int64   `csv:"p50_us"`
	P90Us    int64   `csv:"p90_us"`
	P99Us    int64   `csv:"p99_us"`
	P999Us   int64   `csv:"p999_us"`
	MaxUs    int64   `csv:"max_us"`
	MeanUs   float64 `csv:"mean_us"`
	Attempt  int     `csv:"attempt"` // the cell row's attempt (Row.Attempt); 0 before the column existed
}

// endpointTable is the CSV codec of EndpointRow.
var endpointTable = newTable[EndpointRow]("an endpoints CSV")

// EndpointHeader returns the column names of endpoints.csv.
func EndpointHeader() []string { return endpointTable.header() }

// OpenEndpoints opens the endpoints.csv at path for appending and returns
// the rows already in it, as openTable says (a torn last line cut off, an
// older schema rewritten, a foreign header refused). Rows for which keep
// returns false are removed from the file (keep nil keeps all): a resumed
// run passes the cell repetitions it will not run again, so that a cell it
// retries never has the endpoint rows of two attempts. The file is created
// by the first Write, so a run without mixes leaves none.
func OpenEndpoints(path string, keep func(EndpointRow) bool, warn io.Writer) (*AppendTable[EndpointRow], []EndpointRow, error) {
	return openTable(path, endpointTable, keep, warn)
}

// ReadEndpoints reads endpoints.csv. Like ReadCSV it maps columns by
// name, drops a torn last line and rows with NaN or infinite numbers with
// a warning on warn (nil: discarded).
func ReadEndpoints(r io.Reader, warn io.Writer) ([]EndpointRow, error) {
	return endpointTable.readAll(r, warn)
}

// ReadEndpointsFile reads dir/endpoints.csv; a missing file gives no rows
// and no error (a run without mixes has none).
func ReadEndpointsFile(dir string, warn io.Writer) ([]EndpointRow, error) {
	f, err := os.Open(filepath.Join(dir, EndpointsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadEndpoints(f, warn)
}
