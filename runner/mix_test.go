package runner

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen"
)

// TestMixSameAnswerPlanAndGenerator: mixes at and beyond the limits get
// the same answer from plan validation (ParseWorkload) and from the
// generator's configuration check, and a refusal names the limit.
func TestMixSameAnswerPlanAndGenerator(t *testing.T) {
	entries := func(n int) string {
		es := make([]string, n)
		for i := range es {
			es[i] = "/e" + strconv.Itoa(i) + ":1"
		}
		return strings.Join(es, ",")
	}
	tests := []struct {
		spec, refusal string // refusal "" = accepted
	}{
		{"/plaintext:1000000", ""},
		{"/plaintext:1000001", "from 1 to 1000000"},
		{"/plaintext:1073741824", "from 1 to 1000000"},
		{"/plaintext:+5", "from 1 to 1000000"},
		{"/cpu:1", "/cpu needs us=N with N from 0 to 10000000"},
		{"/delay?us=10000001:1", "/delay needs us=N with N from 0 to 10000000"},
		{entries(1000), ""},
		{entries(1001), "at most 1000"},
	}
	for _, tt := range tests {
		name := tt.spec
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		_, planErr := ParseWorkload("mix:" + tt.spec)
		cfg := loadgen.Config{Target: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second, Mix: tt.spec}
		genErr := cfg.Validate()
		for who, err := range map[string]error{"plan": planErr, "generator": genErr} {
			if tt.refusal == "" && err != nil {
				t.Errorf("%s: %s refuses: %v", name, who, err)
			}
			if tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)) {
				t.Errorf("%s: %s: %v, want a refusal with %q", name, who, err, tt.refusal)
			}
		}
	}
}
