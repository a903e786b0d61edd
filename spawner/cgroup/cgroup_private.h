/* spawner/cgroup*.c internals. */
#ifndef SUP_CGROUP_PRIVATE_H
#define SUP_CGROUP_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "sup/cgroup.h"

/* The mount of a v1 controller (ctrl) or of cgroup2 (ctrl NULL): its path and root. */
int cg_find_mount(const char *ctrl, char **mnt, char **root);
/* The directory of a process's cgroup path under a mount. */
char *cg_dir_of(const char *mnt, const char *root, const char *path);

/* cgroup_devices.c. v2: load the program for list and attach it to cgfd in place of *progfd
 * (n 0: detach it); programs a previous supd left are detached first. */
int cg_bpf_devices(int cgfd, int *progfd, const struct cg_device *list, size_t n,
		   struct sup_error **err);
/* v1: the devices hierarchy, kept apart: only units with a device policy get a directory
 * there (SUBTREE/NAME), so that the others pay no extra cgroup.procs write at each spawn.
 * init: -1 when there is no devices hierarchy (a policy is then refused). */
int cg_dev1_init(const char *leaf);
void cg_dev1_fini(void);
int cg_dev1_set(const char *name, const struct cg_device *list, size_t n, struct sup_error **err);
int cg_dev1_place(const char *name, pid_t pid, struct sup_error **err);
int cg_dev1_remove(const char *name);

#endif
