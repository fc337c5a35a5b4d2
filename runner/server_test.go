package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

// exeSHA256 is the server_sha256 of this test binary.
func exeSHA256(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}

// pidNotes returns the notes of the pid files of role: what each fake
// child saw (its GOMAXPROCS and program name).
func pidNotes(t *testing.T, dir, role string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, role+"-*.pid"))
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	slices.Sort(out)
	return out
}

func programPlan() Plan {
	p := threeCells()
	p.Backends = []string{"cthreads", "stdlib"}
	return p
}

// TestRunProgramBackend: a backend with a program runs as
// <dir of server>/PROGRAM -proto P -addr 127.0.0.1:0, and the rows say
// what ran.
func TestRunProgramBackend(t *testing.T) {
	cfg, pids := fakeConfig(t, programPlan())
	cfg.ServerPath = filepath.Join(fakechild.BinDir(t, "server", "cthreads"), "server")
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil || out.Ran != 2 {
		t.Fatalf("%+v %v", out, err)
	}
	sha := exeSHA256(t)
	want := map[string]string{
		"cthreads": "cthreads -proto http -addr 127.0.0.1:0",
		"stdlib":   "server -backend stdlib -proto http -addr 127.0.0.1:0",
	}
	for _, r := range w.rows {
		if r.Status != results.StatusOK || r.ServerCommand != want[r.Backend] || r.ServerSHA256 != sha || r.ServerEnv != "GOMAXPROCS=1" || r.GOMAXPROCS != 1 {
			t.Errorf("row %s: %s %q, command %q, sha %q, env %q, gomaxprocs %d", r.Backend, r.Status, r.Reason, r.ServerCommand, r.ServerSHA256, r.ServerEnv, r.GOMAXPROCS)
		}
	}
	if got := pidNotes(t, pids, "server"); !slices.Equal(got, []string{"GOMAXPROCS=1 program=cthreads", "GOMAXPROCS=1 program=server"}) {
		t.Errorf("servers started: %q", got)
	}
	assertGone(t, pids)
}

// TestRunProgramMissing: a plan naming a backend whose program is not
// built is refused before anything runs, with the one error that says how
// to build it.
func TestRunProgramMissing(t *testing.T) {
	cfg, pids := fakeConfig(t, programPlan())
	bin := fakechild.BinDir(t, "server")
	cfg.ServerPath = filepath.Join(bin, "server")
	var w memRows
	_, err := Run(context.Background(), cfg, &w)
	want := "backend cthreads: " + filepath.Join(bin, "cthreads") + " not found: run make build (it needs a C compiler: apt-get install gcc)"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "stdlib") {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if len(w.rows) != 0 {
		t.Fatalf("%d rows written", len(w.rows))
	}
	if files, _ := filepath.Glob(filepath.Join(pids, "*.pid")); len(files) != 0 {
		t.Fatalf("children started: %v", files)
	}
	if got := Available(cfg.ServerPath); slices.Contains(got, "cthreads") || !slices.Contains(got, "stdlib") {
		t.Errorf("available: %v", got)
	}
	if got := Available(filepath.Join(fakechild.BinDir(t, "server", "cthreads", "cepoll"), "server")); !slices.Equal(got, backends.Names()) {
		t.Errorf("available with every program: %v", got)
	}
}

// TestRunVariantEnv: a variant's env reaches the server, replaces the
// default GOMAXPROCS, and is recorded.
func TestRunVariantEnv(t *testing.T) {
	p := threeCells()
	p.Backends = []string{"threads"}
	p.Variants = []Variant{{Label: "threads-gmp1024", Backend: "threads", Env: map[string]string{"GOMAXPROCS": "1024", "GOGC": "off"}}}
	cfg, pids := fakeConfig(t, p)
	var w memRows
	if out, err := Run(context.Background(), cfg, &w); err != nil || out.Ran != 2 {
		t.Fatalf("%+v %v", out, err)
	}
	byLabel := map[string]results.Row{}
	for _, r := range w.rows {
		byLabel[r.LabelOf()] = r
	}
	if r := byLabel["threads"]; r.GOMAXPROCS != 1 || r.ServerEnv != "GOMAXPROCS=1" {
		t.Errorf("threads: gomaxprocs %d, env %q", r.GOMAXPROCS, r.ServerEnv)
	}
	if r := byLabel["threads-gmp1024"]; r.GOMAXPROCS != 1024 || r.ServerEnv != "GOGC=off GOMAXPROCS=1024" || r.Backend != "threads" {
		t.Errorf("threads-gmp1024: %s gomaxprocs %d, env %q", r.Backend, r.GOMAXPROCS, r.ServerEnv)
	}
	notes := pidNotes(t, pids, "server")
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "GOMAXPROCS=1 ") || !strings.HasPrefix(notes[1], "GOMAXPROCS=1024 ") {
		t.Errorf("servers saw %q", notes)
	}
	assertGone(t, pids)
}

