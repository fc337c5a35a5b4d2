package runner

import (
	"bufio"
	"debug/buildinfo"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// Env is what every row records about the machine and the code measured.
type Env struct {
	GoVersion string
	Kernel    string
	CPUModel  string
	Commit    string
	HostCPUs  int // online CPUs; 0 = unknown
}

// DetectEnv reads the environment: the Go version and commit of the
// server binary at serverPath (the code measured), the kernel release and
// the CPU model.
func DetectEnv(serverPath string) Env {
	e := Env{GoVersion: "unknown", Kernel: "unknown", CPUModel: "unknown", Commit: "unknown"}
	if bi, err := buildinfo.ReadFile(serverPath); err == nil {
		e.GoVersion = bi.GoVersion
		e.Commit = vcsCommit(bi.Settings)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		e.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	e.HostCPUs = onlineCPUs()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		if m := parseCPUModel(f); m != "" {
			e.CPUModel = m
		}
		f.Close()
	}
	return e
}

// parseCPUModel returns the first "model name" in /proc/cpuinfo text.
func parseCPUModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// vcsCommit is the vcs.revision a binary was built from, shortened to 12
// digits and marked "+dirty" when vcs.modified says the tree had
// uncommitted changes; "unknown" when the build recorded none (go run,
// -buildvcs=false, a build outside the repository).
func vcsCommit(settings []debug.BuildSetting) string {
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "unknown"
	case dirty:
		return rev + "+dirty"
	}
	return rev
}
