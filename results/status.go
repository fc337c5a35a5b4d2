package results

// Values of Row.Status.
const (
	StatusOK        = "ok"        // measured; the numbers describe the server
	StatusFailed    = "failed"    // the cell did not complete; see Reason
	StatusSaturated = "saturated" // the generator fell behind its schedule; not a server result
)
