package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// imageNames are the images scripts/images.sh builds, one per Dockerfile target.
var imageNames = []string{"server", "loadgen", "bench"}

// composeService holds the keys of a compose service that the tests check.
type composeService struct {
	Image       string   `yaml:"image"`
	NetworkMode string   `yaml:"network_mode"`
	User        string   `yaml:"user"`
	CPUSet      string   `yaml:"cpuset"`
	Profiles    []string `yaml:"profiles"`
	Command     []string `yaml:"command"`
	Tmpfs       []string `yaml:"tmpfs"`
	Volumes     []string `yaml:"volumes"`
	Ports       []string `yaml:"ports"`
	Build       any      `yaml:"build"`
	PullPolicy  string   `yaml:"pull_policy"`
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadCompose(t *testing.T) map[string]composeService {
	t.Helper()
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(readFile(t, "../docker-compose.yml"), &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f.Services
}

func TestComposeServices(t *testing.T) {
	services := loadCompose(t)
	tests := []struct {
		name     string
		image    string
		profiles []string // nil: started by a plain `up`
		cpuset   bool
		command  []string // must all appear in the command
	}{
		{"bench", "bench", nil, true, []string{"run", "-plan", "-out", "-server-cpus", "-gen-cpus"}},
		{"server", "server", []string{"server", "distributed"}, true, []string{"-backend", "-proto", "-addr"}},
		{"loadgen", "loadgen", []string{"distributed"}, true, []string{"-start-at", "-hlog", "-json"}},
		{"merge", "bench", []string{"merge"}, false, []string{"merge", "-backend", "-out"}},
	}
	if len(services) != len(tests) {
		t.Errorf("docker-compose.yml has %d services, want %d", len(services), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := services[tt.name]
			if !ok {
				t.Fatalf("service %q missing", tt.name)
			}
			if want := "asyncbench/" + tt.image + ":${IMAGE_TAG:-latest}"; s.Image != want {
				t.Errorf("image = %q, want %q", s.Image, want)
			}
			if s.NetworkMode != "host" {
				t.Errorf("network_mode = %q, want host (loopback only, no NAT)", s.NetworkMode)
			}
			if want := "${UID:-1000}:${GID:-1000}"; s.User != want {
				t.Errorf("user = %q, want %q", s.User, want)
			}
			if !slices.ContainsFunc(s.Tmpfs, func(m string) bool { return strings.HasPrefix(m, "/tmp:") }) {
				t.Errorf("tmpfs = %q, want a /tmp mount (scratch images have none)", s.Tmpfs)
			}
			if !slices.Contains(s.Volumes, "./results/runs:/results/runs") {
				t.Errorf("volumes = %q, want ./results/runs:/results/runs", s.Volumes)
			}
			if len(s.Ports) > 0 {
				t.Errorf("ports set; host networking uses none")
			}
			// A missing image is built from bin/ (never pulled): the build
			// names the Dockerfile target of the service's image.
			b, _ := s.Build.(map[string]any)
			if b["context"] != "." || b["dockerfile"] != "docker/Dockerfile" || b["target"] != tt.image {
				t.Errorf("build = %v, want context ., dockerfile docker/Dockerfile, target %s", s.Build, tt.image)
			}
			if s.PullPolicy != "never" {
				t.Errorf("pull_policy = %q, want never (the images are published nowhere)", s.PullPolicy)
			}
			if !slices.Equal(s.Profiles, tt.profiles) {
				t.Errorf("profiles = %q, want %q", s.Profiles, tt.profiles)
			}
			if tt.cpuset && s.CPUSet == "" {
				t.Errorf("no cpuset")
			}
			for _, arg := range tt.command {
				if !slices.Contains(s.Command, arg) {
					t.Errorf("command %q lacks %q", s.Command, arg)
				}
			}
		})
	}
}

func TestComposeGeneratorFilesAreIndexed(t *testing.T) {
	s := loadCompose(t)["loadgen"]
	for _, flag := range []string{"-hlog"} {
		i := slices.Index(s.Command, flag)
		if i < 0 || i+1 >= len(s.Command) {
			t.Fatalf("loadgen command %q: %s has no value", s.Command, flag)
		}
		if v := s.Command[i+1]; !strings.Contains(v, "${GEN_INDEX") || !strings.HasPrefix(v, "/results/runs/") {
			t.Errorf("%s %q: want a file under /results/runs/ named by ${GEN_INDEX}", flag, v)
		}
	}
	// merge reads the directory the generators write to.
	m := loadCompose(t)["merge"]
	i := slices.Index(s.Command, "-hlog")
	dir := filepath.Dir(s.Command[i+1])
	if last := m.Command[len(m.Command)-1]; last != dir {
		t.Errorf("merge reads %q, generators write to %q", last, dir)
	}
}

// varRef matches ${NAME...} in a compose file or a manifest.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}`)

func TestComposeVariablesHaveDefaults(t *testing.T) {
	// A variable without a default would make a plain `docker compose up`
	// fail or pass an empty argument.
	for _, m := range varRef.FindAllSubmatch(readFile(t, "../docker-compose.yml"), -1) {
		if !bytes.HasPrefix(m[2], []byte(":-")) || len(m[2]) == 2 {
			t.Errorf("%s has no non-empty default (want ${%s:-VALUE})", m[0], m[1])
		}
	}
}

func TestDockerfileFromScratch(t *testing.T) {
	var targets []string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "../docker/Dockerfile")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		if len(f) != 4 || f[1] != "scratch" || !strings.EqualFold(f[2], "AS") {
			t.Errorf("%q: want FROM scratch AS NAME (nothing can be pulled)", sc.Text())
			continue
		}
		targets = append(targets, f[3])
	}
	slices.Sort(targets)
	want := slices.Sorted(slices.Values(imageNames))
	if !slices.Equal(targets, want) {
		t.Errorf("Dockerfile targets = %q, want %q", targets, want)
	}

	var rules []string
	for _, l := range strings.Split(string(readFile(t, "../.dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			rules = append(rules, l)
		}
	}
	if len(rules) == 0 || rules[0] != "*" {
		t.Errorf(".dockerignore rules %q: want '*' first, then only the binaries", rules)
	}
	for _, name := range imageNames {
		if !slices.Contains(rules, "!bin/"+name) {
			t.Errorf(".dockerignore does not let bin/%s through", name)
		}
	}
}

