// SPDX-License-Identifier: GPL-2.0
/*
 * The device and what the fault kinds read around a run: its targets, a
 * run of one, the kernel log and the pin counters.  No libkmod here: a
 * reproducer runs with the module already loaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

/* Target runs so far, for the scenarios-per-second figure. */
unsigned long target_runs;

int fail_arm_set(struct fail_arm *arm)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u", arm->nth);

	return pwrite(arm->fd, buf, n, 0) == n ? 0 : -errno;
}

/*
 * Reads back what is left of fail-nth, then disarms it.  The read's own
 * copy_to_user is a site too: EFAULT means one was left, which it
 * consumed.
 */
void fail_arm_read(struct fail_arm *arm)
{
	char buf[16] = { 0 };

	if (pread(arm->fd, buf, sizeof(buf) - 1, 0) < 0)
		arm->left = errno == EFAULT ? 1 : -errno;
	else
		arm->left = strtol(buf, NULL, 10);
	pwrite(arm->fd, "0", 1, 0);
}

int run_target_armed(const struct agent *a, const struct target *t,
		     void *addr, size_t len, struct uafault_run *r,
		     struct fail_arm *arm)
{
	int err;

	target_runs++;
	coverage_call();
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", t->name);
	r->addr = (uintptr_t)addr;
	r->len = len;
	r->seed = a->seed;
	if (t->path) {
		phase_begin(PH_CALL);
		err = path_run(a, t, addr, len, r, arm);
		phase_end();
		return err;
	}
	err = arm ? fail_arm_set(arm) : 0;
	if (err)
		return err;
	watch_call(a);
	phase_begin(PH_CALL);
	err = ioctl(a->dev, UAFAULT_IOC_RUN, r) ? -errno : 0;
	phase_end();
	watch_done();
	if (!err)
		phase_api_ns(r->ns);
	if (arm)
		fail_arm_read(arm);
	return err;
}

int run_target(const struct agent *a, const struct target *t, void *addr,
	       size_t len, struct uafault_run *r)
{
	return run_target_armed(a, t, addr, len, r, NULL);
}

