// Package conformance checks every backend in the catalog against the
// backend contract (backends/README.md) with raw sockets and byte-level
// comparisons. It holds tests only; run one backend with
//
//	go test ./backends/conformance -run 'TestConformance/gnet'
//
// Backends served by a separate program (backends.Info.Program: cthreads,
// cepoll) are run from $ASYNCBENCH_BIN, or else from bin/ at the module
// root, started with `-proto P -addr 127.0.0.1:0`; the suite reads their
// "listening on HOST:PORT" line and stops them with SIGTERM, which they
// must obey within the close timeout with exit status 0. `make build`
// compiles them; a missing (or stale) one fails the test with "run make
// build", unless no C compiler is on PATH, which skips it.
// TestProgramsAgreeWithH1 sends random streams of valid and broken
// requests, in random pieces, to each program and to the threads backend
// (the Go h1 engine) and wants the same bytes back
// (CONFORMANCE_AGREE_ROUNDS=N for a longer search).
//
// TestNbioModes runs the echo and HTTP checks on nbio's blocking and mixed
// I/O modes, which the catalog does not list apart.
//
// TestExternal runs the same checks against any server, one of your own
// or another implementation, started by a command or already running:
//
//	# a command; {addr} (or {port}) becomes a free 127.0.0.1 port
//	CONFORMANCE_CMD='bin/server -backend stdlib -proto http -addr {addr}' \
//	    go test ./backends/conformance -run TestExternal -v
//	# a command that prints "listening on HOST:PORT" itself
//	CONFORMANCE_CMD='bin/cepoll -proto echo -addr 127.0.0.1:0' CONFORMANCE_PROTO=echo \
//	    go test ./backends/conformance -run TestExternal -v
//	# a server already running (its CPU use cannot be checked: cpu_computes skips)
//	CONFORMANCE_ADDR=127.0.0.1:8080 CONFORMANCE_PROTO=http \
//	    go test ./backends/conformance -run TestExternal -v
//
// The command runs with sh -c in the module root, in a process group of
// its own, which gets SIGTERM (then SIGKILL) at the end; it must stay in
// the foreground (for nginx: -g 'daemon off;'). CONFORMANCE_PROTO is http
// (the default) or echo. TestExternal skips when neither variable is set.
package conformance
