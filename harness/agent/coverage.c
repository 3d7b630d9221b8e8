// SPDX-License-Identifier: GPL-2.0
/*
 * --coverage: each case's gcov counters, for the host's error-path
 * coverage (guest/coverage.py).  The guest kernel instruments only the
 * code under test (configs/coverage.paths) and uafault's modules; gcov's
 * debugfs tree holds one .gcda file per instrumented object.
 *
 * Counting starts at a case's first call of its target (or pin), so what
 * a case ran is the target's code and what follows it (a pin held across
 * fork, a racing munmap, the tear-down), not the set-up before (the
 * fault's own mmap, fork or munmap); a case that calls nothing counts
 * from its start.  When it ends, each .gcda that
 * differs from its image right after a reset (the case ran some of that
 * object's code) goes to the coverage disk as one record:
 * "COVERAGE_RECORD <bytes> <case> <path>\n", the file's bytes and "\n".
 * A case's records go in one write and the disk is synced, so a guest
 * that dies later keeps them; the host stops at the first record without
 * its newline (one a dying guest was writing).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coverage.h"
#include "ktap.h"
#include "protocol.h"
#include "sys.h"

#define GCOV_RESET	COVERAGE_DIR "/reset"

struct gcda {
	char *path;
	unsigned char *zero;	/* its bytes right after a reset */
	size_t len;
};

static struct {
	int disk;
	off_t at, size;
	bool full;
	bool before_call;	/* the case has not called its target yet */
	struct gcda *files;
	unsigned int nfiles;
	unsigned char *buf;	/* one .gcda */
	size_t buf_len;
	char *out;		/* the case's records */
	size_t out_len, out_cap;
} cov = { .disk = -1 };

/* The whole file into cov.buf; its length, or -errno. */
static ssize_t read_gcda(const char *path)
{
	size_t have = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	for (;;) {
		if (have == cov.buf_len) {
			size_t len = cov.buf_len ? 2 * cov.buf_len : 1 << 16;
			unsigned char *buf = realloc(cov.buf, len);

			if (!buf) {
				close(fd);
				return -ENOMEM;
			}
			cov.buf = buf;
			cov.buf_len = len;
		}
		n = read(fd, cov.buf + have, cov.buf_len - have);
		if (n <= 0)
			break;
		have += n;
	}
	close(fd);
	return n < 0 ? -errno : (ssize_t)have;
}

static int add_gcda(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	size_t len = strlen(path);
	struct gcda *files;

	if (type != FTW_F || len < 5 || strcmp(path + len - 5, ".gcda"))
		return 0;
	files = realloc(cov.files, (cov.nfiles + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	cov.files = files;
	files[cov.nfiles++] = (struct gcda){ .path = strdup(path) };
	return files[cov.nfiles - 1].path ? 0 : -ENOMEM;
}

static int reset_counters(void)
{
	return write_knob(GCOV_RESET, "1");
}

/* Every .gcda's image after a reset: what a file no case touched reads. */
static int take_zero_images(void)
{
	unsigned int i;
	ssize_t n;

	for (i = 0; i < cov.nfiles; i++) {
		n = read_gcda(cov.files[i].path);
		if (n < 0)
			return n;
		cov.files[i].zero = malloc(n ?: 1);
		if (!cov.files[i].zero)
			return -ENOMEM;
		memcpy(cov.files[i].zero, cov.buf, n);
		cov.files[i].len = n;
	}
	return 0;
}

int coverage_start(void)
{
	char dev[64];
	int err = disk_by_serial(COVERAGE_SERIAL, dev, sizeof(dev));

	if (err) {
		fprintf(stderr, "uafault: --coverage: no disk with serial %s\n",
			COVERAGE_SERIAL);
		return err;
	}
	if (nftw(COVERAGE_DIR, add_gcda, 16, FTW_PHYS) || !cov.nfiles) {
		fprintf(stderr, "uafault: --coverage: no .gcda under %s (is the kernel built with CONFIG_GCOV_KERNEL?)\n",
			COVERAGE_DIR);
		return -ENOENT;
	}
	err = reset_counters() ?: take_zero_images();
	if (err) {
		fprintf(stderr, "uafault: --coverage: %s\n", strerror(-err));
		return err;
	}
	cov.disk = open(dev, O_WRONLY);
	if (cov.disk < 0) {
		err = -errno;
		fprintf(stderr, "uafault: --coverage: %s: %s\n", dev,
			strerror(-err));
		return err;
	}
	cov.size = lseek(cov.disk, 0, SEEK_END);
	ktap_diag("", "uafault: coverage of %u instrumented objects, per case\n",
		  cov.nfiles);
	return 0;
}

void coverage_begin(void)
{
	if (cov.disk < 0)
		return;
	reset_counters();
	cov.before_call = true;
}

void coverage_call(void)
{
	if (cov.disk < 0 || !cov.before_call)
		return;
	reset_counters();
	cov.before_call = false;
}

static bool append(const void *p, size_t n)
{
	if (cov.out_len + n > cov.out_cap) {
		size_t cap = 2 * (cov.out_len + n);
		char *out = realloc(cov.out, cap);

		if (!out)
			return false;
		cov.out = out;
		cov.out_cap = cap;
	}
	memcpy(cov.out + cov.out_len, p, n);
	cov.out_len += n;
	return true;
}

static bool put_record(const char *case_name, const struct gcda *f, size_t n)
{
	char head[512];
	int len = snprintf(head, sizeof(head), "%s %zu %s %s\n",
			   COVERAGE_RECORD, n, case_name,
			   f->path + strlen(COVERAGE_DIR));

	return len < (int)sizeof(head) && append(head, len) &&
	       append(cov.buf, n) && append("\n", 1);
}

void coverage_end(const char *case_name)
{
	bool ok = true;
	unsigned int i;
	ssize_t n;

	if (cov.disk < 0 || cov.full)
		return;
	cov.out_len = 0;
	for (i = 0; ok && i < cov.nfiles; i++) {
		n = read_gcda(cov.files[i].path);
		if (n < 0 || ((size_t)n == cov.files[i].len &&
			      !memcmp(cov.buf, cov.files[i].zero, n)))
			continue;
		ok = put_record(case_name, &cov.files[i], n);
	}
	if (!ok || cov.at + (off_t)cov.out_len > cov.size ||
	    pwrite(cov.disk, cov.out, cov.out_len, cov.at) != (ssize_t)cov.out_len) {
		cov.full = true;
		ktap_diag("", "uafault: coverage stops at %s: the coverage disk is full\n",
			  case_name);
		return;
	}
	cov.at += cov.out_len;
	fdatasync(cov.disk);
}
