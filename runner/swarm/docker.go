package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Docker runs the docker command line: args without "docker", stdin (may
// be nil) on its standard input. It returns the standard output and error
// (`docker service logs` prints a task's stdout on the first and its
// stderr on the second); an error says which command failed and carries
// the last line of its stderr.
type Docker interface {
	Run(ctx context.Context, stdin []byte, args ...string) (stdout, stderr []byte, err error)
}

// CLI is the docker command found in PATH (or at Path).
type CLI struct {
	Path string // "" = "docker"
}

var _ Docker = CLI{}

// Run runs docker with args.
func (c CLI) Run(ctx context.Context, stdin []byte, args ...string) ([]byte, []byte, error) {
	path := c.Path
	if path == "" {
		path = "docker"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("docker %s: %s", strings.Join(args[:min(2, len(args))], " "), lastLine(stderr.String(), err.Error()))
		}
		return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("docker %s: %w", strings.Join(args[:min(2, len(args))], " "), err)
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}

// lastLine is the last non-empty line of s, or def when there is none.
func lastLine(s, def string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return def
}
