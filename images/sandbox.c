/*
 * The unpacker's sandbox: a forked child that keeps only the capabilities writing a layer
 * needs (ownership, modes, whiteout devices, trusted.overlay.opaque, file capabilities), sets
 * no_new_privs, and runs under a seccomp allow-list: no exec, no sockets, no mount, no ptrace.
 * It gets the blob and the layer directory as fds and answers with one JSON object on a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "unpack.h"

#define RESULT_MAX (64u << 20)

static const cap_value_t kept_caps[] = {
    CAP_CHOWN,	      /* layer ownership */
    CAP_DAC_OVERRIDE, /* write into directories whose mode says otherwise */
    CAP_FOWNER,	      /* chmod/utimes on files owned by others */
    CAP_FSETID,	      /* keep set-id bits */
    CAP_MKNOD,	      /* overlayfs whiteouts (0/0 character devices) */
    CAP_SETFCAP,      /* security.capability xattrs */
    CAP_SYS_ADMIN,    /* trusted.overlay.opaque; seccomp forbids what else it would allow */
};

static int drop_caps(struct sup_error **err)
{
	cap_t caps = cap_init();
	int r = 0;

	if (!caps)
		return sup_error_set(err, errno, "cap_init");
	for (cap_value_t c = 0; c <= CAP_LAST_CAP && r == 0; c++) {
		bool keep = false;
		for (size_t i = 0; i < SUP_ARRAY_SIZE(kept_caps); i++)
			keep = keep || kept_caps[i] == c;
		if (!keep && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) < 0 && errno != EINVAL)
			r = sup_error_set(err, errno, "drop capability %d from the bounding set",
					  (int)c);
	}
	if (r == 0 &&
	    (cap_set_flag(caps, CAP_PERMITTED, SUP_ARRAY_SIZE(kept_caps), kept_caps, CAP_SET) < 0 ||
	     cap_set_flag(caps, CAP_EFFECTIVE, SUP_ARRAY_SIZE(kept_caps), kept_caps, CAP_SET) < 0 ||
	     cap_set_proc(caps) < 0))
		r = sup_error_set(err, errno, "set capabilities");
	cap_free(caps);
	return r;
}

/* What unpacking calls, through glibc, libarchive, zlib and libzstd. */
static const char *const allowed[] = {
    "read",	     "write",		"pread64",     "pwrite64",
    "readv",	     "writev",		"lseek",       "close",
    "openat",	     "openat2",		"mkdirat",     "mknodat",
    "symlinkat",     "linkat",		"unlinkat",    "fchown",
    "fchownat",	     "fchmod",		"fchmodat",    "utimensat",
    "fsetxattr",     "ftruncate",	"fstat",       "newfstatat",
    "statx",	     "fstatfs",		"fstatfs64",   "brk",
    "mmap",	     "munmap",		"mremap",      "mprotect",
    "madvise",	     "futex",		"exit",	       "exit_group",
    "rt_sigreturn",  "rt_sigprocmask",	"getpid",      "gettid",
    "clock_gettime", "getrandom",	"fcntl",       "dup",
    "getuid",	     "geteuid",		"getgid",      "getegid",
    "sched_yield",   "restart_syscall", "close_range", "fdatasync",
    "fsync",	     "syncfs",
};

