// Package cli holds what the three commands (server, loadgen, bench) share
// on the command line: the usage error and the exit codes, documented once
// in the README's "Exit codes" table.
package cli

import (
	"errors"
	"flag"
	"fmt"
)

// Exit codes of every asyncbench command.
const (
	ExitOK          = 0   // done; the results are valid
	ExitFailure     = 1   // could not run or could not write the results
	ExitUsage       = 2   // bad command line; nothing was run
	ExitFailed      = 3   // ran, but the results describe a failure (no request succeeded, the server died, every cell failed)
	ExitSaturated   = 4   // ran, but the generator could not keep its schedule: the numbers describe the generator
	ExitInterrupted = 130 // stopped by SIGINT or SIGTERM; what was measured was written
)

// UsageError is a bad command line. Its message says what to run instead.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error (flag.ErrHelp for -h).
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with a formatted message; %w wraps.
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// ExitError carries an exit code other than 0, 1 and 2 together with the
// reason, for runs that finished but must not pass as a success.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the reason.
func (e *ExitError) Unwrap() error { return e.Err }

// Code maps an error returned by a command's run function to its exit code:
// 0 for nil or a -h request, ExitUsage for a *UsageError, the code of an
// *ExitError, ExitFailure otherwise.
func Code(err error) int {
	var ee *ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, new(*UsageError)):
		return ExitUsage
	case errors.As(err, &ee):
		return ee.Code
	}
	return ExitFailure
}
