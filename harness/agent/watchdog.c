// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's watchdog on each call: a call into the kernel that has not
 * returned after watchdog_seconds is a hang the agent names (the case,
 * where its thread sleeps, its kernel stack) before it ends itself, so
 * /init powers the guest off and the host charges the case in flight.
 * A task stuck uninterruptibly cannot be ended: the hung-task detector
 * reports it, and the host's silence watchdog ends the boot.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"
#include "watchdog.h"

/* --watchdog: twice what the slowest call takes on a TCG KASAN guest. */
unsigned int watchdog_seconds = 60;

#define MAX_SERVERS	8

static long deadline;		/* CLOCK_MONOTONIC seconds, 0: no call */
static pid_t servers[MAX_SERVERS];	/* what a call may wait on */
static unsigned int nservers;
static pid_t caller;		/* the thread in the call */
static const char *watched;	/* the case it runs */

static long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Copies /proc/<pid>/task/<tid>/@what to stderr, each line prefixed. */
static void dump_task_file(pid_t pid, pid_t tid, const char *what)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid, what);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, AGENT_ERROR_PREFIX "watchdog: %s: %s%s", what, line,
			line[strlen(line) - 1] == '\n' ? "" : "\n");
	fclose(f);
}

static void *watch_calls(void *unused)
{
	long due;

	for (;;) {
		sleep(1);
		due = __atomic_load_n(&deadline, __ATOMIC_ACQUIRE);
		if (!due || now_s() < due)
			continue;
		fflush(stdout);
		dump_task_file(getpid(), caller, "wchan");
		dump_task_file(getpid(), caller, "stack");
		fprintf(stderr, WATCHDOG_LINE, watched, watchdog_seconds);
		/* A call waiting on a server (fuse) ends when the server does. */
		while (nservers) {
			pid_t server = servers[--nservers];

			fprintf(stderr, AGENT_ERROR_PREFIX "watchdog: server %d:\n", server);
			dump_task_file(server, server, "wchan");
			dump_task_file(server, server, "stack");
			kill(server, SIGKILL);
		}
		_exit(EXIT_FAIL);
	}
	return NULL;
}

/*
 * A process of the agent's that serves its calls (a fuse server): the
 * watchdog ends it too, so a call that waits on it returns.
 */
void watch_server(pid_t pid)
{
	if (nservers < MAX_SERVERS)
		servers[nservers++] = pid;
}

/* A server reaped: the watchdog must never kill its pid, reused. */
void unwatch_server(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < nservers; i++)
		if (servers[i] == pid)
			servers[i] = servers[--nservers];
}

/* Starts the watchdog thread; calls are watched from then on. */
int watchdog_start(void)
{
	pthread_t thread;
	int err = pthread_create(&thread, NULL, watch_calls, NULL);

	if (!err)
		pthread_detach(thread);
	return -err;
}

/* Before and after one call of the case @a runs. */
void watch_call(const struct agent *a)
{
	caller = syscall(SYS_gettid);
	watched = a->case_name;
	__atomic_store_n(&deadline, now_s() + watchdog_seconds,
			 __ATOMIC_RELEASE);
}

void watch_done(void)
{
	__atomic_store_n(&deadline, 0, __ATOMIC_RELEASE);
}
