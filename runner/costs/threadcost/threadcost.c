/*
 * threadcost: what an OS thread costs with no language runtime in the way,
 * the C counterpart of the thread figures of `bench costs`, which runs it
 * (pinned or not) and reads one JSON object from its stdout.
 *
 * threadcost timings CREATES RING LOOPS
 *   create: CREATES threads one after the other, each detached, default
 *     attributes, waited for until it has run (it posts a semaphore and
 *     exits): creation and first run, as Go's figure.
 *   pipe: one write and one read of a byte on a blocking pipe in one
 *     thread, CREATES times: the pipe I/O each hop of the ring also pays.
 *   hop: RING threads joined by RING+1 blocking pipes pass a byte round
 *     LOOPS times; per hop, pipe I/O included (bench subtracts pipe).
 * threadcost memory TASKS
 *   what TASKS threads, each blocked reading its own pipe (opened before
 *   the first snapshot), add to VmRSS and Threads of this process and to
 *   KernelStack and PageTables of /proc/meminfo (system-wide).
 *
 * Threads have the default stack (stack_bytes: the soft stack limit, address
 * space; RSS counts the pages touched). Exit 1 on errors, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, int err)
{
	fprintf(stderr, "threadcost: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void xread(int fd)
{
	char b;
	if (read(fd, &b, 1) != 1)
		die("read", errno);
}

static void xwrite(int fd)
{
	if (write(fd, "", 1) != 1)
		die("write", errno);
}

static int *open_pipes(int n)
{
	int *fds = malloc(2 * (size_t)n * sizeof *fds);
	if (fds == NULL)
		die("malloc", ENOMEM);
	for (int i = 0; i < n; i++)
		if (pipe2(fds + 2 * i, O_CLOEXEC) != 0)
			die("pipe", errno);
	return fds;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg, int detach)
{
	pthread_attr_t a;
	int err = pthread_attr_init(&a);
	if (err == 0 && detach)
		err = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (err == 0)
		err = pthread_create(t, &a, fn, arg);
	if (err != 0)
		die("pthread_create", err);
	pthread_attr_destroy(&a);
}

/* Creation: each thread records its thread ID and posts the semaphore. */
static sem_t created;

