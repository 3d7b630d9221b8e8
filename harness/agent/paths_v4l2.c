// SPDX-License-Identifier: GPL-2.0
/*
 * v4l2 capture with V4L2_MEMORY_USERPTR on vivid, the kernel's virtual
 * video driver (drivers/media/test-drivers/vivid; the guest's command
 * line gives it one capture node with a scaler, so a 16x16 GREY frame of
 * V4L2_FRAME bytes fits the agent's range).  VIDIOC_QBUF pins the range
 * long-term (videobuf2-vmalloc, vb2_create_framevec():
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM), all or nothing) and
 * the driver's thread writes a frame through the pinned pages; the pins
 * go when the queue is freed (VIDIOC_REQBUFS with count 0).  A range
 * shorter than a frame is refused whole.  6647e76ab623 fixed the vb2
 * USERPTR path; the frame is vivid's test pattern, so the path is opaque.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "paths.h"
#include "target.h"

#define V4L2_SIDE	16		/* vivid's smallest frame, MIN_WIDTH */
#define V4L2_FRAME	(V4L2_SIDE * V4L2_SIDE)	/* GREY: a byte a pixel */
#define V4L2_NODES	8

/* Whether @fd is vivid's capture node, streaming. */
static bool vivid_capture(int fd)
{
	struct v4l2_capability cap = { 0 };
	__u32 want = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;

	return !ioctl(fd, VIDIOC_QUERYCAP, &cap) &&
	       !strcmp((const char *)cap.driver, "vivid") &&
	       (cap.device_caps & want) == want;
}

/* One 16x16 GREY frame of exactly V4L2_FRAME bytes, or -errno. */
static int set_format(int fd)
{
	struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };

	fmt.fmt.pix.width = V4L2_SIDE;
	fmt.fmt.pix.height = V4L2_SIDE;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_GREY;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	if (ioctl(fd, VIDIOC_S_FMT, &fmt))
		return -errno;
	return fmt.fmt.pix.sizeimage == V4L2_FRAME ? 0 : -ERANGE;
}

