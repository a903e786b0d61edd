/*
 * A unit's device allow-list (docs/containers.md, "Devices"): on cgroup v2 a
 * BPF_PROG_TYPE_CGROUP_DEVICE program written here instruction by instruction (no libbpf, no
 * compiler), attached to the unit's cgroup with BPF_F_ALLOW_MULTI so that its leaves (health
 * checks, exec) run it too; on cgroup v1 the devices controller, used only by the units that
 * have a policy (every other unit would pay one more cgroup.procs write at each spawn).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "cgroup_private.h"

/* ---- cgroup v2: the BPF program ---- */

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(d, s, o)	INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define ALU_K(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define MOV_X(d, s)	INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define JNE_K(d, i, o)	INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define EXIT()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* every rule takes at most 8 instructions; 6 before the first, 2 after the last */
#define PROG_MAX(n) (6 + 8 * (n) + 2)

static unsigned access_bits(const char *a)
{
	unsigned b = 0;

	b |= strchr(a, 'm') ? BPF_DEVCG_ACC_MKNOD : 0;
	b |= strchr(a, 'r') ? BPF_DEVCG_ACC_READ : 0;
	b |= strchr(a, 'w') ? BPF_DEVCG_ACC_WRITE : 0;
	return b;
}

/* One rule: each test that does not hold jumps over the rest of the block, to the next rule.
 * r2 the device type, r3 the access asked, r4 major, r5 minor; r1 is scratch by then. */
static size_t rule(struct bpf_insn *p, const struct cg_device *d)
{
	unsigned acc = access_bits(d->access),
		 all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
	struct bpf_insn t[8];
	size_t n = 0;

	if (d->type != 'a')
		t[n++] = JNE_K(2, d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
	if (acc != all) { /* what is asked must be in what is allowed */
		t[n++] = MOV_X(1, 3);
		t[n++] = ALU_K(BPF_AND, 1, (int32_t)(~acc & all));
		t[n++] = JNE_K(1, 0, 0);
	}
	if (d->major != CG_DEV_ANY)
		t[n++] = JNE_K(4, (int32_t)d->major, 0);
	if (d->minor != CG_DEV_ANY)
		t[n++] = JNE_K(5, (int32_t)d->minor, 0);
	t[n++] = ALU_K(BPF_MOV, 0, 1);
	t[n++] = EXIT();
	for (size_t i = 0; i < n; i++)
		if (BPF_CLASS(t[i].code) == BPF_JMP && BPF_OP(t[i].code) == BPF_JNE)
			t[i].off = (int16_t)(n - i - 1);
	memcpy(p, t, n * sizeof(*t));
	return n;
}

static size_t program(struct bpf_insn *p, const struct cg_device *list, size_t n_rules)
{
	size_t n = 0;

	/* ctx: struct bpf_cgroup_dev_ctx {access_type (access << 16 | type), major, minor} */
	p[n++] = LDX_W(2, 1, 0);
	p[n++] = ALU_K(BPF_AND, 2, 0xffff);
	p[n++] = LDX_W(3, 1, 0);
	p[n++] = ALU_K(BPF_RSH, 3, 16);
	p[n++] = LDX_W(4, 1, 4);
	p[n++] = LDX_W(5, 1, 8);
	for (size_t i = 0; i < n_rules; i++)
		n += rule(p + n, &list[i]);
	p[n++] = ALU_K(BPF_MOV, 0, 0); /* no rule allowed it */
	p[n++] = EXIT();
	return n;
}

static int sys_bpf(int cmd, union bpf_attr *a)
{
	return (int)syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* The verifier's reason: the last line of its log before "processed N insns". */
static const char *verifier_says(char *log)
{
	char *end = strstr(log, "\nprocessed "), *start;

	if (!end)
		return "";
	*end = '\0';
	start = strrchr(log, '\n');
	return start ? start + 1 : log;
}

static int load(const struct cg_device *list, size_t n_rules, struct sup_error **err)
{
	_cleanup_free_ struct bpf_insn *p = calloc(PROG_MAX(n_rules), sizeof(*p));
	_cleanup_free_ char *log = NULL;
	const char *why;
	union bpf_attr a;
	int fd, e;

	if (!p)
		return sup_error_set(err, ENOMEM, "device program");
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)p;
	a.insn_cnt = (uint32_t)program(p, list, n_rules);
	a.license = (uint64_t)(uintptr_t) "GPL";
	fd = sys_bpf(BPF_PROG_LOAD, &a); /* bpf fds are O_CLOEXEC */
	if (fd >= 0)
		return fd;
	e = errno;
	if (e == EINVAL || e == EACCES) { /* the verifier refused it: again, to say why */
		log = calloc(1, 64 << 10);
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = log ? 64 << 10 : 0;
		a.log_level = log ? 1 : 0;
		if (log && (fd = sys_bpf(BPF_PROG_LOAD, &a)) >= 0)
			return fd;
	}
	why = log ? verifier_says(log) : "";
	return sup_error_set(err, e, "load the device program (BPF_PROG_LOAD)%s%s",
			     *why ? ": " : "", why);
}

/* Programs left on the cgroup by a supd that went away: detached, or they would still be
 * run (with ALLOW_MULTI every attached program must allow a device). */
static void detach_others(int cgfd)
{
	uint32_t ids[64], n = SUP_ARRAY_SIZE(ids);
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)cgfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uint64_t)(uintptr_t)ids;
	a.query.prog_cnt = n;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
		return;
	n = a.query.prog_cnt < n ? a.query.prog_cnt : n;
	for (uint32_t i = 0; i < n; i++) {
		union bpf_attr g = {.prog_id = ids[i]}, d;
		int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);

		if (fd < 0)
			continue;
		memset(&d, 0, sizeof(d));
		d.target_fd = (uint32_t)cgfd;
		d.attach_bpf_fd = (uint32_t)fd;
		d.attach_type = BPF_CGROUP_DEVICE;
		sys_bpf(BPF_PROG_DETACH, &d);
		close(fd);
	}
}

