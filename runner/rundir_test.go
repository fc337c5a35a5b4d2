package runner

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestLockDirExcludesSecondWriter: two bench run -resume DIR at once both
// ran every missing cell. Each LockDir opens its own file description, so
// flock sees two holders just as with two processes.
func TestLockDirExcludesSecondWriter(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "PID "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v, want ErrLocked naming PID %d", err, os.Getpid())
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock()
}