// container is the part of a pod's container spec the tests check.
type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

// volumeMount is one entry of a container's volumeMounts.
type volumeMount struct {
	Name        string `yaml:"name"`
	MountPath   string `yaml:"mountPath"`
	SubPathExpr string `yaml:"subPathExpr"`
}

// podTemplate is a pod template of a Deployment or a Job.
type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		RestartPolicy string      `yaml:"restartPolicy"`
		Containers    []container `yaml:"containers"`
		Volumes       []struct {
			Name                  string    `yaml:"name"`
			EmptyDir              *struct{} `yaml:"emptyDir"`
			PersistentVolumeClaim *struct {
				ClaimName string `yaml:"claimName"`
			} `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

// object is one Kubernetes document; Spec is decoded by kind.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
	File string    `yaml:"-"`
}

type jobSpec struct {
	CompletionMode string      `yaml:"completionMode"`
	Completions    *int        `yaml:"completions"`
	Parallelism    *int        `yaml:"parallelism"`
	BackoffLimit   *int        `yaml:"backoffLimit"`
	Template       podTemplate `yaml:"template"`
}

type deploymentSpec struct {
	Replicas *int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template podTemplate `yaml:"template"`
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"`
	} `yaml:"ports"`
}

type pvcSpec struct {
	AccessModes []string `yaml:"accessModes"`
}

// loadK8s decodes every document of every YAML file under k8s/.
func loadK8s(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under deploy/k8s (%v)", err)
	}
	var objs []object
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(readFile(t, f)))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: document without apiVersion, kind or metadata.name", f)
			}
			o.File = f
			objs = append(objs, o)
		}
	}
	return objs
}

func decodeSpec[T any](t *testing.T, o object) T {
	t.Helper()
	var s T
	if err := o.Spec.Decode(&s); err != nil {
		t.Fatalf("%s %s/%s: %v", o.File, o.Kind, o.Metadata.Name, err)
	}
	return s
}

// argAfter returns the argument following flag, or "".
func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// kubeletRef matches $(NAME), which the kubelet expands from the container's env.
var kubeletRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkContainer checks the image name and that every $(VAR) in args and
// subPathExpr names a variable the container has (the kubelet would leave
// an unknown one in place, as literal text).
func checkContainer(t *testing.T, c container, image string, extraEnv ...string) {
	t.Helper()
	if want := "asyncbench/" + image + ":latest"; c.Image != want {
		t.Errorf("container %s: image %q, want %q", c.Name, c.Image, want)
	}
	env := slices.Clone(extraEnv)
	for _, e := range c.Env {
		env = append(env, e.Name)
	}
	refs := slices.Clone(c.Args)
	for _, m := range c.VolumeMounts {
		refs = append(refs, m.SubPathExpr)
	}
	for _, a := range refs {
		for _, m := range kubeletRef.FindAllStringSubmatch(a, -1) {
			if !slices.Contains(env, m[1]) {
				t.Errorf("container %s: %q refers to $(%s), which it does not define", c.Name, a, m[1])
			}
		}
	}
}

