package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/plans"
)

// Plan is the matrix a run measures. It is read from YAML or JSON (same
// keys); plans/README.md documents every field.
type Plan struct {
	Name        string    `yaml:"name"`
	Description string    `yaml:"description,omitempty"`
	Backends    []string  `yaml:"backends"`
	Workloads   []string  `yaml:"workloads"`
	Conns       []int     `yaml:"connections"`
	Pipeline    []int     `yaml:"pipeline"`
	Rates       []float64 `yaml:"-"` // requests/s; 0 = closed loop
	// Fractions are rates as fractions of capacity (0.5 = "50%"; see
	// capacity.go). ParsePlan fills Rates and Fractions from the file's
	// rates key (RateList); Marshal writes them back there.
	Fractions []float64   `yaml:"-"`
	RateList  []RateValue `yaml:"rates"`
	Payloads  []int       `yaml:"payloads"`
	Reps      int         `yaml:"repetitions"`
	// MaxReps, when above Reps, lets bench run add rounds one at a time
	// after the first Reps, up to MaxReps, while a comparison is still
	// undecided for want of rounds or a throughput interval is wide (see
	// cmd/bench's adaptive rounds); 0 = exactly Reps.
	MaxReps  int           `yaml:"max_repetitions,omitempty"`
	Duration time.Duration `yaml:"duration"`
	Warmup   time.Duration `yaml:"warmup"`
	DialRate float64       `yaml:"dial_rate,omitempty"` // generator -dial-rate; 0 = its default
	// Seed orders the cells of every round (see Expand); 0 = plan order.
	// bench run picks one from the clock when the plan has none and
	// writes it into the run's plan.yaml, so a resumed run keeps the order.
	Seed uint64 `yaml:"seed,omitempty"`
	// Reference is the label every other one is compared with (default:
	// stdlib if the plan has it, else the first label).
	Reference string `yaml:"reference,omitempty"`
	// Variants list backends under labels, with extra server flags; a
	// backend may appear under several labels. See variants.go.
	Variants []Variant `yaml:"variants,omitempty"`
	// Retries is how many times a cell repetition that came out noisy or
	// generator-bound is measured again at the end of its round (see
	// retry.go); nil = DefaultRetries, 0 = never.
	Retries *int `yaml:"retries,omitempty"`
	// SharedCapacity runs the fraction rates of every label at that
	// fraction of the reference label's capacity in the same round, so
	// that every label is offered the same rate (latency comparisons at
	// an equal load); false = each label's own capacity.
	SharedCapacity bool `yaml:"shared_capacity,omitempty"`
	// ServerCPUs is the server's CPU count as an axis: every cell is
	// measured once per count, on CPU sets bench run chooses (cpuaxis.go);
	// empty = the -server-cpus and -gen-cpus sets for every cell.
	ServerCPUs []int `yaml:"server_cpus,omitempty"`
}

// Workload describes how one workload name maps onto a server protocol and
// a load generator target.
type Workload struct {
	Name       string
	Proto      backends.Proto // server -proto
	Path       string         // HTTP path; empty for raw TCP
	UsePayload bool           // whether payload sizes apply

	// Set for the parameterised workloads (see ParseWorkload).
	HandlerUs int    // delay and cpu: µs waited or computed per request
	Mix       string // mix: the spec the generator gets with -mix
	Spec      string // the name as the plan writes it, e.g. "delay:1000"

	// Idle: connections held open and silent after one request each
	// (loadgen -idle); the row measures memory per connection (idle.go).
	Idle bool

	// Churn: every request on a new connection with Connection: close,
	// which the server closes (loadgen -churn): accepting, serving and
	// closing a connection per request, where creating a thread or a
	// goroutine per connection costs.
	Churn bool
}

// Workloads are the workloads a plan may name.
var Workloads = map[string]Workload{
	"plaintext": {Name: "plaintext", Proto: backends.ProtoHTTP, Path: "/plaintext"},
	"echo-http": {Name: "echo-http", Proto: backends.ProtoHTTP, Path: "/echo", UsePayload: true},
	"echo":      {Name: "echo", Proto: backends.ProtoEcho, UsePayload: true},
	"idle":      {Name: "idle", Proto: backends.ProtoHTTP, Path: "/plaintext", Idle: true},
	"idle-echo": {Name: "idle-echo", Proto: backends.ProtoEcho, UsePayload: true, Idle: true},
	"churn":     {Name: "churn", Proto: backends.ProtoHTTP, Path: "/plaintext", Churn: true},
}

