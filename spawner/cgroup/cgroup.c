/* Which cgroup backend, and the small file helpers both backends use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/mountinfo.h"
#include "cgroup_private.h"

static const char *const mode_names[] = {"auto", "v2", "v1", "off"};

int cg_mode_parse(const char *s, enum cg_mode *mode)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = (enum cg_mode)i;
			return 0;
		}
	return -1;
}

const char *cg_mode_name(enum cg_mode mode)
{
	return (unsigned)mode < SUP_ARRAY_SIZE(mode_names) ? mode_names[mode] : "?";
}

/* What comes before the first dot of the kernel's own files, v1 and v2. */
static const char *const kernel_prefixes[] = {
    "cgroup", "blkio",	"cpu",	"cpuacct", "cpuset",   "devices",    "freezer", "hugetlb", "io",
    "irq",    "memory", "misc", "net_cls", "net_prio", "perf_event", "pids",	"rdma",	   "dmem",
};
/* Whole names: v1's files without a dot, and supd's own leaf on v2 (cgroup_v2.c). */
static const char *const kernel_names[] = {"tasks", "notify_on_release", "release_agent", "supd"};

static bool needs_escape(const char *unit)
{
	const char *dot = strchr(unit, '.');

	if (unit[0] == '_' || unit[0] == '.')
		return true;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(kernel_names); i++)
		if (strcmp(unit, kernel_names[i]) == 0)
			return true;
	for (size_t i = 0; dot && i < SUP_ARRAY_SIZE(kernel_prefixes); i++)
		if (strlen(kernel_prefixes[i]) == (size_t)(dot - unit) &&
		    strncmp(unit, kernel_prefixes[i], (size_t)(dot - unit)) == 0)
			return true;
	return false;
}

void cg_escape(const char *unit, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", needs_escape(unit) ? "_" : "", unit);
}

int cg_write(int dirfd, const char *file, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = sup_vprintf_at(dirfd, file, fmt, ap);
	va_end(ap);
	return r;
}

ssize_t cg_read(int dirfd, const char *file, char *buf, size_t size)
{
	return sup_read_at(dirfd, file, buf, size);
}

/* Stats files kept open across reads, at most this many for the whole of supd: a stats or
 * metrics client reading the same units again pays one pread per figure, and thousands of
 * idle units hold no fd for it. */
#define CACHE_BUDGET 1024
static unsigned cache_used;

ssize_t cg_read_cached(int *fdp, int dirfd, const char *file, char *buf, size_t size)
{
	if (*fdp < 0) {
		if (cache_used >= CACHE_BUDGET)
			return cg_read(dirfd, file, buf, size);
		*fdp = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
		if (*fdp < 0)
			return cg_read(dirfd, file, buf, size); /* out of fds: uncached */
		cache_used++;
	}
	return sup_pread_all(*fdp, buf, size);
}

void cg_cache_close(int *fdp)
{
	if (*fdp < 0)
		return;
	close(*fdp);
	*fdp = -1;
	if (cache_used > 0)
		cache_used--;
}

static uint64_t parse_u64(const char *buf)
{
	char *end;
	unsigned long long v;

	if (strncmp(buf, "max", 3) == 0)
		return CG_NA;
	v = strtoull(buf, &end, 10);
	return end == buf ? CG_NA : (uint64_t)v;
}

uint64_t cg_read_u64_cached(int *fdp, int dirfd, const char *file)
{
	char buf[64];

	return cg_read_cached(fdp, dirfd, file, buf, sizeof(buf)) <= 0 ? CG_NA : parse_u64(buf);
}

uint64_t cg_keyed(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && (p[n] == ' ' || p[n] == '=')) {
			char *end;
			unsigned long long v = strtoull(p + n + 1, &end, 10);
			return end == p + n + 1 ? CG_NA : (uint64_t)v;
		}
	return CG_NA;
}

