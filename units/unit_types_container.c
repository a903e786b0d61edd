/*
 * Value types of [Container] (namespaces, id maps, binds, tmpfs, capabilities, seccomp,
 * network, devices), and systemd's sandboxing keys that map onto them: each sets only the
 * field it asks for, so a plain unit gets that isolation and no more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "unit_types.h"

static const char *const cap_names[UNIT_CAP_MAX + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

const char *unit_cap_name(unsigned cap)
{
	return cap <= UNIT_CAP_MAX ? cap_names[cap] : NULL;
}

int unit_cap_from_name(const char *s)
{
	if (strncasecmp(s, "CAP_", 4) == 0)
		s += 4;
	for (unsigned i = 0; i <= UNIT_CAP_MAX; i++)
		if (strcasecmp(s, cap_names[i] + 4) == 0)
			return (int)i;
	return -1;
}

static const char *const ns_names[] = {"pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time"};

const char *unit_ns_names(unsigned mask, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < SUP_ARRAY_SIZE(ns_names); i++)
		if ((mask & (1u << i)) && n + strlen(ns_names[i]) + 2 <= size)
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "", ns_names[i]);
	return buf;
}

bool unit_container_wanted(const struct unit_config *c)
{
	const struct unit_container *t = &c->ct;

	return t->enabled || t->namespaces || t->caps_set || t->ambient || t->no_new_privs == 1 ||
	       t->read_only_root || t->bind_ro.n || t->bind.n || t->tmpfs.n;
}

unsigned unit_container_namespaces(const struct unit_config *c)
{
	const struct unit_container *t = &c->ct;
	unsigned ns = t->namespaces;

	if (t->enabled && t->network == UNIT_NETWORK_HOST)
		ns &= ~UNIT_NS_NET;
	else if (t->enabled)
		ns |= UNIT_NS_NET; /* Network= decides, whatever Namespaces= lists */
	if (t->root_directory || t->image || t->bind.n || t->bind_ro.n || t->tmpfs.n ||
	    t->read_only_root)
		ns |= UNIT_NS_MNT;
	if (t->userns != UNIT_USERNS_DEFAULT)
		ns |= UNIT_NS_USER;
	return ns;
}

/* Blank-separated words of value, each passed to one(). */
static int each_word(struct unit_ctx *x, const char *value, void *field,
		     int (*one)(struct unit_ctx *x, const char *w, void *field))
{
	struct strv words = {0};
	const char *what;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(&x->why, "%s", what);
		return -1;
	}
	for (size_t i = 0; i < words.n && r == 0; i++)
		r = one(x, words.v[i], field);
	strv_free(&words);
	return r;
}

static int ns_word(struct unit_ctx *x, const char *w, void *field)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(ns_names); i++)
		if (strcmp(w, ns_names[i]) == 0) {
			*(unsigned *)field |= 1u << i;
			return 0;
		}
	return unit_invalid(x, w, false);
}

static int parse_namespaces(struct unit_ctx *x, const char *value, void *field)
{
	*(unsigned *)field = 0; /* the list replaces the default */
	return each_word(x, value, field, ns_word);
}

static void reset_namespaces(void *field)
{
	*(unsigned *)field = UNIT_NS_DEFAULT;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* auto, or HOST:CONTAINER:COUNT */
static int parse_userns(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;
	const char *a = value, *b = strchr(a, ':'), *c = b ? strchr(b + 1, ':') : NULL;

	if (strcmp(value, "auto") == 0) {
		t->userns = UNIT_USERNS_AUTO;
		return 0;
	}
	if (!b || !c || parse_u32(a, (size_t)(b - a), &t->userns_host) < 0 ||
	    parse_u32(b + 1, (size_t)(c - b - 1), &t->userns_inside) < 0 ||
	    parse_u32(c + 1, strlen(c + 1), &t->userns_count) < 0 || t->userns_count == 0 ||
	    (uint64_t)t->userns_host + t->userns_count > (1ULL << 32) - 1 ||
	    (uint64_t)t->userns_inside + t->userns_count > (1ULL << 32) - 1)
		return unit_invalid(x, value, false);
	t->userns = UNIT_USERNS_MAP;
	return 0;
}

static void reset_userns(void *field)
{
	*(enum unit_userns *)field = UNIT_USERNS_DEFAULT;
}

static bool clean_path(const char *p, size_t n)
{
	if (n == 0 || p[0] != '/' || n >= 4096)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == ':')
			return false;
		/* no "." or ".." component: a mount target is exactly where it says */
		if (p[i] == '/' && p[i + 1] == '.' &&
		    (i + 2 >= n || p[i + 2] == '/' ||
		     (p[i + 2] == '.' && (i + 3 >= n || p[i + 3] == '/'))))
			return false;
	}
	return true;
}

