// Package conformance checks every backend in the registry against the
// backend contract with raw sockets and byte-level comparisons. It holds
// tests only; run one backend with
//
//	go test ./backends/conformance -run 'TestConformance/gnet'
package conformance
