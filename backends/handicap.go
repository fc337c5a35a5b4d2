package backends

import (
	"sync/atomic"
	"time"
)

// handicap is the CPU time every request (HTTP) or read (echo) burns
// first, in nanoseconds; 0 means none.
var handicap atomic.Int64

// SetHandicap makes every HTTP request and every echo read, on every
// backend, first burn d of CPU time with BurnCPU (0 turns it off). It lets
// a calibration plan compare a backend with a copy of itself carrying a
// known cost. Set it before a server starts serving; cmd/server sets it
// from -handicap-cpu-us.
func SetHandicap(d time.Duration) { handicap.Store(int64(max(d, 0))) }

// Handicap returns the CPU time set by SetHandicap.
func Handicap() time.Duration { return time.Duration(handicap.Load()) }

// PayHandicap burns the handicap's CPU time, if any, on the calling thread.
// Every backend calls it once per HTTP request, before answering, and once
// per echo read, before writing back. Without a handicap it costs one
// atomic load.
func PayHandicap() {
	if d := handicap.Load(); d > 0 {
		BurnCPU(time.Duration(d))
	}
}
