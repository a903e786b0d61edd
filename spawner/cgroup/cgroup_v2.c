/*
 * cgroup v2 (unified). The subtree is supd's own cgroup; supd moves itself into the leaf
 * "supd" so that the no-internal-process rule lets the units be its siblings (as the
 * machine's init, the root is the subtree and supd stays there). Events (OOM kills, the
 * populated flag) come from inotify on memory.events and cgroup.events: no timer.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "cgroup_private.h"

static int subfd = -1;
static char *subdir;
static bool in_leaf;	  /* supd moved itself into SUBTREE/supd */
static char enabled[256]; /* controllers supd enabled in the subtree: " +cpu +memory ..." */

struct cgroup {
	char *name;
	int fd;
	int ifd;      /* inotify: memory.events, cgroup.events */
	bool applied; /* limits were written: unset ones must be reset from now on */
	int devfd;    /* the device program attached, or -1 */
	uint64_t oom_kills;
};

/* word is one of the space-separated words of list */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static int v2_init(const char *leaf, struct sup_error **err)
{
	_cleanup_free_ char *mnt = NULL, *root = NULL, *self = NULL;
	static const char *const ctrls[] = {"cpu", "cpuset", "memory", "pids", "io"};
	char avail[512], before[512];

	if (cg_find_mount(NULL, &mnt, &root) < 0)
		return sup_error_set(err, errno, "cgroup v2: no cgroup2 mount");
	self = cg_self_path("");
	if (!self)
		return sup_error_set(err, errno, "cgroup v2: cannot read /proc/self/cgroup");
	subdir = leaf ? cg_dir_of(mnt, root, self) : strdup(mnt);
	if (!subdir)
		return sup_error_set(err, ENOMEM, "cgroup v2");
	subfd = open(subdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (subfd < 0)
		return sup_error_set(err, errno, "cgroup v2: open %s", subdir);
	if (leaf) {
		/* no internal processes: supd goes into a leaf of its own */
		if (mkdirat(subfd, "supd", 0755) < 0 && errno != EEXIST)
			return sup_error_set(err, errno, "cgroup v2: create %s/supd", subdir);
		int fd = openat(subfd, "supd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || cg_write(fd, "cgroup.procs", "%d", (int)getpid()) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return sup_error_set(err, e, "cgroup v2: move supd into %s/supd", subdir);
		}
		close(fd);
		in_leaf = true;
	}
	if (cg_read(subfd, "cgroup.subtree_control", before, sizeof(before)) < 0)
		before[0] = '\0';
	if (cg_read(subfd, "cgroup.controllers", avail, sizeof(avail)) < 0)
		avail[0] = '\0';
	for (size_t i = 0; i < SUP_ARRAY_SIZE(ctrls); i++) {
		char word[16];
		snprintf(word, sizeof(word), "%s", ctrls[i]);
		/* whole words of the space-separated list */
		for (char *p = avail; (p = strstr(p, word)); p += strlen(word))
			if ((p == avail || p[-1] == ' ') &&
			    (p[strlen(word)] == ' ' || p[strlen(word)] == '\n' ||
			     p[strlen(word)] == '\0')) {
				if (!has_word(before, ctrls[i]) &&
				    cg_write(subfd, "cgroup.subtree_control", "+%s", ctrls[i]) ==
					0 &&
				    strlen(enabled) + strlen(ctrls[i]) + 3 < sizeof(enabled))
					snprintf(enabled + strlen(enabled),
						 sizeof(enabled) - strlen(enabled), " -%s",
						 ctrls[i]);
				break;
			}
	}
	return 0;
}

/*
 * supd leaves (not as the machine's init): give the cgroup back as it found it — the
 * controllers it enabled disabled again, itself back in it, its "supd" leaf gone. Only
 * when no unit cgroup is left (each is removed when its unit is down for good).
 */
static void v2_fini(void)
{
	char self[32];

	if (!in_leaf || subfd < 0)
		return;
	/* subtree_control can be emptied only with no child cgroup using the controllers,
	 * and only then may a process live here again */
	for (char *save = NULL, *c = strtok_r(enabled, " ", &save); c;
	     c = strtok_r(NULL, " ", &save))
		cg_write(subfd, "cgroup.subtree_control", "%s", c);
	snprintf(self, sizeof(self), "%d", (int)getpid());
	if (cg_write(subfd, "cgroup.procs", "%s", self) == 0)
		unlinkat(subfd, "supd", AT_REMOVEDIR);
}

static void v2_free(struct cgroup *cg)
{
	if (!cg)
		return;
	if (cg->fd >= 0)
		close(cg->fd);
	if (cg->ifd >= 0)
		close(cg->ifd);
	if (cg->devfd >= 0)
		close(cg->devfd); /* it stays attached as long as the cgroup is there */
	free(cg->name);
	free(cg);
}

static int v2_kill_begin(struct cgroup *cg);
static int v2_kill_step(struct cgroup *cg, bool force);
static int v2_is_empty(struct cgroup *cg);

/* Watch memory.events and cgroup.events of the unit's cgroup: OOM kills, populated. */
static void watch_events(struct cgroup *cg)
{
	char path[PATH_MAX], buf[512];

	cg->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (cg->ifd >= 0) {
		snprintf(path, sizeof(path), "%s/%s/memory.events", subdir, cg->name);
		inotify_add_watch(cg->ifd, path, IN_MODIFY);
		snprintf(path, sizeof(path), "%s/%s/cgroup.events", subdir, cg->name);
		inotify_add_watch(cg->ifd, path, IN_MODIFY);
	}
	if (cg_read(cg->fd, "memory.events", buf, sizeof(buf)) > 0) {
		uint64_t k = cg_keyed(buf, "oom_kill");
		cg->oom_kills = k == CG_NA ? 0 : k;
	}
}

/* SUBTREE/path, made and opened; a directory made here is removed again if it cannot be
 * opened (out of fds): a failed create leaves nothing behind. */
static struct cgroup *make(const char *path, struct sup_error **err)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));
	bool made;

	if (!cg || !(cg->name = strdup(path))) {
		free(cg);
		sup_error_set(err, ENOMEM, "cgroup");
		return NULL;
	}
	cg->fd = cg->ifd = cg->devfd = -1;
	made = mkdirat(subfd, path, 0755) == 0;
	if (!made && errno != EEXIST) {
		sup_error_set(err, errno, "create cgroup %s/%s", subdir, path);
		v2_free(cg);
		return NULL;
	}
	cg->fd = openat(subfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0) {
		sup_error_set(err, errno, "open cgroup %s/%s", subdir, path);
		if (made)
			unlinkat(subfd, path, AT_REMOVEDIR);
		v2_free(cg);
		return NULL;
	}
	/* processes left over by a supd that went away: kill them. Never write cgroup.kill
	 * to an empty cgroup: seen here (6.18, hybrid), every process that entered it later
	 * was SIGKILLed at birth. */
	if (v2_is_empty(cg) == 0 && v2_kill_begin(cg) == 0)
		v2_kill_step(cg, true);
	return cg;
}

