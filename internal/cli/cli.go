// Package cli holds what the three commands (server, loadgen, bench) share
// on the command line: flag parsing with -h and the usage hint (Parse), the
// usage error, the exit codes, documented once in the README's "Exit codes"
// table, and how a command reports its error and exits (Exit).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
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

// Hintf returns a *UsageError whose message ends with the command to run
// for the usage: "MESSAGE (see CMD -h)". %w wraps.
func Hintf(cmd, format string, a ...any) error {
	return Usagef("%w (see %s -h)", fmt.Errorf(format, a...), cmd)
}

// Parse parses args with fs, whose own output it silences. -h or -help
// prints fs.Usage on stdout and returns flag.ErrHelp (Code: ExitOK); a bad
// flag returns a one-line *UsageError naming it and ending with "(see CMD
// -h)", CMD being cmd.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer, cmd string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(io.Discard)
		return flag.ErrHelp
	}
	if err != nil {
		return Hintf(cmd, "%w", err)
	}
	return nil
}

// Exit reports err as one line "PROG: ERR" on stderr, unless it is nil or
// a -h request, and returns the exit code of err (Code). Every command's
// main ends with os.Exit(cli.Exit(os.Stderr, PROG, err)).
func Exit(stderr io.Writer, prog string, err error) int {
	code := Code(err)
	if code != ExitOK {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	}
	return code
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
