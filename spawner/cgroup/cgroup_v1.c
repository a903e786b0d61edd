/*
 * cgroup v1 (and the v1 half of a hybrid host): one directory per controller hierarchy,
 * found in /proc/self/mountinfo (cpu and cpuacct may be separate or co-mounted). The subtree
 * is SUPD'S-CGROUP/LEAF in each hierarchy (the root when supd is the machine's init).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "cgroup_private.h"

enum {
	C_CPU = 1 << 0,
	C_CPUACCT = 1 << 1,
	C_CPUSET = 1 << 2,
	C_MEMORY = 1 << 3,
	C_FREEZER = 1 << 4,
	C_BLKIO = 1 << 5,
	C_PIDS = 1 << 6,
};

static const struct {
	const char *name;
	unsigned bit;
} controllers[] = {
    {"pids", C_PIDS},	  {"memory", C_MEMORY},	  {"cpu", C_CPU},     {"cpuacct", C_CPUACCT},
    {"cpuset", C_CPUSET}, {"freezer", C_FREEZER}, {"blkio", C_BLKIO},
};

#define MAX_HIER 7

struct hier {
	char *mnt;
	unsigned ctrls;
	int subfd;    /* the subtree directory */
	int parentfd; /* the directory it was made in, or -1 (the root: not ours to remove) */
};

static char *subtree_leaf; /* the subtree's name, when supd made it */

static struct hier hiers[MAX_HIER];
static size_t n_hiers;

/* the files stats read, kept open per unit */
enum {
	SF_USAGE,
	SF_USER,
	SF_SYS,
	SF_MEM,
	SF_MEM_MAX,
	SF_OOM,
	SF_PIDS,
	SF_IO_BYTES,
	SF_IO_OPS,
	SF__MAX
};

struct cgroup {
	char *name;
	int fd[MAX_HIER]; /* per hierarchy, -1 if absent */
	int sf[SF__MAX];  /* stats files, -1 until first read */
	int efd;	  /* eventfd registered for memory.oom_control */
	bool applied;	  /* limits were written: unset ones must be reset from now on */
	int oom_fd;
	uint64_t oom_kills;
	bool devices;	   /* a unit with a device policy: in the devices hierarchy too */
	struct cgroup *up; /* a leaf: its unit's cgroup (freed after it) */
};

/*
 * A unit's directory in a hierarchy is opened when an operation needs it and closed when the
 * operation ends (dirs_release): keeping seven directory fds per unit open would make fds, not
 * memory, what bounds the number of units. Files read or written once per operation are
 * reached through the subtree's fd as "UNIT/FILE" without opening the directory at all.
 */