/* fd[0]: the first /dev/video* that is vivid's capture node. */
static int vivid_open(struct kpath_state *s)
{
	char node[32];
	int n, fd, err = -ENODEV;

	for (n = 0; n < V4L2_NODES && err; n++) {
		snprintf(node, sizeof(node), "/dev/video%d", n);
		fd = open(node, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		err = vivid_capture(fd) ? set_format(fd) : -ENODEV;
		if (err)
			close(fd);
		else
			s->fd[0] = fd;
	}
	return err;
}

/*
 * vivid's node, and the range a held re-queue moves the buffer to
 * (s->priv, PATH_BUF_LEN): mapped once, before any case, so it never
 * lands in a hole a kind plants.
 */
static int v4l2_open(struct kpath_state *s)
{
	void *other;
	int err = vivid_open(s);

	if (err)
		return err;
	other = mmap(NULL, PATH_BUF_LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (other == MAP_FAILED)
		return -errno;
	s->priv = other;
	return 0;
}

static void v4l2_close(struct kpath_state *s)
{
	if (s->priv)
		munmap(s->priv, PATH_BUF_LEN);
	s->priv = NULL;
}

static int request_buffers(int fd, __u32 count)
{
	struct v4l2_requestbuffers req = {
		.count = count, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_USERPTR,
	};

	return ioctl(fd, VIDIOC_REQBUFS, &req) ? -errno : 0;
}

/* A queue of one USERPTR buffer, ready for the range. */
static int v4l2_queue(struct kpath_state *s)
{
	return request_buffers(s->fd[0], 1);
}

/* The USERPTR buffer at @addr queued: 0, or -errno. */
static int queue_at(struct kpath_state *s, void *addr)
{
	struct v4l2_buffer buf = {
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_USERPTR,
		.m.userptr = (uintptr_t)addr, .length = s->len,
	};

	return ioctl(s->fd[0], VIDIOC_QBUF, &buf) ? -errno : 0;
}

/*
 * A held re-queue (HELD_REQUEUE): the dequeued buffer queued again at the
 * other range, which vb2 must pin while it releases the old one
 * (__prepare_userptr(): a changed address re-acquires).  Both ranges then
 * get the fill bytes, the old one through the user's mapping of the pages
 * no longer pinned, the new one to see the frame land over them.
 */
static int v4l2_change(struct kpath_state *s, void *addr,
		       enum held_change change)
{
	int err;

	path_fill(s->priv, s->len, ~s->seed);
	err = queue_at(s, s->priv);
	if (err)
		return err;
	path_fill(addr, s->len, s->seed);
	/*
	 * What the old range reads now, the bytes it must keep: where two of
	 * its pages are one frame (page_twice), the later of the two writes.
	 */
	memcpy(s->buf, addr, s->len);
	return 0;
}

/*
 * The frame after a held re-queue: it must land in the new range, and
 * the old one, its pins given back, must keep the bytes the user wrote
 * there, as v4l2_change() read them back into s->buf (a stale pin would
 * let the device write into its pages).  Its length, or -EIO, said on
 * stderr.
 */
static long requeued_frame(struct kpath_state *s, void *addr)
{
	struct v4l2_buffer buf = {
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_USERPTR,
	};

	if (ioctl(s->fd[0], VIDIOC_DQBUF, &buf))
		return -errno;
	if (memcmp(addr, s->buf, s->len)) {
		fprintf(stderr, AGENT_ERROR_PREFIX "v4l2: the device wrote into the range it was re-queued away from\n");
		return -EIO;
	}
	path_fill(s->buf, s->len, ~s->seed);
	if (buf.m.userptr != (uintptr_t)s->priv || buf.bytesused < V4L2_FRAME ||
	    !memcmp(s->priv, s->buf, V4L2_FRAME)) {
		fprintf(stderr, AGENT_ERROR_PREFIX "v4l2: the frame after the re-queue did not land in the new range\n");
		return -EIO;
	}
	return s->len;
}

static void userptr_call(struct kpath_state *s, void *addr,
			 struct uafault_run *r)
{
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_buffer buf = {
		.type = type, .memory = V4L2_MEMORY_USERPTR,
	};
	long n = queue_at(s, addr);
	bool queued = !n;

	if (!queued || ioctl(s->fd[0], VIDIOC_STREAMON, &type) ||
	    ioctl(s->fd[0], VIDIOC_DQBUF, &buf))
		n = n ?: -errno;
	else
		n = s->len;
	path_disarm(s);
	if (queued)	/* pinned at QBUF, until the queue is freed */
		path_held(s, addr);
	if (n >= 0 && s->changed & HELD_CHANGE(HELD_REQUEUE))
		n = requeued_frame(s, addr);
	ioctl(s->fd[0], VIDIOC_STREAMOFF, &type);
	/* Freeing the queue releases the buffer: its pins go now. */
	if (!s->misuse && request_buffers(s->fd[0], 0) && n >= 0)
		n = -EIO;
	path_result(r, n < 0 ? -1 : n, -n, s->len);
	r->csum = UAFAULT_CSUM_INIT;
}

static const struct kpath v4l2_table[] = {
	{
		.name = "v4l2_userptr_vivid",
		.flags = UAFAULT_TF_WRITE | UAFAULT_TF_PIN | UAFAULT_TF_LONGTERM,
		.result = UAFAULT_RES_ALL,
		.open = v4l2_open,
		.prepare = v4l2_queue,
		.call = userptr_call,
		.close = v4l2_close,
		.contract = { .min_len = V4L2_FRAME },
		.opaque = true,
		.held = true,
		.changes = HELD_CHANGE(HELD_REQUEUE),
		.change = v4l2_change,
	},
};

const struct kpath_family v4l2_paths = PATH_FAMILY(v4l2_table, "CONFIG_VIDEO_VIVID");
