package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// A cell's server is one of three things, and serverSpec says how to
// start each:
//
//   - a backend of the Go server: ServerPath -backend NAME -proto P
//     -addr 127.0.0.1:0 plus the variant's server_args;
//   - a backend served by its own program (backends.Info.Program): the
//     program next to the server binary, -proto P -addr 127.0.0.1:0 plus
//     server_args;
//   - a variant's command, placeholders filled (command.go).
//
// Every server's environment is bench's own plus GOMAXPROCS = the number
// of server CPUs (when pinned) plus the variant's env, which may replace
// GOMAXPROCS.

// serverSpec is how one cell's server is started.
type serverSpec struct {
	path string   // executable
	args []string // arguments, placeholders filled
	env  []string // environment added to bench's, NAME=VALUE, sorted
	// addr is the address bench chose for a command with an address
	// placeholder: the server is up once it accepts there. Empty: read
	// its "listening on" line.
	addr string
	// line is the command line as run, for the server_command column:
	// the executable's base name for the Go server and programs, the
	// command's first word as the plan gives it for commands.
	line string
}

// serverSpec resolves how to start c's server. A command with an address
// placeholder gets a free loopback port now.
func (cfg *Config) serverSpec(c Cell) (serverSpec, error) { return cfg.spec(c, true) }

// describeServer is c's serverSpec without picking a port (a command's
// address placeholders stay): what a row says before its server starts.
func (cfg *Config) describeServer(c Cell) serverSpec {
	s, _ := cfg.spec(c, false)
	return s
}

func (cfg *Config) spec(c Cell, pick bool) (serverSpec, error) {
	s := serverSpec{env: serverEnv(cfg.ServerCPUSet, c.Env)}
	proto := string(c.Workload.Proto)
	if len(c.Command) > 0 {
		if err := s.fillCommand(c.Command, proto, pick); err != nil {
			s.line = commandLine(c.Command[0], c.Command[1:])
			return s, err
		}
		return s, nil
	}
	info, err := backends.Lookup(c.Backend)
	if err != nil {
		return s, err
	}
	if info.External() {
		s.path = ProgramPath(cfg.ServerPath, info)
		s.args = []string{"-proto", proto, "-addr", "127.0.0.1:0"}
	} else {
		s.path = cfg.ServerPath
		s.args = []string{"-backend", c.Backend, "-proto", proto, "-addr", "127.0.0.1:0"}
	}
	s.args = append(s.args, c.Args...)
	s.line = commandLine(filepath.Base(s.path), s.args)
	if c.markSocket != "" { // set for Go servers only (goServer); not in the line: the path is temporary
		s.args = append(s.args, "-runtime-metrics", c.markSocket)
	}
	return s, nil
}

// goServer reports whether cell c is served by the Go server, whose runtime
// answers window marks (measureCell); idle cells are left unmarked.
func (cfg *Config) goServer(c Cell) bool {
	if c.Workload.Idle || len(c.Command) > 0 {
		return false
	}
	info, err := backends.Lookup(c.Backend)
	return err == nil && !info.External()
}

// setServerColumns records in r what s runs: server_command,
// server_sha256, server_env and the GOMAXPROCS it sets.
func setServerColumns(r *results.Row, s serverSpec) {
	r.ServerCommand = s.line
	if s.path != "" {
		r.ServerSHA256 = fileSHA256(s.path)
	}
	r.ServerEnv = strings.Join(s.env, " ")
	r.GOMAXPROCS = gomaxprocsOf(s.env, r.GOMAXPROCS)
}

// serverEnv is the environment a server gets besides bench's own:
// GOMAXPROCS = len(cpus) when pinned, then env (sorted NAME=VALUE), whose
// entries replace the default; sorted by name.
func serverEnv(cpus cpuset.Set, env []string) []string {
	m := map[string]string{}
	if len(cpus) > 0 {
		m["GOMAXPROCS"] = strconv.Itoa(len(cpus))
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// gomaxprocsOf is the GOMAXPROCS a server with environment env runs at:
// the env's value when it sets a positive one, else def.
func gomaxprocsOf(env []string, def int) int {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOMAXPROCS="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return def
}

// commandLine renders a command line for humans and the server_command
// column: words with spaces, quotes or shell characters single-quoted.
func commandLine(name string, args []string) string {
	words := make([]string, 0, 1+len(args))
	for _, w := range append([]string{name}, args...) {
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\$`;&|<>(){}*?#~") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// ProgramPath is where bench finds the program of backend b (Info.Program):
// next to the server binary, where `make build` puts both.
func ProgramPath(serverPath string, b backends.Info) string {
	return filepath.Join(filepath.Dir(serverPath), b.Program)
}

// ErrNotBuilt is returned (wrapped) for a backend whose program is not
// next to the server binary.
var ErrNotBuilt = errors.New("not found")

// CheckProgram reports whether backend b can run with the server binary
// at serverPath: nil for a Go backend or a program that is there, else an
// error that says how to build it.
func CheckProgram(serverPath string, b backends.Info) error {
	if !b.External() {
		return nil
	}
	path := ProgramPath(serverPath, b)
	if isExecutable(path) {
		return nil
	}
	return fmt.Errorf("backend %s: %s %w: run make build (it needs a C compiler: apt-get install gcc)", b.Name, displayPath(path), ErrNotBuilt)
}

// Available lists the catalog's backends that can run with the server
// binary at serverPath, in catalog order.
func Available(serverPath string) []string {
	var out []string
	for _, b := range backends.Catalog {
		if CheckProgram(serverPath, b) == nil {
			out = append(out, b.Name)
		}
	}
	return out
}

// CheckServers checks, before anything runs, that every server of the
// plan can start: each backend's program is built (next to the server
// binary at serverPath) and each command's executable is found. The error
// names each one that cannot, on one line.
func (p *Plan) CheckServers(serverPath string) error {
	var errs []error
	seen := map[string]bool{}
	for _, v := range p.AllVariants() {
		if len(v.Command) > 0 {
			if _, err := lookCommand(v.Command[0]); err != nil {
				errs = append(errs, fmt.Errorf("variant %s: %w", v.Label, err))
			}
			continue
		}
		info, err := backends.Lookup(v.Backend)
		if err != nil || seen[v.Backend] {
			continue // Validate reports unknown backends
		}
		seen[v.Backend] = true
		if err := CheckProgram(serverPath, info); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("plan %s: %w", p.Name, errorList(errs))
	}
	return nil
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// displayPath is path relative to the working directory when it lies
// below it ("bin/cthreads"), else as given.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(path) {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// hashes caches fileSHA256 by path, size and modification time.
var hashes sync.Map

// fileSHA256 is the first 12 hex digits of the SHA-256 of the file at
// path, "" when it cannot be read.
func fileSHA256(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano())
	if h, ok := hashes.Load(key); ok {
		return h.(string)
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	hashes.Store(key, sum)
	return sum
}