static int dir_at(struct cgroup *cg, size_t i)
{
	if (cg->fd[i] < 0)
		cg->fd[i] = openat(hiers[i].subfd, cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return cg->fd[i];
}

static int hier_fd(struct cgroup *cg, unsigned ctrl)
{
	for (size_t i = 0; i < n_hiers; i++)
		if (hiers[i].ctrls & ctrl)
			return dir_at(cg, i);
	return -1;
}

static int hier_index(unsigned ctrl)
{
	for (size_t i = 0; i < n_hiers; i++)
		if (hiers[i].ctrls & ctrl)
			return (int)i;
	return -1;
}

static void dirs_release(struct cgroup *cg)
{
	for (size_t i = 0; i < n_hiers; i++)
		if (cg->fd[i] >= 0) {
			close(cg->fd[i]);
			cg->fd[i] = -1;
		}
}

/* "UNIT/FILE" into buf, for use with hiers[i].subfd */
static const char *upath(const struct cgroup *cg, const char *file, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", cg->name, file);
	return buf;
}

/* cpuset: a new group has no CPUs or memory nodes until given its parent's. */
static void cpuset_inherit(int parent, int fd)
{
	char buf[256];

	for (int i = 0; i < 2; i++) {
		const char *f = i ? "cpuset.mems" : "cpuset.cpus";
		if (cg_read(fd, f, buf, sizeof(buf)) > 0 && buf[0] != '\n')
			continue;
		if (cg_read(parent, f, buf, sizeof(buf)) > 0)
			cg_write(fd, f, "%s", buf);
	}
}

static int v1_init(const char *leaf, struct sup_error **err)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(controllers); i++) {
		_cleanup_free_ char *mnt = NULL, *root = NULL, *self = NULL, *dir = NULL;
		size_t h;
		int fd;

		if (cg_find_mount(controllers[i].name, &mnt, &root) < 0)
			continue;
		for (h = 0; h < n_hiers; h++)
			if (strcmp(hiers[h].mnt, mnt) == 0)
				break;
		if (h < n_hiers) {
			hiers[h].ctrls |= controllers[i].bit;
			continue;
		}
		self = cg_self_path(controllers[i].name);
		dir = self ? cg_dir_of(mnt, root, self) : NULL;
		if (!dir)
			continue;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		hiers[n_hiers].parentfd = -1;
		if (leaf) {
			int sub;
			if (mkdirat(fd, leaf, 0755) < 0 && errno != EEXIST) {
				close(fd);
				continue;
			}
			sub = openat(fd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0 && (controllers[i].bit == C_CPUSET))
				cpuset_inherit(fd, sub);

			if (sub < 0) {
				close(fd);
				continue;
			}
			hiers[n_hiers].parentfd = fd;
			fd = sub;
		}
		hiers[n_hiers].mnt = sup_steal_ptr(mnt);
		hiers[n_hiers].ctrls = controllers[i].bit;
		hiers[n_hiers].subfd = fd;
		/* a unit's new cpuset then starts with the subtree's CPUs and memory nodes;
		 * writing them after the mkdir rebuilds the scheduler domains, which costs more
		 * than the rest of a spawn */
		if (controllers[i].bit == C_CPUSET)
			cg_write(fd, "cgroup.clone_children", "1");
		n_hiers++;
	}
	/* cpuset co-mounted with another controller: the leaf needs its CPUs too */
	if (n_hiers == 0)
		return sup_error_set(err, errno, "cgroup v1: no hierarchy to use");
	subtree_leaf = leaf ? strdup(leaf) : NULL;
	cg_dev1_init(leaf); /* none: a device policy is refused, not ignored */
	return 0;
}

/* supd is leaving: the subtree it made goes too (it is empty once every unit stopped). */
static void v1_fini(void)
{
	for (size_t i = 0; i < n_hiers; i++)
		if (hiers[i].parentfd >= 0 && subtree_leaf)
			unlinkat(hiers[i].parentfd, subtree_leaf, AT_REMOVEDIR);
	cg_dev1_fini();
}

static void v1_free(struct cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < n_hiers; i++)
		if (cg->fd[i] >= 0)
			close(cg->fd[i]);
	if (cg->efd >= 0)
		close(cg->efd);
	if (cg->oom_fd >= 0)
		close(cg->oom_fd);
	for (int i = 0; i < SF__MAX; i++)
		cg_cache_close(&cg->sf[i]);
	free(cg->name);
	free(cg);
}

static uint64_t oom_count(struct cgroup *cg)
{
	int h = hier_index(C_MEMORY);
	char buf[256], p[PATH_MAX];

	if (h < 0 ||
	    cg_read_cached(&cg->sf[SF_OOM], hiers[h].subfd,
			   upath(cg, "memory.oom_control", p, sizeof(p)), buf, sizeof(buf)) < 0)
		return CG_NA;
	return cg_keyed(buf, "oom_kill");
}

static int v1_kill_begin(struct cgroup *cg);
static int v1_kill_step(struct cgroup *cg, bool force);
static int v1_is_empty(struct cgroup *cg);

