// SPDX-License-Identifier: GPL-2.0
/*
 * fuse with FOPEN_DIRECT_IO (fs/fuse/file.c, fuse_direct_io()), served by
 * a child of the agent: read() and write() of its one file pin the
 * caller's range with iov_iter_extract_pages() (FOLL_PIN), page by page,
 * up to the first page that faults, and the request carries what was
 * pinned; a request with nothing pinned ends the call, so what moved is
 * the whole pages before the fault (UAFAULT_RES_PAGES).  The server is a
 * process of its own, so no fault planted in the agent reaches it; the
 * file's bytes are s->buf itself, shared with it.
 *
 * Each path runs twice, with the same contract and oracles: its server
 * reads requests with read() and answers with writev(), or serves by
 * splice() as libfuse can (FUSE_CAP_SPLICE_READ, on by default for a
 * file system with a write_buf() handler; FUSE_CAP_SPLICE_WRITE and
 * _MOVE, which a file system asks for) through fs/fuse/dev.c's
 * fuse_dev_splice_read(), which builds each request in the buffers of a
 * pipe the server reads it out of, and fuse_dev_splice_write(), which
 * takes each reply out of a second pipe it was vmspliced and written
 * into (SPLICE_F_MOVE).
 *
 * --misuse-paths, besides the extra byte every path reports: a splice
 * server keeps each request in its pipe past the call, until the next
 * request, the server's side of CVE-2022-1011 (0c4bcfdecb1a, "fuse: fix
 * pipe buffer lifetime for direct_io").  Before that fix a direct
 * write's request went into the pipe as the caller's own pages
 * (fuse_ref_page()), so a kept pipe held them after the call returned
 * and the server read what the caller wrote there next: [refs] would say
 * "a reference kept".  Since it, fuse_copy_page() copies the pages of a
 * request with args->user_pages into pipe pages of its own, and a direct
 * read's reply is copied into the caller's pages (SPLICE_F_MOVE moves a
 * pipe's page only into a buffered read's page cache,
 * args->page_replace).  On a fixed kernel the kept pipe holds none of
 * the caller's pages, so no oracle can see the keeping: what the misuse
 * proves is the fix, [refs] silent on fuse_direct_write_splice (the path
 * oracles layer checks it; a read's request carries no page of the
 * caller's on any kernel).  [quiesce] could not see it on any kernel: it
 * sees writes to the range after the return, and the server only reads
 * what it keeps.  So that the silence means something, the agent checks
 * after each such call that the server did keep its request
 * (fuse_done(): MISUSE_NOT_KEPT_LINE and a failed call if not).
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
/*
 * The room of a splice server's pipes: splice() reads no more than its
 * pipe has room for (do_splice_read()), and fuse_dev_do_read() refuses
 * room for less than a write request's headers and max_write, more than
 * a default pipe's 16 pages (libfuse grows its pipe the same way).
 */
#define FUSE_PIPE_SIZE	(2 * FUSE_MAX_WRITE)

/* A path's mount point, and whether its server serves by splice(). */
struct fuse_desc {
	const char *dir;
	bool splice;
};

/* What the agent and a path's server share (MAP_SHARED). */
struct fuse_ctl {
	bool misuse;		/* --misuse-paths, set before each call */
	size_t kept;		/* the server: bytes of a request it kept */
};

/* The agent's end of a path's server. */
struct fuse_server {
	pid_t pid;
	int dev;		/* /dev/fuse, until the server has it */
	struct fuse_ctl *ctl;
};

/* The server's end of its device. */
struct fuse_chan {
	int dev;
	bool splice;
	int in[2];		/* splice: the requests' pipe */
	int peek[2];		/* splice, --misuse-paths: a request, teed */
	int out[2];		/* splice: the replies' pipe */
	size_t kept;		/* bytes of the last request left in @in */
	struct fuse_ctl *ctl;
};

/* Reads @len bytes out of a pipe that holds them. */
static bool fuse_pipe_take(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, (char *)buf + got, len - got)) > 0)
		got += n;
	return got == len;
}

/*
 * A reply by splice, as libfuse sends one (fuse_send_data_iov()): the
 * header vmspliced into the replies' pipe, the body written into it, the
 * pipe spliced into the device with SPLICE_F_MOVE.  The device takes
 * what it reads out of the pipe even when it refuses the reply.
 */
