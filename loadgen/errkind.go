package loadgen

import "iter"

// ErrKind classifies a failed request or connection. Its zero value,
// ErrNone, is no error: a good response, or a connection that ends without
// one (the server's close that was asked for), which counts nothing and
// re-dials at once.
type ErrKind int

// Error kinds; after ErrNone, in the order they are reported.
const (
	ErrNone     ErrKind = iota // no error
	ErrConnect                 // dial failed
	ErrRead                    // read failed or the server closed with requests outstanding
	ErrWrite                   // write failed
	ErrTimeout                 // no response within the timeout
	ErrStatus                  // HTTP status outside 2xx
	ErrMismatch                // echoed bytes or body length differ from what was sent
	ErrProtocol                // response could not be parsed, or arrived unasked
)

// numErrKinds is the number of error kinds, ErrNone aside.
const numErrKinds = int(ErrProtocol)

// errKindNames are the names of the kinds, the keys of the summary's
// error_kinds.
var errKindNames = [...]string{
	ErrNone:     "none",
	ErrConnect:  "connect",
	ErrRead:     "read",
	ErrWrite:    "write",
	ErrTimeout:  "timeout",
	ErrStatus:   "status",
	ErrMismatch: "mismatch",
	ErrProtocol: "protocol",
}

// ErrKindName returns the name of k as the summary's error_kinds keys it
// ("connect", "read", …); "none" for ErrNone and for a value that is no
// kind.
func ErrKindName(k ErrKind) string {
	if k < 0 || int(k) >= len(errKindNames) {
		return errKindNames[ErrNone]
	}
	return errKindNames[k]
}

// String returns ErrKindName(k).
func (k ErrKind) String() string { return ErrKindName(k) }

// ErrKinds yields the error kinds, ErrNone aside, in the order they are
// reported.
func ErrKinds() iter.Seq[ErrKind] {
	return func(yield func(ErrKind) bool) {
		for k := ErrConnect; k <= ErrProtocol; k++ {
			if !yield(k) {
				return
			}
		}
	}
}

// errCounts counts errors by kind; the ErrNone slot stays zero.
type errCounts [ErrProtocol + 1]uint64
