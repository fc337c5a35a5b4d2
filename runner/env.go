package runner

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Env is what every row records about the machine and the code measured.
type Env struct {
	GoVersion string
	Kernel    string
	CPUModel  string
	Commit    string
}

// DetectEnv reads the environment: the Go version of this binary (servers
// are built by the same toolchain), the kernel release, the CPU model and
// the commit.
func DetectEnv(ctx context.Context) Env {
	e := Env{GoVersion: runtime.Version(), Kernel: "unknown", CPUModel: "unknown", Commit: commit(ctx)}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		e.Kernel = unix.ByteSliceToString(u.Release[:])
	}
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

// commit is `git rev-parse --short HEAD` in the directory of this
// executable, else the vcs.revision built into
// this binary, else "unknown".
func commit(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Ask git about the tree bench was built in (bin/ sits in it), else
	// about the working directory.
	dir := "."
	if exe, err := os.Executable(); err == nil {
		dir = filepath.Dir(exe)
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short", "HEAD").Output(); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			return c
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value[:min(len(s.Value), 12)]
			}
		}
	}
	return "unknown"
}
