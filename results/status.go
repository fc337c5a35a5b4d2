package results

// Status says whether a row's numbers describe the server.
type Status string

// Values of Row.Status.
const (
	StatusOK        Status = "ok"        // measured; the numbers describe the server
	StatusFailed    Status = "failed"    // the cell did not complete; see Reason
	StatusSaturated Status = "saturated" // the generator fell behind its schedule or was the bottleneck; not a server result
	StatusNoisy     Status = "noisy"     // something else used the pinned CPUs (or steal) beyond the thresholds; not published
)
