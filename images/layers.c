/*
 * Unpacked layers, kept by diff_id: layers/<hex>/root (the tree) and layers/<hex>/implicit
 * (directories the layer needed but did not list). A layer is unpacked into .tmp-<hex> by the
 * sandboxed unpacker, checked against its diff_id, synced with one syncfs, and renamed into
 * place: a layer directory that exists is complete. A per-layer lock file serialises
 * concurrent pulls of the same layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "images.h"
#include "unpack.h"

/* -2: another process holds it (only when !wait) */
static int lock_layer(struct img_store *s, const char *hex, bool wait, struct sup_error **err)
{
	char name[80];
	int fd;

	snprintf(name, sizeof(name), ".lock-%s", hex);
	fd = openat(s->layers, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sup_error_set(err, errno, "layer lock %s", hex);
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		return e == EWOULDBLOCK ? -2 : sup_error_set(err, e, "layer lock %s", hex);
	}
	return fd;
}

int img_layer_link(struct img_store *s, const char *diff_id, struct sup_error **err)
{
	char link[20], target[96], tmp[40];
	const char *hex = diff_id + 7;

	snprintf(link, sizeof(link), "%.16s", hex);
	snprintf(target, sizeof(target), "../layers/%s/root", hex);
	if (faccessat(s->links, link, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), ".%s.%d", link, (int)getpid());
	unlinkat(s->links, tmp, 0);
	if (symlinkat(target, s->links, tmp) < 0 || renameat(s->links, tmp, s->links, link) < 0)
		return sup_error_set(err, errno, "short link l/%s", link);
	return 0;
}

static int write_implicit(int dirfd, const struct strv *implicit, struct sup_error **err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, "implicit", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return sup_error_set(err, errno, "layer metadata");
	for (size_t i = 0; i < implicit->n; i++)
		if (write(fd, implicit->v[i], strlen(implicit->v[i]) + 1) < 0)
			return sup_error_set(err, errno, "layer metadata");
	return 0;
}

enum job_state { JOB_WAITING, JOB_BUSY, JOB_RUNNING, JOB_DONE };

/* One layer's unpack, from taking its lock to renaming it into place. */
struct layer_job {
	const struct img_desc *blob;
	const char *diff_id;
	enum job_state state;
	bool was_there;
	int lock, dir, result_fd;
	pid_t pid;
	char tmp[80];
	struct img_unpack_result res;
};

static int job_start(struct img_store *s, struct layer_job *j, const struct img_unpack_opts *o,
		     struct sup_error **err)
{
	_cleanup_close_ int root = -1, bfd = -1;