/* HOSTPATH[:CONTAINERPATH], "-" before it: the source may be missing. Stored "SRC:DST". */
static int bind_word(struct unit_ctx *x, const char *w, void *field)
{
	const char *src = w + (w[0] == '-'), *colon = strchr(src, ':');
	size_t sn = colon ? (size_t)(colon - src) : strlen(src);
	const char *dst = colon ? colon + 1 : src;
	size_t dn = colon ? strlen(dst) : sn;
	struct unit_buf b = {0};
	int r;

	if (!clean_path(src, sn) || !clean_path(dst, dn)) {
		unit_invalid(x, w, false);
		unit_buf_printf(&x->why, " (absolute paths without . or .. components)");
		return -1;
	}
	unit_buf_printf(&b, "%s%.*s:%.*s", w[0] == '-' ? "-" : "", (int)sn, src, (int)dn, dst);
	r = b.failed ? unit_oom(x) : unit_push_unique(x, field, b.p);
	unit_buf_free(&b);
	return r;
}

static int parse_binds(struct unit_ctx *x, const char *value, void *field)
{
	return each_word(x, value, field, bind_word);
}

/* One Tmpfs= option: size=SIZE, mode=OCTAL (at most 4 digits), or a flag */
static bool tmpfs_option_ok(const char *o)
{
	static const char *const flags[] = {"noexec", "nosuid", "nodev", "ro"};
	uint64_t v;

	if (strncmp(o, "size=", 5) == 0)
		return unit_parse_size(o + 5, &v) == 0;
	if (strncmp(o, "mode=", 5) == 0)
		return o[5] && strspn(o + 5, "01234567") == strlen(o + 5) && strlen(o + 5) <= 4;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(flags); i++)
		if (strcmp(o, flags[i]) == 0)
			return true;
	return false;
}

/* PATH[:size=SIZE,mode=OCTAL]: the options are checked here, given to the kernel as they are */
static int tmpfs_word(struct unit_ctx *x, const char *w, void *field)
{
	const char *colon = strchr(w, ':');
	size_t n = colon ? (size_t)(colon - w) : strlen(w);

	if (!clean_path(w, n) || n == 1)
		return unit_invalid(x, w, false);
	for (const char *o = colon ? colon + 1 : NULL; o && *o;) {
		size_t len = strcspn(o, ",");
		char buf[64];

		if (len >= sizeof(buf))
			return unit_invalid(x, w, false);
		memcpy(buf, o, len);
		buf[len] = '\0';
		if (!tmpfs_option_ok(buf))
			return unit_invalid(x, w, false);
		o += len + (o[len] == ',');
	}
	return unit_push_unique(x, field, w);
}

static int parse_tmpfs(struct unit_ctx *x, const char *value, void *field)
{
	x->p->c->ct.tmpfs_set = true;
	if (!*value) {
		strv_free(field);
		return 0;
	}
	return each_word(x, value, field, tmpfs_word);
}

static int cap_word(struct unit_ctx *x, const char *w, void *field)
{
	int cap = unit_cap_from_name(w);

	if (cap < 0)
		return unit_invalid(x, w, false);
	*(uint64_t *)field |= 1ULL << cap;
	return 0;
}

#define ALL_CAPS ((1ULL << (UNIT_CAP_MAX + 1)) - 1)