// FDHeadroom is the number of file descriptors kept free besides one per
// connection, in the server and in the generator alike.
const FDHeadroom = 256

// Validate checks the plan against the known backends and workloads and
// against maxConns, the largest connection count the open-file limit allows
// (0 = no limit).
func (p *Plan) Validate(maxConns int) error {
	var errs []error
	if len(p.Backends) == 0 && len(p.Variants) == 0 {
		errs = append(errs, errors.New("no backends"))
	}
	errs = append(errs, p.checkVariants()...)
	for _, b := range p.Backends {
		if _, err := backends.Lookup(b); err != nil {
			errs = append(errs, err)
		}
	}
	if len(p.Workloads) == 0 {
		errs = append(errs, errors.New("no workloads"))
	}
	errs = append(errs, p.checkWorkloads()...)
	errs = append(errs, p.checkRanges(maxConns)...)
	errs = append(errs, p.checkServerCPUs()...)
	for _, dup := range duplicates(p) {
		errs = append(errs, fmt.Errorf("%s listed twice", dup))
	}
	if len(errs) > 0 {
		return fmt.Errorf("plan %s: %w", p.Name, errorList(errs))
	}
	return nil
}

// Bounds of plan values. Anything outside is a typo or a unit mistake, and
// would only make every cell fail later.
const (
	MaxRate        = 10_000_000 // requests/s
	MaxPipeline    = 1024
	MaxPayload     = 1 << 20 // bytes, the servers' body limit
	MaxDuration    = 24 * time.Hour
	MaxRepetitions = 1000
	MaxRetries     = 10
)

// checkRanges checks every number of the plan against its bounds; each
// error names the key.
func (p *Plan) checkRanges(maxConns int) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(p.Conns) == 0 {
		add("no connections")
	}
	for _, c := range p.Conns {
		switch {
		case c < 1:
			add("connections %d: must be at least 1", c)
		case maxConns > 0 && c > maxConns:
			add("connections %d: above the open-file limit allows (%d: one fd per connection plus %d spare, in server and generator each); raise ulimit -n or lower the count", c, maxConns, FDHeadroom)
		}
	}
	if len(p.Pipeline) == 0 {
		add("no pipeline depths")
	}
	for _, d := range p.Pipeline {
		if d < 1 || d > MaxPipeline {
			add("pipeline %d: must be 1 to %d", d, MaxPipeline)
		}
	}
	if len(p.Rates)+len(p.Fractions) == 0 {
		add("no rates (use [0] for closed loop)")
	}
	errs = append(errs, p.checkFractions()...)
	for _, r := range p.Rates {
		if math.IsNaN(r) || r < 0 || r > MaxRate {
			add("rates %g: must be 0 (closed loop) or a positive number up to %d requests/s", r, MaxRate)
		}
	}
	if p.needsPayload() && len(p.Payloads) == 0 {
		add("no payloads for echo workloads")
	}
	for _, n := range p.Payloads {
		if n < 1 || n > MaxPayload {
			add("payloads %d: must be 1 to %d bytes", n, MaxPayload)
		}
	}
	if p.Reps < 1 || p.Reps > MaxRepetitions {
		add("repetitions %d: must be 1 to %d", p.Reps, MaxRepetitions)
	}
	if p.MaxReps != 0 && (p.MaxReps < p.Reps || p.MaxReps > MaxRepetitions) {
		add("max_repetitions %d: must be 0 (exactly repetitions) or from repetitions (%d) to %d", p.MaxReps, p.Reps, MaxRepetitions)
	}
	if p.Retries != nil && (*p.Retries < 0 || *p.Retries > MaxRetries) {
		add("retries %d: must be 0 (never) to %d", *p.Retries, MaxRetries)
	}
	if p.Duration <= 0 || p.Duration > MaxDuration {
		add("duration %v: must be positive and at most %v", p.Duration, MaxDuration)
	}
	if p.Warmup < 0 || p.Warmup > MaxDuration {
		add("warmup %v: must be 0 to %v", p.Warmup, MaxDuration)
	}
	return errs
}

