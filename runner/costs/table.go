package costs

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Original holds the figures of Jim Blandy's Rust experiments
// ("context-switch", 2020) that the table compares with: creation is spawn
// and join; a switch is one hop of a 500-task pipe brigade minus the pipe
// I/O; memory is resident size regressed over the number of tasks. The async
// task's memory was given as "a few hundred bytes"; 300 stands for it.
var Original = Figures{
	CreateUs: Pair{Goroutine: 0.3, Thread: 17},
	SwitchUs: Pair{Goroutine: 0.2, Thread: 1.7},
	MemBytes: Pair{Goroutine: 300, Thread: 20 << 10},
	Notes: []string{
		"async tasks in Rust (tokio) against Linux threads, 2020",
		"a switch caused by I/O readiness costs about 1.7 µs in both designs",
		"pinned to one core, the async advantage in switches disappears",
		"thread memory 20 KiB = 9.5 KiB user + 10 KiB kernel; async memory: a few hundred bytes",
	},
}

// Pair is one figure for a goroutine (or async task) and for an OS thread.
type Pair struct {
	Goroutine float64 `json:"goroutine"`
	Thread    float64 `json:"thread"`
}

// Figures is one column of the table.
type Figures struct {
	CreateUs Pair     `json:"create_us"`
	SwitchUs Pair     `json:"switch_us"`
	MemBytes Pair     `json:"task_memory_bytes"`
	Notes    []string `json:"notes,omitempty"`
}

// Summary is what `bench costs -json` prints: the headline figures (medians,
// unpinned) in the keys the issue tracker and scripts read, every variant
// as more keys, the original figures, and the full report.
type Summary struct {
	CreateUs map[string]float64 `json:"create_us"`
	SwitchUs map[string]float64 `json:"switch_us"`
	MemBytes map[string]float64 `json:"task_memory_bytes"`
	Original Figures            `json:"original"`
	Report   *Report            `json:"report"`
}

// Summarize builds the -json output from a report.
func (r *Report) Summarize() Summary {
	u, p := r.Unpinned, r.Pinned
	return Summary{
		CreateUs: map[string]float64{
			"goroutine": u.CreateGoroutine.Median, "thread": u.CreateThread.Median,
			"goroutine_pinned": p.CreateGoroutine.Median, "thread_pinned": p.CreateThread.Median,
		},
		SwitchUs: map[string]float64{
			"goroutine": u.SwitchChannel.Median, "thread": u.SwitchPipeThread.Median,
			"goroutine_pipe":   u.SwitchPipeGoroutine.Median,
			"goroutine_pinned": p.SwitchChannel.Median, "thread_pinned": p.SwitchPipeThread.Median,
			"goroutine_pipe_pinned": p.SwitchPipeGoroutine.Median,
		},
		MemBytes: map[string]float64{
			"goroutine": r.Goroutine.Total, "thread": r.Thread.Total,
			"goroutine_user": r.Goroutine.User, "goroutine_kernel": r.Goroutine.Kernel,
			"thread_user": r.Thread.User, "thread_kernel": r.Thread.Kernel,
		},
		Original: Original,
		Report:   r,
	}
}

// WriteTable prints the table: the original figures, the medians measured
// here with their min–max over repetitions, and the thread/goroutine ratio.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "What concurrency costs: Go %s, %d repetitions, %s\n\n", r.GoVersion, r.Options.Reps, r.CPUModel)
	fmt.Fprintln(tw, "figure\toriginal (Rust, 2020)\tGo here, unpinned\tGo here, pinned to 1 CPU\t")
	row := func(name string, orig float64, u, p Stat, unit string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, num(orig, unit), spread(u, unit), spread(p, unit))
	}
	u, p := r.Unpinned, r.Pinned
	row("create: goroutine / async task", Original.CreateUs.Goroutine, u.CreateGoroutine, p.CreateGoroutine, "µs")
	row("create: OS thread", Original.CreateUs.Thread, u.CreateThread, p.CreateThread, "µs")
	ratioRow(tw, "  thread ÷ goroutine", Original.CreateUs, u.CreateThread.Median/u.CreateGoroutine.Median, p.CreateThread.Median/p.CreateGoroutine.Median)
	row("switch: goroutines, channel", Original.SwitchUs.Goroutine, u.SwitchChannel, p.SwitchChannel, "µs")
	row("switch: goroutines, pipe (netpoller)", Original.SwitchUs.Thread, u.SwitchPipeGoroutine, p.SwitchPipeGoroutine, "µs")
	row("switch: OS threads, blocking pipe", Original.SwitchUs.Thread, u.SwitchPipeThread, p.SwitchPipeThread, "µs")
	ratioRow(tw, "  thread ÷ goroutine (channel)", Original.SwitchUs, u.SwitchPipeThread.Median/u.SwitchChannel.Median, p.SwitchPipeThread.Median/p.SwitchChannel.Median)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(subtracted from each pipe switch: one write and read in one task, unpinned goroutine %s, thread %s)\n\n",
		num(u.PipeGoroutine.Median, "µs"), num(u.PipeThread.Median, "µs"))
	fmt.Fprintln(tw, "memory per idle task (slope)\toriginal\tuser (RSS)\tkernel (stacks + page tables)\ttotal\tR²")
	for _, m := range []struct {
		name string
		orig float64
		m    Memory
	}{{"goroutine", Original.MemBytes.Goroutine, r.Goroutine}, {"OS thread", Original.MemBytes.Thread, r.Thread}} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.3f\n", m.name, bytesStr(m.orig), bytesStr(m.m.User), bytesStr(m.m.Kernel), bytesStr(m.m.Total), m.m.R2)
	}
	fmt.Fprintf(tw, "  thread ÷ goroutine\t%.0f×\t\t\t%.1f×\t\n", Original.MemBytes.Thread/Original.MemBytes.Goroutine, r.Thread.Total/r.Goroutine.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nthreads created: %d distinct of %d creations unpinned, %d of %d pinned; memory from %v tasks per design\n",
		u.ThreadsCreated[0], u.ThreadsCreated[1], p.ThreadsCreated[0], p.ThreadsCreated[1], r.Thread.Tasks)
	return err
}

func ratioRow(w io.Writer, name string, orig Pair, unpinned, pinned float64) {
	fmt.Fprintf(w, "%s\t%.1f×\t%.1f×\t%.1f×\t\n", name, orig.Thread/orig.Goroutine, unpinned, pinned)
}

func spread(s Stat, unit string) string {
	return fmt.Sprintf("%s (%s–%s)", num(s.Median, unit), num(s.Min, ""), num(s.Max, ""))
}

func num(v float64, unit string) string {
	var s string
	switch {
	case v >= 100:
		s = fmt.Sprintf("%.0f", v)
	case v >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

func bytesStr(v float64) string {
	if v >= 1024 || v <= -1024 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}
