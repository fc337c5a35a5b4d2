// Package mix parses a weighted request mix, 'PATH:WEIGHT,PATH:WEIGHT,…':
// the generator's -mix flag and a plan's mix:SPEC workload. Both read it
// with Parse, so a plan whose mix validates is one the generator runs.
package mix

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/backends"
)

// Entry is one entry of a mix: a path (with its query) sent as written,
// and its relative weight.
type Entry struct {
	Path   string
	Weight int
}

// Limits of a mix: at most MaxEntries entries, each weight from 1 to
// MaxWeight.
const (
	MaxEntries = 1000
	MaxWeight  = 1_000_000
)

// Parse parses a mix spec: comma-separated PATH:WEIGHT entries. The last
// ':' of an entry separates the weight, so a path may hold ':' but not
// ','. A path starts with '/' and holds no spaces or control characters;
// a /delay or /cpu path carries a valid us= (backends.ParseMicros). A
// weight is written in plain decimal digits. Errors name the entry and,
// for a limit, the limit.
func Parse(spec string) ([]Entry, error) {
	if spec == "" {
		return nil, errors.New("empty mix; want PATH:WEIGHT,PATH:WEIGHT")
	}
	parts := strings.Split(spec, ",")
	if len(parts) > MaxEntries {
		return nil, fmt.Errorf("mix of %d entries: at most %d", len(parts), MaxEntries)
	}
	out := make([]Entry, 0, len(parts))
	for _, e := range parts {
		i := strings.LastIndexByte(e, ':')
		if i < 0 {
			return nil, fmt.Errorf("mix entry %q: want PATH:WEIGHT", e)
		}
		path, ws := e[:i], e[i+1:]
		if !strings.HasPrefix(path, "/") || strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("mix entry %q: the path must start with '/' and hold no spaces or control characters", e)
		}
		w, err := strconv.Atoi(ws)
		if err != nil || w < 1 || w > MaxWeight || strings.HasPrefix(ws, "+") {
			return nil, fmt.Errorf("mix entry %q: the weight must be an integer from 1 to %d", e, MaxWeight)
		}
		if p, q, _ := strings.Cut(path, "?"); p == backends.DelayPath || p == backends.CPUPath {
			if _, ok := backends.ParseMicros([]byte(q)); !ok {
				return nil, fmt.Errorf("mix entry %q: %s needs us=N with N from 0 to %d", e, p, backends.MaxWorkMicros)
			}
		}
		out = append(out, Entry{Path: path, Weight: w})
	}
	return out, nil
}
