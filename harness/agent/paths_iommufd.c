// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd with its mock IOMMU (CONFIG_IOMMUFD_TEST, drivers/iommu/iommufd):
 * an IOAS with a mock domain attached, so IOMMU_IOAS_MAP pins the range
 * at once (pfn_reader_user_pin(): pin_user_pages_fast() with
 * FOLL_LONGTERM, FOLL_WRITE for a writeable map) and charges it to
 * VmPin.  The map is all or nothing: a page that cannot be pinned fails
 * it with -EFAULT and every page pinned so far goes back (b7c822fa6b77
 * and 99f98a7c0d69 fixed that unwind).  An address or a length that is
 * not a multiple of the mock's IO page (PAGE_SIZE / 2) is refused whole.
 *
 * The call maps the range, writes the fill bytes into it as the device
 * would (IOMMU_TEST_OP_ACCESS_RW through the pinned pages), asks the
 * mock how many pins each page holds (IOMMU_TEST_OP_MD_CHECK_REFS: while
 * mapped, at least one for each time the range maps the page's frame;
 * after the unmap, that many fewer), and unmaps it; a count that is off
 * fails the call with -EIO, said on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "memory.h"
#include "paths.h"
#include "protocol.h"
#include "target.h"

#ifdef HAVE_IOMMUFD_TEST
#include <iommufd_test.h>

#define IOMMUFD_IO_PAGE	(PAGE / 2)	/* the mock domain's page size */
#define MAX_REFS	6		/* pins a page may hold, others' too */

static int test_cmd(int fd, struct iommu_test_cmd *cmd, __u32 op, __u32 id)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = id;
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/* A mock device and the domain it attaches: their object ids. */
struct mock_dev {
	__u32 stdev, hwpt;
};

/* A mock device and domain on the IOAS, @dev: a map pins at once. */
static int mock_domain(struct kpath_state *s, struct mock_dev *dev)
{
	struct iommu_test_cmd cmd = {};
	int err = test_cmd(s->fd[0], &cmd, IOMMU_TEST_OP_MOCK_DOMAIN, s->id);

	dev->stdev = cmd.mock_domain.out_stdev_id;
	dev->hwpt = cmd.mock_domain.out_hwpt_id;
	return err;
}

/*
 * fd[0]: /dev/iommu, with a mock device and domain @dev; fd[1]: a test
 * access made with @access_flags (MOCK_FLAGS_ACCESS_CREATE_*); s->id: the
 * IOAS.
 */
static int iommufd_open_access(struct kpath_state *s, __u32 access_flags,
			       struct mock_dev *dev)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_test_cmd cmd = {};
	int err;

	s->fd[0] = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (s->fd[0] < 0)
		return -errno;
	if (ioctl(s->fd[0], IOMMU_IOAS_ALLOC, &alloc))
		return -errno;
	s->id = alloc.out_ioas_id;
	err = mock_domain(s, dev);
	if (err)
		return err;
	cmd.create_access.flags = access_flags;
	err = test_cmd(s->fd[0], &cmd, IOMMU_TEST_OP_CREATE_ACCESS, s->id);
	if (err)
		return err;
	s->fd[1] = cmd.create_access.out_access_fd;
	return 0;
}

static int iommufd_open(struct kpath_state *s)
{
	struct mock_dev dev;

	return iommufd_open_access(s, 0, &dev);
}

/*
 * Whether each page of [@start, + @len) holds @refs pins (the mock
 * counts page_ref_count() / GUP_PIN_COUNTING_BIAS).
 */
static bool refs_are(struct kpath_state *s, uintptr_t start, size_t len,
		     unsigned int refs)
{
	struct iommu_test_cmd cmd = {
		.check_refs = { .length = len, .uptr = start, .refs = refs },
	};

	return !test_cmd(s->fd[0], &cmd, IOMMU_TEST_OP_MD_CHECK_REFS, 0);
}

/*
 * The range's pages, how many of them share each one's frame (page_twice
 * maps one frame at two pages: the map pins it once for each) and the
 * pins each holds while mapped.
 */
struct range_refs {
	uintptr_t start;
	unsigned int n;
	unsigned int times[MAX_PAGES + 1];
	unsigned int refs[MAX_PAGES + 1];
};

