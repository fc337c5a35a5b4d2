package procstat

import "github.com/asyncbench/asyncbench/internal/proc"

// Memory is one reading of what a process and the kernel's TCP stack hold:
// the process's resident set, page tables and threads, and the system-wide
// TCP socket buffers and TCP socket objects.
type Memory struct {
	RSSKiB     int64 // VmRSS of the process
	VmPTEKiB   int64 // VmPTE: the process's page tables
	Threads    int   // Threads of the process
	SockMemKiB int64 // /proc/net/sockstat "TCP: … mem N", pages → KiB; system-wide
	SlabKiB    int64 // /proc/slabinfo TCP + TCPv6 active objects × object size; -1 when unreadable (needs root)
}

// ReadMemory takes one Memory reading of r's process from r's proc root.
// It returns an error wrapping ErrExited when the process is gone. An
// unreadable slabinfo (it needs root) reads as SlabKiB -1, not an error.
func (r Reader) ReadMemory() (Memory, error) {
	st, err := r.proc().Status()
	if err != nil {
		return Memory{}, err
	}
	m := Memory{RSSKiB: st.RSSKiB, VmPTEKiB: st.VmPTEKiB, Threads: st.Threads, SlabKiB: -1}
	fs, err := proc.Open(r.Root)
	if err != nil {
		return m, err
	}
	if m.SockMemKiB, err = fs.TCPMemKiB(); err != nil {
		return m, err
	}
	if kib, err := fs.TCPSlabKiB(); err == nil {
		m.SlabKiB = kib
	}
	return m, nil
}
