package results

// Status says whether a row's numbers describe the server.
type Status string

// Values of Row.Status.
const (
	StatusOK        Status = "ok"        // measured; the numbers describe the server
	StatusFailed    Status = "failed"    // the cell did not complete; see Reason
	StatusSaturated Status = "saturated" // the generator fell behind its schedule or was the bottleneck; not a server result
	StatusNoisy     Status = "noisy"     // something else used the pinned CPUs (or steal) beyond the thresholds; not published
	// StatusBacklog: an open-loop run whose schedule was not met because
	// sends waited for the server's answers. The wait is the server's
	// latency, timed from the intended send: a valid result, counted.
	StatusBacklog Status = "backlog"
)

// Counts reports whether a row with this status describes the server, so
// that its numbers go into every table, plot and verdict: ok and backlog.
func (s Status) Counts() bool { return s == StatusOK || s == StatusBacklog }
