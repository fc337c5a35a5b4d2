// Package plans holds the built-in benchmark plans as embedded YAML files.
// A plan file names the matrix `bench run` measures; see README.md for the
// fields.
package plans

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the built-in plans, sorted; example.yaml is a documented
// sample, not a plan of its own.
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		if name != "example" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Builtin returns the YAML text of the built-in plan called name.
func Builtin(name string) ([]byte, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("no built-in plan %q (built-in: %s)", name, strings.Join(Names(), ", "))
	}
	return files.ReadFile(name + ".yaml")
}
