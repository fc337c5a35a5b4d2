package swarm

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// Stack is what the stack file says: the two services' images, command
// lines and placement, how many generators run and where they write.
// Fields are strings as they appear in the file, so that a field may also
// be a ${VAR} that `docker stack deploy` fills in from its environment.
type Stack struct {
	ServerImage, LoadgenImage string
	ServerArgs, LoadgenArgs   []string
	Replicas                  string // generator tasks; "0" deploys the server alone
	// User is the uid:gid the generators run as; "" keeps the image's.
	User string
	// OutDir is the host directory whose replica-<slot> subdirectories are
	// bind-mounted on /out in the generators; "" mounts nothing (the
	// generators then write their results to stdout).
	OutDir                            string
	ServerConstraints, GenConstraints []string // placement constraints
}

//go:embed stack.yml.tmpl
var stackTemplate string

var stackTmpl = template.Must(template.New("stack").Delims("[[", "]]").Funcs(template.FuncMap{
	"q":    quote,
	"list": list,
}).Parse(stackTemplate))

// Render writes s as a compose-format stack file for `docker stack deploy`.
func Render(w io.Writer, s Stack) error {
	if s.Replicas == "" {
		return fmt.Errorf("stack: no replica count")
	}
	if err := stackTmpl.Execute(w, s); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// quote returns s as a YAML double-quoted scalar (a JSON string is one).
func quote(s string) string {
	var b strings.Builder
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// list returns a YAML flow sequence of quoted strings.
func list(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
