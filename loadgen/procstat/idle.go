package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

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
	st, err := readStatus(filepath.Join(r.dir(), "status"))
	if err != nil {
		return Memory{}, r.gone(err)
	}
	if st.state == 'Z' || st.state == 'X' {
		return Memory{}, fmt.Errorf("pid %d: %w", r.PID, ErrExited)
	}
	m := Memory{RSSKiB: st.rssKiB, VmPTEKiB: st.vmPTEKiB, Threads: st.threads, SlabKiB: -1}
	root := r.Root
	if root == "" {
		root = "/proc"
	}
	f, err := os.Open(filepath.Join(root, "net", "sockstat"))
	if err != nil {
		return m, fmt.Errorf("sockstat: %w", err)
	}
	pages, err := parseSockstat(f)
	f.Close()
	if err != nil {
		return m, err
	}
	m.SockMemKiB = pages * int64(os.Getpagesize()) / 1024
	if f, err := os.Open(filepath.Join(root, "slabinfo")); err == nil {
		if kib, err := parseSlabinfo(f); err == nil {
			m.SlabKiB = kib
		}
		f.Close()
	}
	return m, nil
}

// parseSockstat returns the pages of TCP socket memory ("TCP: … mem N")
// in /proc/net/sockstat.
func parseSockstat(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || string(f[0]) != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			if string(f[i]) == "mem" {
				n, err := strconv.ParseInt(string(f[i+1]), 10, 64)
				if err != nil || n < 0 {
					return 0, fmt.Errorf("sockstat: bad TCP mem %q", f[i+1])
				}
				return n, nil
			}
		}
		return 0, errors.New("sockstat: TCP line without mem")
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("sockstat: no TCP line")
}

// parseSlabinfo returns the KiB held by the active objects of the TCP and
// TCPv6 slab caches in /proc/slabinfo (version 2.x: name, active_objs,
// num_objs, objsize, …).
func parseSlabinfo(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	var bytesUsed int64
	found := false
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 4 || (string(f[0]) != "TCP" && string(f[0]) != "TCPv6") {
			continue
		}
		active, err1 := strconv.ParseInt(string(f[1]), 10, 64)
		size, err2 := strconv.ParseInt(string(f[3]), 10, 64)
		if err1 != nil || err2 != nil || active < 0 || size < 0 {
			return 0, fmt.Errorf("slabinfo: bad %s line", f[0])
		}
		bytesUsed += active * size
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, errors.New("slabinfo: no TCP cache")
	}
	return bytesUsed / 1024, nil
}