	snprintf(j->tmp, sizeof(j->tmp), ".tmp-%s", j->diff_id + 7);
	/* left by an unpack that was killed: we hold the lock, so it is nobody's */
	if (img_store_remove_tree(s, s->layers, j->tmp, err) < 0)
		return -1;
	if (mkdirat(s->layers, j->tmp, 0700) < 0)
		return sup_error_set(err, errno, "mkdir layers/%s", j->tmp);
	j->dir = openat(s->layers, j->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (j->dir < 0 || mkdirat(j->dir, "root", 0755) < 0)
		return sup_error_set(err, errno, "mkdir layers/%s/root", j->tmp);
	root = openat(j->dir, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	bfd = img_store_open_blob(s, j->blob->digest, err);
	if (root < 0 || bfd < 0)
		return *err ? -1 : sup_error_set(err, errno, "open layers/%s/root", j->tmp);
	if (img_unpack_spawn(bfd, root, o, &j->pid, &j->result_fd, err) < 0)
		return -1;
	j->state = JOB_RUNNING;
	return 0;
}

/* Take the layer's lock and start its unpacker, unless the layer is there already. */
static int job_begin(struct img_store *s, struct layer_job *j, const struct img_unpack_opts *o,
		     bool wait, struct sup_error **err)
{
	j->dir = j->result_fd = -1;
	if (!img_digest_valid(j->diff_id))
		return sup_error_set(err, 0, "invalid diff_id \"%s\"", j->diff_id);
	if (!img_store_has_layer(s, j->diff_id)) {
		j->lock = lock_layer(s, j->diff_id + 7, wait, err);
		if (j->lock == -2) {
			j->state = JOB_BUSY;
			return 0;
		}
		if (j->lock < 0)
			return -1;
		if (!img_store_has_layer(s, j->diff_id))
			return job_start(s, j, o, err);
		close(j->lock);
		j->lock = -1;
	}
	j->state = JOB_DONE;
	j->was_there = true;
	return img_layer_link(s, j->diff_id, err);
}

static int job_check(struct img_store *s, struct layer_job *j, struct sup_error **err)
{
	if (img_unpack_collect(j->pid, j->result_fd, &j->res, err) < 0)
		return sup_error_wrap(err, "layer %s", j->blob->digest);
	if (strcmp(j->res.diff_id, j->diff_id) != 0)
		return sup_error_set(err, 0,
				     "layer %s: uncompressed digest %s, but the image config says "
				     "%s: nothing kept",
				     j->blob->digest, j->res.diff_id, j->diff_id);
	if (write_implicit(j->dir, &j->res.implicit, err) < 0)
		return -1;
	/* one syncfs for the whole layer instead of an fsync per file */
	if (syncfs(j->dir) < 0)
		return sup_error_set(err, errno, "syncfs layers/%s", j->tmp);
	if (renameat(s->layers, j->tmp, s->layers, j->diff_id + 7) < 0)
		return sup_error_set(err, errno, "commit layer %s", j->diff_id);
	fsync(s->layers);
	return img_layer_link(s, j->diff_id, err);
}

/* Collect a running unpacker; on any failure nothing of the layer is kept. */
static int job_end(struct img_store *s, struct layer_job *j, struct sup_error **err)
{
	int r = job_check(s, j, err);

	if (r < 0) {
		struct sup_error *e2 = NULL;
		img_store_remove_tree(s, s->layers, j->tmp, &e2);
		sup_error_free(e2);
	}
	close(j->dir);
	close(j->lock);
	j->dir = j->lock = j->result_fd = -1;
	j->state = JOB_DONE;
	return r;
}

static void job_abort(struct img_store *s, struct layer_job *j)
{
	struct sup_error *e = NULL;

	if (j->state == JOB_RUNNING) {
		kill(j->pid, SIGKILL);
		job_end(s, j, &e);
		sup_error_free(e);
	}
	img_unpack_result_free(&j->res);
}

static void emit_layer(const struct img_ops *ops, const struct layer_job *j, const char *state)
{
	img_emit(ops, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "type", "progress", "digest",
				j->blob->digest, "state", state, "diff_id", j->diff_id, "bytes",
				(json_int_t)j->res.bytes, "entries", (json_int_t)j->res.entries,
				"skipped_devices", (json_int_t)j->res.skipped_devices));
}

struct img_unpacker {
	struct img_store *s;
	struct img_unpack_opts o;
	const struct img_ops *ops;
	struct layer_job *jobs;
	size_t n, cap, next; /* jobs added; the next one to start */
	unsigned parallel, running;
};

struct img_unpacker *img_unpacker_new(struct img_store *s, const struct img_ops *ops, size_t cap,
				      struct sup_error **err)
{
	struct img_unpacker *u = calloc(1, sizeof(*u));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!u || !(u->jobs = calloc(cap ? cap : 1, sizeof(*u->jobs)))) {
		free(u);
		sup_error_set(err, ENOMEM, "layer unpack");
		return NULL;
	}
	u->s = s;
	u->ops = ops;
	u->cap = cap;
	u->o = (struct img_unpack_opts){.max_size = ops->set->max_layer_size,
					.min_free = ops->set->min_free,
					.no_chown = geteuid() != 0};
	u->parallel = ops->set->unpack_parallel;
	if (!u->parallel)
		u->parallel = cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;
	return u;
}

