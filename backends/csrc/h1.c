/* The HTTP/1.1 engine of the C servers; each rule mirrors backends/h1. */
#define _GNU_SOURCE
#include "h1.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cmd.h"

#define PUTS(b, s) buf_put(b, s, sizeof s - 1)

/* The fixed answers, byte for byte backends/http.go's. */
#define BAD_REQUEST "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
#define HEADER_TOO_LARGE "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
#define NOT_IMPLEMENTED "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding"
#define VERSION_NOT_SUPPORTED "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version"

/* Parse results. */
enum { OK, NEED_MORE, BAD, VERSION, CODING, HEAD_TOO_LARGE, BODY_TOO_LARGE };

enum { ROUTE_NOT_FOUND, ROUTE_PLAINTEXT, ROUTE_ECHO, ROUTE_DELAY, ROUTE_CPU, ROUTE_BAD_WORK };

/* Where a chunked body decoder stands. */
enum { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER, CHUNK_DONE };

#define MAX_CHUNK_LINE (4 << 10)
#define MAX_TRAILER H1_MAX_HEAD
#define MAX_WORK_US 10000000LL
#define TOO_LONG (H1_MAX_BODY + 1LL) /* any length over the body limit */

struct str {
	const char *p;
	size_t n;
};

/* request is the parsed head of one request; its strings alias the input. */
struct request {
	struct str path, query;
	int head, minor, chunked, conn_close, keep_alive, has_host;
	long long cl; /* -1 when absent or chunked; TOO_LONG for anything over the limit */
};

