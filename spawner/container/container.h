/*
 * The container steps, run in the child in this order (spawner/spawn.c calls them):
 * fds closed, then namespaces entered (ns.c), the root assembled and pivoted into (rootfs.c,
 * kernfs.c), then, in the process that runs the service, the user (passwd.c), capabilities,
 * no_new_privs and seccomp (security.c). With Init=yes the first process stays as the
 * namespace's PID 1 (init.c). Each failing step is reported to the parent with errno and
 * what it was doing, then the child exits.
 */
#ifndef SUP_SPAWNER_CONTAINER_H
#define SUP_SPAWNER_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "sup/spawn.h"

/* Report "what: ENAME (text)" and _exit(126). */
void ct_fail(int sync, int errnum, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Send one report record (spawn_read_result reads it). */
void ct_report(int sync, int kind, int errnum, const char *msg);

/* parent: the clone flags of a new container */
unsigned long ct_clone_flags(const struct spawn_container *c);
/* parent, after clone: the child's uid_map and gid_map. 0, or -1 with errno. */
int ct_write_id_maps(pid_t pid, const struct spawn_container *c);

/* Id-mapped mounts (idmap.c): with UserNamespace=auto the parent, privileged over the host's
 * filesystems, clones and id-maps the root ([0]) and each Bind= source ([1 + i] for
 * mounts[i]) and sends them with the release; -1 where there is none. */
#define CT_TREES_MAX 65
extern int ct_trees[CT_TREES_MAX];
bool ct_parent_makes_trees(const struct spawn_container *c);
/* parent: release the child over sock (a SOCK_SEQPACKET socket), errnum 0 or what failed
 * before; the trees made and sent with it (or what failed making them) */
void ct_release(int sock, pid_t pid, const struct spawn_container *c, int errnum);
/* child: wait for the release; 0 with ct_trees filled, or the errno and msg of what failed */
int ct_wait_release(int sock, char *msg, size_t size);

/* child, once the parent let it go: cgroup and time namespaces, root in the user namespace,
 * hostname, lo up */
void ct_enter_namespaces(int sync, const struct spawn_container *c);
/* child: join a running container's namespaces and root (supctl exec, health checks) */
void ct_join(int sync, const struct spawn_container *c);
/* child, first: an O_PATH fd of the directory the root goes on, opened while the child is
 * still the host's root by uid (in a user namespace it may not reach it afterwards); -1 when
 * there is no root to make */
int ct_root_target(int sync, const struct spawn_container *c);
/* child: the root (binds, tmpfs, /proc /sys /dev) on target, pivot_root; or, for a sandboxed
 * plain unit, its mounts in place */
void ct_rootfs(int sync, const struct spawn_container *c, int target);
/* rootfs.c helpers for kernfs.c */
int ct_mkdir_in_root(int rootfd, const char *path, bool file, int *out);
int ct_mount_at(int targetfd, const char *src, const char *type, unsigned long flags,
		const char *data);
/* child: a tmpfs (an O_PATH fd of its root) for files the container gets bound, on /dev of
 * the root being built until ct_unstage_files() (the binds made from it stay) */
int ct_stage_files(int sync, int rootfd);
void ct_unstage_files(int sync, int rootfd, int mnt);
/* child, in the new root: /proc /sys /dev; after pivot_root: the masked paths */
void ct_kernfs(int sync, int rootfd, const struct spawn_container *c);
void ct_mask_paths(int sync, const struct spawn_container *c);

/* the ids a User=/Group= resolve to */
struct ct_ids {
	bool set;
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int n_groups;
	char home[256], name[64], shell[256];
};
/* child, after pivot_root: User=/Group= from the root's own /etc/passwd and /etc/group */
void ct_resolve_user(int sync, const char *user, const char *group, struct ct_ids *ids);
/* child: switch to ids, drop capabilities, no_new_privs, seccomp; the last step before exec */
void ct_security(int sync, const struct spawn_container *c, const struct ct_ids *ids);

/* child: the pty of `supctl exec -t`: opened in the container's devpts, its master sent
 * over c->pty_sock, its slave made stdio and the controlling terminal */
void ct_pty(int sync, const struct spawn_container *c);

/* The container init: fork the service (returns 0 in it); the init itself execs sup-init from
 * image (a sealed memfd, or -1: it serves itself), which reaps, forwards signals and reports
 * the service's exec and wait status over sync, then exits. */
pid_t ct_init_fork(int sync, int image);
/* in the service, until it execs: the init's pipe, told of a failure (ct_fail) */
extern int ct_fail_pipe;

#endif
