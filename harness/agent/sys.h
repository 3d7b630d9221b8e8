/* SPDX-License-Identifier: GPL-2.0 */
/* sys.c: knobs, disks, taint, CPUs. */
#ifndef UAFAULT_SYS_H
#define UAFAULT_SYS_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

/* Writes @value to a /proc, sysfs or debugfs knob: 0 or -errno. */
int write_knob(const char *path, const char *value);
/* /dev/vdX whose virtio serial (protocol.h's *_SERIAL) is @serial. */
int disk_by_serial(const char *serial, char *dev, size_t size);
unsigned long kernel_taint(void);
bool pin_to_cpu(pthread_t thread, int cpu);

/*
 * A racing thread: the caller on CPU 0, the thread on CPU 1, so the two
 * really run at once (the racing kinds' flipper, writeback's flusher).
 */
struct racer {
	pthread_t thread;
	cpu_set_t saved;	/* the caller's CPUs, given back at the join */
};
int racer_start(struct racer *r, void *(*fn)(void *), void *arg);
void racer_join(struct racer *r);

#endif