static void range_of(struct kpath_state *s, void *addr, struct range_refs *rr)
{
	uintptr_t end = ((uintptr_t)addr + s->len + PAGE - 1) & ~(PAGE - 1);
	uint64_t pfn[MAX_PAGES + 1];
	bool known;
	unsigned int i, j;

	rr->start = (uintptr_t)addr & ~(PAGE - 1);
	rr->n = (end - rr->start) / PAGE;
	known = page_frames((const unsigned char *)rr->start, rr->n, pfn);
	for (i = 0; i < rr->n; i++) {
		rr->times[i] = 1;
		for (j = 0; known && pfn[i] && j < rr->n; j++)
			rr->times[i] += j != i && pfn[j] == pfn[i];
	}
}

/*
 * The pins each page holds while mapped (other holders' too: a kind may
 * hold the range pinned itself), at least one for each time the map took
 * its frame: false, said on stderr, when a page holds fewer (or more
 * than MAX_REFS).
 */
static bool mapped_refs(struct kpath_state *s, struct range_refs *rr)
{
	unsigned int i, refs;

	for (i = 0; i < rr->n; i++) {
		for (refs = rr->times[i]; refs <= MAX_REFS; refs++)
			if (refs_are(s, rr->start + i * PAGE, PAGE, refs))
				break;
		if (refs > MAX_REFS) {
			fprintf(stderr, AGENT_ERROR_PREFIX "iommufd: MD_CHECK_REFS: page %u of the mapped range holds fewer pins than the map took (%u), or more than %u\n",
				i, rr->times[i], MAX_REFS);
			return false;
		}
		rr->refs[i] = refs;
	}
	return true;
}

/* After the unmap: each page gave back the pins the map took of it. */
static bool unmapped_refs(struct kpath_state *s, const struct range_refs *rr)
{
	unsigned int i;

	for (i = 0; i < rr->n; i++)
		if (!refs_are(s, rr->start + i * PAGE, PAGE,
			      rr->refs[i] - rr->times[i]))
			return false;
	return true;
}

/* Maps the range writable at an IOVA the kernel picks: 0 or -errno. */
static int ioas_map(struct kpath_state *s, void *addr, __u64 *iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map), .ioas_id = s->id,
		.flags = IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE,
		.user_va = (uintptr_t)addr, .length = s->len,
	};

	if (ioctl(s->fd[0], IOMMU_IOAS_MAP, &map))
		return -errno;
	*iova = map.iova;
	return 0;
}

static int ioas_unmap(struct kpath_state *s, __u64 iova)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap), .ioas_id = s->id, .iova = iova,
		.length = s->len,
	};

	return ioctl(s->fd[0], IOMMU_IOAS_UNMAP, &unmap) ? -errno : 0;
}

static void ioas_map_call(struct kpath_state *s, void *addr,
			  struct uafault_run *r)
{
	/*
	 * The kernel picks the IOVA: a map that fails yet keeps its mapping
	 * (6.12 does when its reply cannot be copied out, a known issue)
	 * then holds an IOVA no later call asks for, so its pins are that
	 * case's finding and no later case's -EEXIST.
	 */
	struct iommu_test_cmd rw = {
		.access_rw = { .length = s->len, .uptr = (uintptr_t)s->buf,
			       .flags = MOCK_ACCESS_RW_WRITE |
					MOCK_ACCESS_RW_SLOW_PATH },
	};
	struct range_refs rr = { 0 };
	bool counted;
	int err, unmapped;
	__u64 iova;

	path_fill(s->buf, s->len, s->seed);
	err = ioas_map(s, addr, &iova);
	if (err) {
		path_report(s, r, -1, -err);
		return;
	}
	rw.access_rw.iova = iova;
	err = test_cmd(s->fd[0], &rw, IOMMU_TEST_OP_ACCESS_RW, s->fd[1]);
	path_disarm(s);
	path_held(s, addr);	/* mapped: every page pinned for the domain */
	/* A racing thread remaps the range: its pages are not the pinned. */
	counted = !err && !s->raced;
	if (counted) {
		range_of(s, addr, &rr);
		if (!mapped_refs(s, &rr))
			err = -EIO;
	}
	if (s->misuse)	/* the mapping, and its pins, outlive the call */
		goto out;
	unmapped = ioas_unmap(s, iova);
	if (unmapped) {
		err = err ?: unmapped;
	} else if (counted && !err && !unmapped_refs(s, &rr)) {
		fprintf(stderr, AGENT_ERROR_PREFIX "iommufd: MD_CHECK_REFS: the unmap did not give back every pin the map took\n");
		err = -EIO;
	}
out:
	path_report(s, r, err ? -1 : (long)s->len, -err);
}

/* The access path's mock device, and the call it has in flight: s->priv. */
struct access_call {
	struct mock_dev dev;
	__u64 iova;
	__u32 item;		/* the access's pages */
	bool mapped;		/* iova is this call's */
};