long vmstat_value(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long value = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			value = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/*
 * The device the pin counters are read through (UAFAULT_IOC_PIN_BALANCE),
 * once open_device() has it: one for the whole agent, as the counters are.
 */
static int balance_dev = -1;

/*
 * Pins taken minus pins released since boot, or PIN_BALANCE_UNKNOWN.
 * The counters are per-CPU first: uafault.ko adds the CPUs' diffs itself;
 * without it /proc/vmstat lags behind by whatever each CPU has not yet
 * flushed until stat_refresh folds them (a work item on every CPU: the
 * most costly of a case's checks under emulation, bench/profile showed).
 */
long pin_balance(void)
{
	struct uafault_pin_balance b;
	long acquired, released;
	bool folded;

	if (balance_dev >= 0 && !ioctl(balance_dev, UAFAULT_IOC_PIN_BALANCE, &b))
		return b.acquired - b.released;
	folded = !write_knob("/proc/sys/vm/stat_refresh", "1");
	acquired = vmstat_value("nr_foll_pin_acquired");
	released = vmstat_value("nr_foll_pin_released");
	if (!folded || acquired < 0 || released < 0)
		return PIN_BALANCE_UNKNOWN;
	return acquired - released;
}

/* VmPin of /proc/self/status in kB, -1 when it cannot be read. */
static long vm_pinned_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

bool pins_equal(struct pins x, struct pins y)
{
	return x.foll == y.foll && x.vm_kb == y.vm_kb;
}

/*
 * Waits up to @ms, a millisecond at a time, for the counters to be back
 * at @before; false if they are not by then.
 */
bool pins_back(struct pins before, unsigned int ms)
{
	const struct timespec tick = { .tv_nsec = 1000 * 1000 };
	unsigned int waited;

	for (waited = 0; !pins_equal(pins_now(), before); waited++) {
		if (waited >= ms)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

struct pins pins_now(void)
{
	struct pins p;

	phase_begin(PH_PINS);
	p = (struct pins){ .foll = pin_balance(), .vm_kb = vm_pinned_kb() };
	phase_end();
	return p;
}

/*
 * Empties every CPU's LRU batches, whose reference on a page lasts until
 * they drain: move_pages() of no page still does lru_cache_disable(),
 * which drains them all.  Without NUMA it fails, and the oracle compares
 * only the pages that are on an LRU list anyway.
 */
static void lru_drain(void)
{
	int node = 0;

	syscall(SYS_move_pages, 0, 0UL, NULL, &node, NULL, 0);
}

/*
 * The pages of [@base, @base + @len) (page-aligned), after the LRU batches
 * drained when @drain; -errno, or -ENODEV without the device.
 */
int page_refs_now(const struct agent *a, const void *base, size_t len,
		  struct page_refs *out, bool drain)
{
	struct uafault_page_refs req = {
		.addr = (uintptr_t)base,
		.npages = len / PAGE,
		.refs = (uintptr_t)out->ref,
	};

	if (a->dev < 0)
		return -ENODEV;
	if (!req.npages || req.npages > MAX_PAGES)
		return -EINVAL;
	if (drain)
		lru_drain();
	if (ioctl(a->dev, UAFAULT_IOC_PAGE_REFS, &req))
		return -errno;
	out->n = req.npages;
	return 0;
}

/* Kernel reports that fail a case unless it expected an oops. */
static const char * const report_markers[] = { REPORT_MARKERS };

static bool is_report(const char *text)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(report_markers); i++)
		if (!strncmp(text, report_markers[i],
			     strlen(report_markers[i])))
			return true;
	return false;
}

/* The fault injectors, as their debugfs directories (and reports) name them. */
const char * const injector_names[NR_INJECTORS] = {
	"fail_usercopy", "failslab", "fail_page_alloc", "fail_iommufd",
};

/*
 * A fault injector's report ("FAULT_INJECTION: forcing a failure." then
 * "name failslab, interval ..."): counts it in @seen.
 */
static void count_injection(const char *text, struct kmsg_seen *seen)
{
	const char *name = strstr(text, "name ");
	unsigned int i;

	if (!seen || !strstr(text, "FAULT_INJECTION") || !name)
		return;
	for (i = 0; i < NR_INJECTORS; i++)
		if (!strncmp(name + 5, injector_names[i],
			     strlen(injector_names[i])) &&
		    name[5 + strlen(injector_names[i])] == ',')
			seen->injected[i]++;
}

/*
 * Reads what the kernel logged since the last call.  Each /dev/kmsg read
 * returns one record: "prio,seq,usec,flags;text", a newline inside the
 * text escaped as "\x0a".
 */
void kmsg_scan(const struct agent *a, struct verdict *v, bool expect_oops,
	       struct kmsg_seen *seen)
{
	char rec[8192];
	ssize_t n;

	if (a->kmsg < 0)
		return;
	phase_begin(PH_KMSG);
	while ((n = read(a->kmsg, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		char *text;

		if (n <= 0)
			continue;	/* EPIPE: records were overwritten */
		rec[n] = 0;
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		text[strcspn(text, "\n")] = 0;
		count_injection(text, seen);
		if (!is_report(text))
			continue;
		if (seen && (strstr(text, "BUG:") || strstr(text, "Oops")))
			seen->oopsed = true;
		if (expect_oops) {
			note(v, "# kernel (expected): %s\n", text);
			continue;
		}
		fail(v, "[kmsg] kernel report: %s", text);
	}
	phase_end();
}

void kmsg_check(const struct agent *a, struct verdict *v, bool expect_oops,
		bool *oopsed)
{
	struct kmsg_seen seen = { 0 };

	kmsg_scan(a, v, expect_oops, &seen);
	if (oopsed && seen.oopsed)
		*oopsed = true;
}

int read_targets(struct agent *a)
{
	struct uafault_version ver;
	unsigned int i;

	if (ioctl(a->dev, UAFAULT_IOC_VERSION, &ver))
		return -errno;
	if (ver.abi != UAFAULT_ABI_VERSION) {
		fprintf(stderr, "uafault-agent: module ABI %u, agent ABI %u\n",
			ver.abi, UAFAULT_ABI_VERSION);
		return -EPROTO;
	}
	if (a->take_module_mode)
		a->allow_crash = ver.flags & UAFAULT_MOD_ALLOW_CRASH;
	if (!!(ver.flags & UAFAULT_MOD_ALLOW_CRASH) != a->allow_crash) {
		fprintf(stderr, "uafault-agent: module allow_crash=%d, asked for %d\n",
			!!(ver.flags & UAFAULT_MOD_ALLOW_CRASH), a->allow_crash);
		return -EPROTO;
	}
	a->targets = calloc(ver.ntargets, sizeof(*a->targets));
	if (!a->targets && ver.ntargets)
		return -ENOMEM;
	for (i = 0; i < ver.ntargets; i++) {
		struct uafault_target_info info = { .index = i };
		struct target *t = &a->targets[a->ntargets];

		if (ioctl(a->dev, UAFAULT_IOC_TARGET, &info))
			return -errno;
		memcpy(t->name, info.name, sizeof(t->name));
		memcpy(t->owner, info.owner, sizeof(t->owner));
		t->name[sizeof(t->name) - 1] = 0;
		t->owner[sizeof(t->owner) - 1] = 0;
		t->flags = info.flags;
		t->fixed_len = info.fixed_len;
		t->contract.min_len = info.min_len;
		if (info.result >= UAFAULT_RES_MAX) {
			fprintf(stderr, "uafault-agent: target %s: unknown result kind %u\n",
				t->name, info.result);
			return -EPROTO;
		}
		t->result = info.result;
		/* Without allow_crash the module must offer nothing that oopses. */
		if (target_crashes(t) && !a->allow_crash) {
			fprintf(stderr, "uafault-agent: crashing target %s offered without allow_crash\n",
				t->name);
			return -EPROTO;
		}
		a->ntargets++;
	}
	/* The real kernel paths come after the module's targets. */
	return add_paths(a);
}

/*
 * Opens /dev/uafault and reads its targets, then /dev/kmsg from its end.
 * Returns 0, or a negative errno with a message on stderr.
 */
int open_device(struct agent *a)
{
	int err;

	a->dev = open(UAFAULT_DEVICE, O_RDWR);
	if (a->dev < 0) {
		err = -errno;
		fprintf(stderr, "uafault: %s: %s\n", UAFAULT_DEVICE, strerror(-err));
		return err;
	}
	balance_dev = a->dev;
	err = read_targets(a);
	if (err) {
		fprintf(stderr, "uafault: reading the targets: %s\n", strerror(-err));
		return err;
	}
	a->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (a->kmsg >= 0)
		lseek(a->kmsg, 0, SEEK_END);
	return 0;
}

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
 * A page of private anonymous memory that is only ever read, so it maps
 * the shared zero page.  A kernel write through a pin taken without
 * FOLL_WRITE can land in that page, and every never-written page of
 * every process then reads its bytes.  Mapped once, before any case:
 * mapped later, it could land in a hole a fault kind punched in a range,
 * and go when that range does.
 */
static unsigned char *zero_probe;

void zero_page_probe(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (p != MAP_FAILED && !madvise(p, PAGE, MADV_POPULATE_READ))
		zero_probe = p;
}

/* Whether the shared zero page still reads zero (true without a probe). */
bool zero_page_intact(void)
{
	static const unsigned char zeros[PAGE];

	return !zero_probe || !memcmp(zero_probe, zeros, PAGE);
}
