/* SPDX-License-Identifier: GPL-2.0 */
/* sys.c: knobs, disks, taint, CPUs. */
#ifndef UAFAULT_SYS_H
#define UAFAULT_SYS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Writes @value to a /proc, sysfs or debugfs knob: 0 or -errno. */
int write_knob(const char *path, const char *value);
/* /dev/vdX whose virtio serial (protocol.h's *_SERIAL) is @serial. */
int disk_by_serial(const char *serial, char *dev, size_t size);
unsigned long kernel_taint(void);
bool pin_to_cpu(pthread_t thread, int cpu);

#endif
