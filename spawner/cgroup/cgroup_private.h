/* spawner/cgroup*.c internals. */
#ifndef SUP_CGROUP_PRIVATE_H
#define SUP_CGROUP_PRIVATE_H

#include <stdbool.h>

/* The mount of a v1 controller (ctrl) or of cgroup2 (ctrl NULL): its path and root. */
int cg_find_mount(const char *ctrl, char **mnt, char **root);
/* The directory of a process's cgroup path under a mount. */
char *cg_dir_of(const char *mnt, const char *root, const char *path);

#endif