/* memory.oom_control through an eventfd: a unit's OOM kills arrive as events. */
static void watch_oom(struct cgroup *cg)
{
	int memfd = hier_fd(cg, C_MEMORY);

	if (memfd < 0)
		return;
	cg->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cg->oom_fd = openat(memfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
	if (cg->efd < 0 || cg->oom_fd < 0 ||
	    cg_write(memfd, "cgroup.event_control", "%d %d", cg->efd, cg->oom_fd) < 0) {
		if (cg->efd >= 0)
			close(cg->efd);
		cg->efd = -1;
	}
	/* the registration lives as long as the eventfd: the control file's fd is not needed
	 * once it is made */
	if (cg->oom_fd >= 0)
		close(cg->oom_fd);
	cg->oom_fd = -1;
	cg->oom_kills = oom_count(cg);
	if (cg->oom_kills == CG_NA)
		cg->oom_kills = 0;
}

static struct cgroup *cg_alloc(const char *path, struct sup_error **err)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));

	if (!cg || !(cg->name = strdup(path))) {
		free(cg);
		sup_error_set(err, ENOMEM, "cgroup");
		return NULL;
	}
	cg->efd = cg->oom_fd = -1;
	for (int i = 0; i < SF__MAX; i++)
		cg->sf[i] = -1;
	for (size_t i = 0; i < MAX_HIER; i++)
		cg->fd[i] = -1;
	return cg;
}

/* Undo a create that failed half-way: the directories it made go again. */
static void unmake(struct cgroup *cg, const bool *made)
{
	for (size_t i = 0; i < n_hiers; i++)
		if (made[i])
			unlinkat(hiers[i].subfd, cg->name, AT_REMOVEDIR);
	v1_free(cg);
}

/* SUBTREE/path in every hierarchy, made and opened (cpuset: with the CPUs of the directory it
 * is made in, up's or the subtree's); nothing is left behind when one step fails (out of
 * fds). */
static struct cgroup *make(const char *path, struct cgroup *up, struct sup_error **err)
{
	struct cgroup *cg = cg_alloc(path, err);
	bool made[MAX_HIER] = {false};

	if (!cg)
		return NULL;
	for (size_t i = 0; i < n_hiers; i++) {
		made[i] = mkdirat(hiers[i].subfd, path, 0755) == 0;
		if (!made[i] && errno != EEXIST) {
			sup_error_set(err, errno, "create cgroup %s/.../%s", hiers[i].mnt, path);
			unmake(cg, made);
			return NULL;
		}
		if (dir_at(cg, i) < 0) {
			sup_error_set(err, errno, "open cgroup %s/.../%s", hiers[i].mnt, path);
			unmake(cg, made);
			return NULL;
		}
		if (hiers[i].ctrls & C_CPUSET)
			cpuset_inherit(up ? dir_at(up, i) : hiers[i].subfd, cg->fd[i]);
	}
	if (up)
		dirs_release(up);
	/* left over by a supd that went away: nothing of it may share the new run's cgroup */
	if (v1_is_empty(cg) == 0 && v1_kill_begin(cg) == 0)
		v1_kill_step(cg, true);
	return cg;
}

static struct cgroup *v1_create(const char *unit, struct sup_error **err)
{
	char name[CG_NAME_MAX];
	struct cgroup *cg;

	cg_escape(unit, name, sizeof(name));
	cg = make(name, NULL, err);
	if (cg) {
		watch_oom(cg);
		dirs_release(cg);
	}
	return cg;
}

static struct cgroup *v1_create_leaf(struct cgroup *up, const char *leaf, struct sup_error **err)
{
	char path[PATH_MAX];
	struct cgroup *cg;

	if (snprintf(path, sizeof(path), "%s/%s", up->name, leaf) >= (int)sizeof(path)) {
		sup_error_set(err, ENAMETOOLONG, "cgroup %s/%s", up->name, leaf);
		return NULL;
	}
	cg = make(path, up, err);
	if (cg) {
		dirs_release(cg);
		cg->up = up;
	}
	return cg;
}

static int v1_clone_fd(struct cgroup *cg)
{
	return -1;
}

