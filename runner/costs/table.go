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

// Summarize builds the -json output from a report. The figures without a
// runtime (thread_no_runtime…) and the perf cross-check (perf_sched_pipe…)
// are left out when they were not measured; the report says why.
func (r *Report) Summarize() Summary {
	u, p := r.Unpinned, r.Pinned
	s := Summary{
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
	if nr := r.NoRuntime; nr.Unpinned != nil && nr.Pinned != nil {
		s.CreateUs["thread_no_runtime"], s.CreateUs["thread_no_runtime_pinned"] = nr.Unpinned.Create.Median, nr.Pinned.Create.Median
		s.SwitchUs["thread_no_runtime"], s.SwitchUs["thread_no_runtime_pinned"] = nr.Unpinned.Switch.Median, nr.Pinned.Switch.Median
	}
	if m := r.NoRuntime.Memory; m != nil {
		s.MemBytes["thread_no_runtime"] = m.Total
		s.MemBytes["thread_no_runtime_user"], s.MemBytes["thread_no_runtime_kernel"] = m.User, m.Kernel
	}
	if pp := r.Perf; pp.Unpinned != nil && pp.Pinned != nil {
		s.SwitchUs["perf_sched_pipe"], s.SwitchUs["perf_sched_pipe_pinned"] = pp.Unpinned.Median, pp.Pinned.Median
	}
	return s
}

// WriteTable prints the table: the original figures, the medians measured
// here with their min–max over repetitions, and the ratios. Figures that
// were not measured (no C program, no perf) keep their row, with the
// reason in place of the figures.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "What concurrency costs: Go %s, %d repetitions, %s\n\n", r.GoVersion, r.Options.Reps, r.CPUModel)
	fmt.Fprintln(tw, "figure\toriginal (Rust, 2020)\there, unpinned\there, pinned to 1 CPU\t")
	row := func(name string, orig float64, u, p Stat, unit string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, num(orig, unit), spread(u, unit), spread(p, unit))
	}
	missing := func(name, orig, why string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\t\n", name, orig, why)
	}
	u, p, nr, pp := r.Unpinned, r.Pinned, r.NoRuntime, r.Perf
	haveC := nr.Unpinned != nil && nr.Pinned != nil
	row("create: goroutine / async task", Original.CreateUs.Goroutine, u.CreateGoroutine, p.CreateGoroutine, "µs")
	row("create: OS thread from Go", Original.CreateUs.Thread, u.CreateThread, p.CreateThread, "µs")
	if haveC {
		row("create: OS thread in C, no runtime", Original.CreateUs.Thread, nr.Unpinned.Create, nr.Pinned.Create, "µs")
	} else {
		missing("create: OS thread in C, no runtime", num(Original.CreateUs.Thread, "µs"), why(nr.NotMeasured))
	}
	ratioRow(tw, "  Go thread ÷ goroutine", ratio(Original.CreateUs), u.CreateThread.Median/u.CreateGoroutine.Median, p.CreateThread.Median/p.CreateGoroutine.Median)
	if haveC {
		ratioRow(tw, "  Go thread ÷ C thread", "", u.CreateThread.Median/nr.Unpinned.Create.Median, p.CreateThread.Median/nr.Pinned.Create.Median)
	}
	row("switch: goroutines, channel", Original.SwitchUs.Goroutine, u.SwitchChannel, p.SwitchChannel, "µs")
	row("switch: goroutines, pipe (netpoller)", Original.SwitchUs.Thread, u.SwitchPipeGoroutine, p.SwitchPipeGoroutine, "µs")
	row("switch: OS threads from Go, blocking pipe", Original.SwitchUs.Thread, u.SwitchPipeThread, p.SwitchPipeThread, "µs")
	if haveC {
		row("switch: OS threads in C, blocking pipe", Original.SwitchUs.Thread, nr.Unpinned.Switch, nr.Pinned.Switch, "µs")
	} else {
		missing("switch: OS threads in C, blocking pipe", num(Original.SwitchUs.Thread, "µs"), why(nr.NotMeasured))
	}
	const perfRow = "switch: perf bench sched pipe -T, ½ round trip"
	if pp.Unpinned != nil && pp.Pinned != nil {
		fmt.Fprintf(tw, "%s\t–\t%s\t%s\t\n", perfRow, spread(*pp.Unpinned, "µs"), spread(*pp.Pinned, "µs"))
	} else {
		missing(perfRow, "–", why(pp.NotMeasured))
	}
	ratioRow(tw, "  Go thread ÷ goroutine (channel)", ratio(Original.SwitchUs), u.SwitchPipeThread.Median/u.SwitchChannel.Median, p.SwitchPipeThread.Median/p.SwitchChannel.Median)
	if haveC {
		ratioRow(tw, "  Go thread ÷ C thread", "", u.SwitchPipeThread.Median/nr.Unpinned.Switch.Median, p.SwitchPipeThread.Median/nr.Pinned.Switch.Median)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	cPipe := ""
	if haveC {
		cPipe = ", C thread " + num(nr.Unpinned.Pipe.Median, "µs")
	}
	fmt.Fprintf(w, "(subtracted from each pipe switch: one write and read in one task, unpinned goroutine %s, Go thread %s%s;\n"+
		" perf's round trip is two switches, each with its write and read: it is halved, nothing subtracted)\n\n",
		num(u.PipeGoroutine.Median, "µs"), num(u.PipeThread.Median, "µs"), cPipe)
	fmt.Fprintln(tw, "memory per idle task (slope)\toriginal\tuser (RSS)\tkernel (stacks + page tables)\ttotal\tR²")
	memRow := func(name string, orig float64, m Memory) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.3f\n", name, bytesStr(orig), bytesStr(m.User), bytesStr(m.Kernel), bytesStr(m.Total), m.R2)
	}
	memRow("goroutine", Original.MemBytes.Goroutine, r.Goroutine)
	memRow("OS thread from Go", Original.MemBytes.Thread, r.Thread)
	if nr.Memory != nil {
		memRow("OS thread in C, no runtime", Original.MemBytes.Thread, *nr.Memory)
	} else {
		fmt.Fprintf(tw, "OS thread in C, no runtime\t%s\t%s\t\t\t\n", bytesStr(Original.MemBytes.Thread), why(nr.NotMeasured))
	}
	fmt.Fprintf(tw, "  Go thread ÷ goroutine\t%.0f×\t\t\t%.1f×\t\n", Original.MemBytes.Thread/Original.MemBytes.Goroutine, r.Thread.Total/r.Goroutine.Total)
	if nr.Memory != nil {
		fmt.Fprintf(tw, "  Go thread ÷ C thread\t\t\t\t%.1f×\t\n", r.Thread.Total/nr.Memory.Total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nthreads created: %d distinct of %d creations unpinned, %d of %d pinned; memory from %v tasks per design\n",
		u.ThreadsCreated[0], u.ThreadsCreated[1], p.ThreadsCreated[0], p.ThreadsCreated[1], r.Thread.Tasks)
	if err == nil && haveC {
		_, err = fmt.Fprintf(w, "C threads: %d distinct of %d creations unpinned, %d of %d pinned; default stack %s of address space each (RSS counts the pages touched)\n",
			nr.Unpinned.ThreadsCreated[0], nr.Unpinned.ThreadsCreated[1], nr.Pinned.ThreadsCreated[0], nr.Pinned.ThreadsCreated[1], bytesStr(float64(nr.StackBytes)))
	}
	if err == nil && pp.Loops > 0 && pp.Pinned != nil {
		_, err = fmt.Fprintf(w, "perf: %s\n", pp.Command)
	}
	return err
}

// why is the reason a figure is missing, as its table cell.
func why(reason string) string {
	if reason == "" {
		return "not measured"
	}
	return reason
}

func ratio(orig Pair) string { return fmt.Sprintf("%.1f×", orig.Thread/orig.Goroutine) }

func ratioRow(w io.Writer, name, orig string, unpinned, pinned float64) {
	fmt.Fprintf(w, "%s\t%s\t%.1f×\t%.1f×\t\n", name, orig, unpinned, pinned)
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
	if v >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	if v >= 1024 || v <= -1024 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}