func TestK8sManifests(t *testing.T) {
	objs := loadK8s(t)
	byKind := map[string][]object{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}

	// The PVC the Jobs share.
	if len(byKind["PersistentVolumeClaim"]) != 1 {
		t.Fatalf("want one PersistentVolumeClaim, have %d", len(byKind["PersistentVolumeClaim"]))
	}
	pvc := byKind["PersistentVolumeClaim"][0]
	if s := decodeSpec[pvcSpec](t, pvc); !slices.Equal(s.AccessModes, []string{"ReadWriteMany"}) {
		t.Errorf("PVC access modes %q: generators on several nodes need ReadWriteMany", s.AccessModes)
	}

	// The server and its Service.
	if len(byKind["Deployment"]) != 1 || len(byKind["Service"]) != 1 {
		t.Fatalf("want one Deployment and one Service, have %d and %d", len(byKind["Deployment"]), len(byKind["Service"]))
	}
	dep := decodeSpec[deploymentSpec](t, byKind["Deployment"][0])
	if dep.Replicas == nil || *dep.Replicas != 1 {
		t.Errorf("server Deployment: want replicas 1")
	}
	if len(dep.Template.Spec.Containers) != 1 {
		t.Fatalf("server Deployment: want one container")
	}
	srv := dep.Template.Spec.Containers[0]
	checkContainer(t, srv, "server")
	if a := argAfter(srv.Args, "-addr"); !strings.HasPrefix(a, "0.0.0.0:") {
		t.Errorf("server -addr %q: must listen on all addresses to be reachable through the Service", a)
	}
	labels := dep.Template.Metadata.Labels
	for k, v := range dep.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("Deployment selector %s=%s does not match its pod labels", k, v)
		}
	}
	svc := decodeSpec[serviceSpec](t, byKind["Service"][0])
	if len(svc.Selector) == 0 {
		t.Errorf("Service has no selector")
	}
	for k, v := range svc.Selector {
		if labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the server pods", k, v)
		}
	}
	if len(svc.Ports) != 1 || len(srv.Ports) != 1 || svc.Ports[0].TargetPort != srv.Ports[0].Name {
		t.Errorf("Service targetPort does not name the server's container port")
	}

	// The generators (Indexed Job) and the merge Job.
	var gen, merge *jobSpec
	for _, o := range byKind["Job"] {
		s := decodeSpec[jobSpec](t, o)
		if o.APIVersion != "batch/v1" {
			t.Errorf("Job %s: apiVersion %q, want batch/v1", o.Metadata.Name, o.APIVersion)
		}
		if s.Template.Spec.RestartPolicy != "Never" {
			t.Errorf("Job %s: restartPolicy %q, want Never (a rerun would miss the shared start)", o.Metadata.Name, s.Template.Spec.RestartPolicy)
		}
		if len(s.Template.Spec.Containers) != 1 {
			t.Fatalf("Job %s: want one container", o.Metadata.Name)
		}
		switch s.Template.Spec.Containers[0].Image {
		case "asyncbench/loadgen:latest":
			gen = &s
		case "asyncbench/bench:latest":
			merge = &s
		}
	}
	if gen == nil || merge == nil {
		t.Fatalf("want a loadgen Job and a merge Job among %d Jobs", len(byKind["Job"]))
	}
	if gen.CompletionMode != "Indexed" {
		t.Errorf("loadgen Job: completionMode %q, want Indexed", gen.CompletionMode)
	}
	if gen.Completions == nil || gen.Parallelism == nil || *gen.Completions != *gen.Parallelism || *gen.Completions < 2 {
		t.Errorf("loadgen Job: want completions == parallelism >= 2 so every generator runs at once")
	}
	if gen.BackoffLimit == nil || *gen.BackoffLimit != 0 {
		t.Errorf("loadgen Job: want backoffLimit 0")
	}
	lg := gen.Template.Spec.Containers[0]
	checkContainer(t, lg, "loadgen", "JOB_COMPLETION_INDEX")
	if a := argAfter(lg.Args, "-start-at"); a != "$(START_AT)" {
		t.Errorf("loadgen -start-at %q, want $(START_AT)", a)
	}
	for _, flag := range []string{"-hlog", "-json-out"} {
		if a := argAfter(lg.Args, flag); !strings.Contains(a, "$(JOB_COMPLETION_INDEX)") || !strings.HasPrefix(a, "/results/") {
			t.Errorf("loadgen %s %q: want a file under /results named by $(JOB_COMPLETION_INDEX)", flag, a)
		}
	}
	if target := lg.Args[len(lg.Args)-1]; !strings.Contains(target, byKind["Service"][0].Metadata.Name) {
		t.Errorf("loadgen target %q does not name the Service %q", target, byKind["Service"][0].Metadata.Name)
	}

	mg := merge.Template.Spec.Containers[0]
	checkContainer(t, mg, "bench")
	if len(mg.Args) == 0 || mg.Args[0] != "merge" {
		t.Errorf("merge Job args %q: want bench merge", mg.Args)
	}
	// Both Jobs mount the same claim and subdirectory at /results, and merge
	// reads the directory the generators write to.
	for _, s := range []*jobSpec{gen, merge} {
		c := s.Template.Spec.Containers[0]
		i := slices.IndexFunc(c.VolumeMounts, func(m volumeMount) bool { return m.MountPath == "/results" })
		if i < 0 {
			t.Fatalf("container %s: no /results mount", c.Name)
		}
		m := c.VolumeMounts[i]
		if m.SubPathExpr != "$(RUN_ID)" {
			t.Errorf("container %s: /results subPathExpr %q, want $(RUN_ID)", c.Name, m.SubPathExpr)
		}
		claim := ""
		for _, v := range s.Template.Spec.Volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claim != pvc.Metadata.Name {
			t.Errorf("container %s: /results is claim %q, want %q", c.Name, claim, pvc.Metadata.Name)
		}
	}
	if dir := filepath.Dir(argAfter(lg.Args, "-hlog")); mg.Args[len(mg.Args)-1] != dir {
		t.Errorf("merge reads %q, generators write to %q", mg.Args[len(mg.Args)-1], dir)
	}
}

