// SPDX-License-Identifier: GPL-2.0
/*
 * The system around the agent: /proc, sysfs and debugfs knobs, the guest's
 * disks by serial, the kernel's taint, the CPU a thread runs on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"

int write_knob(const char *path, const char *value)
{
	size_t len = strlen(value);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

/* /dev/vdX whose virtio serial is @serial, or -ENODEV. */
int disk_by_serial(const char *serial, char *dev, size_t size)
{
	char path[300], seen[64];
	struct dirent *e;
	int found = -ENODEV;
	DIR *d = opendir("/sys/block");
	FILE *f;

	if (!d)
		return -errno;
	while (found && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(seen, sizeof(seen), f)) {
			seen[strcspn(seen, "\n")] = '\0';
			if (!strcmp(seen, serial)) {
				snprintf(dev, size, "/dev/%s", e->d_name);
				found = 0;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/*
 * Binds @thread to @cpu.  A race needs both sides running at once: the
 * target's task on one CPU, the racing thread on another (the scheduler
 * may otherwise stack them); a swap-out needs one CPU (page_out()).
 */
bool pin_to_cpu(pthread_t thread, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !pthread_setaffinity_np(thread, sizeof(set), &set);
}

/*
 * Starts @fn(@arg) on CPU 1 and moves the caller to CPU 0: 0, or
 * pthread_create()'s error with the caller's CPUs given back.
 */
int racer_start(struct racer *r, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t one;
	int err;

	pthread_getaffinity_np(pthread_self(), sizeof(r->saved), &r->saved);
	pin_to_cpu(pthread_self(), 0);
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
	err = pthread_create(&r->thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err)
		pthread_setaffinity_np(pthread_self(), sizeof(r->saved),
				       &r->saved);
	return err;
}

/* Waits for the thread (told to stop) and gives the caller its CPUs. */
void racer_join(struct racer *r)
{
	pthread_join(r->thread, NULL);
	pthread_setaffinity_np(pthread_self(), sizeof(r->saved), &r->saved);
}

unsigned long kernel_taint(void)
{
	unsigned long taint = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &taint) != 1)
			taint = 0;
		fclose(f);
	}
	return taint;
}