static struct cgroup *v2_create(const char *unit, struct sup_error **err)
{
	char name[CG_NAME_MAX];
	struct cgroup *cg;

	cg_escape(unit, name, sizeof(name));
	cg = make(name, err);
	if (cg)
		watch_events(cg);
	return cg;
}

static struct cgroup *v2_create_leaf(struct cgroup *parent, const char *leaf,
				     struct sup_error **err)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", parent->name, leaf) >= (int)sizeof(path)) {
		sup_error_set(err, ENAMETOOLONG, "cgroup %s/%s", parent->name, leaf);
		return NULL;
	}
	return make(path, err);
}

static int v2_clone_fd(struct cgroup *cg)
{
	return cg->fd;
}

static int v2_place(struct cgroup *cg, pid_t pid, struct sup_error **err)
{
	if (cg_write(cg->fd, "cgroup.procs", "%d", (int)pid) < 0)
		return sup_error_set(err, errno, "put pid %d in cgroup %s/%s", (int)pid, subdir,
				     cg->name);
	return 0;
}

static void wr(int fd, const char *file, const char *val, cg_warn_fn warn, void *ctx)
{
	if (cg_write(fd, file, "%s", val) == 0)
		return;
	if (errno == ENOENT &&
	    (!strcmp(val, "max") || !strcmp(val, "100") || !strcmp(val, "max 100000")))
		return; /* a default for a controller that is not there: nothing lost */
	if (errno == ENOENT)
		warn(ctx, "cgroup v2: %s: controller not enabled; not applied", file);
	else
		warn(ctx, "cgroup v2: write '%s' to %s: %s", val, file, strerror(errno));
}

static void size_or_max(char *v, size_t n, uint64_t x)
{
	if (x == UNIT_RES_UNSET || x == SIZE_INFINITY)
		snprintf(v, n, "max");
	else
		snprintf(v, n, "%llu", (unsigned long long)x);
}