func TestVariantValidate(t *testing.T) {
	tests := []struct {
		name string
		v    Variant
		want string
	}{
		{"env ok", Variant{Label: "x", Backend: "threads", Env: map[string]string{"GOMAXPROCS": "1024", "GOGC": "off", "_X1": ""}}, ""},
		{"env lower case", Variant{Label: "x", Backend: "threads", Env: map[string]string{"gogc": "off"}}, `env "gogc": names are [A-Z_][A-Z0-9_]*`},
		{"env digit first", Variant{Label: "x", Backend: "threads", Env: map[string]string{"1X": "a"}}, `env "1X"`},
		{"env equals", Variant{Label: "x", Backend: "threads", Env: map[string]string{"A=B": "a"}}, `env "A=B"`},
		{"env newline", Variant{Label: "x", Backend: "threads", Env: map[string]string{"A": "a\nb"}}, "env A: the value holds"},
		{"command", Variant{Label: "x", Command: []string{"bin/server", "-addr", "{addr}", "-proto", "{proto}"}}, ""},
		{"command with backend", Variant{Label: "x", Backend: "stdlib", Command: []string{"srv", "{host}:{port}"}, Protocols: []backends.Proto{"echo", "http"}}, ""},
		{"neither", Variant{Label: "x"}, "variants[0]: no backend or command"},
		{"unknown placeholder", Variant{Label: "x", Command: []string{"srv", "-addr", "{adr}"}}, "unknown placeholder {adr}"},
		{"empty binary", Variant{Label: "x", Command: []string{""}}, "the first word (the executable) is empty"},
		{"bad protocol", Variant{Label: "x", Command: []string{"srv"}, Protocols: []backends.Proto{"udp"}}, `protocols: unknown protocol "udp"`},
		{"protocols without command", Variant{Label: "x", Backend: "stdlib", Protocols: []backends.Proto{"http"}}, "protocols go with a command"},
		{"server_args with command", Variant{Label: "x", Command: []string{"srv"}, ServerArgs: []string{"-a"}}, "server_args go with a backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPlan()
			p.Variants = []Variant{tt.v}
			err := p.Validate(0)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestServerEnv(t *testing.T) {
	if got := serverEnv(cpuset.Set{0}, nil); !slices.Equal(got, []string{"GOMAXPROCS=1"}) {
		t.Errorf("default: %q", got)
	}
	if got := serverEnv(cpuset.Set{0, 1}, []string{"GOGC=off", "GOMAXPROCS=1024"}); !slices.Equal(got, []string{"GOGC=off", "GOMAXPROCS=1024"}) {
		t.Errorf("override: %q", got)
	}
	if got := serverEnv(nil, nil); len(got) != 0 {
		t.Errorf("unpinned: %q", got)
	}
	if got := gomaxprocsOf([]string{"GOGC=off", "GOMAXPROCS=64"}, 1); got != 64 {
		t.Errorf("gomaxprocs %d", got)
	}
	if got := gomaxprocsOf([]string{"GOMAXPROCS=x"}, 2); got != 2 {
		t.Errorf("gomaxprocs of a bad value %d", got)
	}
	if got := commandLine("nginx", []string{"-g", "daemon off;", "-c", "/tmp/n.conf"}); got != `nginx -g 'daemon off;' -c /tmp/n.conf` {
		t.Errorf("command line %s", got)
	}
}

// commandPlan has one variant per way a command may give its address.
func commandPlan(extra ...string) Plan {
	exe, _ := os.Executable()
	p := threeCells()
	p.Backends = nil
	p.Variants = []Variant{
		{Label: "cmd-addr", Command: append([]string{exe, "command", "-proto", "{proto}", "-addr", "{host}:{port}"}, extra...)},
		{Label: "cmd-line", Backend: "stdlib", Command: append([]string{exe, "command", "-proto", "{proto}", "-addr", "127.0.0.1:0"}, extra...), Protocols: []backends.Proto{"http", "echo"}},
	}
	p.Workloads = []string{"plaintext", "echo"}
	p.Payloads = []int{64}
	return p
}

// TestRunCommand: command variants are checked against the contract (the
// child serves for real), then measured; rows record the command as run.
func TestRunCommand(t *testing.T) {
	cfg, pids := fakeConfig(t, commandPlan())
	var w memRows
	out, err := Run(context.Background(), cfg, &w)
	if err != nil || out.Ran != 3 || out.Failed != 0 {
		t.Fatalf("%+v %v %+v", out, err, w.rows)
	}
	sha := exeSHA256(t)
	filled := regexp.MustCompile(` command -proto (http|echo) -addr 127\.0\.0\.1:[0-9]+$`)
	for _, r := range w.rows {
		wantBackend := map[string]string{"cmd-addr": CommandBackend, "cmd-line": "stdlib"}[r.Label]
		if r.Backend != wantBackend || !filled.MatchString(r.ServerCommand) || r.ServerSHA256 != sha || r.ServerEnv != "GOMAXPROCS=1" {
			t.Errorf("row %s: backend %q, command %q, sha %q, env %q", r.Cell, r.Backend, r.ServerCommand, r.ServerSHA256, r.ServerEnv)
		}
		if r.Label == "cmd-addr" && strings.HasSuffix(r.ServerCommand, ":0") {
			t.Errorf("row %s: no port picked: %s", r.Cell, r.ServerCommand)
		}
	}
	// Checks: cmd-addr on http, cmd-line on http and echo; then one
	// start per cell.
	if n := len(pidNotes(t, pids, "command")); n != 3+3 {
		t.Errorf("%d command starts, want 6", n)
	}
	assertGone(t, pids)
}

// TestRunCommandRefused: a command that breaks the contract refuses the
// run before anything is measured, naming the variant and the check.
func TestRunCommandRefused(t *testing.T) {
	p := commandPlan("-wrong")
	p.Workloads = []string{"plaintext"}
	cfg, pids := fakeConfig(t, p)
	var w memRows
	_, err := Run(context.Background(), cfg, &w)
	if err == nil || !strings.Contains(err.Error(), "variant cmd-addr (http)") || !strings.Contains(err.Error(), "check plaintext") || !strings.Contains(err.Error(), "Server: fake") {
		t.Fatalf("err = %v", err)
	}
	if len(w.rows) != 0 || len(pidNotes(t, pids, "loadgen")) != 0 {
		t.Fatalf("measured: %d rows, %d generators", len(w.rows), len(pidNotes(t, pids, "loadgen")))
	}
	assertGone(t, pids)

	p.Variants[0].Command[0] = filepath.Join(t.TempDir(), "nope")
	cfg, _ = fakeConfig(t, p)
	if _, err := Run(context.Background(), cfg, &w); err == nil || !strings.Contains(err.Error(), "variant cmd-addr: command "+p.Variants[0].Command[0]) {
		t.Fatalf("missing executable: %v", err)
	}
}

// TestPlanVariantsRoundTrip: env, command and protocols survive the
// plan.yaml a run keeps for -resume.
func TestPlanVariantsRoundTrip(t *testing.T) {
	text := `name: x
workloads: [plaintext, echo]
payloads: [64]
connections: [4]
pipeline: [1]
rates: [0]
repetitions: 1
duration: 1s
variants:
  - {label: threads-gmp1024, backend: threads, env: {GOMAXPROCS: "1024", GOGC: "off"}}
  - label: cmd
    command: [bin/server, -backend, stdlib, -proto, "{proto}", -addr, "{addr}"]
    protocols: [http, echo]
`
	p, err := ParsePlan([]byte(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(0); err != nil {
		t.Fatal(err)
	}
	out, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePlan(out, "x")
	if err != nil {
		t.Fatal(err)
	}
	v := back.Variants
	if len(v) != 2 || v[0].Env["GOMAXPROCS"] != "1024" || v[0].Env["GOGC"] != "off" ||
		!slices.Equal(v[1].Command, p.Variants[1].Command) || !slices.Equal(v[1].Protocols, []backends.Proto{"http", "echo"}) {
		t.Fatalf("round trip: %+v\n%s", v, out)
	}
	cells, _ := back.Expand()
	var keys []string
	for _, c := range cells {
		keys = append(keys, c.Key())
		if c.Label == "threads-gmp1024" && !slices.Equal(c.Env, []string{"GOGC=off", "GOMAXPROCS=1024"}) {
			t.Errorf("cell env %q", c.Env)
		}
	}
	slices.Sort(keys)
	want := []string{"cmd/echo/echo/c4/p1/r0/b64", "cmd/http/plaintext/c4/p1/r0/b0", "threads-gmp1024/echo/echo/c4/p1/r0/b64", "threads-gmp1024/http/plaintext/c4/p1/r0/b0"}
	if !slices.Equal(keys, want) {
		t.Errorf("cells %v", keys)
	}
}
