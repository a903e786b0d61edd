/*
 * The spawner: a spawn request in, a running process out. The child does its setup in a
 * fixed order and reports the first failure (errno + what it was doing) over a sync pipe
 * before _exit; a successful exec closes the pipe (O_CLOEXEC), so EOF means "exec'd".
 */
#ifndef SUP_SPAWN_H
#define SUP_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup/error.h"
#include "sup/strv.h"
#include "sup/unit.h"

/* A mount of a container: a bind from the host (src) or a tmpfs (src NULL). */
struct spawn_mount {
	const char *src;
	const char *dst;  /* inside the root */
	const char *opts; /* tmpfs options ("size=1M,mode=1777"), or NULL */
	bool ro;
	bool optional; /* a missing source is skipped */
};

/* One line of an id map: COUNT ids from INSIDE are HOST's. count 0: no map. */
struct spawn_idmap {
	uint32_t inside, host, count;
};

/* A seccomp filter compiled by the parent (spawner/container/seccomp.c). */
struct spawn_bpf {
	void *filter; /* struct sock_filter[len] */
	unsigned short len;
};

/*
 * Isolation for the child (spawner/container/): namespaces, the root, mounts, capabilities,
 * no_new_privs, seccomp, the container init. Made by the caller from the unit's config.
 */
struct spawn_container {
	unsigned ns;	   /* UNIT_NS_* */
	bool full;	   /* a [Container] unit: pivot_root, fresh /proc /sys /dev, masked paths */
	const char *root;  /* the directory to pivot into */
	bool root_is_host; /* root is an empty staging directory: the host's / is bound there */
	bool read_only_root;
	/* the root as a detached mount made by the caller (an image's overlay): moved onto root
	 * instead of a bind of it; -1: none */
	int root_tree;
	const char *hostname; /* with the uts namespace */
	bool init;	      /* a minimal init is PID 1 and the service its child */
	int init_image;	      /* the init's program (spawn_init_image()), or -1: a fork serves */
	struct spawn_idmap uid, gid;
	bool idmapped; /* user namespace: the root and binds are mounted id-mapped */
	const struct spawn_mount *mounts;
	size_t n_mounts;
	uint64_t shm_size;
	int64_t time_offset_usec; /* with the time namespace: monotonic and boottime */
	bool caps_set;		  /* else every capability stays */
	uint64_t caps, ambient;
	bool no_new_privs;
	const struct spawn_bpf *seccomp; /* NULL: unconfined */
	const char *notify_socket;	 /* a host socket bound at SPAWN_NOTIFY_PATH */
	char *const *devices;		 /* extra device nodes, "/dev/PATH rwm" */
	size_t n_devices;
	/* Exec into a running container: join the namespaces of this process (its pidfd) and
	 * take its root, instead of making new ones. -1: a new container. */
	int join_pidfd;
	/* For exec on a terminal: a unix socket to send the pty's master to (SCM_RIGHTS);
	 * the command gets the pty's slave as its stdio. -1: none. */
	int pty_sock;
};

#define SPAWN_NOTIFY_PATH "/run/host/notify"

/*
 * systemd's settings of a unit's processes: Limit*= (UNIT_RLIMITS entries, indexed by
 * RLIMIT_*), UMask= (-1: keep), Nice= and OOMScoreAdjust= (UNIT_INT_UNSET: keep, and 0),
 * IgnoreSIGPIPE=; directories made before the switch to the user and owned by it
 * (RuntimeDirectory=, StateDirectory=: absolute paths, NULL-terminated, and their modes);
 * $VAR and ${VAR} in argv expanded from the final environment (systemd's dialect).
 */
struct spawn_settings {
	const struct unit_rlimit *limits;
	int umask;
	int nice;
	int oom_score_adj;
	bool ignore_sigpipe;
	char *const *dirs;
	const unsigned *dir_modes;
	bool expand_argv;
};

