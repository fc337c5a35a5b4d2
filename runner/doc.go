// Package runner runs a benchmark plan: it expands the plan into cells,
// starts a server and a load generator per cell as child processes pinned to
// separate CPUs, and hands one results.Row per cell to a RowWriter. It also
// merges several generators' results for one cell (MergeRow) and guards a
// run directory (NewRunDir, LockDir). The bench command line is cmd/bench.
//
// A cell's server is the Go server (-backend NAME), a backend's own
// program next to it (backends.Info.Program: cthreads, cepoll), or a plan
// variant's command, with the variant's env (server.go, command.go).
// Before anything runs, Preflight refuses a plan whose programs are not
// built or whose commands fail the contract; rows record the command line,
// executable hash and environment of what ran.
//
// Each child leads its own process group and carries Pdeathsig=SIGKILL.
// Stopping a server sends SIGTERM to its group, then SIGKILL to the group
// after a grace period (or at once once the leader has exited), so nothing
// a child started outlives its cell.
//
// A row's status and reason come from one place: the ordered table
// results.Rules, applied once per cell by results.Judge (measureCell,
// failed, MergeRow) to everything known about the cell. The runner only
// gathers that evidence: the generator's summary (fillRow, fillIdle), its
// exit verdict (exitVerdict), the CPU attribution (attribute) and the
// host noise (judgeHost). In the table's order: a cell whose server
// crashes, never prints its "listening on ADDR" line or whose generator
// fails is failed, with the first line of the child's stderr as the
// reason, and the run goes on; so is one with any connect error or more
// than summary.FailErrorPercent of attempted requests failing. A generator
// that exits with its own failed or saturated status has still printed its
// summary: the row keeps those numbers. An idle cell (idle.go) completes
// no request in its window by design: it is judged by its set-up instead,
// and fails on any error.
//
// On SIGINT or SIGTERM the current cell's generator gets SIGINT, its
// server is stopped, and the cell is not recorded: its partial numbers are
// not a result, and `bench run -resume DIR` runs it again. Rows already
// written stay, and Run returns ErrInterrupted.
//
// While a generator runs, the pinned CPUs are sampled (hostnoise.go): a
// cell where anything else used them beyond MaxOtherCPUPct, steal went
// beyond MaxStealPct, or the stall probe (stall.go) found a CPU away for
// over StallLimit in more than MaxStallShare of the window, is noisy
// unless it failed, and every row names its
// bottleneck (bottleneck.go); a generator-bound closed-loop cell is
// saturated. Repetitions are rounds, each in its own order (Plan.Seed).
// A cell repetition that came out noisy or generator-bound is measured
// again at the end of its round, up to Plan.Retries times (retry.go);
// every attempt is a row of its own, numbered in its attempt column.
//
// Resuming skips every cell repetition recorded as ok or saturated and
// retries failed and noisy ones, numbering their attempts on; the report
// keeps, per cell repetition, the last completed row if there is one
// (see Latest).
package runner
