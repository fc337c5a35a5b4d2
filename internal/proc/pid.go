package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Stat is what the project reads of /proc/PID/stat; times are in UserHZ
// ticks.
type Stat struct {
	Comm           string // command name
	State          byte   // R, S, D, Z, X, …
	Flags          uint64 // PF_* flags
	UTime, STime   uint64 // the process's own (all threads)
	CUTime, CSTime uint64 // of the children it has reaped
}

// pfKthread is PF_KTHREAD, the flag of a kernel thread.
const pfKthread = 0x00200000

// OwnTicks is the process's own CPU time, utime + stime.
func (s Stat) OwnTicks() uint64 { return s.UTime + s.STime }

// KernelThread reports whether the process is a kernel thread.
func (s Stat) KernelThread() bool { return s.Flags&pfKthread != 0 }

// exited reports whether a state is a zombie's or a dead process's.
func exited(state byte) bool { return state == 'Z' || state == 'X' }

// Stat reads /proc/PID/stat. A zombie is ErrExited.
func (p Proc) Stat() (Stat, error) {
	b, err := os.ReadFile(p.path("stat"))
	if err != nil {
		return Stat{}, p.errorf(err)
	}
	s, err := parseStat(b)
	if err != nil {
		return Stat{}, p.errorf(err)
	}
	if exited(s.State) {
		return Stat{}, p.errorf(ErrExited)
	}
	return s, nil
}

// parseStat parses the text of /proc/PID/stat. The command name may hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (Stat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, errors.New("stat: no command name")
	}
	// After ")": state(3) ppid pgrp session tty_nr tpgid flags(9) minflt
	// cminflt majflt cmajflt utime(14) stime(15) cutime(16) cstime(17).
	var f [15][]byte
	n := 0
	for rest := b[end+1:]; n < len(f); n++ {
		rest = bytes.TrimLeft(rest, " \n")
		if len(rest) == 0 {
			return Stat{}, fmt.Errorf("stat: %d fields after the name, want at least %d", n, len(f))
		}
		i := bytes.IndexAny(rest, " \n")
		if i < 0 {
			i = len(rest)
		}
		f[n], rest = rest[:i], rest[i:]
	}
	s := Stat{Comm: string(b[open+1 : end]), State: f[0][0]}
	var err error
	if s.Flags, err = strconv.ParseUint(string(f[6]), 10, 64); err != nil {
		return Stat{}, fmt.Errorf("stat flags: %w", err)
	}
	for i, v := range []*uint64{&s.UTime, &s.STime, &s.CUTime, &s.CSTime} {
		if *v, err = strconv.ParseUint(string(f[11+i]), 10, 64); err != nil {
			return Stat{}, fmt.Errorf("stat field %d: %w", 14+i, err)
		}
	}
	return s, nil
}

// Status is what the project reads of /proc/PID/status. Memory lines that
// kernel threads and zombies lack read as zero.
type Status struct {
	State       byte   // R, S, D, Z, X, …
	RSSKiB      int64  // VmRSS
	HWMKiB      int64  // VmHWM, peak resident set
	VmPTEKiB    int64  // VmPTE, page tables
	Threads     int    // Threads
	CtxSwitches uint64 // voluntary + nonvoluntary
}

// Status reads /proc/PID/status. A zombie is ErrExited.
func (p Proc) Status() (Status, error) {
	st, err := readStatus(p.path("status"))
	if err != nil {
		return Status{}, p.errorf(err)
	}
	if exited(st.State) {
		return Status{}, p.errorf(ErrExited)
	}
	return st, nil
}

// TaskCtxSwitches sums voluntary and involuntary context switches over
// every task of the process. It reads one file per thread (19,000 for a
// thread-per-connection server at 19,000 connections); a thread that
// exits meanwhile is left out.
func (p Proc) TaskCtxSwitches() (uint64, error) {
	tasks, err := os.ReadDir(p.path("task"))
	if err != nil {
		return 0, p.errorf(err)
	}
	var n uint64
	for _, t := range tasks {
		ts, err := readStatus(p.path("task", t.Name(), "status"))
		if err != nil {
			continue
		}
		n += ts.CtxSwitches
	}
	return n, nil
}

func readStatus(path string) (Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Status{}, err
	}
	return parseStatus(b)
}

// parseStatus reads the fields of Status from the text of
// /proc/PID/status or /proc/PID/task/TID/status.
func parseStatus(b []byte) (Status, error) {
	var st Status
	seen := false
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		var err error
		switch string(key) {
		case "State":
			if len(val) == 0 {
				return st, errors.New("status: empty State")
			}
			st.State = val[0]
			seen = true
		case "VmRSS":
			st.RSSKiB, err = parseKiB(val)
		case "VmHWM":
			st.HWMKiB, err = parseKiB(val)
		case "VmPTE":
			st.VmPTEKiB, err = parseKiB(val)
		case "Threads":
			st.Threads, err = strconv.Atoi(string(val))
		case "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches":
			var n uint64
			n, err = strconv.ParseUint(string(val), 10, 64)
			st.CtxSwitches += n
		}
		if err != nil {
			return st, fmt.Errorf("status %s: %w", key, err)
		}
	}
	if !seen {
		return st, errors.New("status: no State line")
	}
	return st, nil
}

// parseKiB parses "1234 kB".
func parseKiB(b []byte) (int64, error) {
	n, ok := bytes.CutSuffix(b, []byte(" kB"))
	if !ok {
		return 0, fmt.Errorf("want N kB, got %q", b)
	}
	return strconv.ParseInt(string(bytes.TrimSpace(n)), 10, 64)
}