uint64_t cg_read_u64(int dirfd, const char *file)
{
	char buf[64];

	return cg_read(dirfd, file, buf, sizeof(buf)) <= 0 ? CG_NA : parse_u64(buf);
}

void cg_read_psi(int dirfd, const char *file, uint64_t *some, uint64_t *full)
{
	char buf[512];
	const char *p;

	*some = *full = CG_NA;
	if (cg_read(dirfd, file, buf, sizeof(buf)) <= 0)
		return;
	if (strncmp(buf, "some ", 5) == 0 && (p = strstr(buf, "total=")))
		*some = strtoull(p + 6, NULL, 10);
	if ((p = strstr(buf, "\nfull ")) && (p = strstr(p, "total=")))
		*full = strtoull(p + 6, NULL, 10);
}

char *cg_self_path(const char *ctrl)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		line[strcspn(line, "\n")] = '\0';
		if (!b)
			continue;
		*b = '\0';
		if (!*ctrl ? a[1] == '\0' : sup_list_has(a + 1, ctrl))
			return strdup(b + 1);
	}
	return NULL;
}

int cg_find_mount(const char *ctrl, char **mnt, char **root)
{
	struct sup_mounts m;
	struct sup_error *err = NULL;

	if (sup_mounts_read(NULL, &m, &err) < 0) {
		errno = err->errnum ? err->errnum : EIO;
		sup_error_free(err);
		return -1;
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct sup_mount *e = &m.v[i];

		if (ctrl ? (strcmp(e->fstype, "cgroup") || !sup_list_has(e->super_opts, ctrl))
			 : strcmp(e->fstype, "cgroup2"))
			continue;
		*mnt = strdup(e->target);
		*root = strdup(e->root);
		sup_mounts_free(&m);
		if (!*mnt || !*root) {
			free(*mnt);
			free(*root);
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	sup_mounts_free(&m);
	errno = ENOENT;
	return -1;
}

char *cg_dir_of(const char *mnt, const char *root, const char *path)
{
	size_t rn = strlen(root);
	char *out = NULL;

	/* the mount shows the hierarchy from root on: strip it off the process's path */
	if (strcmp(root, "/") != 0 && strncmp(path, root, rn) == 0 &&
	    (path[rn] == '/' || path[rn] == '\0'))
		path += rn;
	while (*path == '/')
		path++;
	if (asprintf(&out, "%s%s%s", mnt, *path ? "/" : "", path) < 0)
		return NULL;
	return out;
}

int cg_device_of(const char *path, unsigned *maj, unsigned *min)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	if (S_ISBLK(st.st_mode)) {
		*maj = major(st.st_rdev);
		*min = minor(st.st_rdev);
	} else {
		*maj = major(st.st_dev); /* a file: the device it lives on */
		*min = minor(st.st_dev);
	}
	return 0;
}

/* Call fn on each child cgroup (subdirectory) of dirfd, by an O_DIRECTORY fd of its own. */
static int each_child(int dirfd, int (*fn)(int parentfd, const char *name, void *arg), void *arg)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r += fn(dirfd, de->d_name, arg);
	closedir(d);
	return r;
}

static int signal_tree(int dirfd, int sig, int depth);

static int signal_child(int parentfd, const char *name, void *arg)
{
	const int *a = arg;
	int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n;

	if (fd < 0)
		return 0;
	n = signal_tree(fd, a[0], a[1]);
	close(fd);
	return n > 0 ? n : 0;
}

/* Call fn on each pid listed in dirfd's cgroup.procs, read in small bites (it can be long, and
 * callers recurse: no large stack buffer). Stops early when fn returns non-zero (returned).
 * -1 if the file cannot be read. */
