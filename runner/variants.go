package runner

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
)

// Variant is one backend under a label, with extra server flags and
// environment: the way a plan lists a backend more than once (to
// calibrate: the same server twice, or with a known handicap; threads at
// another GOMAXPROCS). Rows carry the label in their label column;
// verdicts and the report group by it.
//
// A variant may instead name any server by Command (see command.go): the
// executable and its arguments, with placeholders for the address and
// protocol. Backend is then optional and only says which design the
// command serves; the rows' backend column says "command" without it.
type Variant struct {
	Label      string   `yaml:"label"`
	Backend    string   `yaml:"backend,omitempty"`
	ServerArgs []string `yaml:"server_args,omitempty"`
	// Command starts the server instead of the Go server or a backend's
	// program: [BINARY, ARG, ...] with {addr}, {host}, {port}, {proto}.
	Command []string `yaml:"command,omitempty"`
	// Protocols the command serves; default [http]. Only with Command.
	Protocols []backends.Proto `yaml:"protocols,omitempty"`
	// Env is added to the server's environment; GOMAXPROCS here replaces
	// the default (the number of server CPUs).
	Env map[string]string `yaml:"env,omitempty"`
}

// CommandBackend is the backend column of a command variant that names no
// backend.
const CommandBackend = "command"

// rowBackend is what the variant's rows carry in their backend column.
func (v Variant) rowBackend() string {
	if v.Backend == "" && len(v.Command) > 0 {
		return CommandBackend
	}
	return v.Backend
}

// serves reports whether the variant's server serves p: a command the
// protocols it lists (default http), a backend those of the catalog.
func (v Variant) serves(p backends.Proto) bool {
	if len(v.Command) > 0 {
		if len(v.Protocols) == 0 {
			return p == backends.ProtoHTTP
		}
		return slices.Contains(v.Protocols, p)
	}
	info, err := backends.Lookup(v.Backend)
	return err == nil && info.Serves(p)
}

// envList is the variant's environment as sorted NAME=VALUE entries.
func (v Variant) envList() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(v.Env)) {
		out = append(out, k+"="+v.Env[k])
	}
	return out
}

// DefaultReference is the label compared against when a plan names none.
const DefaultReference = "stdlib"

// AllVariants lists what the plan measures: each of Backends under its own
// name, then Variants.
func (p *Plan) AllVariants() []Variant {
	out := make([]Variant, 0, len(p.Backends)+len(p.Variants))
	for _, b := range p.Backends {
		out = append(out, Variant{Label: b, Backend: b})
	}
	return append(out, p.Variants...)
}

// Labels lists the plan's variant labels in plan order.
func (p *Plan) Labels() []string {
	var out []string
	for _, v := range p.AllVariants() {
		out = append(out, v.Label)
	}
	return out
}

// ReferenceLabel is the label verdicts compare every other with: the
// plan's reference, else stdlib when measured, else the first label.
func (p *Plan) ReferenceLabel() string {
	labels := p.Labels()
	switch {
	case p.Reference != "":
		return p.Reference
	case slices.Contains(labels, DefaultReference), len(labels) == 0:
		return DefaultReference
	}
	return labels[0]
}

// checkVariants checks labels (non-empty, unique, usable in file names),
// the variants' backends and the reference.
func (p *Plan) checkVariants() []error {
	var errs []error
	seen := map[string]bool{}
	for _, b := range p.Backends {
		seen[b] = true
	}
	for i, v := range p.Variants {
		switch {
		case v.Label == "":
			errs = append(errs, fmt.Errorf("variants[%d]: no label", i))
		case strings.Trim(v.Label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "" || strings.HasPrefix(v.Label, "."):
			errs = append(errs, fmt.Errorf("variants[%d]: label %q: use letters, digits, '.', '-' and '_'", i, v.Label))
		case seen[v.Label]:
			errs = append(errs, fmt.Errorf("variants[%d]: label %q used twice", i, v.Label))
		}
		seen[v.Label] = true
		for _, err := range v.check() {
			errs = append(errs, fmt.Errorf("variants[%d]: %w", i, err))
		}
	}
	if p.Reference != "" && !seen[p.Reference] {
		errs = append(errs, fmt.Errorf("reference %q: not a backend or variant label of the plan", p.Reference))
	}
	return errs
}

// check validates the variant's backend, command, protocols and
// environment.
func (v Variant) check() []error {
	var errs []error
	switch {
	case v.Backend == "" && len(v.Command) == 0:
		errs = append(errs, errors.New("no backend or command"))
	case v.Backend != "":
		if _, err := backends.Lookup(v.Backend); err != nil {
			errs = append(errs, err)
		}
	}
	if len(v.Command) > 0 {
		errs = append(errs, checkCommand(v.Command)...)
		if len(v.ServerArgs) > 0 {
			errs = append(errs, errors.New("server_args go with a backend; put a command's arguments in command"))
		}
	}
	if len(v.Protocols) > 0 && len(v.Command) == 0 {
		errs = append(errs, errors.New("protocols go with a command (a backend's come from the catalog)"))
	}
	for _, p := range v.Protocols {
		if _, err := backends.ParseProto(string(p)); err != nil {
			errs = append(errs, fmt.Errorf("protocols: %w", err))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(v.Env)) {
		if !validEnvName(k) {
			errs = append(errs, fmt.Errorf("env %q: names are [A-Z_][A-Z0-9_]*", k))
		}
		if strings.ContainsAny(v.Env[k], "\x00\n") {
			errs = append(errs, fmt.Errorf("env %s: the value holds a NUL or a newline", k))
		}
	}
	return errs
}

// validEnvName reports whether s is an environment variable name of the
// form [A-Z_][A-Z0-9_]*.
func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// shuffleRound puts the cells of one round into an order drawn from seed
// and the round number (Fisher–Yates over PCG, whose output is fixed by
// its specification, so the same seed gives the same order with every Go
// release). Seed 0 leaves the plan order.
//
// The order is paired: the cells that verdicts compare with each other
// (the same configuration under every label, pairKey) run back to back,
// in a shuffled order, and the groups themselves are shuffled. A slow
// drift of the host over a round then moves both sides of a ratio alike
// instead of landing on whichever label ran later.
func shuffleRound(cells []Cell, seed uint64, round int) {
	if seed == 0 {
		return
	}
	rng := rand.NewPCG(seed, uint64(round))
	shuffle := func(n int, swap func(i, j int)) {
		for i := n - 1; i > 0; i-- {
			swap(i, int(rng.Uint64()%uint64(i+1)))
		}
	}
	var groups [][]Cell
	index := map[string]int{}
	for _, c := range cells {
		k := c.pairKey()
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	out := cells[:0]
	for _, g := range groups {
		shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		out = append(out, g...)
	}
}

// pairKey is the cell's key without its label: the configuration whose
// cells verdicts pair up across labels.
func (c Cell) pairKey() string {
	k := c.Key()
	return k[len(c.label()):]
}

// NewSeed returns a non-zero seed from the clock, for plans without one.
func NewSeed(now time.Time) uint64 {
	s := uint64(now.UnixNano())
	if s == 0 {
		s = 1
	}
	return s
}
