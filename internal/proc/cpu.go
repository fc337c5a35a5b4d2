package proc

import (
	"errors"
	"fmt"
	"math"
)

// CPUTimes is one CPU's line of /proc/stat, in UserHZ ticks. Guest time is
// already included in user time, so it is not kept.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
}

// Add returns t + o, column by column.
func (t CPUTimes) Add(o CPUTimes) CPUTimes {
	return CPUTimes{
		User: t.User + o.User, Nice: t.Nice + o.Nice, System: t.System + o.System, Idle: t.Idle + o.Idle,
		IOWait: t.IOWait + o.IOWait, IRQ: t.IRQ + o.IRQ, SoftIRQ: t.SoftIRQ + o.SoftIRQ, Steal: t.Steal + o.Steal,
	}
}

// Sub returns t − o, column by column.
func (t CPUTimes) Sub(o CPUTimes) CPUTimes {
	return CPUTimes{
		User: t.User - o.User, Nice: t.Nice - o.Nice, System: t.System - o.System, Idle: t.Idle - o.Idle,
		IOWait: t.IOWait - o.IOWait, IRQ: t.IRQ - o.IRQ, SoftIRQ: t.SoftIRQ - o.SoftIRQ, Steal: t.Steal - o.Steal,
	}
}

// CPUs reads the per-CPU lines ("cpu0 …", "cpu1 …") of /proc/stat, by CPU
// number; the aggregate "cpu" line is left out. Columns a kernel does not
// have (steal before 2.6.11) read as zero.
func (fs FS) CPUs() (map[int]CPUTimes, error) {
	st, err := fs.pfs.Stat()
	if err != nil {
		return nil, err
	}
	if len(st.CPU) == 0 {
		return nil, errors.New("/proc/stat: no per-CPU lines")
	}
	out := make(map[int]CPUTimes, len(st.CPU))
	for id, c := range st.CPU {
		out[int(id)] = CPUTimes{
			User: ticks(c.User), Nice: ticks(c.Nice), System: ticks(c.System), Idle: ticks(c.Idle),
			IOWait: ticks(c.Iowait), IRQ: ticks(c.IRQ), SoftIRQ: ticks(c.SoftIRQ), Steal: ticks(c.Steal),
		}
	}
	return out, nil
}

// ticks turns procfs's seconds back into the file's UserHZ ticks: procfs
// divides the integer count by UserHZ, and rounding the product recovers
// any count below 2^51 exactly.
func ticks(seconds float64) uint64 {
	return uint64(math.Round(seconds * UserHZ))
}

// PIDs lists the processes of fs.
func (fs FS) PIDs() ([]int, error) {
	procs, err := fs.pfs.AllProcs()
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.PID
	}
	return pids, nil
}

// initPIDNamespace is the inode of the initial PID namespace
// (PROC_PID_INIT_INO in the kernel's include/linux/proc_ns.h).
const initPIDNamespace = 0xEFFFFFFC

// SeesHost reports whether PIDs lists every process of the host: whether
// the process reading fs is in the initial PID namespace. In a container
// with a PID namespace of its own it lists the container's only.
func (fs FS) SeesHost() (bool, error) {
	self, err := fs.pfs.Self()
	if err != nil {
		return false, err
	}
	ns, err := self.Namespaces()
	if err != nil {
		return false, err
	}
	pid, ok := ns["pid"]
	if !ok {
		return false, fmt.Errorf("%s/self/ns: no pid namespace", fs.root)
	}
	return pid.Inode == initPIDNamespace, nil
}
