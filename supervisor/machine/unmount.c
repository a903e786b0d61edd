/*
 * The last step before reboot(2): every mount unmounted, the last mounted first, or else made
 * read-only, so that no filesystem needs a recovery at the next boot. The mounts come from the
 * one mountinfo parser (decoded paths: a mount point with a space; no limit on their number).
 * A disk that stays mounted is named, read-only or not. /proc is needed for all this (and for
 * finding what is left to kill): if a unit unmounted it, it is mounted again first.
 */
#include <errno.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "sup/log.h"
#include "sup/mountinfo.h"
#include "machine.h"
#include "machine_private.h"

#define MAX_PASSES 16

void machine_proc_remount(void)
{
	struct statfs sfs;

	if (statfs("/proc", &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)
		return;
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		sup_err(NULL,
			"machine: /proc is gone and mount proc on /proc: %s; nothing left is "
			"killed or unmounted",
			strerror(errno));
		return;
	}
	sup_warn(NULL, "machine: /proc was unmounted (by a unit?); mounted it again");
}

static int read_mounts(struct sup_mounts *mt)
{
	struct sup_error *err = NULL;

	if (sup_mounts_read(NULL, mt, &err) == 0)
		return 0;
	sup_err(NULL, "machine: unmount: %s", err->msg);
	sup_error_free(err);
	return -1;
}

/* "/" can only be made read-only; /proc is read by the next pass. */
static bool keep(const char *target)
{
	return !strcmp(target, "/") || !strcmp(target, "/proc");
}

/* One pass, the last mounted first: how many were unmounted. */
static unsigned unmount_pass(void)
{
	struct sup_mounts mt;
	unsigned n = 0;

	if (read_mounts(&mt) < 0)
		return 0;
	for (size_t i = mt.n; i-- > 0;)
		if (!keep(mt.v[i].target) && umount2(mt.v[i].target, UMOUNT_NOFOLLOW) == 0)
			n++;
	sup_mounts_free(&mt);
	return n;
}

static bool is_read_only(const struct sup_mount *e)
{
	return sup_list_has(e->super_opts, "ro");
}

/* What is still mounted: read-only, each disk named (major != 0: a block device). */
static void remount_rest(unsigned *ro, unsigned *rw)
{
	struct sup_mounts mt;

	if (read_mounts(&mt) < 0)
		return;
	for (size_t i = mt.n; i-- > 0;) {
		const struct sup_mount *e = &mt.v[i];
		bool disk = e->major != 0;

		if (!strcmp(e->target, "/proc"))
			continue;
		if (is_read_only(e) ||
		    mount(NULL, e->target, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) {
			(*ro)++;
			if (disk)
				sup_info(NULL, "machine: %s (%s, %s) stays mounted, read-only",
					 e->target, e->fstype, e->source);
			continue;
		}
		(*rw)++;
		sup_log(disk ? SUP_LOG_WARN : SUP_LOG_DEBUG, NULL,
			"machine: %s (%s, %s) stays mounted read-write: %s", e->target, e->fstype,
			e->source, strerror(errno));
	}
	sup_mounts_free(&mt);
}

void machine_unmount_all(void)
{
	unsigned umounted = 0, ro = 0, rw = 0, n;

	/* again while a pass gets somewhere: a mount may hold up one listed after it */
	for (int pass = 0; pass < MAX_PASSES && (n = unmount_pass()) > 0; pass++)
		umounted += n;
	remount_rest(&ro, &rw);
	sup_info(NULL, "machine: %u unmounted, %u left read-only, %u left read-write", umounted, ro,
		 rw);
}