/* Capabilities=: names, or all; systemd's CapabilityBoundingSet= also takes ~NAMES (all but). */
static int parse_caps(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;
	bool invert = value[0] == '~';
	uint64_t set = 0;

	t->caps_set = true;
	if (strcmp(value, "all") == 0) {
		*(uint64_t *)field = ALL_CAPS;
		return 0;
	}
	if (invert && !x->k->canon)
		return unit_invalid(x, value, false);
	if (each_word(x, value + invert, &set, cap_word) < 0)
		return -1;
	*(uint64_t *)field = invert ? ALL_CAPS & ~set : set;
	return 0;
}

static void reset_caps(void *field)
{
	*(uint64_t *)field = UNIT_CAPS_DOCKER;
}

static int parse_ambient(struct unit_ctx *x, const char *value, void *field)
{
	uint64_t set = 0;

	if (each_word(x, value, &set, cap_word) < 0)
		return -1;
	*(uint64_t *)field |= set;
	return 0;
}

static void reset_u64(void *field)
{
	*(uint64_t *)field = 0;
}

static int parse_nnp(struct unit_ctx *x, const char *value, void *field)
{
	bool b;

	if (unit_parse_bool(value, &b) < 0)
		return unit_invalid(x, value, false);
	*(int *)field = b;
	return 0;
}

static void reset_nnp(void *field)
{
	*(int *)field = -1;
}

static int parse_seccomp(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;

	free(t->seccomp_profile);
	t->seccomp_profile = NULL;
	if (strcmp(value, "default") == 0) {
		t->seccomp = UNIT_SECCOMP_DEFAULT;
	} else if (strcmp(value, "unconfined") == 0) {
		t->seccomp = UNIT_SECCOMP_UNCONFINED;
	} else if (value[0] == '/') {
		t->seccomp = UNIT_SECCOMP_PROFILE;
		t->seccomp_line = x->p->line;
		return unit_set_string(x, &t->seccomp_profile, value);
	} else {
		return unit_invalid(x, value, false);
	}
	return 0;
}

static int parse_network(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;
	static const struct unit_enum nets[] = {{"none", UNIT_NETWORK_NONE},
						{"host", UNIT_NETWORK_HOST},
						{"bridge", UNIT_NETWORK_BRIDGE},
						{NULL, 0}};

	free(t->network_unit);
	t->network_unit = NULL;
	if (strncmp(value, "container:", 10) == 0) {
		if (!unit_name_valid(value + 10))
			return unit_invalid(x, value, false);
		t->network = UNIT_NETWORK_CONTAINER;
		return unit_set_string(x, &t->network_unit, value + 10);
	}
	for (const struct unit_enum *e = nets; e->name; e++)
		if (strcmp(value, e->name) == 0) {
			t->network = (enum unit_network)e->value;
			return 0;
		}
	return unit_invalid(x, value, false);
}

/* RFC 1123 labels, at most 64 bytes (the kernel's limit) */
static int parse_hostname(struct unit_ctx *x, const char *value, void *field)
{
	size_t n = strlen(value);

	if (n == 0 || n > 64 || value[0] == '-' || value[0] == '.' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != n)
		return unit_invalid(x, value, false);
	return unit_set_string(x, field, value);
}