static int v1_place(struct cgroup *cg, pid_t pid, struct sup_error **err)
{
	/* a leaf's processes are in its unit's devices group: a child group there would keep
	 * the rules it was made with, and the unit's policy may change */
	const struct cgroup *unit = cg->up ? cg->up : cg;
	char p[PATH_MAX];

	for (size_t i = 0; i < n_hiers; i++)
		if (cg_write(hiers[i].subfd, upath(cg, "cgroup.procs", p, sizeof(p)), "%d",
			     (int)pid) < 0)
			return sup_error_set(err, errno, "put pid %d in cgroup %s/.../%s", (int)pid,
					     hiers[i].mnt, cg->name);
	if (unit->devices)
		return cg_dev1_place(unit->name, pid, err);
	return 0;
}

static int v1_devices(struct cgroup *cg, const struct cg_device *list, size_t n,
		      struct sup_error **err)
{
	if (n == 0) {
		/* no policy: new processes stay out of the devices hierarchy */
		if (cg->devices)
			cg_dev1_remove(cg->name);
		cg->devices = false;
		return 0;
	}
	if (cg_dev1_set(cg->name, list, n, err) < 0)
		return -1;
	cg->devices = true;
	return 0;
}

static void wr(int fd, const char *file, const char *val, cg_warn_fn warn, void *ctx)
{
	if (fd >= 0 && cg_write(fd, file, "%s", val) < 0)
		warn(ctx, "cgroup v1: write %s to %s: %s", val, file, strerror(errno));
}

static void bandwidth(int fd, const char *file, const char *key, const struct unit_io_limits *list,
		      cg_warn_fn warn, void *ctx)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct unit_io_limit *l = &list->v[i];
		unsigned maj, min;
		char val[64];

		if (cg_device_of(l->path, &maj, &min) < 0) {
			warn(ctx, "%s=%s: %s", key, l->path, strerror(errno));
			continue;
		}
		/* v1 has no "max": 0 removes the limit */
		snprintf(val, sizeof(val), "%u:%u %llu", maj, min,
			 l->bytes == SIZE_INFINITY ? 0ULL : (unsigned long long)l->bytes);
		if (fd < 0)
			warn(ctx, "%s=: no blkio hierarchy on this host; not applied", key);
		else
			wr(fd, file, val, warn, ctx);
	}
}