struct spawn_request {
	const char *unit;	      /* for messages */
	char *const *argv;	      /* argv[0] absolute, or looked up in the env's PATH */
	char *const *envp;	      /* the environment before EnvironmentFile= */
	const struct strv *env_files; /* read in the child; "-path" = optional; may be NULL */
	const char *cwd;	      /* NULL = "/" */
	const char *user;	      /* NULL = keep root; name or number */
	const char *group;	      /* NULL = the user's primary group */
	int stdin_fd;		      /* -1 = /dev/null */
	int stdout_fd;		      /* -1 = /dev/null, -2 = inherit supd's */
	int stderr_fd;
	bool new_session;	   /* setsid(): the unit gets its own process group */
	bool controlling_tty;	   /* with new_session: stdin (a tty) becomes the session's
				    * controlling terminal, taken from any other (a console shell) */
	unsigned long nofile_soft; /* RLIMIT_NOFILE to restore (0 = keep): supd's is raised */
	unsigned long nofile_hard;
	/*
	 * The unit's cgroup: the process is in it before it runs an instruction of the service.
	 * into_cgroup: clone3(CLONE_INTO_CGROUP) with cgroup_fd (cgroup v2, kernel >= 5.7);
	 * otherwise, or if the kernel refuses, place(pid) is called by the parent after fork
	 * while the child waits on a pipe, and only then is the child released.
	 */
	bool into_cgroup;
	int cgroup_fd;
	int (*place)(pid_t pid, void *arg, struct sup_error **err); /* NULL: no cgroup */
	void *place_arg;
	/* out (may be NULL), set when into_cgroup: 0 if clone3 placed the child, else the errno
	 * it was refused with (the fork-then-place fallback ran) */
	int *clone3_errno;
	const struct spawn_settings *settings; /* NULL: none */
	/* a container (spawner/container/), or NULL for a plain process */
	const struct spawn_container *container;
	int *pidfd;	  /* out (may be NULL): a pidfd of the child (CLONE_PIDFD), or -1 */
	int death_signal; /* PR_SET_PDEATHSIG: sent to the child when supd dies (0: none) */
};

#define SPAWN_MSG_MAX 512

/* What a child sends back: a failure; from a container init also that the service exec'd,
 * and the service's wait status when it ended. */
enum spawn_report {
	SPAWN_REPORT_FAILED,
	SPAWN_REPORT_EXECD,
	SPAWN_REPORT_STATUS, /* errnum holds the service's wait status */
};

struct spawn_failure {
	int kind; /* enum spawn_report */
	int errnum;
	int exit_code; /* 126/127, as tini and shells do */
	char msg[SPAWN_MSG_MAX];
};

/*
 * Fork and set up the child. Returns the pid (> 0) and *sync_fd (the read end, O_CLOEXEC,
 * O_NONBLOCK), or -1 with *err if the fork itself failed.
 */
pid_t spawn_process(const struct spawn_request *req, int *sync_fd, struct sup_error **err);

/*
 * Read the outcome from a sync fd that polled readable: 0 = exec'd (EOF), 1 = the child
 * failed (*f filled), -1 = nothing yet (EAGAIN). From a container's sync fd, 2 = the service
 * exec'd, 3 = its wait status (f->errnum); EOF there means the container init is gone.
 */
int spawn_read_result(int sync_fd, struct spawn_failure *f);

/* Compile the seccomp filter of a unit: Docker's default allow-list (minus the rules of the
 * capabilities it lacks), or an OCI/Docker JSON profile file. 0, or -1 with *err. */
int spawn_seccomp_compile(const char *profile, uint64_t caps, struct spawn_bpf *out,
			  struct sup_error **err);
void spawn_bpf_free(struct spawn_bpf *b);
/* Check a JSON profile (syntax, actions, operators, architectures): at load, so that a bad
 * file is the unit's error, not a failed start. */
int spawn_seccomp_check(const char *profile, struct sup_error **err);

/* sup-init, the container init's program, in a sealed memfd made at the first call (kept for
 * supd's life, O_CLOEXEC); -1 if the kernel refuses one (the init then stays a fork). */
int spawn_init_image(void);

/* Send sig through a pidfd when there is one (no pid reuse race), else by pid. */
int spawn_signal(int pidfd, pid_t pid, int sig);

/* Exit status a shell uses when exec fails with errnum. */
int spawn_exec_exit_code(int errnum);

#endif