func TestK8sPlaceholders(t *testing.T) {
	// envsubst fills these in at apply time; deploy/k8s/README.md names them.
	allowed := []string{"RUN_ID", "START_AT"}
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		for _, m := range varRef.FindAllSubmatch(readFile(t, f), -1) {
			if !slices.Contains(allowed, string(m[1])) || len(m[2]) != 0 {
				t.Errorf("%s: placeholder %s; only ${RUN_ID} and ${START_AT} are filled in", f, m[0])
			}
		}
	}
}

// flagName matches a flag line of Go's flag.PrintDefaults output.
var flagName = regexp.MustCompile(`(?m)^\s+-([A-Za-z0-9][A-Za-z0-9-]*)`)

// definedFlags runs `bin args... -h` and returns the flags it lists.
func definedFlags(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	out, _ := exec.Command(bin, slices.Concat(args, []string{"-h"})...).CombinedOutput()
	var flags []string
	for _, m := range flagName.FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("%s %s -h listed no flags:\n%s", bin, strings.Join(args, " "), out)
	}
	return flags
}

// usedFlags returns the flag names in a command line ("-c" gives "c").
func usedFlags(args []string) []string {
	var flags []string
	for _, a := range args {
		if len(a) > 1 && a[0] == '-' && (a[1] < '0' || a[1] > '9') {
			flags = append(flags, strings.TrimLeft(a, "-"))
		}
	}
	return flags
}

// pendingFlags are used by a manifest before the command defines them; a
// missing one skips its check instead of failing it.
var pendingFlags = map[string]string{}

func TestCommandLinesUseExistingFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the commands")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "../cmd/server", "../cmd/loadgen", "../cmd/bench")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := func(name string) string { return filepath.Join(bin, name) }

	compose := loadCompose(t)
	var job, mergeJob, server []string
	for _, o := range loadK8s(t) {
		switch o.Kind {
		case "Job":
			s := decodeSpec[jobSpec](t, o)
			c := s.Template.Spec.Containers[0]
			if s.CompletionMode == "Indexed" {
				job = c.Args
			} else {
				mergeJob = c.Args
			}
		case "Deployment":
			server = decodeSpec[deploymentSpec](t, o).Template.Spec.Containers[0].Args
		}
	}
	tests := []struct {
		name    string
		args    []string // as written in the file
		bin     string
		subcmds int // leading subcommand words in args
	}{
		{"compose bench", compose["bench"].Command, "bench", 1},
		{"compose server", compose["server"].Command, "server", 0},
		{"compose loadgen", compose["loadgen"].Command, "loadgen", 0},
		{"compose merge", compose["merge"].Command, "bench", 1},
		{"k8s server", server, "server", 0},
		{"k8s loadgen", job, "loadgen", 0},
		{"k8s merge", mergeJob, "bench", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.args) < tt.subcmds {
				t.Fatalf("command %q too short", tt.args)
			}
			have := definedFlags(t, cmd(tt.bin), tt.args[:tt.subcmds]...)
			var pending []string
			for _, f := range usedFlags(tt.args[tt.subcmds:]) {
				if slices.Contains(have, f) {
					continue
				}
				if why, ok := pendingFlags[f]; ok {
					pending = append(pending, why)
					continue
				}
				t.Errorf("%s has no flag -%s", strings.Join(append([]string{tt.bin}, tt.args[:tt.subcmds]...), " "), f)
			}
			if len(pending) > 0 && !t.Failed() {
				t.Skip(strings.Join(pending, "; "))
			}
		})
	}
}
