/*
 * Cgroups: one interface, two backends (spawner/cgroup_v2.c, spawner/cgroup_v1.c), chosen by
 * spawner/cgroup.c. supd owns a subtree (the root when it is the machine's init, else the
 * cgroup it was started in, v2: with supd itself moved into a leaf "supd"); each unit gets
 * SUBTREE/UNIT. No call here blocks on anything but the kernel's cgroup files.
 */
#ifndef SUP_CGROUP_H
#define SUP_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup/error.h"
#include "sup/unit.h"

#define CG_NA UINT64_MAX /* a figure this kernel or hierarchy does not give */

enum cg_mode {
	CG_MODE_AUTO,
	CG_MODE_V2,
	CG_MODE_V1,
	CG_MODE_OFF,
};

/* Everything read on demand for stats, status and metrics; CG_NA where not available. */
struct cg_stats {
	uint64_t cpu_usage_usec, cpu_user_usec, cpu_system_usec;
	uint64_t memory_current, memory_peak;
	uint64_t pids_current;
	uint64_t io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
	uint64_t oom_kills;
	uint64_t cpu_throttled_periods, cpu_throttled_usec; /* cpu.stat: the quota held it back */
	/* PSI: total stall time (usec) */
	uint64_t cpu_some_usec, cpu_full_usec;
	uint64_t memory_some_usec, memory_full_usec;
	uint64_t io_some_usec, io_full_usec;
};

/* Warnings (a limit without an equivalent, a file the kernel lacks): logged by the caller. */
typedef void (*cg_warn_fn)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One rule of a device allow-list: type 'c', 'b' or 'a' (both), major and minor (CG_DEV_ANY:
 * any), access a subset of "rwm" (m: mknod, r: open for reading, w: open for writing). */
#define CG_DEV_ANY UINT32_MAX
struct cg_device {
	char type;
	uint32_t major, minor;
	char access[4];
};

struct cgroup; /* one unit's cgroup */

struct cg_backend {
	const char *name; /* "v2", "v1" */
	/* Take the subtree: leaf is the name of supd's own subtree under its cgroup ("sup"),
	 * NULL when supd is the machine's init (the root is the subtree). */
	int (*init)(const char *leaf, struct sup_error **err);
	/* SUBTREE/UNIT (the unit's name escaped by cg_escape()), made (or emptied, if a
	 * previous supd left processes in it). Nothing is left behind when it fails. */
	struct cgroup *(*create)(const char *unit, struct sup_error **err);
	/* A leaf cgroup inside a unit's (health checks; `supctl exec`): on cgroup v2 a unit's own
	 * cgroup can take no process once the service enabled controllers below it, and a leaf
	 * is killed whole when what ran in it is over. Freed with free(); removed with its
	 * parent (or remove()). No OOM events. */
	struct cgroup *(*create_leaf)(struct cgroup *parent, const char *leaf,
				      struct sup_error **err);
	/* v2: an O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP); -1 if not supported. */
	int (*clone_fd)(struct cgroup *cg);
	/* Put pid in the cgroup (every hierarchy on v1). */
	int (*place)(struct cgroup *cg, pid_t pid, struct sup_error **err);
	/* Write the [Resources] limits; unset ones go back to the kernel's default. */
	void (*apply)(struct cgroup *cg, const struct unit_resources *r, cg_warn_fn warn,
		      void *ctx);
	/* Only the devices of list may be made, read or written by the cgroup's processes and
	 * its leaves' (v1: the devices controller, "a" denied, then each rule allowed; v2: a
	 * BPF_CGROUP_DEVICE program attached with BPF_F_ALLOW_MULTI, replacing the one before).
	 * n 0: no policy. 0, or -1 with *err: the policy cannot be enforced, the spawn must not
	 * go on. */
	int (*devices)(struct cgroup *cg, const struct cg_device *list, size_t n,
		       struct sup_error **err);
	void (*stats)(struct cgroup *cg, struct cg_stats *st);
	/* Send sig to every process in it. */
	int (*signal)(struct cgroup *cg, int sig);
	/* SIGKILL everything: cgroup.kill (v2), or freeze, kill each, thaw. Never waits: 1 when
	 * done, 0 when a freeze is under way: call kill_step() again shortly (it returns 0
	 * until frozen); force kills and thaws at once, frozen or not. */
	int (*kill_begin)(struct cgroup *cg);
	int (*kill_step)(struct cgroup *cg, bool force);
	/* The only process in it, or 0 (none, or several) */
	pid_t (*only_pid)(struct cgroup *cg);
	/* Is pid in it (or in a child cgroup of it)? */
	bool (*has_pid)(struct cgroup *cg, pid_t pid);
	/* 1 no process left, 0 some left, -1 error (treated as empty). */
	int (*is_empty)(struct cgroup *cg);
	/* rmdir (every hierarchy): 0, or -1 with errno (EBUSY: try again shortly). */
	int (*remove)(struct cgroup *cg);
	/* An fd that polls readable on an OOM kill (and, v2, on the populated flag changing);
	 * -1 if none. */
	int (*event_fd)(struct cgroup *cg);
	/* Consume the event; the total of OOM kills in this cgroup so far. */
	uint64_t (*event_read)(struct cgroup *cg);
	void (*free)(struct cgroup *cg);
	/* supd exits: remove the subtree it made, if any (NULL: nothing to do). */
	void (*fini)(void);
};

