// Command bench runs benchmark plans against the asyncbench servers and
// renders, compares and merges their results. See `bench -h`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/runner/costs"
)

func main() {
	// bench costs re-executes this binary to measure in fresh processes.
	costs.ChildMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one ends bench at once; the
		// children die with it (Pdeathsig).
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.Exit(os.Stderr, "bench", err))
}
