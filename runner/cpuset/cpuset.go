// Package cpuset parses CPU lists such as "0", "0-1" or "2,3" and starts
// child processes pinned to a set of CPUs without external tools.
package cpuset

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Set is a sorted list of distinct CPU numbers.
type Set []int

// maxCPU bounds the CPU numbers Parse accepts; it matches the size of
// unix.CPUSet.
const maxCPU = 1024

// Parse reads a CPU list in the kernel's list format ("0", "0-3", "1,3-5").
func Parse(s string) (Set, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty CPU list")
	}
	var set Set
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
			if b < a {
				return nil, fmt.Errorf("CPU list %q: range %d-%d is backwards", s, a, b)
			}
		}
		for c := a; c <= b; c++ {
			set = append(set, c)
		}
	}
	slices.Sort(set)
	return slices.Compact(set), nil
}

func parseCPU(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	if n >= maxCPU {
		return 0, fmt.Errorf("CPU %d is above the supported maximum %d", n, maxCPU-1)
	}
	return n, nil
}

// String formats the set in list format with ranges collapsed ("0-2,5").
func (s Set) String() string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if j > i {
			fmt.Fprintf(&b, "-%d", s[j])
		}
		i = j + 1
	}
	return b.String()
}

// Missing returns the CPUs of s that are not in avail; none means s ⊆ avail.
func (s Set) Missing(avail Set) (missing Set) {
	for _, c := range s {
		if !slices.Contains(avail, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// Overlaps reports whether s and t share a CPU.
func (s Set) Overlaps(t Set) bool {
	for _, c := range s {
		if slices.Contains(t, c) {
			return true
		}
	}
	return false
}

func (s Set) mask() unix.CPUSet {
	var m unix.CPUSet
	for _, c := range s {
		m.Set(c)
	}
	return m
}

func fromMask(m *unix.CPUSet) Set {
	var s Set
	for c := 0; c < maxCPU; c++ {
		if m.IsSet(c) {
			s = append(s, c)
		}
	}
	return s
}

// Available returns the CPUs this process may run on (sched_getaffinity).
func Available() (Set, error) {
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(0, &m); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	return fromMask(&m), nil
}

// Start starts cmd with its CPU affinity set to s. An empty s starts it
// unpinned.
//
// The calling goroutine is locked to its OS thread, the thread's affinity is
// narrowed to s, the child is forked from that thread (a child inherits the
// forking thread's affinity) and the thread's affinity is then restored.
// The thread stays alive afterwards, so a Pdeathsig set on cmd does not fire
// early.
func Start(cmd *exec.Cmd, s Set) error {
	if len(s) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	m := s.mask()
	if err := unix.SchedSetaffinity(0, &m); err != nil {
		return fmt.Errorf("pin to CPUs %s: %w", s, err)
	}
	startErr := cmd.Start()
	// Restoring the mask we just read cannot fail in practice; if it did,
	// this thread would only run later goroutines on fewer CPUs.
	_ = unix.SchedSetaffinity(0, &old)
	return startErr
}