/* A signed duration: "-1h", "30s". */
static int parse_offset(struct unit_ctx *x, const char *value, void *field)
{
	bool neg = value[0] == '-';
	uint64_t v;

	if (unit_parse_duration(value + neg, &v) < 0 || v > (uint64_t)INT64_MAX / 2)
		return unit_invalid(x, value, errno == ERANGE);
	*(int64_t *)field = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int parse_shm(struct unit_ctx *x, const char *value, void *field)
{
	uint64_t v = 0;

	if (unit_parse_size(value, &v) < 0 || v == SIZE_INFINITY || v < 4096)
		return unit_invalid(x, value, errno == ERANGE);
	*(uint64_t *)field = v;
	return 0;
}

static void reset_shm(void *field)
{
	*(uint64_t *)field = 64ULL << 20;
}

/* /dev/PATH [rwm] */
static int parse_device(struct unit_ctx *x, const char *value, void *field)
{
	size_t n = strcspn(value, " \t");
	const char *acc = value + n + strspn(value + n, " \t");

	if (strncmp(value, "/dev/", 5) != 0 || !clean_path(value, n) || n <= 5 ||
	    strspn(acc, "rwm") != strlen(acc) || strlen(acc) > 3)
		return unit_invalid(x, value, false);
	return unit_push_unique(x, field, value);
}

/* ---- systemd's sandboxing keys ---- */

static int parse_private_tmp(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;
	bool b;

	if (unit_parse_bool(value, &b) < 0)
		return unit_invalid(x, value, false);
	if (!b)
		return 0;
	t->namespaces |= UNIT_NS_MNT;
	t->tmpfs_set = true;
	return unit_push_unique(x, &t->tmpfs, "/tmp");
}

static int parse_private_network(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;
	bool b;

	if (unit_parse_bool(value, &b) < 0)
		return unit_invalid(x, value, false);
	if (b)
		t->namespaces |= UNIT_NS_NET;
	return 0;
}

/* ReadOnlyPaths=: each path bound read-only onto itself; "-" first: may be missing */
static int ro_word(struct unit_ctx *x, const char *w, void *field)
{
	const char *p = w + (w[0] == '-');
	struct unit_buf b = {0};
	int r;

	if (!clean_path(p, strlen(p)))
		return unit_invalid(x, w, false);
	unit_buf_printf(&b, "%s:%s", w, p);
	r = b.failed ? unit_oom(x) : unit_push_unique(x, &x->p->c->ct.bind_ro, b.p);
	unit_buf_free(&b);
	return r;
}

static int parse_ro_paths(struct unit_ctx *x, const char *value, void *field)
{
	if (!*value)
		return 0;
	x->p->c->ct.namespaces |= UNIT_NS_MNT;
	return each_word(x, value, field, ro_word);
}

/* ProtectSystem=: yes = /usr and /boot read-only, full = /etc too, strict = the whole tree */
static int parse_protect_system(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_container *t = &x->p->c->ct;
	bool b = false;

	if (strcmp(value, "strict") == 0) {
		t->namespaces |= UNIT_NS_MNT;
		t->read_only_root = true;
		return 0;
	}
	if (strcmp(value, "full") != 0 && unit_parse_bool(value, &b) < 0)
		return unit_invalid(x, value, false);
	if (!b && strcmp(value, "full") != 0)
		return 0;
	if (parse_ro_paths(x, "/usr -/boot -/efi", field) < 0)
		return -1;
	return strcmp(value, "full") == 0 ? parse_ro_paths(x, "/etc", field) : 0;
}

static int word(struct unit_ctx *x, const char *w, void *field)
{
	return unit_push_unique(x, field, w);
}

static int parse_words(struct unit_ctx *x, const char *value, void *field)
{
	return each_word(x, value, field, word);
}

const struct value_type t_words = {parse_words, NULL, 0};
const struct value_type t_namespaces = {parse_namespaces, reset_namespaces, VT_NO_SPECIFIERS};
const struct value_type t_userns = {parse_userns, reset_userns, VT_NO_SPECIFIERS};
const struct value_type t_binds = {parse_binds, NULL, 0};
const struct value_type t_tmpfs = {parse_tmpfs, NULL, VT_TAKES_EMPTY};
const struct value_type t_caps = {parse_caps, reset_caps, VT_NO_SPECIFIERS};
const struct value_type t_ambient = {parse_ambient, reset_u64, VT_NO_SPECIFIERS};
const struct value_type t_nnp = {parse_nnp, reset_nnp, VT_NO_SPECIFIERS};
const struct value_type t_seccomp = {parse_seccomp, NULL, 0};
const struct value_type t_network = {parse_network, NULL, VT_NO_SPECIFIERS};
const struct value_type t_hostname = {parse_hostname, NULL, 0};
const struct value_type t_offset = {parse_offset, NULL, VT_NO_SPECIFIERS};
const struct value_type t_shm = {parse_shm, reset_shm, VT_NO_SPECIFIERS};
const struct value_type t_devices = {parse_device, NULL, 0};
const struct value_type t_private_tmp = {parse_private_tmp, NULL, VT_NO_SPECIFIERS};
const struct value_type t_private_network = {parse_private_network, NULL, VT_NO_SPECIFIERS};
const struct value_type t_ro_paths = {parse_ro_paths, NULL, 0};
const struct value_type t_protect_system = {parse_protect_system, NULL, VT_NO_SPECIFIERS};
