package proc

import (
	"os"
	"testing"

	"github.com/prometheus/procfs"
)

// BenchmarkRead compares, on this process's own /proc entry, the cost of
// what loadgen's sampler reads at every sample (/proc/PID/status and
// /proc/PID/stat, file=both) and of each file alone, by this package's
// readers (reader=proc) and by procfs's (reader=procfs). Compare with
// benchstat -col /reader.
func BenchmarkRead(b *testing.B) {
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		b.Fatal(err)
	}
	pp, err := pfs.Proc(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	p := Proc{PID: os.Getpid()}
	readers := []struct {
		name         string
		status, stat func() error
	}{
		{"proc",
			func() error { _, err := p.Status(); return err },
			func() error { _, err := p.Stat(); return err }},
		{"procfs",
			func() error { _, err := pp.NewStatus(); return err },
			func() error { _, err := pp.Stat(); return err }},
	}
	for _, file := range []string{"status", "stat", "both"} {
		for _, r := range readers {
			b.Run("file="+file+"/reader="+r.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if file != "stat" {
						if err := r.status(); err != nil {
							b.Fatal(err)
						}
					}
					if file != "status" {
						if err := r.stat(); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
