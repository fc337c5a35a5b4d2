package backends

import (
	"sync/atomic"
	"time"
)

// handicap is the CPU time every request (HTTP) or read (echo) burns
// first, in nanoseconds; 0 means none.
var handicap atomic.Int64

// The latency handicap: every delayEvery-th request (or echo read) waits
// delay before it is answered; 0 means none. delayCount numbers requests.
var (
	delay      atomic.Int64
	delayEvery atomic.Int64
	delayCount atomic.Int64
)

// SetHandicap makes every HTTP request and every echo read, on every
// backend, first burn d of CPU time with BurnCPU (0 turns it off). It lets
// a calibration plan compare a backend with a copy of itself carrying a
// known cost. Set it before a server starts serving; cmd/server sets it
// from -handicap-cpu-us.
func SetHandicap(d time.Duration) { handicap.Store(int64(max(d, 0))) }

// Handicap returns the CPU time set by SetHandicap.
func Handicap() time.Duration { return time.Duration(handicap.Load()) }

// SetDelayHandicap makes one HTTP request (or echo read) in every, on
// every backend, wait d before it is answered (d ≤ 0 or every < 1 turns it
// off): a known share 1/every of requests gets d of extra latency, so a
// calibration plan can compute the p99 it must find. The wait is a sleep
// of the goroutine or thread serving the request: on an event loop
// (gnet, cepoll aside) it holds up the loop's other connections too, so
// the expected figure holds only for designs that serve each connection
// on its own goroutine or thread. cmd/server sets it from
// -handicap-delay-us and -handicap-delay-every.
func SetDelayHandicap(d time.Duration, every int) {
	if d <= 0 || every < 1 {
		d, every = 0, 0
	}
	delay.Store(int64(d))
	delayEvery.Store(int64(every))
	delayCount.Store(0)
}

// DelayHandicap returns the wait and the share set by SetDelayHandicap.
func DelayHandicap() (time.Duration, int) {
	return time.Duration(delay.Load()), int(delayEvery.Load())
}

// PayHandicap burns the handicap's CPU time, if any, on the calling
// thread, and waits the latency handicap when this request is one of the
// delayed ones. Every backend calls it once per HTTP request, before
// answering, and once per echo read, before writing back. Without a
// handicap it costs two atomic loads.
func PayHandicap() {
	if d := handicap.Load(); d > 0 {
		BurnCPU(time.Duration(d))
	}
	if d := delay.Load(); d > 0 {
		if n := delayCount.Add(1); n%delayEvery.Load() == 0 {
			time.Sleep(time.Duration(d))
		}
	}
}
