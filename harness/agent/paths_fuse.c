// SPDX-License-Identifier: GPL-2.0
/*
 * fuse with FOPEN_DIRECT_IO (fs/fuse/file.c, fuse_direct_io()), served by
 * a child of the agent: read() and write() of its one file pin the
 * caller's range with iov_iter_extract_pages() (FOLL_PIN), page by page,
 * up to the first page that faults, and the request carries what was
 * pinned; a request with nothing pinned ends the call, so what moved is
 * the whole pages before the fault (UAFAULT_RES_PAGES).  The server is a
 * process of its own, so no fault planted in the agent reaches it; the
 * file's bytes are s->buf itself, shared with it.  CVE-2022-1011
 * (0c4bcfdecb1a) was a use after free when the range was unmapped while
 * its request was pending: the uffd and munmap kinds' shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "paths.h"
#include "protocol.h"
#include "watchdog.h"

#define FUSE_NODE	2		/* the file's node; 1 is the root */
#define FUSE_MAX_WRITE	(64 * 1024)
#define FUSE_VALID	3600		/* seconds: no lookup twice */
/*
 * A read there is never answered (--hang-paths): past the file, where no
 * call's request lands (a call that pins in two runs reads at PAGE too).
 */
#define FUSE_HANG_OFFSET	(2 * PATH_BUF_LEN)

struct fuse_server {
	pid_t pid;
	int dev;		/* /dev/fuse */
};

/* One reply: the header, then @len bytes of @body (an error: none). */
static void reply(int dev, __u64 unique, int err, const void *body,
		  size_t len)
{
	struct fuse_out_header out = {
		.len = sizeof(out) + (err ? 0 : len),
		.error = err, .unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = (void *)body, .iov_len = err ? 0 : len },
	};

	if (writev(dev, iov, 2) < 0 && errno != ENOENT)	/* ENOENT: interrupted */
		_exit(EXIT_FAILURE);
}

static void node_attr(__u64 node, struct fuse_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = node;
	attr->nlink = 1;
	attr->blksize = PAGE;
	if (node == FUSE_ROOT_ID) {
		attr->mode = S_IFDIR | 0755;
		return;
	}
	attr->mode = S_IFREG | 0666;
	attr->size = PATH_BUF_LEN;
	attr->blocks = PATH_BUF_LEN / 512;
}

static void serve_lookup(int dev, const struct fuse_in_header *in,
			 const char *name)
{
	struct fuse_entry_out entry = {
		.nodeid = FUSE_NODE, .generation = 1,
		.entry_valid = FUSE_VALID, .attr_valid = FUSE_VALID,
	};

	if (in->nodeid != FUSE_ROOT_ID || strcmp(name, "f")) {
		reply(dev, in->unique, -ENOENT, NULL, 0);
		return;
	}
	node_attr(FUSE_NODE, &entry.attr);
	reply(dev, in->unique, 0, &entry, sizeof(entry));
}

static void serve_read(int dev, const struct fuse_in_header *in,
		       const struct fuse_read_in *rd, const unsigned char *file)
{
	size_t len;

	if (rd->offset == FUSE_HANG_OFFSET)
		return;		/* never answered: see fuse_read_call() */
	len = rd->offset >= PATH_BUF_LEN ? 0 : PATH_BUF_LEN - rd->offset;
	if (len > rd->size)
		len = rd->size;
	reply(dev, in->unique, 0, file + rd->offset, len);
}

static void serve_write(int dev, const struct fuse_in_header *in,
			const struct fuse_write_in *wr, unsigned char *file)
{
	struct fuse_write_out out = { .size = wr->size };

	if (wr->offset > PATH_BUF_LEN || wr->size > PATH_BUF_LEN - wr->offset) {
		reply(dev, in->unique, -EFBIG, NULL, 0);
		return;
	}
	memcpy(file + wr->offset, wr + 1, wr->size);
	reply(dev, in->unique, 0, &out, sizeof(out));
}

/* Everything but INIT, LOOKUP and I/O: an attribute, a nod, or refused. */
static void serve_other(int dev, const struct fuse_in_header *in)
{
	struct fuse_attr_out attr = { .attr_valid = FUSE_VALID };
	struct fuse_open_out open_out = {
		.fh = 1, .open_flags = FOPEN_DIRECT_IO,
	};

	switch (in->opcode) {
	case FUSE_GETATTR:
		node_attr(in->nodeid, &attr.attr);
		reply(dev, in->unique, 0, &attr, sizeof(attr));
		break;
	case FUSE_OPEN:
		reply(dev, in->unique, 0, &open_out, sizeof(open_out));
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_FSYNC:
		reply(dev, in->unique, 0, NULL, 0);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;	/* no reply is expected */
	default:
		reply(dev, in->unique, -EOPNOTSUPP, NULL, 0);
		break;
	}
}