static void v1_apply(struct cgroup *cg, const struct unit_resources *r, cg_warn_fn warn, void *ctx)
{
	int cpu = hier_fd(cg, C_CPU), mem = hier_fd(cg, C_MEMORY), pids = hier_fd(cg, C_PIDS);
	int cpuset = hier_fd(cg, C_CPUSET), blkio = hier_fd(cg, C_BLKIO);
	/* a new cgroup has the kernel's defaults: writing them again costs (a cfs bandwidth
	 * update per write), so unset figures are written only to undo earlier ones */
	bool fresh = !cg->applied;
	char v[64];

	cg->applied = true;
	if (fresh) {
		cpu = r->cpu_weight || r->cpu_quota_pct ? cpu : -2;
		mem = r->memory_max != UNIT_RES_UNSET || r->memory_high != UNIT_RES_UNSET ||
			      r->memory_swap_max != UNIT_RES_UNSET
			  ? mem
			  : -2;
		pids = r->pids_max != UNIT_RES_UNSET ? pids : -2;
	}
	/* CPUWeight 1..10000 (default 100) -> cpu.shares 2..262144 (default 1024) */
	if (cpu >= 0) {
		unsigned long long shares = r->cpu_weight ? r->cpu_weight * 1024ULL / 100 : 1024;
		if (shares < 2)
			shares = 2;
		snprintf(v, sizeof(v), "%llu", shares);
		wr(cpu, "cpu.shares", v, warn, ctx);
		wr(cpu, "cpu.cfs_period_us", "100000", warn, ctx);
		snprintf(v, sizeof(v), "%lld",
			 r->cpu_quota_pct ? (long long)r->cpu_quota_pct * 1000 : -1LL);
		wr(cpu, "cpu.cfs_quota_us", v, warn, ctx);
	} else if (cpu == -1 && (r->cpu_weight || r->cpu_quota_pct)) {
		warn(ctx, "CPUWeight=/CPUQuota=: no cpu hierarchy on this host; not applied");
	}
	if (r->cpu_set) {
		if (cpuset >= 0)
			wr(cpuset, "cpuset.cpus", r->cpu_set, warn, ctx);
		else
			warn(ctx, "CPUSet=: no cpuset hierarchy on this host; not applied");
	}
	if (mem >= 0) {
		uint64_t max = r->memory_max, sw = r->memory_swap_max;
		/* memsw (memory + swap) must stay >= the memory limit: open it up first */
		cg_write(mem, "memory.memsw.limit_in_bytes", "-1");
		if (max == UNIT_RES_UNSET || max == SIZE_INFINITY)
			wr(mem, "memory.limit_in_bytes", "-1", warn, ctx);
		else {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)max);
			wr(mem, "memory.limit_in_bytes", v, warn, ctx);
		}
		if (sw != UNIT_RES_UNSET && sw != SIZE_INFINITY) {
			if (max == UNIT_RES_UNSET || max == SIZE_INFINITY)
				warn(ctx,
				     "MemorySwapMax= without a finite MemoryMax= has no cgroup "
				     "v1 equivalent (v1 limits memory+swap); not applied");
			else {
				snprintf(v, sizeof(v), "%llu", (unsigned long long)(max + sw));
				if (cg_write(mem, "memory.memsw.limit_in_bytes", "%s", v) < 0)
					warn(
					    ctx,
					    "MemorySwapMax=: memory.memsw.limit_in_bytes: %s (swap "
					    "accounting off?); not applied",
					    strerror(errno));
			}
		}
		if (r->memory_high != UNIT_RES_UNSET && r->memory_high != SIZE_INFINITY) {
			warn(ctx,
			     "MemoryHigh= on cgroup v1 becomes memory.soft_limit_in_bytes: "
			     "reclaimed toward it under memory pressure only, never throttled");
			snprintf(v, sizeof(v), "%llu", (unsigned long long)r->memory_high);
			wr(mem, "memory.soft_limit_in_bytes", v, warn, ctx);
		} else {
			wr(mem, "memory.soft_limit_in_bytes", "-1", warn, ctx);
		}
	} else if (mem == -1 &&
		   (r->memory_max != UNIT_RES_UNSET || r->memory_high != UNIT_RES_UNSET ||
		    r->memory_swap_max != UNIT_RES_UNSET)) {
		warn(ctx, "Memory*=: no memory hierarchy on this host; not applied");
	}
	if (pids >= 0) {
		if (r->pids_max == UNIT_RES_UNSET || r->pids_max == SIZE_INFINITY)
			wr(pids, "pids.max", "max", warn, ctx);
		else {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)r->pids_max);
			wr(pids, "pids.max", v, warn, ctx);
		}
	} else if (pids == -1 && r->pids_max != UNIT_RES_UNSET) {
		warn(ctx, "PidsMax=: no pids hierarchy on this host; not applied");
	}
	if (r->io_weight) {
		/* IOWeight 1..10000 (default 100) -> blkio.weight 10..1000 (default 500) */
		unsigned w = r->io_weight * 5;
		w = w < 10 ? 10 : w > 1000 ? 1000 : w;
		snprintf(v, sizeof(v), "%u", w);
		if (blkio < 0 || (cg_write(blkio, "blkio.weight", "%s", v) < 0 &&
				  cg_write(blkio, "blkio.bfq.weight", "%s", v) < 0))
			warn(ctx, "IOWeight=: this kernel has no blkio.weight (it needs the BFQ "
				  "scheduler on cgroup v1); not applied");
	}
	bandwidth(blkio, "blkio.throttle.read_bps_device", "IOReadBandwidthMax", &r->io_read_bw,
		  warn, ctx);
	bandwidth(blkio, "blkio.throttle.write_bps_device", "IOWriteBandwidthMax", &r->io_write_bw,
		  warn, ctx);
	dirs_release(cg);
}