/* No call in flight yet: a change has nothing to unmap. */
static int access_prepare(struct kpath_state *s)
{
	struct access_call *c = s->priv;

	c->mapped = false;
	return 0;
}

/*
 * An access that pins pages itself (iommufd_access_pin_pages(), as a
 * mediated device does): the mock's, whose unmap callback
 * (iommufd_test_access_unmap()) unpins what it holds in the range.  It
 * raises the IOAS's IOVA alignment to PAGE_SIZE (iommufd_access_create()),
 * so a map whose address or length is not whole pages is -EINVAL.
 */
static int access_setup(struct kpath_state *s)
{
	struct access_call *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	err = iommufd_open_access(s, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
				  &c->dev);
	if (err)
		free(c);
	else
		s->priv = c;
	return err;
}

static void access_close(struct kpath_state *s)
{
	free(s->priv);
	s->priv = NULL;
}

/*
 * The access pins the mapped range (ACCESS_PAGES; the mock checks the
 * pages it got are the ones the user maps at @addr) and the device
 * writes the fill bytes through the pinned pages (ACCESS_RW's slow path,
 * not the user's mapping): the item's id, or -errno.
 */
static int access_pin(struct kpath_state *s, void *addr, __u64 iova)
{
	struct iommu_test_cmd pin = {
		.access_pages = { .flags = MOCK_FLAGS_ACCESS_WRITE,
				  .iova = iova, .length = s->len,
				  .uptr = (uintptr_t)addr },
	};
	struct iommu_test_cmd rw = {
		.access_rw = { .iova = iova, .length = s->len,
			       .uptr = (uintptr_t)s->buf,
			       .flags = MOCK_ACCESS_RW_WRITE |
					MOCK_ACCESS_RW_SLOW_PATH },
	};
	int err;

	err = test_cmd(s->fd[0], &pin, IOMMU_TEST_OP_ACCESS_PAGES, s->fd[1]);
	if (err)
		return err;
	err = test_cmd(s->fd[0], &rw, IOMMU_TEST_OP_ACCESS_RW, s->fd[1]);
	return err ?: (int)pin.access_pages.out_access_pages_id;
}

/*
 * After an unmap under the access, its contract: the unmap callback gave
 * the access's pages back (the item is gone) and the device reaches
 * nothing at the IOVA.  0, or -EIO, said on stderr.
 */
static int unmapped_under_access(struct kpath_state *s, struct access_call *c)
{
	unsigned char byte;
	struct iommu_test_cmd gone = {
		.destroy_access_pages = { .access_pages_id = c->item },
	};
	struct iommu_test_cmd rw = {
		.access_rw = { .iova = c->iova, .length = 1,
			       .uptr = (uintptr_t)&byte },
	};

	if (test_cmd(s->fd[0], &gone, IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		     s->fd[1]) != -ENOENT) {
		fprintf(stderr, AGENT_ERROR_PREFIX "iommufd: the access still held its pages after the IOVA was unmapped (its unmap callback never ran)\n");
		return -EIO;
	}
	if (!test_cmd(s->fd[0], &rw, IOMMU_TEST_OP_ACCESS_RW, s->fd[1])) {
		fprintf(stderr, AGENT_ERROR_PREFIX "iommufd: the access still reached the unmapped IOVA\n");
		return -EIO;
	}
	return 0;
}

/*
 * Gives back what the call holds: the access's pages, then the mapping;
 * after a held unmap, nothing, once its contract is checked.
 */
static int access_release(struct kpath_state *s, struct access_call *c)
{
	struct iommu_test_cmd put = {
		.destroy_access_pages = { .access_pages_id = c->item },
	};
	int err;

	if (s->changed & HELD_CHANGE(HELD_UNMAP))
		return unmapped_under_access(s, c);
	err = test_cmd(s->fd[0], &put, IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		       s->fd[1]);
	return ioas_unmap(s, c->iova) ?: err;
}

/*
 * Maps the range (the mock domain pins it), lets the access pin it too
 * and the device write it, holds it (the held phase: a kind's change
 * runs there), and gives it back.
 */
static void access_pages_call(struct kpath_state *s, void *addr,
			      struct uafault_run *r)
{
	struct access_call *c = s->priv;
	int ret, err;

