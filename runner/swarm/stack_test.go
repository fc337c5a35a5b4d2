package swarm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite deploy/swarm/stack.yml from the template")

// Example is the stack of deploy/swarm/stack.yml: the template with
// ${VAR} fields that `docker stack deploy` fills in from its environment.
var Example = Stack{
	ServerImage:  "asyncbench/server:${IMAGE_TAG:-latest}",
	LoadgenImage: "asyncbench/loadgen:${IMAGE_TAG:-latest}",
	ServerArgs:   []string{"-backend", "${BACKEND:-stdlib}", "-proto", "http", "-addr", "${ADDR:-127.0.0.1:8080}"},
	LoadgenArgs: []string{"-c", "${CONNS:-16}", "-P", "1", "-d", "${DURATION:-10s}", "-warmup", "1s",
		"-start-at", "${START_AT:-0}", "-json-out", "/out/gen.json", "-hlog", "/out/gen.hlog",
		"http://${ADDR:-127.0.0.1:8080}/plaintext"},
	Replicas: "${REPLICAS:-0}",
	User:     "${RUN_AS:-65534:65534}",
	OutDir:   "${RUN_DIR}",
}

// TestExampleStack keeps deploy/swarm/stack.yml what the template renders
// for Example (go test -update rewrites it).
func TestExampleStack(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, Example); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "deploy", "swarm", "stack.yml")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("%s differs from the rendered template; run go test ./runner/swarm -update", path)
	}
}

// stackFile is the part of a stack file the tests look at.
type stackFile struct {
	Services map[string]struct {
		Image    string   `yaml:"image"`
		Command  []string `yaml:"command"`
		User     string   `yaml:"user"`
		Networks []string `yaml:"networks"`
		Volumes  []struct {
			Type, Source, Target string
		} `yaml:"volumes"`
		Deploy struct {
			Replicas      string `yaml:"replicas"`
			RestartPolicy struct {
				Condition string `yaml:"condition"`
			} `yaml:"restart_policy"`
			Placement struct {
				Constraints []string `yaml:"constraints"`
			} `yaml:"placement"`
		} `yaml:"deploy"`
	} `yaml:"services"`
	Networks map[string]struct {
		External bool   `yaml:"external"`
		Name     string `yaml:"name"`
	} `yaml:"networks"`
}

func render(t *testing.T, s Stack) (stackFile, string) {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, s); err != nil {
		t.Fatal(err)
	}
	var f stackFile
	if err := yaml.Unmarshal(b.Bytes(), &f); err != nil {
		t.Fatalf("rendered stack is not YAML: %v\n%s", err, b.String())
	}
	return f, b.String()
}

func TestRender(t *testing.T) {
	start, _ := parseRFC3339("2026-12-04T22:00:00.5Z")
	s := Stack{
		ServerImage: "reg.example/asyncbench/server:v1", LoadgenImage: "reg.example/asyncbench/loadgen:v1",
		ServerArgs:  []string{"-backend", "gnet", "-proto", "http", "-addr", "0.0.0.0:8080"},
		LoadgenArgs: GeneratorArgs([]string{"-c", "8", "-mix", `/plaintext:99,/cpu?us=1000:1`}, start, CollectMount, "http://10.0.0.5:8080/plaintext"),
		Replicas:    "3", User: "1000:1000", OutDir: "/srv/runs/x y",
		ServerConstraints: []string{"node.labels.asyncbench.role == server"},
		GenConstraints:    []string{"node.labels.asyncbench.role == generator", "node.role != manager"},
	}
	f, text := render(t, s)
	srv, gen := f.Services["server"], f.Services["loadgen"]
	if len(f.Services) != 2 || srv.Image != s.ServerImage || gen.Image != s.LoadgenImage {
		t.Fatalf("services %+v", f.Services)
	}
	if strings.Join(srv.Command, " ") != "-backend gnet -proto http -addr 0.0.0.0:8080" {
		t.Fatalf("server command %q", srv.Command)
	}
	wantGen := []string{"-c", "8", "-mix", "/plaintext:99,/cpu?us=1000:1", "-start-at", "2026-12-04T22:00:00.5Z",
		"-json-out", "/out/gen.json", "-hlog", "/out/gen.hlog", "http://10.0.0.5:8080/plaintext"}
	if strings.Join(gen.Command, "|") != strings.Join(wantGen, "|") {
		t.Fatalf("loadgen command\n got %q\nwant %q", gen.Command, wantGen)
	}
	if srv.Deploy.Replicas != "1" || gen.Deploy.Replicas != "3" || gen.User != "1000:1000" {
		t.Fatalf("replicas %q %q, user %q", srv.Deploy.Replicas, gen.Deploy.Replicas, gen.User)
	}
	for name, svc := range f.Services {
		if svc.Deploy.RestartPolicy.Condition != "none" || len(svc.Networks) != 1 || svc.Networks[0] != "hostnet" {
			t.Fatalf("%s: restart %q networks %v", name, svc.Deploy.RestartPolicy.Condition, svc.Networks)
		}
	}
	if n := f.Networks["hostnet"]; !n.External || n.Name != "host" {
		t.Fatalf("network %+v", n)
	}
	if len(gen.Volumes) != 1 || gen.Volumes[0].Type != "bind" || gen.Volumes[0].Source != "/srv/runs/x y/replica-{{.Task.Slot}}" || gen.Volumes[0].Target != "/out" {
		t.Fatalf("volumes %+v", gen.Volumes)
	}
	if c := srv.Deploy.Placement.Constraints; len(c) != 1 || c[0] != "node.labels.asyncbench.role == server" {
		t.Fatalf("server constraints %q", c)
	}
	if c := gen.Deploy.Placement.Constraints; len(c) != 2 || c[1] != "node.role != manager" {
		t.Fatalf("generator constraints %q", c)
	}
	if strings.Contains(text, `\u003c`) || strings.Contains(text, `\u0026`) {
		t.Fatalf("escaped characters in\n%s", text)
	}
}

// TestRenderLogs: without OutDir, user or constraints, none is written;
// the generators print their results.
func TestRenderLogs(t *testing.T) {
	s := Stack{ServerImage: "s", LoadgenImage: "l", Replicas: "0",
		LoadgenArgs: GeneratorArgs(nil, mustTime(t, "2026-12-04T22:00:00Z"), CollectLogs, "tcp://127.0.0.1:9000")}
	f, text := render(t, s)
	gen := f.Services["loadgen"]
	if len(gen.Volumes) != 0 || gen.User != "" || strings.Contains(text, "placement:") {
		t.Fatalf("unexpected keys:\n%s", text)
	}
	if strings.Join(gen.Command, " ") != "-start-at 2026-12-04T22:00:00Z -json -hlog /dev/stdout tcp://127.0.0.1:9000" || gen.Deploy.Replicas != "0" {
		t.Fatalf("command %q replicas %q", gen.Command, gen.Deploy.Replicas)
	}
	if err := Render(&bytes.Buffer{}, Stack{}); err == nil {
		t.Fatal("a stack without a replica count rendered")
	}
}

func parseRFC3339(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := parseRFC3339(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func yamlUnmarshal(data []byte, v any) error { return yaml.Unmarshal(data, v) }