/* is_tchar reports whether c is a token character (RFC 9110 §5.6.2). */
static int is_tchar(unsigned char c) {
	return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* is_vchar reports whether c may appear in a field value: HTAB, SP,
 * visible ASCII and obs-text. */
static int is_vchar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int unhex(unsigned char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 32;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static struct str trim_ows(struct str s) {
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.n--;
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* eq_fold reports whether s equals lc, ignoring ASCII case. */
static int eq_fold(struct str s, const char *lc) { return s.n == strlen(lc) && !strncasecmp(s.p, lc, s.n); }

static int str_is(struct str s, const char *lit) { return s.n == strlen(lit) && !memcmp(s.p, lit, s.n); }

/* all_vchar reports whether every byte of s may appear in a field value. */
static int all_vchar(struct str s) {
	for (size_t i = 0; i < s.n; i++)
		if (!is_vchar(s.p[i]))
			return 0;
	return 1;
}

/* cut returns s up to the first c and leaves in *s what follows that c
 * (nothing when there is none). */
static struct str cut(struct str *s, char c) {
	const char *k = s->n ? memchr(s->p, c, s->n) : NULL;
	struct str head = {s->p, k ? (size_t)(k - s->p) : s->n};
	*s = k ? (struct str){k + 1, s->n - head.n - 1} : (struct str){s->p + s->n, 0};
	return head;
}

/* head_line finds the line of the head starting at b[from] (without its
 * CRLF or bare LF) and the offset after it. */
static int head_line(const char *b, size_t len, size_t from, struct str *line, size_t *next) {
	const char *nl = memchr(b + from, '\n', len - from);
	if (!nl)
		return len >= H1_MAX_HEAD ? HEAD_TOO_LARGE : NEED_MORE;
	size_t i = nl - (b + from);
	*next = from + i + 1;
	if (*next > H1_MAX_HEAD)
		return HEAD_TOO_LARGE;
	line->p = b + from;
	line->n = i > 0 && b[from + i - 1] == '\r' ? i - 1 : i;
	return OK;
}

/* target_path splits an origin-form or absolute-form target into path and
 * raw query; the asterisk-form is refused. */
static int target_path(struct str t, struct request *r) {
	if (t.p[0] != '/') {
		const char *k = memmem(t.p, t.n, "://", 3);
		if (!k || k == t.p)
			return 0;
		for (const char *c = t.p; c < k; c++)
			if (!(is_digit(*c) || ((*c | 32) >= 'a' && (*c | 32) <= 'z') || *c == '+' || *c == '-' || *c == '.'))
				return 0;
		t = (struct str){k + 3, t.n - (k + 3 - t.p)};
		const char *s = memchr(t.p, '/', t.n), *q = memchr(t.p, '?', t.n);
		if (!s || (q && q < s)) { /* no path: "/" */
			cut(&t, '?');
			r->path = (struct str){"/", 1};
			r->query = t;
			return 1;
		}
		t = (struct str){s, t.p + t.n - s};
	}
	r->path = cut(&t, '?');
	r->query = t;
	return 1;
}

/* request_line parses "METHOD SP request-target SP HTTP/1.d". */
static int request_line(struct str l, struct request *r) {
	size_t i = 0, j = 0;
	while (i < l.n && is_tchar(l.p[i]))
		i++;
	if (i == 0 || i >= l.n || l.p[i] != ' ')
		return BAD;
	r->head = i == 4 && !memcmp(l.p, "HEAD", 4);
	struct str rest = {l.p + i + 1, l.n - i - 1};
	while (j < rest.n && (unsigned char)rest.p[j] > ' ' && rest.p[j] != 0x7f)
		j++;
	if (j == 0 || j >= rest.n || rest.p[j] != ' ' || !target_path((struct str){rest.p, j}, r))
		return BAD;
	const char *v = rest.p + j + 1;
	if (rest.n - j - 1 != 8 || memcmp(v, "HTTP/", 5) || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
		return BAD;
	if (v[5] != '1')
		return VERSION;
	r->minor = v[7] - '0';
	return OK;
}

/* split_field splits "name: value" and checks its syntax; value keeps its
 * surrounding whitespace. Space before the colon and obs-fold fail here. */
static int split_field(struct str l, struct str *name, struct str *value) {
	size_t i = 0;
	while (i < l.n && is_tchar(l.p[i]))
		i++;
	if (i == 0 || i >= l.n || l.p[i] != ':')
		return BAD;
	*name = (struct str){l.p, i};
	*value = (struct str){l.p + i + 1, l.n - i - 1};
	return all_vchar(*value) ? OK : BAD;
}

/* parse_cl parses 1*DIGIT; a value over the body limit becomes TOO_LONG,
 * one that does not fit 63 bits is malformed. */
static int parse_cl(struct str v, long long *cl) {
	long long x = 0;
	if (v.n == 0)
		return 0;
	for (size_t i = 0; i < v.n; i++) {
		if (!is_digit(v.p[i]))
			return 0;
		int d = v.p[i] - '0';
		if (x > (LLONG_MAX - 1 - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*cl = x > H1_MAX_BODY ? TOO_LONG : x;
	return 1;
}

/* connection reads the comma-separated Connection options. */
static void connection(struct str v, struct request *r) {
	while (v.n) {
		struct str tok = trim_ows(cut(&v, ','));
		r->conn_close |= eq_fold(tok, "close");
		r->keep_alive |= eq_fold(tok, "keep-alive");
	}
}

/* fields is what the header section has shown so far. */
struct fields {
	int seen_cl, seen_te, acted, any;
};

/* field_line parses one field line. An obs-fold line is accepted unless it
 * continues a field the server acts on or no field precedes it. */
static int field_line(struct fields *h, struct str l, struct request *r) {
	if (l.p[0] == ' ' || l.p[0] == '\t') {
		return h->any && !h->acted && all_vchar(l) ? OK : BAD;
	}
	struct str name, value;
	if (split_field(l, &name, &value) != OK)
		return BAD;
	h->any = h->acted = 1;
	value = trim_ows(value);
	if (eq_fold(name, "host")) {
		if (r->has_host)
			return BAD;
		r->has_host = 1;
	} else if (eq_fold(name, "connection")) {
		connection(value, r);
	} else if (eq_fold(name, "content-length")) {
		if (!parse_cl(value, &r->cl) || h->seen_cl)
			return BAD; /* repeats are refused, equal or not */
		h->seen_cl = 1;
	} else if (eq_fold(name, "transfer-encoding")) {
		if (h->seen_te)
			return CODING;
		h->seen_te = 1;
		r->chunked = eq_fold(value, "chunked");
	} else {
		h->acted = 0;
	}
	return OK;
}

/* parse_request parses the head at the start of b. Every complete line is
 * checked as soon as it is present; empty lines before the request line
 * are skipped and a bare LF ends a line. */
static int parse_request(const char *b, size_t len, struct request *r, size_t *hn) {
	struct str line = {0};
	struct fields h = {0};
	size_t next = 0;
	int st;
	memset(r, 0, sizeof *r);
	r->cl = -1;
	do {
		if ((st = head_line(b, len, next, &line, &next)) != OK)
			return st;
	} while (line.n == 0);
	if ((st = request_line(line, r)) != OK)
		return st;
	for (;;) {
		if ((st = head_line(b, len, next, &line, &next)) != OK)
			return st;
		if (line.n == 0)
			break;
		if ((st = field_line(&h, line, r)) != OK)
			return st;
	}
	if (h.seen_te) {
		if (!r->chunked)
			return CODING;
		r->cl = -1; /* RFC 9112 §6.3: Transfer-Encoding frames the body */
	}
	if (r->minor >= 1 && !r->has_host)
		return BAD;
	*hn = next;
	return OK;
}

/* parse_micros reads us= from a raw query as backends.ParseMicros does:
 * exactly once, plain decimal digits, at most MAX_WORK_US. */
static int parse_micros(struct str q, long long *us) {
	int found = 0;
	*us = 0;
	while (q.n) {
		struct str p = cut(&q, '&');
		if (p.n < 3 || memcmp(p.p, "us=", 3))
			continue;
		if (found || p.n == 3 || p.n > 3 + 8)
			return 0;
		found = 1;
		for (size_t i = 3; i < p.n; i++) {
			if (!is_digit(p.p[i]))
				return 0;
			*us = *us * 10 + (p.p[i] - '0');
		}
	}
	return found && *us <= MAX_WORK_US;
}

static int route_of(const struct request *r, long long *us) {
	int rt;
	*us = 0;
	if (str_is(r->path, "/plaintext"))
		return ROUTE_PLAINTEXT;
	if (str_is(r->path, "/echo"))
		return ROUTE_ECHO;
	if (str_is(r->path, "/delay"))
		rt = ROUTE_DELAY;
	else if (str_is(r->path, "/cpu"))
		rt = ROUTE_CPU;
	else
		return ROUTE_NOT_FOUND;
	return parse_micros(r->query, us) ? rt : ROUTE_BAD_WORK;
}

/* date is the current time as an IMF-fixdate, formatted at most once a
 * second per thread. */
static const char *date(void) {
	static __thread time_t sec = -1;
	static __thread char buf[32];
	time_t now = time(NULL);
	if (now != sec) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		sec = now;
	}
	return buf;
}

/* respond appends the answer for rt: Content-Type, Content-Length, Date,
 * then Connection when present; no body for HEAD. */
static void respond(struct buf *out, int rt, const char *body, size_t n, int close, int keep_alive, int head) {
	char num[24];
	buf_reserve(out, 200 + n);
	switch (rt) {
	case ROUTE_PLAINTEXT:
		PUTS(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: ");
		body = "Hello, World!", n = 13;
		break;
	case ROUTE_ECHO:
		PUTS(out, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
		buf_put(out, num, snprintf(num, sizeof num, "%zu", n));
		PUTS(out, "\r\nDate: ");
		break;
	case ROUTE_BAD_WORK:
		PUTS(out, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 41\r\nDate: ");
		body = "us must be an integer from 0 to 10000000\n", n = 41;
		break;
	default:
		PUTS(out, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nDate: ");
		body = "Not Found", n = 9;
	}
	buf_put(out, date(), 29);
	PUTS(out, "\r\n");
	if (close)
		PUTS(out, "Connection: close\r\n");
	else if (keep_alive)
		PUTS(out, "Connection: keep-alive\r\n");
	PUTS(out, "\r\n");
	if (!head)
		buf_put(out, body, n);
}

/* parse_chunk_size parses "1*HEXDIG [ BWS ; chunk-ext ]". */
static int parse_chunk_size(struct str l, long long *size) {
	size_t i = 0;
	*size = 0;
	for (; i < l.n && unhex(l.p[i]) >= 0; i++)
		if (*size <= H1_MAX_BODY)
			*size = *size << 4 | unhex(l.p[i]);
	if (i == 0)
		return 0;
	struct str rest = trim_ows((struct str){l.p + i, l.n - i});
	if ((rest.n && rest.p[0] != ';') || !all_vchar(rest))
		return 0;
	if (*size > H1_MAX_BODY)
		*size = TOO_LONG;
	return 1;
}

/* chunks decodes the chunked body of the request at r[0:*rlen] in place:
 * the data of an /echo body is moved to follow the head (s->dec bytes so
 * far), the framing is removed and *rlen shrinks by as much. It returns
 * OK once the body is complete, or NEED_MORE, BAD or BODY_TOO_LARGE. */
static int chunks(struct h1_session *s, char *r, size_t *rlen) {
	size_t end = *rlen, rd = s->hn + s->dec, wr = rd;
	int st = NEED_MORE;
	while (st == NEED_MORE) {
		char *nl;
		size_t i, avail = end - rd;
		switch (s->phase) {
		case CHUNK_DONE:
			st = OK;
			break;
		case CHUNK_SIZE:
			if (!(nl = memchr(r + rd, '\n', avail))) {
				st = avail > MAX_CHUNK_LINE ? BAD : NEED_MORE;
				goto out;
			}
			i = nl - (r + rd);
			long long size;
			if (i == 0 || r[rd + i - 1] != '\r' || i > MAX_CHUNK_LINE || !parse_chunk_size((struct str){r + rd, i - 1}, &size))
				st = BAD;
			else if (s->total + size > H1_MAX_BODY)
				st = BODY_TOO_LARGE;
			else {
				rd += i + 1;
				s->total += size;
				s->left = size;
				s->phase = size ? CHUNK_DATA : CHUNK_TRAILER;
			}
			break;
		case CHUNK_DATA:
			if (avail == 0)
				goto out;
			i = avail < (size_t)s->left ? avail : (size_t)s->left;
			if (s->route == ROUTE_ECHO) {
				memmove(r + wr, r + rd, i);
				wr += i;
			}
			rd += i;
			if ((s->left -= i) == 0)
				s->phase = CHUNK_DATA_END;
			break;
		case CHUNK_DATA_END:
			if (avail < 2) {
				st = avail == 1 && r[rd] != '\r' ? BAD : NEED_MORE;
				goto out;
			}
			if (r[rd] != '\r' || r[rd + 1] != '\n')
				st = BAD;
			rd += 2;
			s->phase = CHUNK_SIZE;
			break;
		case CHUNK_TRAILER:
			if (!(nl = memchr(r + rd, '\n', avail))) {
				st = s->trailer + avail > MAX_TRAILER ? BAD : NEED_MORE;
				goto out;
			}
			i = nl - (r + rd);
			s->trailer += i + 1;
			struct str name, value, line = {r + rd, i ? i - 1 : 0};
			if (s->trailer > MAX_TRAILER || i == 0 || r[rd + i - 1] != '\r')
				st = BAD;
			else if (line.n == 0)
				s->phase = CHUNK_DONE;
			else if (split_field(line, &name, &value) != OK)
				st = BAD;
			rd += i + 1;
			break;
		}
	}
out:
	memmove(r + wr, r + rd, end - rd);
	*rlen = end - (rd - wr);
	s->dec = wr - s->hn;
	return st;
}

/* slow hands out the current request's work when its route is a slow one. */
static int slow(struct h1_session *s, struct h1_work *w) {
	if (s->route != ROUTE_DELAY && s->route != ROUTE_CPU)
		return 0;
	s->in_body = 0;
	s->owed = 1;
	w->kind = s->route == ROUTE_DELAY ? H1_DELAY : H1_CPU;
	w->us = s->work_us;
	return 1;
}

/* fail answers a request that ends the connection (st is neither OK nor
 * NEED_MORE): the rest of the input is consumed and dropped. */
static size_t fail(struct h1_session *s, int st, struct buf *out, size_t len, int *close) {
	static const char *const answers[] = {
		[BAD] = BAD_REQUEST, [VERSION] = VERSION_NOT_SUPPORTED,
		[CODING] = NOT_IMPLEMENTED, [HEAD_TOO_LARGE] = HEADER_TOO_LARGE,
	};
	memset(s, 0, sizeof *s);
	if (st == BODY_TOO_LARGE) { /* the 413, with Date */
		PUTS(out, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\nContent-Length: 24\r\nDate: ");
		buf_put(out, date(), 29);
		PUTS(out, "\r\nConnection: close\r\n\r\nRequest Entity Too Large");
	} else {
		buf_put(out, answers[st], strlen(answers[st]));
	}
	*close = 1;
	return len;
}

size_t h1_serve(struct h1_session *s, char *in, size_t *len, struct buf *out, int *close, struct h1_work *w) {
	size_t n = 0;
	*close = 0;
	w->kind = H1_NONE;
	for (;;) {
		if (s->in_body) { /* the request at in[n] has its head parsed */
			size_t rlen = *len - n;
			int st = NEED_MORE;
			if (s->chunked) {
				st = chunks(s, in + n, &rlen);
				*len = n + rlen;
			} else if (rlen >= s->hn + (size_t)s->cl) {
				st = OK;
			}
			if (st == NEED_MORE)
				return n;
			if (st != OK)
				return fail(s, st, out, *len, close);
			size_t body = s->chunked ? s->dec : (size_t)s->cl, end = n + s->hn + body;
			if (slow(s, w))
				return end;
			respond(out, s->route, in + n + s->hn, body, s->close, s->keep_alive, s->head);
			int c = s->close;
			memset(s, 0, sizeof *s);
			if (c) {
				*close = 1;
				return *len;
			}
			n = end;
		}
		if (n == *len)
			return n;
		struct request r;
		size_t hn;
		int st = parse_request(in + n, *len - n, &r, &hn);
		if (st == NEED_MORE)
			return n;
		if (st != OK)
			return fail(s, st, out, *len, close);
		pay_handicap();
		/* A request with Transfer-Encoding is chunked, and it always closes. */
		s->close = r.conn_close || r.chunked || (r.minor == 0 && !r.keep_alive);
		s->keep_alive = r.minor == 0 && !s->close;
		s->route = route_of(&r, &s->work_us);
		s->head = r.head;
		s->hn = hn;
		s->chunked = r.chunked;
		s->cl = r.cl < 0 ? 0 : r.cl;
		if (s->cl > H1_MAX_BODY)
			return fail(s, BODY_TOO_LARGE, out, *len, close);
		s->in_body = 1; /* answered above, at once when the body is here */
	}
}

int h1_finish(struct h1_session *s, struct buf *out) {
	if (!s->owed)
		return 0;
	int c = s->close;
	respond(out, ROUTE_PLAINTEXT, NULL, 0, c, s->keep_alive, s->head);
	memset(s, 0, sizeof *s);
	return c;
}
