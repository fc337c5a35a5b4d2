/* A small HTTP/1.1 engine for the C servers: the rules of the Go engine in
 * backends/h1 (parse.go, serve.go) over a byte buffer, with no I/O. The
 * contract it answers is backends/README.md; the fixed answers are the
 * constants of backends/http.go. */
#ifndef ASYNCBENCH_H1_H
#define ASYNCBENCH_H1_H

#include <stddef.h>

#include "cmd.h"

#define H1_MAX_HEAD (8 << 10)  /* request line + headers over this: 431 */
#define H1_MAX_BODY (1 << 20)  /* a body over this: 413 */
/* H1_IN_MAX bounds the input a session needs buffered at once: one head,
 * one body and one incomplete line of chunked framing. */
#define H1_IN_MAX (H1_MAX_HEAD + H1_MAX_BODY + (16 << 10))

/* h1_work is the slow step of one request: wait (/delay) or compute (/cpu). */
enum h1_kind { H1_NONE, H1_DELAY, H1_CPU };
struct h1_work {
	enum h1_kind kind;
	long long us;
};

/* h1_session is the HTTP state of one connection between reads: at most
 * one request whose head is parsed and whose body is still arriving (it
 * stays at the start of the unconsumed input), or one slow request handed
 * out and not yet answered. Its zero value is ready. */
struct h1_session {
	int in_body, owed;
	int route, head, close, keep_alive, chunked;
	long long work_us;
	size_t hn;          /* length of the request's head */
	long long cl;       /* its Content-Length */
	int phase;          /* chunked body: where the decoder stands */
	long long left;     /* bytes left in the current chunk */
	long long total;    /* chunk data so far */
	size_t dec;         /* decoded body bytes kept after the head (/echo) */
	size_t trailer;     /* trailer bytes so far */
};

/* h1_serve answers the complete requests at the start of in[0:*len],
 * appending the responses to out, and returns how many bytes it consumed:
 * the caller drops them and offers the rest again with more input
 * appended. It may shorten *len (a chunked body is decoded in place). *close
 * is set when the connection must close once out is written. It stops at a
 * slow request: the request is consumed and *w says what to do; the caller
 * waits or computes, calls h1_finish, then h1_serve again. Every parsed
 * request first pays the handicap (cmd.h). */
size_t h1_serve(struct h1_session *s, char *in, size_t *len, struct buf *out, int *close, struct h1_work *w);

/* h1_finish appends the answer to the slow request h1_serve handed out and
 * returns whether the connection must close once out is written. */
int h1_finish(struct h1_session *s, struct buf *out);

#endif
