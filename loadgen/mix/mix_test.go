package mix

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string][]Entry{
		"/plaintext:99,/cpu?us=1000:1": {{"/plaintext", 99}, {"/cpu?us=1000", 1}},
		"/a:b:3":                       {{"/a:b", 3}},
		"/:1":                          {{"/", 1}},
		"/delay?us=0:1000000":          {{"/delay?us=0", MaxWeight}},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                     "empty mix",
		"/a":                   `mix entry "/a": want PATH:WEIGHT`,
		"a:1":                  "must start with '/'",
		":1":                   "must start with '/'",
		"/a:1,":                `mix entry ""`,
		"/a:1,,/b:2":           `mix entry ""`,
		"/a b:1":               "no spaces",
		"/a\r\n:1":             "control characters",
		"/a:0":                 "from 1 to 1000000",
		"/a:-1":                "from 1 to 1000000",
		"/a:x":                 "from 1 to 1000000",
		"/a:1.5":               "from 1 to 1000000",
		"/a:+5":                "from 1 to 1000000",
		"/a:1000001":           "from 1 to 1000000",
		"/a:2147483648":        "from 1 to 1000000",
		"/cpu:1":               "/cpu needs us=N with N from 0 to 10000000",
		"/delay?us=x:1":        "/delay needs us=N",
		"/delay?us=99999999:1": "/delay needs us=N",
	}
	for in, want := range bad {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want an error with %q", in, err, want)
		}
	}
}

// TestParseEntryLimit: MaxEntries entries parse, one more is refused with
// an error that names the limit.
func TestParseEntryLimit(t *testing.T) {
	spec := func(n int) string {
		es := make([]string, n)
		for i := range es {
			es[i] = "/e" + strconv.Itoa(i) + ":1"
		}
		return strings.Join(es, ",")
	}
	if es, err := Parse(spec(MaxEntries)); err != nil || len(es) != MaxEntries {
		t.Fatalf("%d entries: %d, %v", MaxEntries, len(es), err)
	}
	_, err := Parse(spec(MaxEntries + 1))
	if err == nil || err.Error() != "mix of 1001 entries: at most 1000" {
		t.Fatalf("%d entries: %v", MaxEntries+1, err)
	}
}
