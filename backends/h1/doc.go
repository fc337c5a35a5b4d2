// Package h1 is a small, library-free HTTP/1.1 engine: a parser that works
// in place on a connection's buffered input and a Session that answers the
// contract's requests (backends/README.md) into an output buffer. It does no
// I/O, so backends with different designs share it: gnet and gnet-pool call
// it from their event loops, threads from a blocking OS thread.
//
// The slow endpoints (/delay, /cpu) are left to the caller: Session.Serve
// stops at one and returns its Work, the caller waits or computes the way
// its design does, then Session.Finish appends the answer.
package h1
