package report

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/asyncbench/asyncbench/results"
)

// handlerOf returns a row's handler time in µs, -1 when its workload has
// none.
func handlerOf(r results.Row) int64 {
	if r.HandlerUs == nil {
		return -1
	}
	return *r.HandlerUs
}

// handlerKey is a row's handler time as the group key holds it: empty
// when its workload has none.
func handlerKey(r results.Row) string {
	if r.HandlerUs == nil {
		return ""
	}
	return strconv.FormatInt(*r.HandlerUs, 10)
}

// workloadID names a row's workload with its parameter, so that cells
// with different handler times or mixes are never compared as one:
// "plaintext", "delay-1000us", "mix-mix10ac89ac".
func workloadID(r results.Row) string {
	id := r.Workload
	if h := handlerKey(r); h != "" {
		id += "-" + h + "us"
	}
	if r.Mix != "" {
		id += "-" + mixSlug(r.Mix)
	}
	if n := serverCPUsOf(r); n > 0 {
		id += "-s" + strconv.Itoa(n)
	}
	return id
}

// mixSlug is a short file-name-safe stand-in for a mix spec.
func mixSlug(spec string) string {
	h := fnv.New32a()
	h.Write([]byte(spec))
	return fmt.Sprintf("mix%08x", h.Sum32())
}
