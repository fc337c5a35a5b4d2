/* cepoll: the event-loop design with no language runtime in the way. One
 * thread runs a level-triggered epoll loop over non-blocking sockets.
 *
 * A connection is read only while it owes nothing: its answers are all
 * written and it waits for no /delay. An answer the socket does not take
 * is kept and the connection stops being read until EPOLLOUT
 * (back-pressure: it holds at most one read's worth of answers). At the
 * client's EOF every complete request read is answered, then the
 * connection closes (half-close). /cpu computes on the loop, which serves
 * nothing else meanwhile: that is the design. /delay does not block it: the
 * connection waits on a timer heap (one timerfd wakes the loop) while the
 * others are served; the requests pipelined after it wait with it.
 *
 *   cepoll -proto http|echo -addr HOST:PORT [-handicap-cpu-us N]
 *     [-handicap-delay-us D -handicap-delay-every N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cmd.h"
#include "h1.h"

#define BUF_SIZE (16 << 10) /* a connection's buffers while it is busy */
#define READ_MAX (64 << 10) /* the most one read takes */
#define LINGER_NS 500000000LL /* backends.LingerTime */

struct conn {
	int fd;
	uint32_t events; /* the epoll interest registered */
	int eof;         /* the client shut its write side */
	int closing;     /* close once out is written */
	int lingering;   /* write side shut; dropping input until EOF or the deadline */
	int waiting;     /* in a /delay until deadline */
	long long deadline;
	size_t slot; /* 1 + index in the timer heap; 0 when not in it */
	struct h1_session s;
	struct buf in, out;
	size_t off; /* bytes of out written */
	struct conn *next_dead;
};

static enum proto proto;
static int ep, lfd, tfd;
static long long armed;         /* the timerfd's deadline, 0 when none */
static long long accept_resume; /* accepting paused until then (out of descriptors) */
static struct conn *dead;       /* closed during this batch of events, freed after it */

/* --- buffers: connections take one while busy and give it back when empty --- */

static struct buf spare[256];
static int nspare;

static void buf_take(struct buf *b) {
	if (b->p)
		return;
	if (nspare)
		*b = spare[--nspare];
	else
		buf_reserve(b, BUF_SIZE);
	b->len = 0;
}

static void buf_give(struct buf *b) {
	if (b->p && b->cap == BUF_SIZE && nspare < 256) {
		spare[nspare++] = *b;
		*b = (struct buf){0};
	} else {
		buf_free(b);
	}
}

/* --- the timer heap, ordered by deadline --- */

static struct conn **heap;
static size_t nheap, capheap;

static void heap_put(size_t i, struct conn *c) {
	heap[i] = c;
	c->slot = i + 1;
}

static void sift_up(size_t i) {
	struct conn *c = heap[i];
	for (; i > 0 && heap[(i - 1) / 2]->deadline > c->deadline; i = (i - 1) / 2)
		heap_put(i, heap[(i - 1) / 2]);
	heap_put(i, c);
}

static void sift_down(size_t i) {
	struct conn *c = heap[i];
	for (size_t k; (k = 2 * i + 1) < nheap; i = k) {
		if (k + 1 < nheap && heap[k + 1]->deadline < heap[k]->deadline)
			k++;
		if (heap[k]->deadline >= c->deadline)
			break;
		heap_put(i, heap[k]);
	}
	heap_put(i, c);
}

static void timer_add(struct conn *c, long long deadline) {
	if (nheap == capheap) {
		capheap = capheap ? 2 * capheap : 1024;
		if (!(heap = realloc(heap, capheap * sizeof *heap)))
			abort();
	}
	c->deadline = deadline;
	heap[nheap++] = c;
	sift_up(nheap - 1);
}

static void timer_del(struct conn *c) {
	if (!c->slot)
		return;
	size_t i = c->slot - 1;
	struct conn *last = heap[--nheap];
	c->slot = 0;
	if (i < nheap) {
		heap_put(i, last);
		sift_down(i);
		sift_up(last->slot - 1);
	}
}

/* arm sets the timerfd to the earliest deadline, if it is not set earlier. */
static void arm(void) {
	long long want = nheap ? heap[0]->deadline : 0;
	if (accept_resume && (!want || accept_resume < want))
		want = accept_resume;
	if (!want || (armed && armed <= want))
		return;
	struct itimerspec its = {.it_value = {want / 1000000000, want % 1000000000}};
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	armed = want;
}

/* --- connections --- */

static void conn_close(struct conn *c) {
	timer_del(c);
	close(c->fd);
	c->fd = -1;
	buf_give(&c->in);
	buf_give(&c->out);
	c->next_dead = dead;
	dead = c;
}

