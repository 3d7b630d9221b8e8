// SPDX-License-Identifier: GPL-2.0
/*
 * Direct I/O on a block device (block/fops.c, __blkdev_direct_IO_simple):
 * pwrite() and pread() at offset 0 of a device opened O_DIRECT: brd's
 * /dev/ram0, a memory-backed null_blk, /dev/nullb0, and the virtio-blk
 * disk QEMU provides (the bio is DMA through virtio-pci), found by its
 * serial:
 * three drivers under one contract.
 * A range whose address or length is not a multiple of the logical block
 * size is refused whole (-EINVAL).  An aligned one is pinned with
 * iov_iter_extract_pages() (FOLL_PIN, FOLL_WRITE for a read) up to the
 * first page that faults, trimmed to whole blocks, and that much moves
 * (UAFAULT_RES_DIO); -EFAULT when nothing could be pinned.  The pages
 * are released after the bio completes: 38b43539d64b fixed their
 * reference counts for unaligned ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "paths.h"
#include "protocol.h"
#include "sys.h"

/*
 * fd[0] for the direct I/O under test, fd[1] buffered for the other side.
 * The node is a path, or a virtio-blk disk's serial: QEMU's order of the
 * disks decides which one is vda.
 */
static int block_open(struct kpath_state *s)
{
	const char *node = s->desc;
	char dev[300];
	int err;

	if (node[0] != '/') {
		err = disk_by_serial(node, dev, sizeof(dev));
		if (err)
			return err;
		node = dev;
	}
	s->fd[0] = open(node, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (s->fd[0] < 0)
		return -errno;
	s->fd[1] = open(node, O_RDWR | O_CLOEXEC);
	if (s->fd[1] < 0) {
		close(s->fd[0]);
		s->fd[0] = -1;
		return -errno;
	}
	return 0;
}

/* What a direct read must bring in: the fill bytes, on the device. */
static int block_fill(struct kpath_state *s)
{
	path_fill(s->buf, s->len, s->seed);
	if (pwrite(s->fd[1], s->buf, s->len, 0) != (ssize_t)s->len ||
	    fsync(s->fd[1]))
		return errno ? -errno : -EIO;
	return 0;
}

static void dio_write_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	long n = pwrite(s->fd[0], addr, s->len, 0);
	int err = errno;
	long got;

	path_disarm(s);
	path_result(r, n, err, s->len);
	/* The direct write dropped the cached copy: this reads the device. */
	got = r->done ? pread(s->fd[1], s->buf, r->done, 0) : 0;
	r->csum = uafault_csum(UAFAULT_CSUM_INIT, s->buf,
			       got > 0 ? (size_t)got : 0);
}

static void dio_read_call(struct kpath_state *s, void *addr,
			  struct uafault_run *r)
{
	long n = pread(s->fd[0], addr, s->len, 0);

	path_report(s, r, n, errno);
}

/* One direct I/O path: "dio_<op>_<dev>" on the node @node. */
#define DIO_PATH(op, dev, node, dir, fill, fn, cfg)			\
	{								\
		.name = "dio_" op "_" dev,				\
		.config = cfg,						\
		.flags = dir | UAFAULT_TF_PIN,				\
		.result = UAFAULT_RES_DIO,				\
		.open = block_open,					\
		.prepare = fill,					\
		.call = fn,						\
		.data = node,						\
	}

static const struct kpath block_table[] = {
	DIO_PATH("write", "brd", "/dev/ram0", UAFAULT_TF_READ, NULL,
		 dio_write_call, "CONFIG_BLK_DEV_RAM"),
	DIO_PATH("read", "brd", "/dev/ram0", UAFAULT_TF_WRITE, block_fill,
		 dio_read_call, "CONFIG_BLK_DEV_RAM"),
	DIO_PATH("write", "null_blk", "/dev/nullb0", UAFAULT_TF_READ, NULL,
		 dio_write_call, "CONFIG_BLK_DEV_NULL_BLK"),
	DIO_PATH("read", "null_blk", "/dev/nullb0", UAFAULT_TF_WRITE,
		 block_fill, dio_read_call, "CONFIG_BLK_DEV_NULL_BLK"),
	DIO_PATH("write", "virtio_blk", SCRATCH_SERIAL, UAFAULT_TF_READ, NULL,
		 dio_write_call, "CONFIG_VIRTIO_BLK"),
	DIO_PATH("read", "virtio_blk", SCRATCH_SERIAL, UAFAULT_TF_WRITE,
		 block_fill, dio_read_call, "CONFIG_VIRTIO_BLK"),
};

const struct kpath_family block_paths = PATH_FAMILY(block_table, NULL);
