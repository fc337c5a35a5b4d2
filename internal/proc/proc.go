// Package proc reads the Linux proc file system for the whole project:
// the CPUs' times (/proc/stat), processes' CPU times, memory and context
// switches (/proc/PID/stat and status), the kernel's memory (meminfo) and
// its TCP memory (net/sockstat, slabinfo). It is built on
// github.com/prometheus/procfs, except for the two files a sampler reads
// during a measured run (see Proc).
package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/procfs"
)

// UserHZ is USER_HZ, the unit of CPU times in /proc/stat and
// /proc/PID/stat: sysconf(_SC_CLK_TCK), 100 on every Linux architecture Go
// supports, fixed for user space whatever the kernel's internal HZ. procfs
// divides by the same value but does not export it.
const UserHZ = 100

// DefaultRoot is where proc is mounted.
const DefaultRoot = procfs.DefaultMountPoint

// ErrExited reports that a process is gone or a zombie.
var ErrExited = errors.New("process exited")

// FS is a proc file system.
type FS struct {
	root string
	pfs  procfs.FS
}

// Open returns the proc file system mounted at root ("" is DefaultRoot).
func Open(root string) (FS, error) {
	if root == "" {
		root = DefaultRoot
	}
	pfs, err := procfs.NewFS(root)
	if err != nil {
		return FS{}, err
	}
	return FS{root: root, pfs: pfs}, nil
}

// Proc is process PID of the proc file system mounted at Root. The zero
// Root is DefaultRoot; making a Proc reads nothing.
//
// Its readers of /proc/PID/stat and /proc/PID/status are the project's own
// rather than procfs's: loadgen's sampler reads both files of the server
// 20 times a second on the generator's CPU, and procfs's readers allocate
// several times more for no gain in time, which the kernel's rendering of
// the files dominates (BenchmarkRead: status 113 allocations against 11,
// stat 31 against 10).
type Proc struct {
	Root string
	PID  int
}

// Proc returns process pid of fs.
func (fs FS) Proc(pid int) Proc { return Proc{Root: fs.root, PID: pid} }

// path is the path of a file of the process.
func (p Proc) path(elem ...string) string {
	root := p.Root
	if root == "" {
		root = DefaultRoot
	}
	return filepath.Join(append([]string{root, strconv.Itoa(p.PID)}, elem...)...)
}

// errorf wraps err with the process's PID; an err saying that the
// process's files no longer exist becomes ErrExited.
func (p Proc) errorf(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrExited)
	}
	return fmt.Errorf("pid %d: %w", p.PID, err)
}