static ssize_t splice_reply(const struct fuse_chan *ch,
			    const struct iovec *iov)
{
	size_t len = iov[0].iov_len + iov[1].iov_len;

	if (vmsplice(ch->out[1], &iov[0], 1, 0) != (ssize_t)iov[0].iov_len ||
	    (iov[1].iov_len && write(ch->out[1], iov[1].iov_base,
				     iov[1].iov_len) != (ssize_t)iov[1].iov_len))
		_exit(EXIT_FAILURE);
	return splice(ch->out[0], NULL, ch->dev, NULL, len, SPLICE_F_MOVE);
}

/* One reply: the header, then @len bytes of @body (an error: none). */
static void reply(const struct fuse_chan *ch, __u64 unique, int err,
		  const void *body, size_t len)
{
	struct fuse_out_header out = {
		.len = sizeof(out) + (err ? 0 : len),
		.error = err, .unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = (void *)body, .iov_len = err ? 0 : len },
	};
	ssize_t n = ch->splice ? splice_reply(ch, iov) : writev(ch->dev, iov, 2);

	if (n < 0 && errno != ENOENT)	/* ENOENT: interrupted */
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

static void serve_lookup(const struct fuse_chan *ch,
			 const struct fuse_in_header *in, const char *name)
{
	struct fuse_entry_out entry = {
		.nodeid = FUSE_NODE, .generation = 1,
		.entry_valid = FUSE_VALID, .attr_valid = FUSE_VALID,
	};

	if (in->nodeid != FUSE_ROOT_ID || strcmp(name, "f")) {
		reply(ch, in->unique, -ENOENT, NULL, 0);
		return;
	}
	node_attr(FUSE_NODE, &entry.attr);
	reply(ch, in->unique, 0, &entry, sizeof(entry));
}

static void serve_read(const struct fuse_chan *ch,
		       const struct fuse_in_header *in,
		       const struct fuse_read_in *rd, const unsigned char *file)
{
	size_t len;

	if (rd->offset == FUSE_HANG_OFFSET)
		return;		/* never answered: see fuse_read_call() */
	len = rd->offset >= PATH_BUF_LEN ? 0 : PATH_BUF_LEN - rd->offset;
	if (len > rd->size)
		len = rd->size;
	reply(ch, in->unique, 0, file + rd->offset, len);
}

static void serve_write(const struct fuse_chan *ch,
			const struct fuse_in_header *in,
			const struct fuse_write_in *wr, unsigned char *file)
{
	struct fuse_write_out out = { .size = wr->size };

	if (wr->offset > PATH_BUF_LEN || wr->size > PATH_BUF_LEN - wr->offset) {
		reply(ch, in->unique, -EFBIG, NULL, 0);
		return;
	}
	memcpy(file + wr->offset, wr + 1, wr->size);
	reply(ch, in->unique, 0, &out, sizeof(out));
}

/* Everything but INIT, LOOKUP and I/O: an attribute, a nod, or refused. */
static void serve_other(const struct fuse_chan *ch,
			const struct fuse_in_header *in)
{
	struct fuse_attr_out attr = { .attr_valid = FUSE_VALID };
	struct fuse_open_out open_out = {
		.fh = 1, .open_flags = FOPEN_DIRECT_IO,
	};

	switch (in->opcode) {
	case FUSE_GETATTR:
		node_attr(in->nodeid, &attr.attr);
		reply(ch, in->unique, 0, &attr, sizeof(attr));
		break;
	case FUSE_OPEN:
		reply(ch, in->unique, 0, &open_out, sizeof(open_out));
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_FSYNC:
		reply(ch, in->unique, 0, NULL, 0);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;	/* no reply is expected */
	default:
		reply(ch, in->unique, -EOPNOTSUPP, NULL, 0);
		break;
	}
}

/*
 * The next request, into @req: read() from the device, or spliced from
 * it into the requests' pipe (with SPLICE_F_MOVE, which libfuse does not
 * pass and fuse_dev_splice_read() ignores) and read out of that.
 * --misuse-paths: the request is read through a tee and stays in its
 * pipe until the next one; the server says how much it keeps before it
 * replies, so the agent sees it when the call returns.
 */