/* flush writes what the socket takes; -1 when the connection is gone. */
static int flush(struct conn *c) {
	while (c->off < c->out.len) {
		ssize_t k = write(c->fd, c->out.p + c->off, c->out.len - c->off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return 0;
		if (k <= 0) {
			conn_close(c);
			return -1;
		}
		c->off += k;
	}
	c->off = 0;
	buf_give(&c->out);
	return 0;
}

/* serve answers the complete requests read, up to a /delay. */
static void serve(struct conn *c) {
	while (c->in.len > 0) {
		struct h1_work w;
		int close;
		buf_take(&c->out);
		size_t used = h1_serve(&c->s, c->in.p, &c->in.len, &c->out, &close, &w);
		memmove(c->in.p, c->in.p + used, c->in.len - used);
		c->in.len -= used;
		if (!close && w.kind == H1_CPU) {
			burn_cpu(w.us);
			close = h1_finish(&c->s, &c->out);
		} else if (w.kind == H1_DELAY) {
			c->waiting = 1;
			timer_add(c, now_ns() + w.us * 1000);
			return;
		}
		if (close) {
			c->closing = 1;
			c->in.len = 0;
		}
		if (close || w.kind == H1_NONE)
			return;
	}
}

/* advance serves what can be served, writes, and then closes the
 * connection or sets what it waits for. */
static void advance(struct conn *c) {
	if (proto == PROTO_HTTP && !c->waiting && !c->closing)
		serve(c);
	if (c->in.len == 0)
		buf_give(&c->in);
	if (flush(c) < 0)
		return;
	int drained = c->out.len == 0;
	if (drained && c->closing && !c->lingering) {
		shutdown(c->fd, SHUT_WR); /* the client reads the end of the answer */
		c->lingering = 1;
		timer_add(c, now_ns() + LINGER_NS);
	}
	if (drained && c->eof && !c->waiting) {
		conn_close(c);
		return;
	}
	uint32_t want = 0;
	if (!drained)
		want = EPOLLOUT;
	else if (c->lingering || (!c->waiting && !c->closing))
		want = EPOLLIN;
	if (want != c->events) {
		struct epoll_event ev = {.events = want, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = want;
	}
}

/* conn_read reads once; -1 when the connection is gone. */
static int conn_read(struct conn *c) {
	struct buf *b = proto == PROTO_ECHO ? &c->out : &c->in;
	buf_take(b);
	if (c->lingering)
		b->len = 0; /* what the client still sends is dropped */
	else if (b->cap - b->len < 4096 && b->cap < H1_IN_MAX)
		buf_reserve(b, b->cap);
	size_t room = b->cap - b->len;
	ssize_t n = read(c->fd, b->p + b->len, room < READ_MAX ? room : READ_MAX);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 || room == 0 || (n == 0 && c->lingering)) {
		conn_close(c);
		return -1;
	}
	if (n == 0) {
		c->eof = 1;
	} else if (!c->lingering) {
		b->len += n;
		if (proto == PROTO_ECHO)
			pay_handicap();
	}
	return 0;
}

static void conn_event(struct conn *c, uint32_t events) {
	if (c->fd < 0)
		return; /* closed earlier in this batch */
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c); /* reset, or both sides shut: nothing can be delivered */
		return;
	}
	if ((events & EPOLLIN) && conn_read(c) < 0)
		return;
	advance(c);
}

/* on_timer ends a /delay wait or a linger. */
static void on_timer(struct conn *c) {
	if (c->lingering) {
		conn_close(c);
		return;
	}
	c->waiting = 0;
	buf_take(&c->out);
	if (h1_finish(&c->s, &c->out)) {
		c->closing = 1;
		c->in.len = 0;
	}
	advance(c);
}

static void accept_all(void) {
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting for 10 ms. */
				struct epoll_event ev = {.events = 0, .data.ptr = &lfd};
				epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
				accept_resume = now_ns() + 10000000;
			}
			return;
		}
		set_nodelay(fd);
		struct conn *c = calloc(1, sizeof *c);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->fd = fd;
		c->events = EPOLLIN;
	}
}

static void watch(int fd, void *tag) {
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		abort();
}

int main(int argc, char **argv) {
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL); /* before the listening line; read from a signalfd */
	lfd = cmd_listen(argc, argv, "cepoll", 1, &proto);
	int sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0)
		abort();
	watch(lfd, &lfd);
	watch(sfd, &sfd);
	watch(tfd, &tfd);
	struct epoll_event evs[256];
	for (;;) {
		arm();
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &lfd)
				accept_all();
			else if (p == &sfd)
				exit(0); /* SIGTERM or SIGINT: the exit closes every socket */
			else if (p == &tfd) {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof ticks) > 0)
					armed = 0;
			} else
				conn_event(p, evs[i].events);
		}
		long long now = now_ns();
		while (nheap && heap[0]->deadline <= now) {
			struct conn *c = heap[0];
			timer_del(c);
			on_timer(c);
		}
		if (accept_resume && accept_resume <= now) {
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lfd};
			epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
			accept_resume = 0;
		}
		while (dead) {
			struct conn *c = dead;
			dead = c->next_dead;
			free(c);
		}
	}
}
