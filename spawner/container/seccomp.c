/*
 * Seccomp=default: an allow-list equivalent to Docker's default profile (unknown syscalls
 * fail with EPERM; clone3 with ENOSYS, so that libc falls back to clone, whose namespace flags
 * can be checked), with the rules of each capability the unit keeps; the native architecture
 * and its companions (x86_64: i386 and x32). Compiled once by the parent with libseccomp into
 * a BPF program that the child loads with one prctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "seccomp_profile.h"

static const char *const allowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "arch_prctl",
    "modify_ldt",
    NULL,
};

/* Syscalls allowed only to a unit that keeps a capability (Docker's "includes": caps). */
static const struct {
	int cap;
	const char *names;
} by_cap[] = {
    {2, "open_by_handle_at"},
    {21, "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
	 "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
	 "sethostname setns syslog umount umount2 unshare"},
    {22, "reboot"},
    {18, "chroot"},
    {16, "delete_module init_module finit_module"},
    {20, "acct"},
    {19, "kcmp pidfd_getfd process_madvise"},
    {17, "iopl ioperm"},
    {25, "settimeofday stime clock_settime clock_settime64"},
    {26, "vhangup"},
    {23, "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"},
    {34, "syslog"},
    {39, "bpf"},
    {38, "perf_event_open"},
};

#define CLONE_NS_FLAGS 0x7E020000ULL /* CLONE_NEWNS ... CLONE_NEWNET, CLONE_NEWCGROUP */

static int allow_words(struct sc_profile *p, const char *words)
{
	char name[64];

	while (*words) {
		size_t n = strcspn(words, " ");
		if (n >= sizeof(name))
			return -1;
		memcpy(name, words, n);
		name[n] = '\0';
		if (sc_add(p, name, SCMP_ACT_ALLOW, NULL, 0) < 0)
			return -1;
		words += n + strspn(words + n, " ");
	}
	return 0;
}

int sc_default(struct sc_profile *p, uint64_t caps)
{
	static const uint64_t personas[] = {0, 8, 0x20000, 0x20008, 0xffffffff};
	struct scmp_arg_cmp arg;
	bool admin = caps & (1ULL << 21);

	p->default_action = SCMP_ACT_ERRNO(EPERM);
	for (size_t i = 0; allowed[i]; i++)
		if (sc_add(p, allowed[i], SCMP_ACT_ALLOW, NULL, 0) < 0)
			return -1;
	/* spelled out: libseccomp's SCMP_A0() leaves datum_b to the compiler (clang warns) */
	arg = (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_NE, .datum_a = 40}; /* AF_VSOCK */
	if (sc_add(p, "socket", SCMP_ACT_ALLOW, &arg, 1) < 0)
		return -1;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(personas); i++) {
		arg = (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_EQ, .datum_a = personas[i]};
		if (sc_add(p, "personality", SCMP_ACT_ALLOW, &arg, 1) < 0)
			return -1;
	}
	for (size_t i = 0; i < SUP_ARRAY_SIZE(by_cap); i++)
		if ((caps & (1ULL << by_cap[i].cap)) && allow_words(p, by_cap[i].names) < 0)
			return -1;
	if (admin)
		return 0;
	/* clone without namespace flags; clone3 hides its flags in memory: ENOSYS */
	arg = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0);
	if (sc_add(p, "clone", SCMP_ACT_ALLOW, &arg, 1) < 0)
		return -1;
	return sc_add(p, "clone3", SCMP_ACT_ERRNO(ENOSYS), NULL, 0);
}

/* The native architecture and its companions. */
static int add_arches(scmp_filter_ctx ctx, const struct sc_profile *p)
{
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < p->n_arches; i++)
		if (p->arches[i] != native && seccomp_arch_add(ctx, p->arches[i]) < 0)
			return -1;
	if (p->n_arches == 0 && native == SCMP_ARCH_X86_64) {
		seccomp_arch_add(ctx, SCMP_ARCH_X86);
		seccomp_arch_add(ctx, SCMP_ARCH_X32);
	}
	return 0;
}

static int export(scmp_filter_ctx ctx, struct spawn_bpf *out)
{
	int fd = memfd_create("sup-seccomp", MFD_CLOEXEC), r = -1;
	struct stat st;

	if (fd < 0)
		return -1;
	if (seccomp_export_bpf(ctx, fd) == 0 && fstat(fd, &st) == 0 && st.st_size > 0 &&
	    st.st_size % 8 == 0 && st.st_size / 8 <= 0xffff) {
		out->filter = malloc((size_t)st.st_size);
		if (out->filter && pread(fd, out->filter, (size_t)st.st_size, 0) == st.st_size) {
			out->len = (unsigned short)(st.st_size / 8);
			r = 0;
		}
	}
	close(fd);
	return r;
}

int sc_compile(const struct sc_profile *p, struct spawn_bpf *out, struct sup_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(p->default_action);
	int r = -1;

	if (!ctx)
		return sup_error_set(err, ENOMEM, "seccomp: init");
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (add_arches(ctx, p) < 0) {
		sup_error_set(err, EINVAL, "seccomp: an architecture this machine cannot run");
		goto out;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct sc_rule *ru = &p->rules[i];
		int rc;

		if (ru->action == p->default_action)
			continue;
		rc = seccomp_rule_add_array(ctx, ru->action, ru->nr, ru->n_args, ru->args);
		if (rc < 0 && rc != -EEXIST) {
			sup_error_set(err, -rc, "seccomp: rule for %s", ru->name);
			goto out;
		}
	}
	if (export(ctx, out) < 0)
		sup_error_set(err, errno ? errno : EIO, "seccomp: export the filter");
	else
		r = 0;
out:
	seccomp_release(ctx);
	return r;
}

int sc_add(struct sc_profile *p, const char *name, uint32_t action, const struct scmp_arg_cmp *args,
	   unsigned n_args)
{
	int nr = seccomp_syscall_resolve_name(name);
	struct sc_rule *v;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a syscall of this architecture, as Docker skips it */
	if (p->n_rules == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 512;
		v = reallocarray(p->rules, cap, sizeof(*v));
		if (!v)
			return -1;
		p->rules = v;
		p->cap = cap;
	}
	v = &p->rules[p->n_rules++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->nr = nr;
	v->action = action;
	v->n_args = n_args > 6 ? 6 : n_args;
	if (n_args)
		memcpy(v->args, args, v->n_args * sizeof(*args));
	return 0;
}

void sc_profile_free(struct sc_profile *p)
{
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

void spawn_bpf_free(struct spawn_bpf *b)
{
	free(b->filter);
	b->filter = NULL;
	b->len = 0;
}

int spawn_seccomp_compile(const char *profile, uint64_t caps, struct spawn_bpf *out,
			  struct sup_error **err)
{
	struct sc_profile p = {0};
	int r;

	if (profile)
		r = sc_load_json(profile, caps, &p, err);
	else if ((r = sc_default(&p, caps)) < 0)
		sup_error_set(err, ENOMEM, "seccomp: the default profile");
	if (r == 0)
		r = sc_compile(&p, out, err);
	sc_profile_free(&p);
	return r;
}

int spawn_seccomp_check(const char *profile, struct sup_error **err)
{
	struct spawn_bpf b = {0};
	int r = spawn_seccomp_compile(profile, ~0ULL, &b, err);

	spawn_bpf_free(&b);
	return r;
}