static ssize_t receive(struct fuse_chan *ch, void *req, size_t size)
{
	size_t kept = 0;
	ssize_t n;
	int from;

	if (!ch->splice)
		return read(ch->dev, req, size);
	if (ch->kept && !fuse_pipe_take(ch->in[0], req, ch->kept))
		_exit(EXIT_FAILURE);
	ch->kept = 0;
	n = splice(ch->dev, NULL, ch->in[1], NULL, size, SPLICE_F_MOVE);
	if (n <= 0)
		return n;
	from = ch->in[0];
	if (__atomic_load_n(&ch->ctl->misuse, __ATOMIC_ACQUIRE)) {
		if (tee(ch->in[0], ch->peek[1], n, 0) != n)
			_exit(EXIT_FAILURE);
		kept = ch->kept = n;
		from = ch->peek[0];
	}
	__atomic_store_n(&ch->ctl->kept, kept, __ATOMIC_RELEASE);
	if (!fuse_pipe_take(from, req, n))
		_exit(EXIT_FAILURE);
	return n;
}

/* A pipe of FUSE_PIPE_SIZE, or false. */
static bool chan_pipe(int *fd)
{
	return !pipe2(fd, O_CLOEXEC) &&
	       fcntl(fd[0], F_SETPIPE_SZ, FUSE_PIPE_SIZE) >= FUSE_PIPE_SIZE;
}

/* A splice server's pipes, or false (a server reading needs none). */
static bool chan_open(struct fuse_chan *ch)
{
	return !ch->splice || (chan_pipe(ch->in) && chan_pipe(ch->peek) &&
			       chan_pipe(ch->out));
}

/* The server's loop: until the file system is unmounted (ENODEV). */
static void serve(struct fuse_chan *ch, unsigned char *file)
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
		n = receive(ch, req, sizeof(req));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;	/* ENOENT: a request interrupted */
		if (n < (ssize_t)sizeof(*in))
			return;
		switch (in->opcode) {
		case FUSE_INIT:
			reply(ch, in->unique, 0, &init, sizeof(init));
			break;
		case FUSE_LOOKUP:
			serve_lookup(ch, in, arg);
			break;
		case FUSE_READ:
			serve_read(ch, in, arg, file);
			break;
		case FUSE_WRITE:
			serve_write(ch, in, arg, file);
			break;
		default:
			serve_other(ch, in);
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
	munmap(srv->ctl, sizeof(*srv->ctl));
	free(srv);
}

/* Mounts a fuse file system on @d's dir, served by a child, in @srv. */
static int fuse_mount(struct fuse_server *srv, const struct fuse_desc *d,
		      unsigned char *file)
{
	struct fuse_chan ch = { .dev = 3, .splice = d->splice, .ctl = srv->ctl };
	char opts[96];

	srv->pid = -1;
	srv->dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (srv->dev < 0)
		return -errno;
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", srv->dev);
	if ((mkdir(d->dir, 0755) && errno != EEXIST) ||
	    mount("uafault", d->dir, "fuse", MS_NOSUID | MS_NODEV, opts))
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
		if (dup2(srv->dev, 3) < 0 || close_range(4, ~0U, 0) ||
		    !chan_open(&ch))
			_exit(EXIT_FAILURE);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(&ch, file);
		_exit(EXIT_SUCCESS);
	}
	/* The server's end only: its death aborts the connection. */
	close(srv->dev);
	srv->dev = -1;
	watch_server(srv->pid);
	return 0;
}

/* Anonymous memory shared with a server to come, or NULL. */
static void *fuse_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A fuse file system of the path's own (s->desc: its mount point, how it
 * is served) and its file open (fd[0]); the file's bytes replace s->buf,
 * shared with the server.
 */