/* blkio "MAJ:MIN Read N" lines: the sum of one operation over every device. */
/* "MAJ:MIN Read N" lines: the Read and the Write totals over every device, one read. */
static void blkio_sum(struct cgroup *cg, int slot, const char *file, uint64_t *rd, uint64_t *wr)
{
	int h = hier_index(C_BLKIO);
	char buf[8192], p[PATH_MAX];

	*rd = *wr = CG_NA;
	if (h < 0 || cg_read_cached(&cg->sf[slot], hiers[h].subfd, upath(cg, file, p, sizeof(p)),
				    buf, sizeof(buf)) < 0)
		return;
	*rd = *wr = 0;
	for (char *q = buf; q && *q; q = strchr(q, '\n'), q = q ? q + 1 : NULL) {
		char *sp = strchr(q, ' ');
		if (sp && strncmp(sp + 1, "Read ", 5) == 0)
			*rd += strtoull(sp + 6, NULL, 10);
		else if (sp && strncmp(sp + 1, "Write ", 6) == 0)
			*wr += strtoull(sp + 7, NULL, 10);
	}
}

static uint64_t ns_to_us(uint64_t ns)
{
	return ns == CG_NA ? CG_NA : ns / 1000;
}

/* One figure of the unit's cgroup in the hierarchy of ctrl, through the stat fd cache. */
static uint64_t figure(struct cgroup *cg, unsigned ctrl, int slot, const char *file)
{
	int h = hier_index(ctrl);
	char p[PATH_MAX];

	return h < 0 ? CG_NA
		     : cg_read_u64_cached(&cg->sf[slot], hiers[h].subfd,
					  upath(cg, file, p, sizeof(p)));
}

/* cpu.stat: "nr_throttled N" and "throttled_time NS" */
static void cpu_stat(struct cgroup *cg, struct cg_stats *st)
{
	int h = hier_index(C_CPU);
	char buf[512], p[PATH_MAX];
	uint64_t ns;

	if (h < 0 ||
	    cg_read(hiers[h].subfd, upath(cg, "cpu.stat", p, sizeof(p)), buf, sizeof(buf)) < 0)
		return;
	st->cpu_throttled_periods = cg_keyed(buf, "nr_throttled");
	ns = cg_keyed(buf, "throttled_time");
	st->cpu_throttled_usec = ns == CG_NA ? CG_NA : ns / 1000;
}

static void v1_stats(struct cgroup *cg, struct cg_stats *st)
{
	uint64_t k;

	memset(st, 0xff, sizeof(*st)); /* CG_NA everywhere */
	st->cpu_usage_usec = ns_to_us(figure(cg, C_CPUACCT, SF_USAGE, "cpuacct.usage"));
	st->cpu_user_usec = ns_to_us(figure(cg, C_CPUACCT, SF_USER, "cpuacct.usage_user"));
	st->cpu_system_usec = ns_to_us(figure(cg, C_CPUACCT, SF_SYS, "cpuacct.usage_sys"));
	st->memory_current = figure(cg, C_MEMORY, SF_MEM, "memory.usage_in_bytes");
	st->memory_peak = figure(cg, C_MEMORY, SF_MEM_MAX, "memory.max_usage_in_bytes");
	if (hier_index(C_MEMORY) >= 0) {
		k = oom_count(cg);
		if (k != CG_NA && k > cg->oom_kills)
			cg->oom_kills = k;
		st->oom_kills = cg->oom_kills;
	}
	st->pids_current = figure(cg, C_PIDS, SF_PIDS, "pids.current");
	cpu_stat(cg, st);
	blkio_sum(cg, SF_IO_BYTES, "blkio.throttle.io_service_bytes_recursive", &st->io_read_bytes,
		  &st->io_write_bytes);
	blkio_sum(cg, SF_IO_OPS, "blkio.throttle.io_serviced_recursive", &st->io_read_ops,
		  &st->io_write_ops);
}

static int v1_signal(struct cgroup *cg, int sig)
{
	int fd = n_hiers ? dir_at(cg, 0) : -1, r = fd < 0 ? -1 : cg_signal_procs(fd, sig);

	dirs_release(cg);
	return r;
}

static bool v1_frozen(int fz)
{
	char buf[32];

	return cg_read(fz, "freezer.state", buf, sizeof(buf)) > 0 && strncmp(buf, "FROZEN", 6) == 0;
}

