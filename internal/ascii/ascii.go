// Package ascii holds the byte-level helpers that the hand-written HTTP/1.1
// parsers (the gnet backend's request parser and the load generator's
// response parser) share. Each function is small enough to be inlined into
// its caller's hot path and allocates nothing.
package ascii

// TrimOWS removes optional white space (spaces and tabs, RFC 9110 §5.6.3)
// at both ends of b.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFold reports whether b equals the lower-case ASCII string s,
// ignoring ASCII case in b. Only the letters A–Z fold.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Unhex is the value of each hex digit and -1 for every other byte.
var Unhex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

// ParseDecimal parses a non-empty run of ASCII digits (1*DIGIT). It reports
// false for an empty or non-digit input; a value above limit is returned as
// limit+1 with ok true, so callers can tell "too large" from "malformed"
// without overflowing. limit must be below math.MaxInt64.
func ParseDecimal(b []byte, limit int64) (v int64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) <= 18 { // at most 18 digits cannot overflow an int64
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		return min(v, limit+1), true
	}
	cut, last := limit/10, int64(limit%10)
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > cut || v == cut && d > last {
			v = limit + 1 // stays there: limit+1 > cut
		} else {
			v = v*10 + d
		}
	}
	return v, true
}
