// SPDX-License-Identifier: GPL-2.0
/*
 * Described paths: a device node and one call of it, as a user described
 * them in TOML (configs/paths/, a campaign's `paths`); the harness hands
 * the agent one line per description (campaign/paths.py writes it):
 *
 *   NAME DEVICE OPEN CALL REQUEST ARG PTR_OFF LEN_OFF LEN_SIZE FIXED_LEN
 *   RETURNS DIRECTION WRITES RESULT
 *
 * CALL is read, write or ioctl.  An ioctl's ARG is "range" (the range is
 * the argument, FIXED_LEN bytes of it) or the size of a struct the agent
 * builds, with the range's address at PTR_OFF and its length (LEN_SIZE
 * bytes) at LEN_OFF.  RETURNS "count": the call returns the bytes moved;
 * "zero": 0 means the whole range.  WRITES "zeros": what the device
 * stores in the range is zeros (checked); "any": its bytes are opaque
 * and only where it may write is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent.h"
#include "paths.h"
#include "pins.h"
#include "protocol.h"
#include "target.h"

#define MAX_ARG		256

enum call { CALL_READ, CALL_WRITE, CALL_IOCTL };

struct described {
	char device[128];
	int oflags;
	enum call call;
	unsigned long request;
	unsigned int arg_size;	/* 0: the range is the argument */
	unsigned int ptr_off, len_off, len_size;
	bool count;		/* returns the bytes moved */
	bool zeros;		/* stores zeros */
};

static int described_open(struct kpath_state *s)
{
	const struct described *d = s->desc;

	s->fd[0] = open(d->device, d->oflags | O_CLOEXEC);
	return s->fd[0] < 0 ? -errno : 0;
}

static long described_ioctl(const struct described *d, int fd, void *addr,
			    size_t len)
{
	unsigned char arg[MAX_ARG] = { 0 };
	uint64_t ptr = (uintptr_t)addr, n = len;

	if (!d->arg_size)
		return ioctl(fd, d->request, addr);
	memcpy(arg + d->ptr_off, &ptr, sizeof(ptr));
	if (d->len_size == 4) {
		uint32_t n32 = len;

		memcpy(arg + d->len_off, &n32, sizeof(n32));
	} else {
		memcpy(arg + d->len_off, &n, sizeof(n));
	}
	return ioctl(fd, d->request, arg);
}

static void described_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	const struct described *d = s->desc;
	long n;

	switch (d->call) {
	case CALL_READ:
		n = read(s->fd[0], addr, s->len);
		break;
	case CALL_WRITE:
		n = write(s->fd[0], addr, s->len);
		break;
	default:
		n = described_ioctl(d, s->fd[0], addr, s->len);
		break;
	}
	if (n == 0 && !d->count)
		n = s->len;
	/* Zeros are known bytes; anything else is the device's own. */
	memset(s->buf, 0, n > 0 && (size_t)n < s->len ? (size_t)n : s->len);
	path_report(s, r, n, errno);
}

static int parse_result(const char *word, enum uafault_result *result)
{
	static const char * const names[] = {
		[UAFAULT_RES_COPY] = "copy", [UAFAULT_RES_PAGES] = "pages",
		[UAFAULT_RES_ALL] = "all", [UAFAULT_RES_CHUNKS] = "chunks",
		[UAFAULT_RES_DIO] = "dio",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (names[i] && !strcmp(word, names[i])) {
			*result = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* One line into @path (its name, flags, result) and @d; -EINVAL if bad. */
static int parse_line(const char *line, struct kpath *path, char *name,
		      struct described *d, size_t *fixed_len, bool *opaque)
{
	char open_mode[16], call[16], arg[16], returns[16], dir[16],
	     writes[16], result[16], pins[16];
	unsigned long fixed;

	if (sscanf(line, "%47s %127s %15s %15s %lu %15s %u %u %u %lu %15s %15s %15s %15s %15s",
		   name, d->device, open_mode, call, &d->request, arg,
		   &d->ptr_off, &d->len_off, &d->len_size, &fixed, returns,
		   dir, writes, result, pins) != 15)
		return -EINVAL;
	d->oflags = !strcmp(open_mode, "rdonly") ? O_RDONLY :
		    !strcmp(open_mode, "wronly") ? O_WRONLY : O_RDWR;
	d->call = !strcmp(call, "read") ? CALL_READ :
		  !strcmp(call, "write") ? CALL_WRITE : CALL_IOCTL;
	d->arg_size = strcmp(arg, "range") ? strtoul(arg, NULL, 10) : 0;
	d->count = !strcmp(returns, "count");
	d->zeros = !strcmp(writes, "zeros");
	if (d->arg_size > MAX_ARG || d->ptr_off + 8 > MAX_ARG ||
	    d->len_off + d->len_size > MAX_ARG ||
	    (d->arg_size && d->len_size != 4 && d->len_size != 8) ||
	    parse_result(result, &path->result))
		return -EINVAL;
	*fixed_len = fixed;
	path->flags = !strcmp(dir, "to_user") ? UAFAULT_TF_WRITE :
						UAFAULT_TF_READ;
	/* How the device takes the pages: none, short, longterm[_write]. */
	if (strcmp(pins, "none"))
		path->flags |= UAFAULT_TF_PIN;
	if (!strncmp(pins, "longterm", 8))
		path->flags |= UAFAULT_TF_LONGTERM;
	path->contract.write_pin = !strcmp(pins, "longterm_write");
	/* What the device reads, or writes other than zeros, is unknown. */
	*opaque = !strcmp(dir, "from_user") || !d->zeros;
	path->name = name;
	path->open = described_open;
	path->call = described_call;
	return 0;
}

/*
 * Appends the described paths of @text (one a line) to @a's targets, as
 * add_paths() does the built-in ones: "path_<name>", owner "described".
 */
int add_described_paths(struct agent *a, const char *text)
{
	const char *line = text;

	while (line && *line) {
		struct kpath *path = calloc(1, sizeof(*path));
		struct described *d = calloc(1, sizeof(*d));
		char *name = calloc(1, 48);
		size_t fixed_len = 0;
		bool opaque = false;
		int err = path && d && name ? 0 : -ENOMEM;

		if (!err)
			err = parse_line(line, path, name, d, &fixed_len,
					 &opaque);
		if (!err)
			err = add_path(a, path, d, "described", fixed_len,
				       opaque);
		if (err) {
			fprintf(stderr, AGENT_ERROR_PREFIX "described path '%.*s': %s\n",
				(int)strcspn(line, "\n"), line, strerror(-err));
			free(path);
			free(d);
			free(name);
			return err;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return 0;
}