	path_fill(s->buf, s->len, s->seed);
	err = ioas_map(s, addr, &c->iova);
	if (err) {
		path_report(s, r, -1, -err);
		return;
	}
	c->mapped = true;
	ret = access_pin(s, addr, c->iova);
	path_disarm(s);
	if (ret < 0) {
		err = ret;
		if (!s->misuse)	/* --misuse-paths keeps the mapping */
			ioas_unmap(s, c->iova);
		goto out;
	}
	c->item = ret;
	path_held(s, addr);	/* mapped and accessed: every page pinned */
	/* --misuse-paths: the mapping and the access's pins outlive it. */
	err = s->misuse ? 0 : access_release(s, c);
out:
	path_report(s, r, err ? -1 : (long)s->len, -err);
}

/*
 * While no domain is attached the access still holds the pages and
 * reaches them (iopt_area_unfill_domain() keeps what an access pinned):
 * what it reads at the IOVA through them (the slow path, as a kernel
 * thread would: not the user's mapping) must be what the range holds.
 * 0, -errno, or -EIO, said on stderr.
 */
static int access_reaches(struct kpath_state *s, struct access_call *c,
			  const void *addr)
{
	unsigned char *seen = malloc(s->len);
	struct iommu_test_cmd rw = {
		.access_rw = { .iova = c->iova, .length = s->len,
			       .uptr = (uintptr_t)seen,
			       .flags = MOCK_ACCESS_RW_SLOW_PATH },
	};
	int err = seen ? 0 : -ENOMEM;

	if (!err)
		err = test_cmd(s->fd[0], &rw, IOMMU_TEST_OP_ACCESS_RW, s->fd[1]);
	if (!err && memcmp(seen, addr, s->len)) {
		fprintf(stderr, AGENT_ERROR_PREFIX "iommufd: with no domain attached the access read other bytes than the range holds\n");
		err = -EIO;
	}
	free(seen);
	return err;
}

/*
 * HELD_DETACH: the mock device destroyed (its domain detached from the
 * IOAS: the last one, so only the access holds the pages), the access
 * checked to reach them still, and a new device and domain attached, which
 * must map the IOVA to the range's pages again (IOMMU_TEST_OP_MD_CHECK_MAP).
 */
static int access_detach(struct kpath_state *s, struct access_call *c,
			 void *addr)
{
	struct iommu_destroy gone = { .size = sizeof(gone), .id = c->dev.stdev };
	struct iommu_test_cmd map = {
		.check_map = { .iova = c->iova, .length = s->len,
			       .uptr = (uintptr_t)addr },
	};
	int err;

	if (ioctl(s->fd[0], IOMMU_DESTROY, &gone))
		return -errno;
	err = access_reaches(s, c, addr);
	/* The path's later calls need a domain whatever happened. */
	err = mock_domain(s, &c->dev) ?: err;
	return err ?: test_cmd(s->fd[0], &map, IOMMU_TEST_OP_MD_CHECK_MAP,
			       c->dev.hwpt);
}

/* A held change of the access path: HELD_UNMAP or HELD_DETACH. */
static int access_change(struct kpath_state *s, void *addr,
			 enum held_change change)
{
	struct access_call *c = s->priv;

	if (!c->mapped)
		return -ENOENT;
	if (change == HELD_DETACH)
		return access_detach(s, c, addr);
	return ioas_unmap(s, c->iova);
}

static const struct kpath iommufd_table[] = {
	{
		.name = "iommufd_ioas_map",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = iommufd_open,
		.call = ioas_map_call,
		.contract = { .addr_align = IOMMUFD_IO_PAGE,
			      .len_align = IOMMUFD_IO_PAGE },
		.held = true,
	},
	{
		.name = "iommufd_access_pages",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = access_setup,
		.prepare = access_prepare,
		.call = access_pages_call,
		.close = access_close,
		/*
		 * An access that pins: the IOAS maps whole pages only.  The
		 * mock's ACCESS_PAGES checks that the pages the map pinned
		 * are the ones the user maps now: a range remapped in
		 * between is refused with -EBADE, nothing done.
		 */
		.contract = { .addr_align = PAGE, .len_align = PAGE,
			      .changed_err = -EBADE },
		.held = true,
		.changes = HELD_CHANGE(HELD_UNMAP) | HELD_CHANGE(HELD_DETACH),
		.change = access_change,
	},
};

const struct kpath_family iommufd_paths = PATH_FAMILY(iommufd_table, "CONFIG_IOMMUFD_TEST");
#else
/* Built without the kernel tree's iommufd_test.h: no iommufd path. */
const struct kpath_family iommufd_paths = NO_PATH_FAMILY("iommufd", "CONFIG_IOMMUFD_TEST");
#endif