static int load_seccomp(struct sup_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r = 0;

	if (!ctx)
		return sup_error_set(err, ENOMEM, "seccomp_init");
	for (size_t i = 0; i < SUP_ARRAY_SIZE(allowed) && r == 0; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r < 0 ? sup_error_set(err, -r, "seccomp filter") : 0;
}

int img_sandbox_enter(struct sup_error **err)
{
	if (geteuid() == 0 && drop_caps(err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sup_error_set(err, errno, "no_new_privs");
	return load_seccomp(err);
}

static json_t *result_json(const struct img_unpack_result *r, const struct sup_error *e)
{
	json_t *o, *impl;

	if (e)
		return json_pack("{s:s}", "error", e->msg);
	impl = json_array();
	for (size_t i = 0; i < r->implicit.n; i++)
		json_array_append_new(impl, json_string(r->implicit.v[i]));
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "diff_id", r->diff_id, "bytes",
		      (json_int_t)r->bytes, "entries", (json_int_t)r->entries, "whiteouts",
		      (json_int_t)r->whiteouts, "opaques", (json_int_t)r->opaques,
		      "skipped_devices", (json_int_t)r->skipped_devices, "dropped_xattrs",
		      (json_int_t)r->dropped_xattrs, "implicit", impl);
	return o;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The child inherits every fd of the helper (the store's directories, registry connections,
 * supd's event pipe, other unpackers' pipes): keep the blob, the layer directory and the
 * result pipe as fds 3, 4 and 5, point 0-2 at /dev/null, close the rest. */
static int keep_only(int *blob_fd, int *root_fd, int *out)
{
	int *fds[] = {blob_fd, root_fd, out};
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* everything moved above 63 first: no dup3 below overwrites what a later one reads */
	if (nul < 0 || (nul = fcntl(nul, F_DUPFD_CLOEXEC, 64)) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if ((*fds[i] = fcntl(*fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			return -1;
	for (int i = 0; i < 3; i++)
		if (dup3(nul, i, 0) < 0 || dup3(*fds[i], 3 + i, O_CLOEXEC) < 0)
			return -1;
	for (int i = 0; i < 3; i++)
		*fds[i] = 3 + i;
	return syscall(SYS_close_range, 6, ~0U, 0) < 0 ? -1 : 0;
}

static __attribute__((noreturn)) void child(int out, int blob_fd, int root_fd,
					    const struct img_unpack_opts *o)
{
	struct img_unpack_result res;
	struct sup_error *e = NULL;
	json_t *j;
	char *text;
	int status;

	memset(&res, 0, sizeof(res));
	if (keep_only(&blob_fd, &root_fd, &out) < 0)
		_exit(127);
	if (img_sandbox_enter(&e) == 0)
		img_unpack_layer(blob_fd, root_fd, o, &res, &e);
	j = result_json(&res, e);
	text = json_dumps(j, JSON_COMPACT);
	if (text)
		write_all(out, text, strlen(text));
	status = e ? 1 : 0;
	free(text);
	json_decref(j);
	img_unpack_result_free(&res);
	sup_error_free(e);
	_exit(status);
}

static int read_result(int fd, char **out, size_t *len, struct sup_error **err)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t r;
		if (n + 1 == cap) {
			char *nb = cap < RESULT_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf[n] = '\0';
			*out = buf;
			*len = n;
			return 0;
		}
		n += (size_t)r;
	}
	free(buf);
	return sup_error_set(err, ENOMEM, "unpacker result");
}

static int parse_result(const char *text, size_t len, int status, struct img_unpack_result *res,
			struct sup_error **err)
{
	json_t *o = json_loadb(text, len, 0, NULL), *v;
	const char *s;
	size_t i;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if ((s = json_string_value(json_object_get(o, "error"))))
		r = sup_error_set(err, 0, "%s", s);
	else if (!(s = json_string_value(json_object_get(o, "diff_id"))) ||
		 strlen(s) > IMG_DIGEST_LEN)
		r = sup_error_set(err, 0, "layer unpacker died (%s %d)",
				  WIFSIGNALED(status) ? "signal" : "status",
				  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (r < 0) {
		json_decref(o);
		return -1;
	}
	snprintf(res->diff_id, sizeof(res->diff_id), "%s", s);
	res->bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	res->entries = (unsigned long)json_integer_value(json_object_get(o, "entries"));
	res->whiteouts = (unsigned long)json_integer_value(json_object_get(o, "whiteouts"));
	res->opaques = (unsigned long)json_integer_value(json_object_get(o, "opaques"));
	res->skipped_devices =
	    (unsigned long)json_integer_value(json_object_get(o, "skipped_devices"));
	res->dropped_xattrs =
	    (unsigned long)json_integer_value(json_object_get(o, "dropped_xattrs"));
	json_array_foreach(json_object_get(o, "implicit"), i, v) if (json_is_string(v))
	    strv_push(&res->implicit, json_string_value(v));
	json_decref(o);
	return 0;
}

int img_unpack_spawn(int blob_fd, int root_fd, const struct img_unpack_opts *o, pid_t *pid,
		     int *result_fd, struct sup_error **err)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return sup_error_set(err, errno, "pipe");
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return sup_error_set(err, errno, "fork unpacker");
	}
	if (*pid == 0) {
		close(p[0]);
		child(p[1], blob_fd, root_fd, o);
	}
	close(p[1]);
	*result_fd = p[0];
	return 0;
}

int img_unpack_collect(pid_t pid, int result_fd, struct img_unpack_result *res,
		       struct sup_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int status = 0, r;

	r = read_result(result_fd, &text, &len, err);
	close(result_fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -1;
	return parse_result(text, len, status, res, err);
}

int img_unpack_sandboxed(int blob_fd, int root_fd, const struct img_unpack_opts *o,
			 struct img_unpack_result *res, struct sup_error **err)
{
	pid_t pid;
	int fd;

	if (img_unpack_spawn(blob_fd, root_fd, o, &pid, &fd, err) < 0)
		return -1;
	return img_unpack_collect(pid, fd, res, err);
}