// errorList joins several errors on one line.
type errorList []error

func (l errorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (l errorList) Unwrap() []error { return l }

func (p *Plan) needsPayload() bool {
	for _, name := range p.Workloads {
		if w, _ := ParseWorkload(name); w.UsePayload {
			return true
		}
	}
	return false
}

func duplicates(p *Plan) []string {
	var out []string
	check := func(what string, vals []string) {
		seen := map[string]bool{}
		for _, v := range vals {
			if seen[v] {
				out = append(out, what+" "+v)
			}
			seen[v] = true
		}
	}
	check("backend", p.Backends)
	check("workload", p.Workloads)
	check("connections", itoas(p.Conns))
	check("pipeline", itoas(p.Pipeline))
	check("payload", itoas(p.Payloads))
	rates := make([]string, len(p.Rates))
	for i, r := range p.Rates {
		rates[i] = formatRate(r)
	}
	check("rate", rates)
	return out
}

func itoas(v []int) []string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return s
}

// ParsePlan decodes a plan from YAML or JSON text; unknown keys are errors.
// A plan without a name takes defaultName.
func ParsePlan(data []byte, defaultName string) (Plan, error) {
	var p Plan
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("plan %s: %s", defaultName, decodeError(err))
	}
	if p.Name == "" {
		p.Name = defaultName
	}
	p.splitRates()
	return p, nil
}

