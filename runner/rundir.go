package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LockFile is the name of the lock file in a run directory.
const LockFile = ".lock"

// ErrLocked is returned by LockDir when another process holds the lock.
var ErrLocked = errors.New("run directory in use")

// LockDir takes an exclusive flock on dir/.lock and writes this process's
// PID into it, so that only one bench run writes a run directory at a
// time. It does not wait: when another process holds the lock the error
// wraps ErrLocked and names that process's PID. The lock is held until
// unlock is called or the process ends (the kernel releases it then, so a
// killed run leaves no stale lock).
func LockDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by PID %s", ErrLocked, path, pidOf(holder))
		}
		return nil, fmt.Errorf("lock run directory: %w", err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock run directory: %w", err)
	}
	return f.Close, nil // closing the descriptor releases the lock
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

func pidOf(data []byte) string {
	if s := strings.TrimSpace(string(data)); s != "" {
		return s
	}
	return "unknown"
}

// NewRunDir creates parent/<run-id> and points parent/latest at it. An
// empty id takes the UTC time now (e.g. 20261125T203000Z, with -2, -3, …
// if taken); a given id must not exist yet.
func NewRunDir(parent, id string, now time.Time) (dir, runID string, err error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", "", fmt.Errorf("run directory: %w", err)
	}
	if id != "" {
		runID, dir = id, filepath.Join(parent, id)
		if err := os.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				return "", "", fmt.Errorf("run directory %s exists; continue it with -resume %s", dir, dir)
			}
			return "", "", fmt.Errorf("run directory: %w", err)
		}
	} else {
		base := now.UTC().Format("20060102T150405Z")
		for i := 1; i < 100; i++ {
			runID = base
			if i > 1 {
				runID = fmt.Sprintf("%s-%d", base, i)
			}
			dir = filepath.Join(parent, runID)
			err = os.Mkdir(dir, 0o755)
			if err == nil || !errors.Is(err, os.ErrExist) {
				break
			}
		}
		if err != nil {
			return "", "", fmt.Errorf("run directory: %w", err)
		}
	}
	// Replace the link atomically: a new link renamed over the old one.
	tmp := filepath.Join(parent, ".latest-"+runID)
	_ = os.Remove(tmp)
	if err := os.Symlink(runID, tmp); err != nil {
		return "", "", fmt.Errorf("latest link: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(parent, "latest")); err != nil {
		os.Remove(tmp)
		return "", "", fmt.Errorf("latest link: %w", err)
	}
	return dir, runID, nil
}
