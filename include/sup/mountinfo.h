/* /proc/self/mountinfo, parsed once and decoded (the kernel writes ' ', '\t', '\n' and '\\' in
 * paths as \040, \011, \012 and \134): the one parser for every module. */
#ifndef SUP_MOUNTINFO_H
#define SUP_MOUNTINFO_H

#include <stdbool.h>
#include <stddef.h>

#include "sup/error.h"

struct sup_mount {
	unsigned id, parent_id;
	unsigned major, minor;
	char *root;	  /* the part of the filesystem mounted, decoded */
	char *target;	  /* where, decoded */
	char *mnt_opts;	  /* per-mount options: rw,nosuid,... */
	char *fstype;	  /* "cgroup2", "ext4", ... (with a subtype: "fuse.sshfs") */
	char *source;	  /* decoded, "none" if the kernel gave none */
	char *super_opts; /* per-superblock options: rw,nsdelegate,... */
};

/* Every mount, in the kernel's order (a mount comes after its parent). */
struct sup_mounts {
	struct sup_mount *v;
	size_t n;
};

/* Parse the text of a mountinfo file. Lines that do not parse are skipped. -1 only on ENOMEM. */
int sup_mounts_parse(const char *text, size_t len, struct sup_mounts *m, struct sup_error **err);
/* Read and parse /proc/self/mountinfo (or path, if not NULL). */
int sup_mounts_read(const char *path, struct sup_mounts *m, struct sup_error **err);
void sup_mounts_free(struct sup_mounts *m);
/* The topmost mount at target (the last one listed), or NULL. */
const struct sup_mount *sup_mounts_at(const struct sup_mounts *m, const char *target);
/* Is target a mount point? (reads mountinfo) */
bool sup_is_mountpoint(const char *target);
/* Is word one of a comma-separated list ("rw,nosuid", "cpu,cpuacct")? */
bool sup_list_has(const char *list, const char *word);

#endif
