package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/asyncbench/asyncbench/internal/cli"
)

const usage = `bench runs benchmark plans against the asyncbench servers and reports on them.

Usage:
  bench run [flags]                    run a plan; results in results/runs/<run-id>/
  bench report DIR                     re-render DIR/report.md and DIR/plots from DIR/summary.csv
  bench compare [flags] A B            compare two run directories cell by cell
  bench merge [-out FILE] INPUT...     merge several generators' results for one cell into one row
  bench swarm [flags]                  one cell, N generators as Docker Swarm services, merged into one row
  bench plans                          list the built-in plans
  bench backends [-server PATH]        list the backends, their designs and which are built
  bench slo -p99 D [flags]             per backend, the highest open-loop rate whose p99 meets D
  bench costs [flags]                  what a goroutine and an OS thread cost here: create, switch, memory
  bench publish [-force] RUN_DIR NAME  copy a run into results/published/NAME and update the index

Run "bench COMMAND -h" for a command's flags.
`

// commands are the subcommands by name.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"run":      cmdRun,
	"report":   cmdReport,
	"compare":  cmdCompare,
	"merge":    cmdMerge,
	"swarm":    cmdSwarm,
	"plans":    cmdPlans,
	"backends": cmdBackends,
	"costs":    cmdCosts,
	"publish":  cmdPublish,
	"slo":      cmdSLO,
}

// run is the bench command: args without the program name. Output meant
// for scripts goes to stdout, progress and diagnostics to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cli.Hintf("bench", "missing command")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return cli.Hintf("bench", "unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// newFlagSet returns a flag set for command name whose errors and -h are
// handled by parse. synopsis follows "bench NAME" on the usage line; doc
// says what the command does.
func newFlagSet(name, synopsis, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s", strings.TrimSpace("bench "+name+" "+synopsis), doc)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args with fs (cli.Parse). -h prints the command's complete
// usage to stdout and returns flag.ErrHelp (exit 0); a bad flag returns a
// one-line *cli.UsageError that points at "bench NAME -h".
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := cli.Parse(fs, args, stdout, "bench "+fs.Name()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return nil
}

// usagef is a usage error of command name: "run: MESSAGE (see bench run -h)".
func usagef(name, format string, a ...any) error {
	return cli.Hintf("bench "+name, "%s: %w", name, fmt.Errorf(format, a...))
}

// isSet reports whether the command line gave fs's flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}
