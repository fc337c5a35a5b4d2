package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// flagHelp returns the lines of usage that document flag name: its own
// line and the indented lines after it.
func flagHelp(usage, name string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.SplitAfter(usage, "\n") {
		if strings.HasPrefix(line, "  -") {
			in = strings.HasPrefix(line, "  -"+name+" ") || line == "  -"+name+"\n"
		}
		if in {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestCellFlagsShared: bench run and bench slo document the flags of
// cellFlags in the same words.
func TestCellFlagsShared(t *testing.T) {
	help := map[string]string{}
	for _, cmd := range []string{"run", "slo"} {
		var stdout bytes.Buffer
		_ = run(context.Background(), []string{cmd, "-h"}, &stdout, &bytes.Buffer{})
		help[cmd] = stdout.String()
	}
	for _, name := range []string{"out", "run-id", "server", "loadgen", "server-cpus", "gen-cpus", "start-timeout", "quiet-wait"} {
		r, s := flagHelp(help["run"], name), flagHelp(help["slo"], name)
		if r == "" || r != s {
			t.Errorf("-%s:\nrun: %q\nslo: %q", name, r, s)
		}
	}
}
