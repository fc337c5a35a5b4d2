package proc

import (
	"errors"
	"fmt"
	"os"
)

// TCPMemKiB reads the memory of the system's TCP socket buffers, "TCP: …
// mem N" in /proc/net/sockstat (pages), in KiB.
func (fs FS) TCPMemKiB() (int64, error) {
	st, err := fs.pfs.NetSockstat()
	if err != nil {
		return 0, fmt.Errorf("sockstat: %w", err)
	}
	for _, p := range st.Protocols {
		if p.Protocol != "TCP" {
			continue
		}
		if p.Mem == nil {
			return 0, errors.New("sockstat: TCP line without mem")
		}
		if *p.Mem < 0 {
			return 0, fmt.Errorf("sockstat: TCP mem %d", *p.Mem)
		}
		return int64(*p.Mem) * int64(os.Getpagesize()) / 1024, nil
	}
	return 0, errors.New("sockstat: no TCP line")
}

// TCPSlabKiB reads the KiB held by the active objects of the TCP and TCPv6
// slab caches in /proc/slabinfo (which only root may read).
func (fs FS) TCPSlabKiB() (int64, error) {
	info, err := fs.pfs.SlabInfo()
	if err != nil {
		return 0, fmt.Errorf("slabinfo: %w", err)
	}
	var bytesUsed int64
	found := false
	for _, s := range info.Slabs {
		if s.Name != "TCP" && s.Name != "TCPv6" {
			continue
		}
		if s.ObjActive < 0 || s.ObjSize < 0 {
			return 0, fmt.Errorf("slabinfo: bad %s line", s.Name)
		}
		bytesUsed += s.ObjActive * s.ObjSize
		found = true
	}
	if !found {
		return 0, errors.New("slabinfo: no TCP cache")
	}
	return bytesUsed / 1024, nil
}

// KernelMemory reads the system's kernel stacks and page tables from
// /proc/meminfo, in bytes.
func (fs FS) KernelMemory() (stacks, pageTables int64, err error) {
	mi, err := fs.pfs.Meminfo()
	if err != nil {
		return 0, 0, fmt.Errorf("read meminfo: %w", err)
	}
	if mi.KernelStackBytes == nil || mi.PageTablesBytes == nil {
		return 0, 0, errors.New("meminfo lacks KernelStack or PageTables")
	}
	return int64(*mi.KernelStackBytes), int64(*mi.PageTablesBytes), nil
}
