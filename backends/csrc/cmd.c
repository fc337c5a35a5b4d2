/* The command line, the listening socket, the slow work and the buffers of
 * the C servers. */
#define _GNU_SOURCE
#include "cmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

long long handicap_us, handicap_delay_us, handicap_delay_every;

/* delay_count counts handicapped requests across threads. */
static unsigned long long delay_count;

#define MAX_WORK_US 10000000LL

static const char *prog;

static void usage(FILE *f) {
	fprintf(f,
		"usage: %s -proto http|echo -addr HOST:PORT [-handicap-cpu-us N] [-handicap-delay-us D -handicap-delay-every N]\n"
		"  -addr HOST:PORT        listen address, an IP address or localhost (port 0 picks one; default 127.0.0.1:8080)\n"
		"  -proto http|echo       protocol (default http)\n"
		"  -handicap-cpu-us N     burn N microseconds of CPU per HTTP request and per echo read (0 to %lld; default 0)\n"
		"  -handicap-delay-us D   sleep D microseconds on one request (or echo read) in every -handicap-delay-every (0 to %lld; default 0)\n"
		"  -handicap-delay-every N  the share of requests -handicap-delay-us delays, one in N (0 to 1000000; default 0, none)\n"
		"It prints \"listening on HOST:PORT\" once it accepts connections and exits 0 on SIGTERM or SIGINT.\n",
		prog, MAX_WORK_US, MAX_WORK_US);
}

/* usage_error reports a bad command line in one line and exits 2. */
static void usage_error(const char *what, const char *arg) {
	fprintf(stderr, "%s: %s%s; run with -h for usage\n", prog, what, arg);
	exit(2);
}

/* parse_int parses s (base 0, as Go's flag.Int) into a value in [lo, hi] or
 * exits with a usage error naming flag. */
static long long parse_int(const char *flag, const char *s, long long lo, long long hi) {
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (errno || !*s || *end || v < lo || v > hi) {
		char what[96];
		snprintf(what, sizeof what, "%s: want %lld to %lld, got ", flag, lo, hi);
		usage_error(what, s);
	}
	return v;
}

/* parse_addr fills ss from HOST:PORT: an IPv4 address, [IPv6], localhost
 * or an empty host (both 127.0.0.1), and a decimal port. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl) {
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		return -1;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	const char *p = colon + 1;
	long port = 0;
	if (!*p || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (*p - '0');
	}
	if (port > 65535)
		return -1;
	memset(ss, 0, sizeof *ss);
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		host[hl - 1] = 0;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*sl = sizeof *a6;
		return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	*sl = sizeof *a4;
	if (hl == 0 || strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -1;
}

/* print_listening prints the bound address as Go's net.JoinHostPort does. */
static void print_listening(int fd) {
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ip[INET6_ADDRSTRLEN];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(errno));
		exit(1);
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
		printf("listening on [%s]:%u\n", ip, ntohs(a6->sin6_port));
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
		printf("listening on %s:%u\n", ip, ntohs(a4->sin_port));
	}
	fflush(stdout);
}

int cmd_listen(int argc, char **argv, const char *name, int nonblock, enum proto *proto) {
	const char *addr = "127.0.0.1:8080", *proto_s = "http", *handicap_s = "0",
		   *delay_s = "0", *every_s = "0";
	prog = name;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0)
			usage_error("unexpected argument ", a);
		a += a[1] == '-' ? 2 : 1; /* -flag and --flag, as Go's flag package */
		if (!strcmp(a, "h") || !strcmp(a, "help")) {
			usage(stdout);
			exit(0);
		}
		const char *eq = strchr(a, '='), *val;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		const char **dst = NULL;
		if (n == 4 && !strncmp(a, "addr", n))
			dst = &addr;
		else if (n == 5 && !strncmp(a, "proto", n))
			dst = &proto_s;
		else if (n == 15 && !strncmp(a, "handicap-cpu-us", n))
			dst = &handicap_s;
		else if (n == 17 && !strncmp(a, "handicap-delay-us", n))
			dst = &delay_s;
		else if (n == 20 && !strncmp(a, "handicap-delay-every", n))
			dst = &every_s;
		else
			usage_error("flag provided but not defined: ", argv[i]);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			usage_error("flag needs an argument: ", argv[i]);
		*dst = val;
	}
	if (!strcmp(proto_s, "http"))
		*proto = PROTO_HTTP;
	else if (!strcmp(proto_s, "echo"))
		*proto = PROTO_ECHO;
	else
		usage_error("-proto: want echo or http, got ", proto_s);
	handicap_us = parse_int("-handicap-cpu-us", handicap_s, 0, MAX_WORK_US);
	handicap_delay_us = parse_int("-handicap-delay-us", delay_s, 0, MAX_WORK_US);
	handicap_delay_every = parse_int("-handicap-delay-every", every_s, 0, 1000000);
	if ((handicap_delay_us == 0) != (handicap_delay_every == 0))
		usage_error("-handicap-delay-us and -handicap-delay-every go together, both positive, got ",
			    handicap_delay_us ? every_s : delay_s);
	struct sockaddr_storage ss;
	socklen_t sl;
	if (parse_addr(addr, &ss, &sl) < 0)
		usage_error("-addr: want IP:PORT, got ", addr);

	int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), one = 1;
	int fd = socket(ss.ss_family, type, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
		fprintf(stderr, "%s: listen %s: %s\n", prog, addr, strerror(errno));
		exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
	print_listening(fd);
	return fd;
}

static long long thread_cpu_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* sink keeps the compiler from removing burn_cpu's work. */
volatile uint64_t burn_sink;

void burn_cpu(long long us) {
	if (us <= 0)
		return;
	long long start = thread_cpu_ns(), d = us * 1000;
	uint64_t x = (uint64_t)d;
	for (;;) {
		for (int i = 0; i < 256; i++) { /* about a microsecond between clock reads */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		if (thread_cpu_ns() - start >= d)
			break;
	}
	burn_sink = x;
}

void pay_handicap(void) {
	burn_cpu(handicap_us);
	if (handicap_delay_us > 0 &&
	    __atomic_add_fetch(&delay_count, 1, __ATOMIC_RELAXED) % (unsigned long long)handicap_delay_every == 0)
		sleep_us(handicap_delay_us);
}

void sleep_us(long long us) {
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	while ((ts.tv_sec > 0 || ts.tv_nsec > 0) && clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void set_nodelay(int fd) {
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void buf_reserve(struct buf *b, size_t n) {
	if (b->cap - b->len >= n)
		return;
	size_t c = b->cap ? b->cap : 4096;
	while (c - b->len < n)
		c *= 2;
	char *p = realloc(b->p, c);
	if (!p) {
		fputs("out of memory\n", stderr);
		abort();
	}
	b->p = p;
	b->cap = c;
}

void buf_put(struct buf *b, const void *p, size_t n) {
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_free(struct buf *b) {
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