static int each_proc(int dirfd, int (*fn)(pid_t pid, void *arg), void *arg)
{
	_cleanup_close_ int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	char buf[1024];
	size_t have = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		size_t start = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		have += (size_t)n;
		for (size_t i = 0; i < have; i++) {
			long pid;
			int r;

			if (buf[i] != '\n' && !(n == 0 && i + 1 == have))
				continue;
			pid = strtol(buf + start, NULL, 10);
			start = i + 1;
			if (pid > 0 && (r = fn((pid_t)pid, arg)) != 0)
				return r;
		}
		if (n == 0)
			return 0;
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof(buf))
			have = 0; /* not a pid list: drop it */
	}
}

static int kill_one(pid_t pid, void *arg)
{
	int *a = arg; /* signal, count */

	if (kill(pid, a[0]) == 0)
		a[1]++;
	return 0;
}

/* Signal each pid of dirfd's cgroup: the count signalled, or -1. */
static int signal_procs(int dirfd, int sig)
{
	int a[2] = {sig, 0};

	return each_proc(dirfd, kill_one, a) < 0 ? -1 : a[1];
}

static int is_pid(pid_t pid, void *arg)
{
	return pid == *(pid_t *)arg;
}

static int has_pid_child(int parentfd, const char *name, void *arg);

static int has_pid_tree(int dirfd, pid_t pid, int depth)
{
	if (each_proc(dirfd, is_pid, &pid) == 1)
		return 1;
	if (depth < 32) {
		struct {
			pid_t pid;
			int depth;
		} a = {pid, depth + 1};
		return each_child(dirfd, has_pid_child, &a) > 0;
	}
	return 0;
}

static int has_pid_child(int parentfd, const char *name, void *arg)
{
	const struct {
		pid_t pid;
		int depth;
	} *a = arg;
	_cleanup_close_ int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd >= 0 ? has_pid_tree(fd, a->pid, a->depth) : 0;
}

static int count_one(pid_t pid, void *arg)
{
	pid_t *a = arg; /* [0] the first pid, [1] how many */

	if (a[1]++ == 0)
		a[0] = pid;
	return a[1] > 1; /* a second one: stop */
}

pid_t cg_only_pid(int dirfd)
{
	pid_t a[2] = {0, 0};

	if (each_proc(dirfd, count_one, a) < 0 || a[1] != 1)
		return 0;
	return a[0];
}

bool cg_tree_has_pid(int dirfd, pid_t pid)
{
	return has_pid_tree(dirfd, pid, 0) > 0;
}

static int signal_tree(int dirfd, int sig, int depth)
{
	int sent = signal_procs(dirfd, sig);

	if (sent < 0)
		return -1;
	/* child cgroups a service made (a nested supd, a container runtime): theirs too */
	if (depth < 32) {
		int arg[2] = {sig, depth + 1};
		int n = each_child(dirfd, signal_child, arg);
		if (n > 0)
			sent += n;
	}
	return sent;
}

int cg_signal_procs(int dirfd, int sig)
{
	return signal_tree(dirfd, sig, 0);
}

static int remove_child(int parentfd, const char *name, void *arg)
{
	(void)arg;
	return cg_remove_tree(parentfd, name) < 0 ? 1 : 0;
}