static void *created_fn(void *arg)
{
	*(pid_t *)arg = (pid_t)syscall(SYS_gettid);
	sem_post(&created);
	return NULL;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* Ring: thread i reads pipe i and writes pipe i+1, loops times. */
struct hop {
	int in, out, loops;
};

static void *hop_fn(void *arg)
{
	struct hop *h = arg;
	for (int i = 0; i < h->loops; i++) {
		xread(h->in);
		xwrite(h->out);
	}
	return NULL;
}

static void timings(int creates, int ring, int loops)
{
	/* One-task pipe round trips. */
	int *p = open_pipes(1);
	double t0 = now_us();
	for (int i = 0; i < creates; i++) {
		xwrite(p[1]);
		xread(p[0]);
	}
	double pipe_us = (now_us() - t0) / creates;
	close(p[0]);
	close(p[1]);
	free(p);

	/* The ring, timed once every thread is started. */
	int *fds = open_pipes(ring + 1);
	pthread_t *ts = calloc((size_t)ring, sizeof *ts);
	struct hop *hs = calloc((size_t)ring, sizeof *hs);
	if (ts == NULL || hs == NULL)
		die("calloc", ENOMEM);
	for (int i = 0; i < ring; i++) {
		hs[i] = (struct hop){fds[2 * i], fds[2 * (i + 1) + 1], loops};
		start(&ts[i], hop_fn, &hs[i], 0);
	}
	t0 = now_us();
	for (int i = 0; i < loops; i++) {
		xwrite(fds[1]);
		xread(fds[2 * ring]);
	}
	double hop_us = (now_us() - t0) / ((double)loops * (ring + 1));
	for (int i = 0; i < ring; i++)
		pthread_join(ts[i], NULL);
	for (int i = 0; i < 2 * (ring + 1); i++)
		close(fds[i]);

	/* Creation last, as in Go's child. */
	pid_t *tids = calloc((size_t)creates, sizeof *tids);
	if (tids == NULL || sem_init(&created, 0, 0) != 0)
		die("creation setup", errno);
	t0 = now_us();
	for (int i = 0; i < creates; i++) {
		pthread_t t;
		start(&t, created_fn, &tids[i], 1);
		while (sem_wait(&created) != 0)
			if (errno != EINTR)
				die("sem_wait", errno);
	}
	double create_us = (now_us() - t0) / creates;
	qsort(tids, (size_t)creates, sizeof *tids, cmp_pid);
	int distinct = 0;
	for (int i = 0; i < creates; i++)
		distinct += i == 0 || tids[i] != tids[i - 1];
	printf("{\"create_thread\":%.6f,\"thread_tids\":%d,\"thread_ops\":%d,"
	       "\"hop_pipe_thread\":%.6f,\"pipe_thread\":%.6f",
	       create_us, distinct, creates, hop_us, pipe_us);
}

/* Memory: the figures a sample is the difference of, in bytes. */
struct snap {
	long long rss, kstack, ptables, threads;
};

static long long field(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path, errno);
	char line[256];
	size_t n = strlen(name);
	long long v = -1;
	while (v < 0 && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			v = strtoll(line + n + 1, NULL, 10);
	fclose(f);
	if (v < 0) {
		fprintf(stderr, "threadcost: %s lacks %s\n", path, name);
		exit(1);
	}
	return v;
}

static struct snap snapshot(void)
{
	return (struct snap){
		field("/proc/self/status", "VmRSS") * 1024,
		field("/proc/meminfo", "KernelStack") * 1024,
		field("/proc/meminfo", "PageTables") * 1024,
		field("/proc/self/status", "Threads"),
	};
}

static pthread_barrier_t ready;

static void *idle_fn(void *arg)
{
	pthread_barrier_wait(&ready);
	xread(*(int *)arg);
	return NULL;
}

static void memory(int tasks)
{
	int *fds = open_pipes(tasks);
	pthread_t *ts = calloc((size_t)tasks, sizeof *ts);
	int err = pthread_barrier_init(&ready, NULL, (unsigned)tasks + 1);
	if (ts == NULL || err != 0)
		die("memory setup", ts == NULL ? ENOMEM : err);
	struct snap a = snapshot();
	for (int i = 0; i < tasks; i++)
		start(&ts[i], idle_fn, &fds[2 * i], 0);
	pthread_barrier_wait(&ready);
	nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL); /* into read(2) */
	struct snap b = snapshot();
	for (int i = 0; i < tasks; i++)
		xwrite(fds[2 * i + 1]);
	for (int i = 0; i < tasks; i++)
		pthread_join(ts[i], NULL);
	printf("{\"tasks\":%d,\"rss_bytes\":%lld,\"kernel_stack_bytes\":%lld,"
	       "\"page_tables_bytes\":%lld,\"threads\":%lld",
	       tasks, b.rss - a.rss, b.kstack - a.kstack, b.ptables - a.ptables, b.threads - a.threads);
}

static int arg(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 1000000) {
		fprintf(stderr, "threadcost: %s: want a count from 1 to 1000000\n", s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "timings") == 0) {
		timings(arg(argv[2]), arg(argv[3]), arg(argv[4]));
	} else if (argc == 3 && strcmp(argv[1], "memory") == 0) {
		memory(arg(argv[2]));
	} else {
		fprintf(stderr, "usage: threadcost timings CREATES RING LOOPS | threadcost memory TASKS\n");
		return 2;
	}
	pthread_attr_t a;
	size_t stack = 0;
	if (pthread_attr_init(&a) != 0 || pthread_attr_getstacksize(&a, &stack) != 0)
		die("pthread_attr_getstacksize", errno);
	printf(",\"stack_bytes\":%zu}\n", stack);
	return fflush(stdout) == 0 ? 0 : 1;
}