static int start_queued(struct img_unpacker *u, struct sup_error **err)
{
	while (u->running < u->parallel && u->next < u->n) {
		struct layer_job *j = &u->jobs[u->next++];
		if (job_begin(u->s, j, &u->o, false, err) < 0)
			return -1;
		if (j->state == JOB_RUNNING && ++u->running)
			emit_layer(u->ops, j, "unpacking");
		else if (j->state == JOB_DONE)
			emit_layer(u->ops, j, "unpacked-before");
	}
	return 0;
}

int img_unpacker_add(struct img_unpacker *u, const struct img_desc *blob, const char *diff_id,
		     struct sup_error **err)
{
	struct layer_job *j;

	if (u->n == u->cap)
		return sup_error_set(err, EINVAL, "layer unpack: too many layers");
	j = &u->jobs[u->n++];
	j->blob = blob;
	j->diff_id = diff_id;
	j->lock = j->dir = j->result_fd = -1;
	return start_queued(u, err);
}

size_t img_unpacker_fds(struct img_unpacker *u, int *fds, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < u->n && k < max; i++)
		if (u->jobs[i].state == JOB_RUNNING)
			fds[k++] = u->jobs[i].result_fd;
	return k;
}

int img_unpacker_service(struct img_unpacker *u, int timeout_ms, struct sup_error **err)
{
	struct pollfd pfd[IMG_UNPACK_PARALLEL_MAX];
	size_t idx[IMG_UNPACK_PARALLEL_MAX], k = 0;

	for (size_t i = 0; i < u->n && k < IMG_UNPACK_PARALLEL_MAX; i++)
		if (u->jobs[i].state == JOB_RUNNING) {
			pfd[k] = (struct pollfd){.fd = u->jobs[i].result_fd, .events = POLLIN};
			idx[k++] = i;
		}
	while (k && poll(pfd, k, timeout_ms) < 0)
		if (errno != EINTR)
			return sup_error_set(err, errno, "poll unpackers");
	for (size_t i = 0; i < k; i++) {
		if (!pfd[i].revents)
			continue;
		u->running--;
		if (job_end(u->s, &u->jobs[idx[i]], err) < 0)
			return -1;
		emit_layer(u->ops, &u->jobs[idx[i]], "unpacked");
	}
	return start_queued(u, err);
}

int img_unpacker_finish(struct img_unpacker *u, struct sup_error **err)
{
	while (u->running || u->next < u->n)
		if (img_unpacker_service(u, -1, err) < 0)
			return -1;
	/* layers another process is unpacking: wait for it, holding no lock of our own */
	for (size_t i = 0; i < u->n; i++) {
		struct layer_job *j = &u->jobs[i];
		if (j->state != JOB_BUSY)
			continue;
		if (job_begin(u->s, j, &u->o, true, err) < 0 ||
		    (j->state == JOB_RUNNING && job_end(u->s, j, err) < 0))
			return -1;
		emit_layer(u->ops, j, j->was_there ? "unpacked-before" : "unpacked");
	}
	return 0;
}

void img_unpacker_free(struct img_unpacker *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		job_abort(u->s, &u->jobs[i]);
	free(u->jobs);
	free(u);
}

int img_layers_unpack(struct img_store *s, const struct img_desc *blobs,
		      const struct strv *diff_ids, const struct img_ops *ops,
		      struct sup_error **err)
{
	struct img_unpacker *u = img_unpacker_new(s, ops, diff_ids->n, err);
	int r = u ? 0 : -1;

	for (size_t i = 0; r == 0 && i < diff_ids->n; i++)
		r = img_unpacker_add(u, &blobs[i], diff_ids->v[i], err);
	if (r == 0)
		r = img_unpacker_finish(u, err);
	img_unpacker_free(u);
	return r;
}
