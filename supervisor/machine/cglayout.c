/*
 * The machine's cgroup filesystem, mounted after the config (which picks the layout) and before
 * sup_cg_setup(): cgroup2 at /sys/fs/cgroup with every controller enabled at the root, or with
 * [Cgroup] Mode=v1 systemd's legacy layout (a tmpfs, one v1 hierarchy per controller, cgroup2
 * at unified/).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/fileio.h"
#include "sup/log.h"
#include "sup/mountinfo.h"
#include "machine.h"
#include "machine_private.h"
#include "supd.h"

#define CG_ROOT	      "/sys/fs/cgroup"
#define CG_UNIFIED    CG_ROOT "/unified"
#define V1_MAX	      32
#define CG_TMPFS_OPTS "mode=0755,size=4m,nr_inodes=1k"
#define CG_FLAGS      (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static void setup_cgroup2(void)
{
	char avail[512], on[512], *save = NULL;
	struct statfs sfs;

	if (statfs(CG_ROOT, &sfs) == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC &&
	    sup_is_mountpoint(CG_ROOT)) {
		sup_warn(NULL, "machine: %s is not cgroup2; left as it is", CG_ROOT);
		return;
	}
	machine_mount("cgroup2", CG_ROOT, "cgroup2", CG_FLAGS, "nsdelegate", false);
	if (sup_read_at(AT_FDCWD, CG_ROOT "/cgroup.controllers", avail, sizeof(avail)) < 0) {
		sup_err(NULL, "machine: cgroup.controllers: %s", strerror(errno));
		return;
	}
	/* the root cgroup is exempt from the no-internal-process rule: enable them all there */
	for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char req[64];

		snprintf(req, sizeof(req), "+%s", c);
		if (sup_write_at(AT_FDCWD, CG_ROOT "/cgroup.subtree_control", req) < 0)
			sup_warn(NULL, "machine: enable cgroup controller %s: %s", c,
				 strerror(errno));
	}
	if (sup_read_at(AT_FDCWD, CG_ROOT "/cgroup.subtree_control", on, sizeof(on)) > 0) {
		on[strcspn(on, "\n")] = '\0';
		sup_info(NULL, "machine: cgroup2 controllers enabled: %s", on);
	}
}

/* --- [Cgroup] Mode=v1 */

/* The v1 controllers the kernel has enabled, and which of them are taken care of already. */
struct v1_set {
	char names[V1_MAX][32];
	bool used[V1_MAX];
	int n;
};

/* Controllers mounted as one hierarchy, as systemd does: /sys/fs/cgroup/cpu,cpuacct with the
 * symlinks cpu and cpuacct. */
static const char *const comounted[][2] = {{"cpu", "cpuacct"}, {"net_cls", "net_prio"}};