extern const struct cg_backend cg_backend_v2;
extern const struct cg_backend cg_backend_v1;

/* Pick the backend: mode AUTO looks at /proc/self/mountinfo. NULL (and *err) if none works. */
const struct cg_backend *cg_detect(enum cg_mode mode, struct sup_error **err);
int cg_mode_parse(const char *s, enum cg_mode *mode);
/* Remount the machine's cgroup2 with favordynmods: fast attaches (see cgroup.c). */
int cg_favor_dynmods(struct sup_error **err);
const char *cg_mode_name(enum cg_mode mode);

/* The directory name of a unit's cgroup: the unit's name, with "_" put in front when it could
 * be taken for a file of the kernel's (tasks, cgroup.procs, cpu.shares, memory.max, ...) or for
 * supd's own leaf, or begins with "_" or "." (so the mapping stays one to one), as systemd
 * does. size: at least CG_NAME_MAX. */
#define CG_NAME_MAX (UNIT_NAME_MAX + 2)
void cg_escape(const char *unit, char *buf, size_t size);

/* Helpers shared by the backends (spawner/cgroup.c). */
int cg_write(int dirfd, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Read a whole small file into buf (NUL-terminated); length, or -1. */
ssize_t cg_read(int dirfd, const char *file, char *buf, size_t size);
/* The same through an fd kept open in *fdp (opened on first use, read again from offset 0):
 * stats re-read the same files of every unit, and an open costs more than the read. A budget
 * bounds how many such fds supd keeps: past it, reads are uncached. */
ssize_t cg_read_cached(int *fdp, int dirfd, const char *file, char *buf, size_t size);
uint64_t cg_read_u64_cached(int *fdp, int dirfd, const char *file);
/* Close an fd of the cache (and give its place in the budget back). */
void cg_cache_close(int *fdp);
/* "key value" lines: the value of key, or CG_NA. */
uint64_t cg_keyed(const char *text, const char *key);
/* Read one number; CG_NA if absent or not a number. */
uint64_t cg_read_u64(int dirfd, const char *file);
/* PSI file "some avg10=... total=N" / "full ...": the totals (usec). */
void cg_read_psi(int dirfd, const char *file, uint64_t *some, uint64_t *full);
/* This process's cgroup path in the hierarchy named by ctrl ("" for v2's 0::), or NULL. */
char *cg_self_path(const char *ctrl);
/* Device number ("MAJ:MIN") of the block device a path names. */
int cg_device_of(const char *path, unsigned *maj, unsigned *min);
/* Signal every process of a cgroup and of its child cgroups: helper for signal on both
 * backends. */
int cg_signal_procs(int dirfd, int sig);
/* The only process of the cgroup of dirfd (not its children), or 0 if none or several. */
pid_t cg_only_pid(int dirfd);
/* Is pid in the cgroup of dirfd or in one of its child cgroups? */
bool cg_tree_has_pid(int dirfd, pid_t pid);
/* rmdir parentfd/name, and first its child cgroups (a service may have made some): 0, or -1
 * with errno (EBUSY: something still runs in it). */
int cg_remove_tree(int parentfd, const char *name);

#endif
