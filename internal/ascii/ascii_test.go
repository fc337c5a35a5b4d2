package ascii

import (
	"math"
	"strconv"
	"testing"
)

func TestTrimOWS(t *testing.T) {
	for in, want := range map[string]string{"": "", " \t a b\t ": "a b", "x": "x", "\t\t": ""} {
		if got := string(TrimOWS([]byte(in))); got != want {
			t.Errorf("TrimOWS(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		b, s string
		want bool
	}{
		{"Keep-Alive", "keep-alive", true},
		{"CLOSE", "close", true},
		{"close", "closed", false},
		{"keep\ralive", "keep-alive", false}, // '\r'|0x20 is '-': no bit tricks
		{"@", "`", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := EqualFold([]byte(tt.b), tt.s); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v", tt.b, tt.s, got)
		}
	}
}

func TestUnhex(t *testing.T) {
	for c := range 256 {
		want, err := strconv.ParseInt(string(rune(c)), 16, 8)
		if err != nil {
			want = -1
		}
		if got := Unhex[c]; int64(got) != want {
			t.Errorf("Unhex[%q] = %d, want %d", rune(c), got, want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		limit int64
		v     int64
		ok    bool
	}{
		{"0", 10, 0, true},
		{"13", 100, 13, true},
		{"100", 100, 100, true},
		{"101", 100, 101, true},
		{"99999999999999999999999999", 1 << 20, 1<<20 + 1, true},
		{"", 10, 0, false},
		{"1a", 10, 0, false},
		{"-1", 10, 0, false},
		{" 1", 10, 0, false},
		{"9223372036854775807", math.MaxInt64 - 1, math.MaxInt64, true},
	}
	for _, tt := range tests {
		v, ok := ParseDecimal([]byte(tt.in), tt.limit)
		if v != tt.v || ok != tt.ok {
			t.Errorf("ParseDecimal(%q, %d) = %d, %v; want %d, %v", tt.in, tt.limit, v, ok, tt.v, tt.ok)
		}
	}
}