static void io_max(int fd, const char *key, const char *what, const struct unit_io_limits *list,
		   cg_warn_fn warn, void *ctx)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct unit_io_limit *l = &list->v[i];
		unsigned maj, min;
		char val[96];

		if (cg_device_of(l->path, &maj, &min) < 0) {
			warn(ctx, "%s=%s: %s", key, l->path, strerror(errno));
			continue;
		}
		if (l->bytes == SIZE_INFINITY)
			snprintf(val, sizeof(val), "%u:%u %s=max", maj, min, what);
		else
			snprintf(val, sizeof(val), "%u:%u %s=%llu", maj, min, what,
				 (unsigned long long)l->bytes);
		errno = 0;
		if (cg_write(fd, "io.max", "%s", val) < 0)
			warn(ctx, "%s=: write '%s' to io.max: %s", key, val, strerror(errno));
	}
}

static void v2_apply(struct cgroup *cg, const struct unit_resources *r, cg_warn_fn warn, void *ctx)
{
	/* a new cgroup has the kernel's defaults: unset figures are written only to undo
	 * earlier ones (a reload) */
	bool fresh = !cg->applied;
	char v[64];

	cg->applied = true;
	errno = 0;
	if (fresh && !r->cpu_weight && !r->cpu_quota_pct && !r->cpu_set &&
	    r->memory_max == UNIT_RES_UNSET && r->memory_high == UNIT_RES_UNSET &&
	    r->memory_swap_max == UNIT_RES_UNSET && r->pids_max == UNIT_RES_UNSET &&
	    !r->io_weight && !r->io_read_bw.n && !r->io_write_bw.n)
		return;
	if (r->cpu_weight || cg_read_u64(cg->fd, "cpu.weight") != CG_NA) {
		snprintf(v, sizeof(v), "%u", r->cpu_weight ? r->cpu_weight : 100);
		wr(cg->fd, "cpu.weight", v, warn, ctx);
		if (r->cpu_quota_pct)
			snprintf(v, sizeof(v), "%llu 100000", r->cpu_quota_pct * 1000ULL);
		else
			snprintf(v, sizeof(v), "max 100000");
		wr(cg->fd, "cpu.max", v, warn, ctx);
	}
	if (r->cpu_set)
		wr(cg->fd, "cpuset.cpus", r->cpu_set, warn, ctx);
	size_or_max(v, sizeof(v), r->memory_max);
	wr(cg->fd, "memory.max", v, warn, ctx);
	size_or_max(v, sizeof(v), r->memory_high);
	wr(cg->fd, "memory.high", v, warn, ctx);
	if (r->memory_swap_max != UNIT_RES_UNSET) {
		size_or_max(v, sizeof(v), r->memory_swap_max);
		wr(cg->fd, "memory.swap.max", v, warn, ctx);
	}
	size_or_max(v, sizeof(v), r->pids_max);
	wr(cg->fd, "pids.max", v, warn, ctx);
	if (r->io_weight) {
		snprintf(v, sizeof(v), "default %u", r->io_weight);
		if (cg_write(cg->fd, "io.weight", "%s", v) < 0 &&
		    cg_write(cg->fd, "io.bfq.weight", "%u", r->io_weight) < 0)
			warn(ctx,
			     "IOWeight=: no io.weight (needs an I/O scheduler with weights); not "
			     "applied");
	}
	io_max(cg->fd, "IOReadBandwidthMax", "rbps", &r->io_read_bw, warn, ctx);
	io_max(cg->fd, "IOWriteBandwidthMax", "wbps", &r->io_write_bw, warn, ctx);
}

static int v2_devices(struct cgroup *cg, const struct cg_device *list, size_t n,
		      struct sup_error **err)
{
	return cg_bpf_devices(cg->fd, &cg->devfd, list, n, err);
}

static void io_stat(int fd, struct cg_stats *st)
{
	char buf[8192];

	if (cg_read(fd, "io.stat", buf, sizeof(buf)) < 0)
		return;
	st->io_read_bytes = st->io_write_bytes = st->io_read_ops = st->io_write_ops = 0;
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		static const char *const keys[] = {"rbytes=", "wbytes=", "rios=", "wios="};
		uint64_t *out[] = {&st->io_read_bytes, &st->io_write_bytes, &st->io_read_ops,
				   &st->io_write_ops};
		char *eol = strchr(p, '\n');
		for (size_t i = 0; i < 4; i++) {
			char *k = strstr(p, keys[i]);
			if (k && (!eol || k < eol))
				*out[i] += strtoull(k + strlen(keys[i]), NULL, 10);
		}
	}
}

