package cpuset

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"0", "0", false},
		{"0-1", "0-1", false},
		{"2,3", "2-3", false},
		{" 3 , 1 ", "1,3", false},
		{"0-2,5,7-8", "0-2,5,7-8", false},
		{"1,1,0-1", "0-1", false},
		{"", "", true},
		{"a", "", true},
		{"-1", "", true},
		{"3-1", "", true},
		{"0-", "", true},
		{"5000", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Fatalf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestMissingOverlaps(t *testing.T) {
	a, b := Set{0, 1}, Set{1, 2}
	if m := b.Missing(a); len(m) != 1 || m[0] != 2 {
		t.Fatalf("Missing = %v, want [2]", m)
	}
	if m := (Set{0}).Missing(a); m != nil {
		t.Fatalf("Missing = %v, want none", m)
	}
	if !a.Overlaps(b) || a.Overlaps(Set{3}) {
		t.Fatal("Overlaps wrong")
	}
}

func cpusAllowed(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no Cpus_allowed_list")
	return ""
}

func TestStartPins(t *testing.T) {
	avail, err := Available()
	if err != nil {
		t.Fatal(err)
	}
	if len(avail) < 2 {
		// Pinned and unpinned children look the same on one CPU.
		t.Skipf("pinning is only observable with two CPUs or more; available: %s", avail)
	}
	// Pin to the last available CPU, which differs from the full set.
	want := Set{avail[len(avail)-1]}
	cmd := exec.Command("sleep", "5")
	if err := Start(cmd, want); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if got := cpusAllowed(t, cmd.Process.Pid); got != want.String() {
		t.Fatalf("child Cpus_allowed_list = %s, want %s", got, want)
	}
	// The parent keeps its own affinity.
	after, err := Available()
	if err != nil {
		t.Fatal(err)
	}
	if after.String() != avail.String() {
		t.Fatalf("parent affinity changed: %s → %s", avail, after)
	}
}
