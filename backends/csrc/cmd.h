/* What the two C servers (cthreads, cepoll) share outside HTTP: the command
 * line, the listening socket, the slow work (/delay, /cpu, the handicap)
 * done on the calling thread, and a growable buffer. See backends/README.md
 * for the contract. */
#ifndef ASYNCBENCH_CMD_H
#define ASYNCBENCH_CMD_H

#include <stddef.h>

enum proto { PROTO_HTTP, PROTO_ECHO };

/* handicap_us is the CPU time every HTTP request and every echo read burns
 * first (-handicap-cpu-us); 0 is none. One request (or echo read) in every
 * handicap_delay_every then sleeps handicap_delay_us (-handicap-delay-us,
 * -handicap-delay-every), as backends.SetDelayHandicap; 0 is none. */
extern long long handicap_us, handicap_delay_us, handicap_delay_every;

/* cmd_listen parses the command line
 *   NAME -proto http|echo -addr HOST:PORT [-handicap-cpu-us N]
 *        [-handicap-delay-us D -handicap-delay-every N]
 * (-h prints usage and exits 0; a bad flag or value exits 2), opens the
 * listening socket (SO_REUSEADDR, backlog 4096; failure exits 1), ignores
 * SIGPIPE, prints "listening on HOST:PORT" and returns the socket. nonblock
 * makes the listening socket non-blocking. */
int cmd_listen(int argc, char **argv, const char *name, int nonblock, enum proto *proto);

/* burn_cpu computes until the calling thread has used us microseconds of
 * CPU time (CLOCK_THREAD_CPUTIME_ID), as backends.BurnCPU does. */
void burn_cpu(long long us);

/* pay_handicap burns handicap_us, if any, then sleeps handicap_delay_us if
 * this request is one of the delayed ones. On cepoll's loop the sleep holds
 * up every connection, as a blocking call on an event loop does. */
void pay_handicap(void);

/* sleep_us blocks the calling thread for us microseconds (clock_nanosleep,
 * resumed after signals). */
void sleep_us(long long us);

/* now_ns is CLOCK_MONOTONIC in nanoseconds. */
long long now_ns(void);

/* set_nodelay sets TCP_NODELAY on an accepted socket. */
void set_nodelay(int fd);

/* buf is a growable byte buffer. Its zero value is empty. */
struct buf {
	char *p;
	size_t len, cap;
};

/* buf_reserve makes room for n more bytes; it aborts when memory is out. */
void buf_reserve(struct buf *b, size_t n);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_free(struct buf *b);

#endif