int cg_remove_tree(int parentfd, const char *name)
{
	int fd;

	if (unlinkat(parentfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno != EBUSY && errno != ENOTEMPTY)
		return -1;
	/* child cgroups a service made: deepest first (an rmdir of a populated one fails EBUSY) */
	fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	each_child(fd, remove_child, NULL);
	close(fd);
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static bool v2_usable(void)
{
	_cleanup_free_ char *mnt = NULL, *root = NULL, *self = NULL, *dir = NULL;
	char buf[256];
	int fd;

	if (cg_find_mount(NULL, &mnt, &root) < 0)
		return false;
	self = cg_self_path("");
	if (!self)
		return false;
	dir = cg_dir_of(mnt, root, self);
	if (!dir)
		return false;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (cg_read(fd, "cgroup.controllers", buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	close(fd);
	/* the hybrid layout's unified hierarchy holds no useful controller */
	return strstr(buf, "memory") || strstr(buf, "pids") || strstr(buf, "cpu");
}

static bool v1_usable(void)
{
	static const char *const ctrls[] = {"memory", "pids", "cpu", "freezer"};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(ctrls); i++) {
		_cleanup_free_ char *mnt = NULL, *root = NULL;
		if (cg_find_mount(ctrls[i], &mnt, &root) == 0)
			return true;
	}
	return false;
}

const struct cg_backend *cg_detect(enum cg_mode mode, struct sup_error **err)
{
	switch (mode) {
	case CG_MODE_OFF:
		sup_error_set(err, 0, "cgroups turned off by the configuration");
		return NULL;
	case CG_MODE_V2: {
		char *mnt = NULL, *root = NULL;
		int r = cg_find_mount(NULL, &mnt, &root);
		free(mnt);
		free(root);
		if (r < 0) {
			sup_error_set(err, errno, "Mode=v2: no cgroup2 mount");
			return NULL;
		}
		return &cg_backend_v2;
	}
	case CG_MODE_V1:
		if (!v1_usable()) {
			sup_error_set(err, 0, "Mode=v1: no cgroup v1 hierarchy mounted");
			return NULL;
		}
		return &cg_backend_v1;
	case CG_MODE_AUTO:
		break;
	}
	if (v2_usable())
		return &cg_backend_v2;
	if (v1_usable())
		return &cg_backend_v1;
	sup_error_set(err, 0,
		      "no usable cgroup hierarchy (neither cgroup2 with controllers nor "
		      "cgroup v1) is mounted");
	return NULL;
}

/*
 * Attaching a process to a cgroup (a write to cgroup.procs, needed for every spawn on v1 and
 * without CLONE_INTO_CGROUP) takes cgroup_threadgroup_rwsem for writing, which waits out an RCU
 * grace period: ~10 ms per restart. The cgroup2 mount option favordynmods keeps that lock in
 * its slow-reader mode for good (a little cost on fork and exit instead), for every hierarchy
 * of the machine. Remount the cgroup2 mount with it, keeping its other options.
 */
/* The options to remount a cgroup2 mount with: its superblock options, rw/ro left to flags. */
static void favor_options(const char *opts, char *data, size_t size)
{
	_cleanup_free_ char *copy = strdup(opts);
	char *save = NULL;

	data[0] = '\0';
	for (char *o = copy ? strtok_r(copy, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save))
		if (strcmp(o, "rw") && strcmp(o, "ro"))
			snprintf(data + strlen(data), size - strlen(data), "%s,", o);
	strncat(data, "favordynmods", size - strlen(data) - 1);
}

int cg_favor_dynmods(struct sup_error **err)
{
	struct sup_mounts m;
	const struct sup_mount *e = NULL;
	unsigned long flags = MS_REMOUNT;
	struct statvfs vfs;
	char data[512];
	int r = 0;

	if (sup_mounts_read(NULL, &m, err) < 0)
		return -1;
	for (size_t i = 0; i < m.n && !e; i++)
		if (!strcmp(m.v[i].fstype, "cgroup2"))
			e = &m.v[i];
	if (!e) {
		sup_mounts_free(&m);
		return sup_error_set(err, ENOENT, "no cgroup2 mount to set favordynmods on");
	}
	if (!sup_list_has(e->super_opts, "favordynmods")) {
		favor_options(e->super_opts, data, sizeof(data));
		/* a remount replaces the mount's own flags: keep nosuid, nodev, noexec, ro */
		if (statvfs(e->target, &vfs) == 0)
			flags |= (vfs.f_flag & ST_NOSUID ? MS_NOSUID : 0) |
				 (vfs.f_flag & ST_NODEV ? MS_NODEV : 0) |
				 (vfs.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) |
				 (vfs.f_flag & ST_RDONLY ? MS_RDONLY : 0);
		if (mount(NULL, e->target, NULL, flags, data) < 0)
			r = sup_error_set(err, errno, "remount %s with %s", e->target, data);
	}
	sup_mounts_free(&m);
	return r;
}