/* The server's loop: until the file system is unmounted (ENODEV). */
static void serve(int dev, unsigned char *file)
{
	static unsigned char req[FUSE_MAX_WRITE + 4 * PAGE];
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_write = FUSE_MAX_WRITE, .max_background = 1,
		.congestion_threshold = 1, .time_gran = 1,
	};
	const struct fuse_in_header *in = (const void *)req;
	const void *arg = in + 1;
	ssize_t n;

	for (;;) {
		n = read(dev, req, sizeof(req));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;	/* ENOENT: a request interrupted */
		if (n < (ssize_t)sizeof(*in))
			return;
		switch (in->opcode) {
		case FUSE_INIT:
			reply(dev, in->unique, 0, &init, sizeof(init));
			break;
		case FUSE_LOOKUP:
			serve_lookup(dev, in, arg);
			break;
		case FUSE_READ:
			serve_read(dev, in, arg, file);
			break;
		case FUSE_WRITE:
			serve_write(dev, in, arg, file);
			break;
		default:
			serve_other(dev, in);
			break;
		}
	}
}

/* Unmounts (the server sees ENODEV), reaps the server, frees @srv. */
static void fuse_unmount(struct fuse_server *srv, const char *dir)
{
	umount2(dir, MNT_DETACH);
	if (srv->dev >= 0)
		close(srv->dev);
	if (srv->pid > 0) {
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, NULL, 0);
		unwatch_server(srv->pid);
	}
	free(srv);
}

/* Mounts a fuse file system on @dir, served by a child, in @srv. */
static int fuse_mount(struct fuse_server *srv, const char *dir,
		      unsigned char *file)
{
	char opts[96];

	srv->pid = -1;
	srv->dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (srv->dev < 0)
		return -errno;
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", srv->dev);
	if ((mkdir(dir, 0755) && errno != EEXIST) ||
	    mount("uafault", dir, "fuse", MS_NOSUID | MS_NODEV, opts))
		return -errno;
	srv->pid = fork();
	if (srv->pid < 0)
		return -errno;
	if (!srv->pid) {
		/*
		 * Only the device: a server holding the agent's files (another
		 * mount's file, the other server's device) keeps that mount
		 * alive past its unmount, and its close waiting on it.
		 */
		if (dup2(srv->dev, 3) < 0 || close_range(4, ~0U, 0))
			_exit(EXIT_FAILURE);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(3, file);
		_exit(EXIT_SUCCESS);
	}
	/* The server's end only: its death aborts the connection. */
	close(srv->dev);
	srv->dev = -1;
	watch_server(srv->pid);
	return 0;
}

/*
 * A fuse file system of the path's own (s->desc, its mount point) and
 * its file open (fd[0]); the file's bytes replace s->buf, shared with
 * the server.
 */
static int fuse_open(struct kpath_state *s)
{
	struct fuse_server *srv = calloc(1, sizeof(*srv));
	unsigned char *file;
	char path[64];
	int err;

	file = mmap(NULL, PATH_BUF_LEN, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!srv || file == MAP_FAILED) {
		err = file == MAP_FAILED ? -errno : -ENOMEM;
		goto free;
	}
	err = fuse_mount(srv, s->desc, file);
	snprintf(path, sizeof(path), "%s/f", (const char *)s->desc);
	s->fd[0] = err ? -1 : open(path, O_RDWR | O_CLOEXEC);
	if (!err && s->fd[0] < 0)
		err = -errno;
	if (err) {
		fuse_unmount(srv, s->desc);
		munmap(file, PATH_BUF_LEN);
		return err;
	}
	free(s->buf);
	s->buf = file;
	s->priv = srv;
	return 0;
free:
	free(srv);
	if (file != MAP_FAILED)
		munmap(file, PATH_BUF_LEN);
	return err;
}

/* Gives back what fuse_open() took; close_path() closes fd[0] after. */
static void fuse_close(struct kpath_state *s)
{
	if (s->fd[0] >= 0)	/* first: the mount goes when it is unused */
		close(s->fd[0]);
	s->fd[0] = -1;
	fuse_unmount(s->priv, s->desc);
	s->priv = NULL;
	munmap(s->buf, PATH_BUF_LEN);
	s->buf = NULL;
}

/* What a read must bring in: the fill bytes, in the file. */
static int fuse_fill(struct kpath_state *s)
{
	path_fill(s->buf, s->len, s->seed);
	return 0;
}

/* Nothing written yet: a write that never reached the server shows. */
static int fuse_clear(struct kpath_state *s)
{
	memset(s->buf, 0, s->len);
	return 0;
}

static void fuse_read_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	/* --hang-paths: a read the server never answers, for the watchdog. */
	long n = pread(s->fd[0], addr, s->len, s->hang ? FUSE_HANG_OFFSET : 0);

	path_report(s, r, n, errno);
}

static void fuse_write_call(struct kpath_state *s, void *addr,
			    struct uafault_run *r)
{
	long n = pwrite(s->fd[0], addr, s->len, 0);

	path_report(s, r, n, errno);
}

/* A path through a mount of its own, /tmp/uafault-fuse-<op>. */
#define FUSE_PATH(op, dir, ready, fn)					\
	{ .name = "fuse_direct_" op, .flags = dir | UAFAULT_TF_PIN,	\
	  .result = UAFAULT_RES_PAGES, .open = fuse_open,		\
	  .prepare = ready, .call = fn, .close = fuse_close,		\
	  .data = "/tmp/uafault-fuse-" op }

static const struct kpath fuse_table[] = {
	FUSE_PATH("read", UAFAULT_TF_WRITE, fuse_fill, fuse_read_call),
	FUSE_PATH("write", UAFAULT_TF_READ, fuse_clear, fuse_write_call),
};

const struct kpath_family fuse_paths = PATH_FAMILY(fuse_table, "CONFIG_FUSE_FS");
