// SPDX-License-Identifier: GPL-2.0
/*
 * mm's own pin test (CONFIG_GUP_TEST, mm/gup_test.c), the long-term pin
 * the mm selftests (gup_longterm.c, cow.c) calibrate against:
 * PIN_LONGTERM_TEST_START pins the whole range with FOLL_LONGTERM
 * (FOLL_WRITE on request) and keeps it, PIN_LONGTERM_TEST_READ copies the
 * pinned pages out, PIN_LONGTERM_TEST_STOP (or closing the file) unpins.
 *
 * The contract, from pin_longterm_test_start(): an address or a length
 * that is not page-aligned, or no page at all, is -EINVAL before anything
 * is pinned; a page that cannot be pinned fails the whole start with
 * -EFAULT and unpins what it had.  With USE_FAST the pin is
 * pin_user_pages_fast(), whose slow path may drop mmap_lock and so waits
 * for userfaultfd; without it pin_user_pages() runs under mmap_lock with
 * no way to drop it, so a page userfaultfd must supply is a fault.
 *
 * The bytes read back through the pins are the data oracle: they must be
 * the range's own (a long-term pin of a page the process no longer maps,
 * as after a fork's COW, reads the wrong bytes).  The header is mm's
 * internal ABI, not uapi: built only against a kernel tree (KDIR).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "paths.h"
#include "protocol.h"
#include "target.h"

#ifdef HAVE_GUP_TEST
#include <gup_test.h>
#endif

/* gup_test's long-term pin commands came after 6.1's. */
#ifdef PIN_LONGTERM_TEST_START
static int gup_test_open(struct kpath_state *s)
{
	s->fd[0] = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);
	return s->fd[0] < 0 ? -errno : 0;
}

static void longterm_call(struct kpath_state *s, void *addr,
			  struct uafault_run *r, unsigned int flags)
{
	struct pin_longterm_test start = {
		.addr = (uintptr_t)addr, .size = s->len, .flags = flags,
	};
	__u64 out = (uintptr_t)s->buf;
	long n = s->len;

	/*
	 * --misuse-paths keeps each call's pins until the next call: there
	 * is one set of them per kernel, so the next start would be -EINVAL.
	 */
	if (s->misuse)
		ioctl(s->fd[0], PIN_LONGTERM_TEST_STOP);
	if (ioctl(s->fd[0], PIN_LONGTERM_TEST_START, &start))
		n = -errno;
	path_disarm(s);
	if (n >= 0)
		path_held(s, addr);	/* started: every page pinned */
	if (n >= 0 && ioctl(s->fd[0], PIN_LONGTERM_TEST_READ, &out))
		n = -errno;
	if (n >= 0 && !s->misuse && ioctl(s->fd[0], PIN_LONGTERM_TEST_STOP))
		n = -errno;
	path_report(s, r, n < 0 ? -1 : n, -n);
}

static void longterm_fast_call(struct kpath_state *s, void *addr,
			       struct uafault_run *r)
{
	longterm_call(s, addr, r, PIN_LONGTERM_TEST_FLAG_USE_FAST);
}

static void longterm_write_call(struct kpath_state *s, void *addr,
				struct uafault_run *r)
{
	longterm_call(s, addr, r, PIN_LONGTERM_TEST_FLAG_USE_FAST |
				  PIN_LONGTERM_TEST_FLAG_USE_WRITE);
}

static void longterm_locked_call(struct kpath_state *s, void *addr,
				 struct uafault_run *r)
{
	longterm_call(s, addr, r, 0);
}

#define GUP_TEST_CONTRACT	{ .addr_align = PAGE, .len_align = PAGE, \
				  .min_len = PAGE }

static const struct kpath gup_table[] = {
	{
		.name = "gup_test_longterm_fast",
		.flags = UAFAULT_TF_READ | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = gup_test_open,
		.call = longterm_fast_call,
		.contract = GUP_TEST_CONTRACT,
		.held = true,
	},
	{
		.name = "gup_test_longterm_write",
		.flags = UAFAULT_TF_READ | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = gup_test_open,
		.call = longterm_write_call,
		.contract = { .addr_align = PAGE, .len_align = PAGE,
			      .min_len = PAGE, .write_pin = true },
		.held = true,
	},
	{
		.name = "gup_test_longterm_locked",
		.flags = UAFAULT_TF_READ | UAFAULT_TF_PIN | UAFAULT_TF_NOWAIT |
			 UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = gup_test_open,
		.call = longterm_locked_call,
		.contract = GUP_TEST_CONTRACT,
		.held = true,
	},
};

const struct kpath_family gup_paths = PATH_FAMILY(gup_table, "CONFIG_GUP_TEST");
#else
/*
 * Built without a kernel tree (mm/gup_test.h is not uapi), or against one
 * whose gup_test has no long-term pin commands.
 */
const struct kpath_family gup_paths = NO_PATH_FAMILY("gup", "CONFIG_GUP_TEST");
#endif