/* Kill until no new process shows up (a fork racing the first pass). */
static void kill_passes(int fd)
{
	for (int i = 0; i < 8 && fd >= 0 && cg_signal_procs(fd, SIGKILL) > 0; i++)
		;
}

static int kill_step(struct cgroup *cg, bool force)
{
	int fz = hier_fd(cg, C_FREEZER);

	if (fz < 0) {
		kill_passes(n_hiers ? dir_at(cg, 0) : -1);
		return 1;
	}
	if (!force && !v1_frozen(fz))
		return 0;
	/* frozen, nothing can fork: one pass kills all; they die once thawed */
	cg_signal_procs(fz, SIGKILL);
	cg_write(fz, "freezer.state", "THAWED");
	if (force)
		kill_passes(fz); /* not frozen in time: race the forks instead */
	return 1;
}

static int v1_kill_step(struct cgroup *cg, bool force)
{
	int r = kill_step(cg, force);

	dirs_release(cg);
	return r;
}

/* Freezing is quick but not instant, and v1 has no event for it: the caller polls
 * kill_step() from a timer, never waiting here. */
static int v1_kill_begin(struct cgroup *cg)
{
	int fz = hier_fd(cg, C_FREEZER);

	if (fz >= 0 && cg_write(fz, "freezer.state", "FROZEN") == 0)
		return v1_kill_step(cg, false);
	kill_passes(n_hiers ? dir_at(cg, 0) : -1);
	dirs_release(cg);
	return 1;
}

static pid_t v1_only_pid(struct cgroup *cg)
{
	pid_t pid = n_hiers && dir_at(cg, 0) >= 0 ? cg_only_pid(cg->fd[0]) : 0;

	dirs_release(cg);
	return pid;
}

static bool v1_has_pid(struct cgroup *cg, pid_t pid)
{
	bool r = n_hiers && dir_at(cg, 0) >= 0 && cg_tree_has_pid(cg->fd[0], pid);

	dirs_release(cg);
	return r;
}

static int v1_is_empty(struct cgroup *cg)
{
	char buf[64], p[PATH_MAX];

	for (size_t i = 0; i < n_hiers; i++)
		if (cg_read(hiers[i].subfd, upath(cg, "cgroup.procs", p, sizeof(p)), buf,
			    sizeof(buf)) > 0)
			return 0;
	return 1;
}

static int v1_remove(struct cgroup *cg)
{
	int r = 0, e = 0;

	if (cg->efd >= 0) { /* removal signals the eventfd: stop listening first */
		close(cg->efd);
		cg->efd = -1;
	}
	for (size_t i = 0; i < n_hiers; i++)
		if (cg_remove_tree(hiers[i].subfd, cg->name) < 0) {
			r = -1;
			e = errno;
		}
	if (cg->devices && cg_dev1_remove(cg->name) < 0) {
		r = -1;
		e = errno;
	}
	errno = e;
	return r;
}

static int v1_event_fd(struct cgroup *cg)
{
	return cg->efd;
}

static uint64_t v1_event_read(struct cgroup *cg)
{
	uint64_t n, k;

	if (cg->efd >= 0 && read(cg->efd, &n, sizeof(n)) < 0)
		(void)0;
	k = oom_count(cg);
	if (k != CG_NA && k > cg->oom_kills)
		cg->oom_kills = k;
	return cg->oom_kills;
}

const struct cg_backend cg_backend_v1 = {
    .name = "v1",
    .init = v1_init,
    .create = v1_create,
    .create_leaf = v1_create_leaf,
    .clone_fd = v1_clone_fd,
    .place = v1_place,
    .apply = v1_apply,
    .devices = v1_devices,
    .stats = v1_stats,
    .signal = v1_signal,
    .kill_begin = v1_kill_begin,
    .kill_step = v1_kill_step,
    .only_pid = v1_only_pid,
    .has_pid = v1_has_pid,
    .is_empty = v1_is_empty,
    .remove = v1_remove,
    .event_fd = v1_event_fd,
    .event_read = v1_event_read,
    .free = v1_free,
    .fini = v1_fini,
};
