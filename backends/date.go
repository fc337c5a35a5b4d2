package backends

import (
	"net/http"
	"sync/atomic"
	"time"
)

// dateStamp is one formatted Date value and the Unix second it names.
type dateStamp struct {
	sec int64
	b   [len(http.TimeFormat)]byte
}

// cachedDate holds the latest dateStamp; it is replaced at most once per second.
var cachedDate atomic.Pointer[dateStamp]

// AppendDate appends the current time as an IMF-fixdate (RFC 9110 §5.6.7),
// e.g. "Sun, 06 Nov 1994 08:49:37 GMT", to dst and returns the extended slice.
// The value is cached and formatted at most once per second; AppendDate is
// safe for concurrent use and does not allocate once the cache is warm.
func AppendDate(dst []byte) []byte {
	return appendDateAt(dst, time.Now())
}

// appendDateAt is AppendDate with the clock passed in.
func appendDateAt(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	d := cachedDate.Load()
	if d == nil || d.sec != sec {
		nd := &dateStamp{sec: sec}
		time.Unix(sec, 0).UTC().AppendFormat(nd.b[:0], http.TimeFormat)
		// Keep the newest stamp: a slow writer must not replace a later second.
		for {
			old := cachedDate.Load()
			if old != nil && old.sec >= sec {
				if old.sec == sec {
					d = old
				} else {
					d = nd
				}
				break
			}
			if cachedDate.CompareAndSwap(old, nd) {
				d = nd
				break
			}
		}
	}
	return append(dst, d.b[:]...)
}
