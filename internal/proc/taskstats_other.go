//go:build !linux

package proc

import "errors"

// ErrNoTaskstats reports that the kernel's taskstats interface cannot be
// used here.
var ErrNoTaskstats = errors.New("taskstats not available")

// ProcessCtxSwitches needs Linux's taskstats interface.
func ProcessCtxSwitches(pid int) (uint64, error) { return 0, ErrNoTaskstats }