static int fuse_open(struct kpath_state *s)
{
	const struct fuse_desc *d = s->desc;
	struct fuse_server *srv = calloc(1, sizeof(*srv));
	unsigned char *file = fuse_shared(PATH_BUF_LEN);
	char path[64];
	int err = -ENOMEM;

	if (!srv || !file)
		goto free;
	srv->ctl = fuse_shared(sizeof(*srv->ctl));
	if (!srv->ctl)
		goto free;
	err = fuse_mount(srv, d, file);
	snprintf(path, sizeof(path), "%s/f", d->dir);
	s->fd[0] = err ? -1 : open(path, O_RDWR | O_CLOEXEC);
	if (!err && s->fd[0] < 0)
		err = -errno;
	if (err)
		goto unmount;
	free(s->buf);
	s->buf = file;
	s->priv = srv;
	return 0;
unmount:
	fuse_unmount(srv, d->dir);	/* and frees srv */
	munmap(file, PATH_BUF_LEN);
	return err;
free:
	free(srv);
	if (file)
		munmap(file, PATH_BUF_LEN);
	return err;
}

/* Gives back what fuse_open() took; close_path() closes fd[0] after. */
static void fuse_close(struct kpath_state *s)
{
	const struct fuse_desc *d = s->desc;

	if (s->fd[0] >= 0)	/* first: the mount goes when it is unused */
		close(s->fd[0]);
	s->fd[0] = -1;
	fuse_unmount(s->priv, d->dir);
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

/* Tells the server the call about to be made: --misuse-paths or not. */
static void fuse_tell(struct kpath_state *s)
{
	struct fuse_server *srv = s->priv;

	__atomic_store_n(&srv->ctl->kept, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&srv->ctl->misuse, s->misuse, __ATOMIC_RELEASE);
}

/*
 * Reports a call that moved @n bytes (-1: failed with @err).  Under
 * --misuse-paths a splice server must have kept the call's request in
 * its pipe: one that moved bytes sent one, and a pipe kept empty proves
 * nothing about the pages in it (see the top of this file).
 */
static void fuse_done(struct kpath_state *s, long n, int err,
		      struct uafault_run *r)
{
	const struct fuse_desc *d = s->desc;
	struct fuse_server *srv = s->priv;

	if (s->misuse && d->splice && n > 0 &&
	    !__atomic_load_n(&srv->ctl->kept, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, MISUSE_NOT_KEPT_LINE, d->dir);
		n = -1;
		err = EPROTO;
	}
	path_report(s, r, n, err);
}

static void fuse_read_call(struct kpath_state *s, void *addr,
			   struct uafault_run *r)
{
	long n;

	fuse_tell(s);
	/* --hang-paths: a read the server never answers, for the watchdog. */
	n = pread(s->fd[0], addr, s->len, s->hang ? FUSE_HANG_OFFSET : 0);
	fuse_done(s, n, errno, r);
}

static void fuse_write_call(struct kpath_state *s, void *addr,
			    struct uafault_run *r)
{
	long n;

	fuse_tell(s);
	n = pwrite(s->fd[0], addr, s->len, 0);
	fuse_done(s, n, errno, r);
}

/*
 * A path through a mount of its own, /tmp/uafault-fuse-<op><how>: @how
 * is "" for a server that reads and writes the device, "_splice" for one
 * that splices (@by_splice).  @flow: which way the range's bytes go.
 */
#define FUSE_PATH(op, how, by_splice, flow, ready, fn)			\
	{ .name = "fuse_direct_" op how,				\
	  .flags = flow | UAFAULT_TF_PIN, .result = UAFAULT_RES_PAGES,	\
	  .open = fuse_open, .prepare = ready, .call = fn,		\
	  .close = fuse_close,						\
	  .data = &(const struct fuse_desc){				\
		.dir = "/tmp/uafault-fuse-" op how, .splice = by_splice } }

static const struct kpath fuse_table[] = {
	FUSE_PATH("read", "", false, UAFAULT_TF_WRITE, fuse_fill,
		  fuse_read_call),
	FUSE_PATH("write", "", false, UAFAULT_TF_READ, fuse_clear,
		  fuse_write_call),
	FUSE_PATH("read", "_splice", true, UAFAULT_TF_WRITE, fuse_fill,
		  fuse_read_call),
	FUSE_PATH("write", "_splice", true, UAFAULT_TF_READ, fuse_clear,
		  fuse_write_call),
};

const struct kpath_family fuse_paths = PATH_FAMILY(fuse_table, "CONFIG_FUSE_FS");