// decodeError renders a YAML decoding error on one line, naming unknown
// keys as such: "line 4: unknown key \"conections\"".
func decodeError(err error) string {
	if errors.Is(err, io.EOF) {
		return "empty plan"
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.ReplaceAll(err.Error(), "\n", " ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if pre, key, ok := strings.Cut(m, ": field "); ok {
			if key, ok := strings.CutSuffix(key, " not found in type runner.Plan"); ok {
				m = fmt.Sprintf("%s: unknown key %q", pre, key)
			}
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// LoadPlan returns the built-in plan called nameOrPath, or else reads the
// plan file at that path.
func LoadPlan(nameOrPath string) (Plan, error) {
	if slices.Contains(plans.Names(), nameOrPath) {
		data, err := plans.Builtin(nameOrPath)
		if err != nil {
			return Plan{}, err
		}
		return ParsePlan(data, nameOrPath)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(nameOrPath, "/.") {
			return Plan{}, fmt.Errorf("no built-in plan or file %q (built-in: %s)", nameOrPath, strings.Join(plans.Names(), ", "))
		}
		return Plan{}, fmt.Errorf("read plan: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(nameOrPath), filepath.Ext(nameOrPath))
	return ParsePlan(data, name)
}

// CellTime is the planned wall time of one cell: warm-up, window and
// cellOverhead.
func (p *Plan) CellTime() time.Duration {
	return p.Warmup + p.Duration + cellOverhead
}

// Cell is one point of the matrix at one repetition.
type Cell struct {
	Backend  string
	Label    string   // the variant label (the backend name unless the plan has variants)
	Args     []string // extra server flags of the variant
	Command  []string // the variant's server command, placeholders unfilled; nil = a backend
	Env      []string // the variant's extra server environment, NAME=VALUE, sorted
	Workload Workload
	Conns    int
	Pipeline int
	Rate     float64 // requests/s; for a fraction cell set once its capacity is known
	Fraction float64 // of capacity; 0 = Rate is absolute
	Payload  int     // 0 when the workload takes none
	Rep      int     // 1-based: the round
	// ServerCPUs is the server's CPU count on a plan's server_cpus axis;
	// 0 = no axis, the run's CPU sets.
	ServerCPUs int
	// Attempt numbers the measurements of this cell repetition, from 1;
	// a re-run (retry.go) has 2 or more. 0 reads as 1.
	Attempt int

	// markSocket is the unix socket on which the cell's Go server answers
	// window marks (server -runtime-metrics) and its generator marks the
	// measured window (loadgen -mark-socket) while it is measured; set by
	// measureCell for Go servers only (goServer); "" = none.
	markSocket string
	// capLabel is the label whose closed-loop cell gives a fraction cell
	// its capacity (Plan.SharedCapacity); "" = the cell's own label.
	capLabel string
}

// label is the cell's variant label, the backend when none is set.
func (c Cell) label() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Backend
}

// Key is the cell's stable identity across runs and repetitions, e.g.
// "gnet/http/plaintext/c64/p1/r0/b0" or "gnet/http/delay-1000us/c64/p1/r0/b0";
// a variant's label stands in for the backend ("stdlib-handicap/http/…"),
// and a cell of a server_cpus axis ends in its count ("…/b0/s2").
func (c Cell) Key() string {
	k := fmt.Sprintf("%s/%s/%s/c%d/p%d/r%s/b%d",
		c.label(), c.Workload.Proto, c.Workload.keyName(), c.Conns, c.Pipeline, c.rateKey(), c.Payload)
	if c.ServerCPUs > 0 {
		k += "/s" + strconv.Itoa(c.ServerCPUs)
	}
	return k
}

// FileName is the base name (without extension) of the cell's files in the
// run directory, e.g. "gnet_http_plaintext_c64_p1_r0_b0_rep1"; a re-run's
// files carry its attempt ("…_rep1_a2"), so no attempt overwrites another's.
func (c Cell) FileName() string {
	s := strings.ReplaceAll(c.Key(), "/", "_") + "_rep" + strconv.Itoa(c.Rep)
	if c.Attempt > 1 {
		s += "_a" + strconv.Itoa(c.Attempt)
	}
	return s
}

func formatRate(r float64) string {
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// Expand lists the plan's cells: every repetition of every combination, in
// rounds (round 1 of all cells, then round 2, …). Within a round the cells
// run in an order shuffled by Seed and the round number (plan order when
// Seed is 0), so neither drift nor position favours a backend. Label/
// workload pairs the backend cannot serve are left out and returned once
// each in skipped, e.g. "fasthttp/echo".
func (p *Plan) Expand() (cells []Cell, skipped []string) {
	type pair struct {
		v Variant
		w Workload
	}
	var pairs []pair
	for _, v := range p.AllVariants() {
		for _, name := range p.Workloads {
			w, err := ParseWorkload(name)
			if err != nil {
				continue // Validate reports it
			}
			if !v.serves(w.Proto) {
				skipped = append(skipped, v.Label+"/"+w.Name)
				continue
			}
			pairs = append(pairs, pair{v, w})
		}
	}
	for rep := 1; rep <= p.Reps; rep++ {
		first := len(cells)
		for _, pr := range pairs {
			payloads := []int{0}
			if pr.w.UsePayload {
				payloads = p.Payloads
			}
			for _, c := range p.Conns {
				for _, d := range p.Pipeline {
					for _, r := range p.cellRates() {
						for _, b := range payloads {
							for _, n := range p.serverCPUCounts() {
								cell := Cell{
									Backend: pr.v.rowBackend(), Label: pr.v.Label, Args: pr.v.ServerArgs,
									Command: pr.v.Command, Env: pr.v.envList(),
									Workload: pr.w, Conns: c, Pipeline: d, Rate: r.perSec, Fraction: r.fraction, Payload: b, Rep: rep,
									ServerCPUs: n,
								}
								if p.SharedCapacity && r.fraction > 0 {
									cell.capLabel = p.ReferenceLabel()
								}
								cells = append(cells, cell)
							}
						}
					}
				}
			}
		}
		shuffleRound(cells[first:], p.Seed, rep)
		capacityFirst(cells[first:])
	}
	return cells, skipped
}

// Marshal renders the plan as YAML followed by its cell keys as comments,
// the form kept as plan.yaml in a run directory.
func (p *Plan) Marshal() ([]byte, error) {
	out := *p
	out.RateList = p.joinRates()
	data, err := yaml.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("marshal plan: %w", err)
	}
	var b bytes.Buffer
	b.Write(data)
	cells, skipped := p.Expand()
	for _, s := range skipped {
		fmt.Fprintf(&b, "# skipped: %s (protocol not served)\n", s)
	}
	fmt.Fprintf(&b, "# cells: %d\n", len(cells))
	for _, c := range cells {
		fmt.Fprintf(&b, "#   %s rep%d\n", c.Key(), c.Rep)
	}
	return b.Bytes(), nil
}