static void v2_stats(struct cgroup *cg, struct cg_stats *st)
{
	char buf[1024];

	memset(st, 0xff, sizeof(*st));
	if (cg_read(cg->fd, "cpu.stat", buf, sizeof(buf)) > 0) {
		st->cpu_usage_usec = cg_keyed(buf, "usage_usec");
		st->cpu_user_usec = cg_keyed(buf, "user_usec");
		st->cpu_system_usec = cg_keyed(buf, "system_usec");
		st->cpu_throttled_periods = cg_keyed(buf, "nr_throttled");
		st->cpu_throttled_usec = cg_keyed(buf, "throttled_usec");
	}
	st->memory_current = cg_read_u64(cg->fd, "memory.current");
	st->memory_peak = cg_read_u64(cg->fd, "memory.peak");
	st->pids_current = cg_read_u64(cg->fd, "pids.current");
	io_stat(cg->fd, st);
	if (cg_read(cg->fd, "memory.events", buf, sizeof(buf)) > 0) {
		uint64_t k = cg_keyed(buf, "oom_kill");
		if (k != CG_NA && k > cg->oom_kills)
			cg->oom_kills = k;
		st->oom_kills = cg->oom_kills;
	}
	cg_read_psi(cg->fd, "cpu.pressure", &st->cpu_some_usec, &st->cpu_full_usec);
	cg_read_psi(cg->fd, "memory.pressure", &st->memory_some_usec, &st->memory_full_usec);
	cg_read_psi(cg->fd, "io.pressure", &st->io_some_usec, &st->io_full_usec);
}

static int v2_signal(struct cgroup *cg, int sig)
{
	return cg_signal_procs(cg->fd, sig);
}

static void kill_passes(int fd)
{
	for (int i = 0; i < 8 && cg_signal_procs(fd, SIGKILL) > 0; i++)
		;
}

static int v2_kill_step(struct cgroup *cg, bool force)
{
	char buf[64];

	if (!force && !(cg_read(cg->fd, "cgroup.events", buf, sizeof(buf)) > 0 &&
			cg_keyed(buf, "frozen") == 1))
		return 0;
	cg_signal_procs(cg->fd, SIGKILL);
	cg_write(cg->fd, "cgroup.freeze", "0");
	if (force)
		kill_passes(cg->fd);
	return 1;
}

/* cgroup.kill (5.14) kills everything at once; before it, freeze, kill each, thaw, with the
 * freeze polled by the caller (kill_step). */
static int v2_kill_begin(struct cgroup *cg)
{
	if (cg_write(cg->fd, "cgroup.kill", "1") == 0)
		return 1;
	if (cg_write(cg->fd, "cgroup.freeze", "1") == 0)
		return v2_kill_step(cg, false);
	kill_passes(cg->fd);
	return 1;
}

static pid_t v2_only_pid(struct cgroup *cg)
{
	return cg_only_pid(cg->fd);
}

static bool v2_has_pid(struct cgroup *cg, pid_t pid)
{
	return cg_tree_has_pid(cg->fd, pid);
}

static int v2_is_empty(struct cgroup *cg)
{
	char buf[256];

	if (cg_read(cg->fd, "cgroup.events", buf, sizeof(buf)) < 0)
		return -1;
	return cg_keyed(buf, "populated") == 0;
}

static int v2_remove(struct cgroup *cg)
{
	return cg_remove_tree(subfd, cg->name);
}

static int v2_event_fd(struct cgroup *cg)
{
	return cg->ifd;
}

static uint64_t v2_event_read(struct cgroup *cg)
{
	char ev[4096], buf[512];

	while (cg->ifd >= 0 && read(cg->ifd, ev, sizeof(ev)) > 0)
		;
	if (cg_read(cg->fd, "memory.events", buf, sizeof(buf)) > 0) {
		uint64_t k = cg_keyed(buf, "oom_kill");
		if (k != CG_NA && k > cg->oom_kills)
			cg->oom_kills = k;
	}
	return cg->oom_kills;
}

const struct cg_backend cg_backend_v2 = {
    .name = "v2",
    .init = v2_init,
    .create = v2_create,
    .create_leaf = v2_create_leaf,
    .clone_fd = v2_clone_fd,
    .place = v2_place,
    .apply = v2_apply,
    .devices = v2_devices,
    .stats = v2_stats,
    .signal = v2_signal,
    .kill_begin = v2_kill_begin,
    .kill_step = v2_kill_step,
    .only_pid = v2_only_pid,
    .has_pid = v2_has_pid,
    .is_empty = v2_is_empty,
    .remove = v2_remove,
    .event_fd = v2_event_fd,
    .event_read = v2_event_read,
    .free = v2_free,
    .fini = v2_fini,
};