/* 1: a tmpfs is there already (left as it is); 0: something else is (no v1); -1: free. */
static int v1_root_taken(void)
{
	struct statfs sfs;

	if (!sup_is_mountpoint(CG_ROOT))
		return -1;
	if (statfs(CG_ROOT, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
		sup_info(NULL, "machine: %s is mounted already; cgroup v1 left as it is", CG_ROOT);
		return 1;
	}
	sup_warn(NULL,
		 "machine: [Cgroup] Mode=v1: %s is mounted already (not a tmpfs); no v1 "
		 "hierarchies mounted",
		 CG_ROOT);
	return 0;
}

/* /proc/cgroups: "#subsys_name hierarchy num_cgroups enabled" */
static int v1_read_controllers(struct v1_set *s)
{
	char line[256];
	FILE *f = fopen("/proc/cgroups", "re");

	if (!f) {
		sup_err(NULL, "machine: /proc/cgroups: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) && s->n < V1_MAX) {
		int hier, num, enabled;

		if (line[0] != '#' &&
		    sscanf(line, "%31s %d %d %d", s->names[s->n], &hier, &num, &enabled) == 4 &&
		    enabled)
			s->n++;
	}
	fclose(f);
	return 0;
}

/* cgroup_no_v1=LIST (or all): those stay on cgroup2. */
static void v1_skip_no_v1(struct v1_set *s)
{
	const char *no = machine_opts.cgroup_no_v1;
	char skipped[512] = "";

	if (!no)
		return;
	for (int i = 0; i < s->n; i++)
		if (sup_list_has(no, "all") || sup_list_has(no, s->names[i])) {
			s->used[i] = true;
			snprintf(skipped + strlen(skipped), sizeof(skipped) - strlen(skipped),
				 " %s", s->names[i]);
		}
	if (*skipped)
		sup_warn(NULL, "machine: cgroup_no_v1=%s: no v1 hierarchy for%s (left to cgroup2)",
			 no, skipped);
}

/* The index of i's co-mount partner, when the kernel has it and v1 may have it; else -1. */
static int v1_partner(const struct v1_set *s, int i)
{
	const char *pair = NULL;

	for (size_t c = 0; c < sizeof(comounted) / sizeof(comounted[0]); c++)
		if (!strcmp(s->names[i], comounted[c][0]) || !strcmp(s->names[i], comounted[c][1]))
			pair = comounted[c][!strcmp(s->names[i], comounted[c][0])];
	for (int k = 0; pair && k < s->n; k++)
		if (!s->used[k] && !strcmp(s->names[k], pair))
			return k;
	return -1;
}

static void v1_symlinks(const struct v1_set *s, const char *opts, int i, int j)
{
	char link[128];

	for (int k = 0; k < 2; k++) {
		snprintf(link, sizeof(link), "%s/%.31s", CG_ROOT, s->names[k ? j : i]);
		if (symlink(opts, link) < 0 && errno != EEXIST)
			sup_warn(NULL, "machine: symlink %s: %s", link, strerror(errno));
	}
}

/* Mount controller i (with its partner) at /sys/fs/cgroup/OPTS; the name goes into done. */
static bool v1_mount_one(struct v1_set *s, int i, char *done, size_t size)
{
	char opts[80], path[128];
	int j = v1_partner(s, i);

	s->used[i] = true;
	snprintf(opts, sizeof(opts), "%.31s", s->names[i]);
	if (j >= 0) {
		/* cpu,cpuacct: the order systemd uses (alphabetical) */
		bool first = strcmp(s->names[i], s->names[j]) < 0;

		snprintf(opts, sizeof(opts), "%.31s,%.31s", s->names[first ? i : j],
			 s->names[first ? j : i]);
		s->used[j] = true;
	}
	snprintf(path, sizeof(path), "%s/%s", CG_ROOT, opts);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		sup_err(NULL, "machine: mkdir %s: %s", path, strerror(errno));
		return false;
	}
	if (mount("cgroup", path, "cgroup", CG_FLAGS, opts) < 0) {
		/* EBUSY: in use on cgroup2 already; EINVAL: disabled for v1 */
		sup_warn(NULL, "machine: mount cgroup v1 %s: %s", opts, strerror(errno));
		rmdir(path);
		return false;
	}
	snprintf(done + strlen(done), size - strlen(done), " %s", opts);
	if (j >= 0)
		v1_symlinks(s, opts, i, j);
	return true;
}

/* hybrid: cgroup2 next to them, without controllers (where favordynmods goes); then the tmpfs
 * read-only, or, with nothing mounted, the empty layout taken down again. */
static void v1_finish(int mounted, const char *done)
{
	machine_mount("cgroup2", CG_UNIFIED, "cgroup2", CG_FLAGS, "nsdelegate", true);
	if (mount("tmpfs", CG_ROOT, "tmpfs", MS_REMOUNT | MS_RDONLY | CG_FLAGS | MS_STRICTATIME,
		  CG_TMPFS_OPTS) < 0)
		sup_warn(NULL, "machine: remount %s read-only: %s", CG_ROOT, strerror(errno));
	if (!mounted) { /* cgroup2 goes there instead */
		umount2(CG_UNIFIED, 0);
		umount2(CG_ROOT, 0);
		return;
	}
	sup_info(NULL, "machine: cgroup v1 hierarchies mounted:%s%s", done,
		 sup_is_mountpoint(CG_UNIFIED) ? " (and cgroup2 at unified)" : "");
}

/*
 * [Cgroup] Mode=v1: the legacy layout. A tmpfs at /sys/fs/cgroup, one cgroup v1 hierarchy per
 * controller /proc/cgroups lists as enabled (cpu,cpuacct and net_cls,net_prio co-mounted, with
 * symlinks), cgroup2 at unified/, then the tmpfs read-only. A controller the kernel keeps off
 * v1 (cgroup_no_v1=) is left on cgroup2. Returns the number of v1 hierarchies mounted.
 */
static int setup_cgroup_v1(void)
{
	struct v1_set s = {0};
	char done[512] = "";
	int taken = v1_root_taken(), mounted = 0;

	if (taken >= 0)
		return taken;
	if (v1_read_controllers(&s) < 0)
		return 0;
	v1_skip_no_v1(&s);
	machine_mount("tmpfs", CG_ROOT, "tmpfs", CG_FLAGS | MS_STRICTATIME, CG_TMPFS_OPTS, false);
	if (!sup_is_mountpoint(CG_ROOT))
		return 0;
	for (int i = 0; i < s.n; i++)
		if (!s.used[i] && v1_mount_one(&s, i, done, sizeof(done)))
			mounted++;
	v1_finish(mounted, done);
	return mounted;
}

void machine_cgroups(void)
{
	if (supd->conf.cgroup_mode != CG_MODE_V1) {
		setup_cgroup2();
		return;
	}
	if (setup_cgroup_v1() > 0)
		return;
	/* nothing of v1 could be mounted (cgroup_no_v1=all, ...): cgroup2 rather than none */
	sup_err(NULL, "machine: [Cgroup] Mode=v1 but no v1 hierarchy could be mounted; cgroup2 "
		      "instead, and the units use it");
	supd->conf.cgroup_mode = CG_MODE_AUTO;
	setup_cgroup2();
}