static int attach(int cgfd, int fd, int old)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (old >= 0) { /* in place of the old one, atomically (5.6) */
		a.attach_flags |= BPF_F_REPLACE;
		a.replace_bpf_fd = (uint32_t)old;
		if (sys_bpf(BPF_PROG_ATTACH, &a) == 0)
			return 0;
		a.attach_flags = BPF_F_ALLOW_MULTI;
		a.replace_bpf_fd = 0;
	}
	return sys_bpf(BPF_PROG_ATTACH, &a);
}

static void detach(int cgfd, int fd)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	sys_bpf(BPF_PROG_DETACH, &a);
}

int cg_bpf_devices(int cgfd, int *progfd, const struct cg_device *list, size_t n,
		   struct sup_error **err)
{
	int fd, old = *progfd;

	if (old < 0)
		detach_others(cgfd);
	if (n == 0) {
		if (old >= 0) {
			detach(cgfd, old);
			close(old);
		}
		*progfd = -1;
		return 0;
	}
	fd = load(list, n, err);
	if (fd < 0)
		return -1;
	if (attach(cgfd, fd, old) < 0) {
		int e = errno;
		close(fd);
		return sup_error_set(err, e, "attach the device program to the unit's cgroup");
	}
	if (old >= 0) {
		detach(cgfd, old); /* after a REPLACE: ENOENT, nothing to do */
		close(old);
	}
	*progfd = fd;
	return 0;
}

/* ---- cgroup v1: the devices hierarchy ---- */

static int dev_subfd = -1;    /* SUBTREE in the devices hierarchy */
static int dev_parentfd = -1; /* where supd made it, or -1 */
static char *dev_leaf;

int cg_dev1_init(const char *leaf)
{
	_cleanup_free_ char *mnt = NULL, *root = NULL, *self = NULL, *dir = NULL;
	int fd;

	if (cg_find_mount("devices", &mnt, &root) < 0 || !(self = cg_self_path("devices")) ||
	    !(dir = cg_dir_of(mnt, root, self)))
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!leaf) {
		dev_subfd = fd;
		return 0;
	}
	if (mkdirat(fd, leaf, 0755) < 0 && errno != EEXIST) {
		close(fd);
		return -1;
	}
	dev_subfd = openat(fd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dev_subfd < 0 || !(dev_leaf = strdup(leaf))) {
		close(fd);
		return -1;
	}
	dev_parentfd = fd;
	return 0;
}

void cg_dev1_fini(void)
{
	if (dev_parentfd >= 0 && dev_leaf)
		unlinkat(dev_parentfd, dev_leaf, AT_REMOVEDIR);
}

static void rule_text(const struct cg_device *d, char *buf, size_t size)
{
	char maj[16] = "*", min[16] = "*";

	if (d->major != CG_DEV_ANY)
		snprintf(maj, sizeof(maj), "%u", d->major);
	if (d->minor != CG_DEV_ANY)
		snprintf(min, sizeof(min), "%u", d->minor);
	snprintf(buf, size, "%c %s:%s %s", d->type, maj, min, d->access);
}

int cg_dev1_set(const char *name, const struct cg_device *list, size_t n, struct sup_error **err)
{
	_cleanup_close_ int fd = -1;
	char text[64];

	if (dev_subfd < 0)
		return sup_error_set(err, ENOTSUP,
				     "cgroup v1: no devices hierarchy on this host: "
				     "the device allow-list cannot be enforced");
	if (mkdirat(dev_subfd, name, 0755) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "create cgroup devices/.../%s", name);
	fd = openat(dev_subfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sup_error_set(err, errno, "open cgroup devices/.../%s", name);
	/* the whitelist is emptied by "a" (it may be again with processes in it) */
	if (cg_write(fd, "devices.deny", "a") < 0)
		return sup_error_set(err, errno, "cgroup devices/.../%s: write 'a' to devices.deny",
				     name);
	for (size_t i = 0; i < n; i++) {
		rule_text(&list[i], text, sizeof(text));
		if (cg_write(fd, "devices.allow", "%s", text) < 0)
			return sup_error_set(err, errno, "cgroup devices/.../%s: allow '%s'", name,
					     text);
	}
	return 0;
}

int cg_dev1_place(const char *name, pid_t pid, struct sup_error **err)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/cgroup.procs", name);
	if (dev_subfd < 0 || cg_write(dev_subfd, p, "%d", (int)pid) < 0)
		return sup_error_set(err, dev_subfd < 0 ? ENOTSUP : errno,
				     "put pid %d in cgroup devices/.../%s", (int)pid, name);
	return 0;
}

int cg_dev1_remove(const char *name)
{
	if (dev_subfd < 0 || unlinkat(dev_subfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	return -1;
}
