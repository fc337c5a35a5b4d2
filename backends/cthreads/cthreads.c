/* cthreads: the thread-per-connection design with no language runtime in
 * the way. One detached pthread (64 KiB stack) per connection blocks in
 * read(2) and write(2); /delay sleeps the thread in clock_nanosleep(2) and
 * /cpu computes on it. The blocking write is the back-pressure: a client
 * that does not read stops being read. Each read is answered in full
 * before the next, so at the client's EOF every complete request has been
 * answered (half-close).
 *
 *   cthreads -proto http|echo -addr HOST:PORT [-handicap-cpu-us N]
 *     [-handicap-delay-us D -handicap-delay-every N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "h1.h"

#define STACK_SIZE (64 << 10)
#define ECHO_BUF (32 << 10)
#define HTTP_READ (16 << 10) /* the most one read takes */
#define KEEP_BUF (64 << 10)  /* a buffer grown past this is shrunk once empty */
#define LINGER_US 500000     /* backends.LingerTime */

static enum proto proto;

/* read_fd is read(2) retried on EINTR. */
static ssize_t read_fd(int fd, void *p, size_t n) {
	ssize_t k;
	while ((k = read(fd, p, n)) < 0 && errno == EINTR)
		;
	return k;
}

/* write_all writes every byte of p, looping over short writes. */
static int write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

/* linger ends a connection after its last answer, as backends.LingerClose
 * does: shut the write side, so the client reads the end of the answer,
 * then read and drop what it still sends until it closes or LingerTime
 * passes (SO_RCVTIMEO bounds each read). */
static void linger(int fd) {
	struct timeval tv = {0, LINGER_US};
	char drop[512];
	if (shutdown(fd, SHUT_WR) < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
		return;
	for (long long deadline = now_ns() + LINGER_US * 1000LL; now_ns() < deadline;)
		if (read_fd(fd, drop, sizeof drop) <= 0)
			return;
}

static void serve_echo(int fd) {
	char *b = malloc(ECHO_BUF);
	ssize_t n;
	while (b && (n = read_fd(fd, b, ECHO_BUF)) > 0) {
		pay_handicap();
		if (write_all(fd, b, n) < 0)
			break;
	}
	free(b);
}

/* serve_http reads, answers every complete request, writes everything and
 * reads again. */
static void serve_http(int fd) {
	struct h1_session s = {0};
	struct buf in = {0}, out = {0};
	for (;;) {
		if (in.cap - in.len < 512 && in.cap < H1_IN_MAX)
			buf_reserve(&in, in.cap ? in.cap : 4096);
		size_t room = in.cap - in.len;
		if (room == 0)
			break; /* cannot happen: the engine answers before H1_IN_MAX */
		ssize_t n = read_fd(fd, in.p + in.len, room < HTTP_READ ? room : HTTP_READ);
		if (n <= 0)
			break; /* EOF or gone: nothing complete is owed */
		in.len += n;
		int close = 0;
		for (;;) {
			struct h1_work w;
			size_t used = h1_serve(&s, in.p, &in.len, &out, &close, &w);
			memmove(in.p, in.p + used, in.len - used);
			in.len -= used;
			if (close || w.kind == H1_NONE)
				break;
			if (w.kind == H1_DELAY)
				sleep_us(w.us);
			else
				burn_cpu(w.us);
			if ((close = h1_finish(&s, &out)))
				break;
		}
		if (write_all(fd, out.p, out.len) < 0)
			break;
		out.len = 0;
		if (close) {
			linger(fd);
			break;
		}
		if (out.cap > KEEP_BUF)
			buf_free(&out);
		if (in.cap > KEEP_BUF && in.len < 4096 && !s.in_body) {
			struct buf small = {0};
			buf_put(&small, in.p, in.len);
			buf_free(&in);
			in = small;
		}
	}
	buf_free(&in);
	buf_free(&out);
}

static void *conn_thread(void *arg) {
	int fd = (int)(intptr_t)arg;
	if (proto == PROTO_ECHO)
		serve_echo(fd);
	else
		serve_http(fd);
	close(fd);
	return NULL;
}

/* wait_signal ends the process at SIGTERM or SIGINT, closing every socket. */
static void *wait_signal(void *set) {
	int sig;
	sigwait(set, &sig);
	_exit(0);
}

int main(int argc, char **argv) {
	static sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	/* Blocked before the listening line, and inherited by every thread:
	 * only wait_signal takes them. */
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	int lfd = cmd_listen(argc, argv, "cthreads", 0, &proto);
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, wait_signal, &stop) != 0)
		return 1;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				sleep_us(10000); /* out of descriptors: wait for a close */
			continue;
		}
		set_nodelay(fd);
		if (pthread_create(&t, &attr, conn_thread, (void *)(intptr_t)fd) != 0) {
			close(fd); /* out of threads: refuse this one */
			sleep_us(1000);
		}
	}
}
