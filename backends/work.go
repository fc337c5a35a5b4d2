package backends

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Paths of the two slow endpoints. GET /delay?us=N waits N microseconds and
// GET /cpu?us=N computes for N microseconds of CPU time; both then answer
// exactly like /plaintext. They stand for a call to a slow downstream service
// and for real work in the handler.
const (
	DelayPath = "/delay"
	CPUPath   = "/cpu"
)

// MaxWorkMicros is the largest us= a slow endpoint takes (10 s).
const MaxWorkMicros = 10_000_000

// BadWorkBody is the body of the 400 answer to a /delay or /cpu request
// whose us= is missing, repeated, negative, not a number or too large
// (Content-Type text/plain, Content-Length 41, Date). The connection stays
// open.
const BadWorkBody = "us must be an integer from 0 to 10000000\n"

// ParseMicros reads the us= parameter from the raw query of a /delay or /cpu
// request (the part after '?', not unescaped). It must appear exactly once,
// as plain decimal digits from 0 to MaxWorkMicros; other parameters are
// ignored. It does not allocate.
func ParseMicros(query []byte) (time.Duration, bool) {
	var us int64
	found := false
	for len(query) > 0 {
		i := 0
		for i < len(query) && query[i] != '&' {
			i++
		}
		param := query[:i]
		if i < len(query) {
			i++
		}
		query = query[i:]
		if len(param) < 3 || param[0] != 'u' || param[1] != 's' || param[2] != '=' {
			continue
		}
		if found {
			return 0, false
		}
		found = true
		v := param[3:]
		if len(v) == 0 || len(v) > 8 {
			return 0, false
		}
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, false
			}
			us = us*10 + int64(c-'0')
		}
	}
	if !found || us > MaxWorkMicros {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// BurnCPU computes until the calling thread has used d of CPU time, read
// from the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID). The goroutine is
// locked to its thread meanwhile, so the clock it reads is its own; time the
// thread spends descheduled does not count. It returns the CPU time used.
func BurnCPU(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	x := uint64(d)
	for {
		for range 256 { // about a microsecond of work between clock reads
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		if used := threadCPU() - start; used >= d {
			sink = x
			return used
		}
	}
}

// sink keeps the compiler from removing BurnCPU's work.
var sink uint64

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic("clock_gettime(CLOCK_THREAD_CPUTIME_ID): " + err.Error())
	}
	return time.Duration(ts.Nano())
}
