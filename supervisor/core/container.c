/*
 * A unit as a container: its [Container] config (or the systemd sandboxing keys of a plain
 * unit) into the spawner's struct spawn_container, the automatic id range (chosen once,
 * written atomically under the state dir), the compiled seccomp filter (the default one kept
 * per capability set), what the container init reports, and the container in status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/log.h"
#include "core/container.h"
#include "core/effects.h"
#include "core/notify.h"
#include "core/service.h"
#include "images/unit_image.h"
#include "supd.h"

#define USERNS_BASE  0x80000000u /* far above the host's ids and /etc/subuid's ranges */
#define USERNS_SIZE  65536u
#define USERNS_SLOTS 16384u

/* ---- UserNamespace=auto: a stable range per unit ---- */

static bool base_taken(DIR *d, uint32_t base, const char *self)
{
	struct dirent *e;

	rewinddir(d);
	while ((e = readdir(d))) {
		char buf[64];
		if (e->d_name[0] == '.' || !strcmp(e->d_name, self))
			continue;
		if (sup_read_at(dirfd(d), e->d_name, buf, sizeof(buf)) > 0 &&
		    strtoul(buf, NULL, 10) == base)
			return true;
	}
	return false;
}

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* STATE-DIR/userns/NAME holds "BASE COUNT": read it, or choose a free slot and write it. */
static int userns_auto(struct unit *u, uint32_t *base, struct sup_error **err)
{
	char dir[4096], buf[64];
	_cleanup_closedir_ DIR *d = NULL;
	uint32_t slot = fnv(u->name) % USERNS_SLOTS;

	if (u->ct->userns_base)
		return *base = u->ct->userns_base, 0;
	snprintf(dir, sizeof(dir), "%s/userns", supd->conf.state_dir);
	if (sup_mkdir_p(dir, 0755) < 0 || !(d = opendir(dir)))
		return sup_error_set(err, errno, "UserNamespace=auto: %s", dir);
	if (sup_read_at(dirfd(d), u->name, buf, sizeof(buf)) > 0 &&
	    strtoul(buf, NULL, 10) >= USERNS_BASE)
		return *base = u->ct->userns_base = (uint32_t)strtoul(buf, NULL, 10), 0;
	for (uint32_t i = 0; i < USERNS_SLOTS; i++) {
		uint32_t b = USERNS_BASE + ((slot + i) % USERNS_SLOTS) * USERNS_SIZE;
		if (base_taken(d, b, u->name))
			continue;
		snprintf(buf, sizeof(buf), "%u %u\n", b, USERNS_SIZE);
		if (sup_write_file_atomic(dirfd(d), u->name, buf, strlen(buf), 0644) < 0)
			return sup_error_set(err, errno, "UserNamespace=auto: write %s/%s", dir,
					     u->name);
		return *base = u->ct->userns_base = b, 0;
	}
	return sup_error_set(err, ENOSPC, "UserNamespace=auto: every range is taken");
}

static int id_maps(struct unit *u, struct spawn_container *c, struct sup_error **err)
{
	const struct unit_container *t = &u->cfg->ct;
	uint32_t base;

	if (!(c->ns & UNIT_NS_USER))
		return 0;
	if (t->userns == UNIT_USERNS_MAP) {
		c->uid = (struct spawn_idmap){t->userns_inside, t->userns_host, t->userns_count};
	} else {
		if (userns_auto(u, &base, err) < 0)
			return -1;
		c->uid = (struct spawn_idmap){0, base, USERNS_SIZE};
		/* the host's files keep their owners: the root and binds are id-mapped */
		c->idmapped = true;
	}
	c->gid = c->uid;
	return 0;
}

/* ---- mounts ---- */

static int add_mount(struct ct_spawn *s, size_t *n, const char *src, const char *dst,
		     const char *opts, bool ro, bool optional)
{
	struct spawn_mount *v = reallocarray(s->mounts, *n + 1, sizeof(*v));

	if (!v)
		return -1;
	s->mounts = v;
	v[(*n)++] = (struct spawn_mount){src, dst, opts, ro, optional};
	return 0;
}

/* "SRC:DST" (a leading - : optional) into two strings kept in s */
static int add_bind(struct ct_spawn *s, size_t *n, const char *spec, bool ro)
{
	bool optional = spec[0] == '-';
	char *copy = strdup(spec + optional), **v;
	char *colon = copy ? strchr(copy, ':') : NULL;

	v = copy ? reallocarray(s->strings, s->n_strings + 1, sizeof(*v)) : NULL;
	if (!v || !colon) {
		free(copy);
		return -1;
	}
	s->strings = v;
	v[s->n_strings++] = copy;
	*colon = '\0';
	return add_mount(s, n, copy, colon + 1, NULL, ro, optional);
}

static int tmpfs_entry(struct ct_spawn *s, size_t *n, const char *spec)
{
	char *copy = strdup(spec), **v, *colon;

	v = copy ? reallocarray(s->strings, s->n_strings + 1, sizeof(*v)) : NULL;
	if (!v) {
		free(copy);
		return -1;
	}
	s->strings = v;
	v[s->n_strings++] = copy;
	colon = strchr(copy, ':');
	if (colon)
		*colon++ = '\0';
	return add_mount(s, n, NULL, copy, colon, false, false);
}

static int build_mounts(const struct unit *u, struct ct_spawn *s)
{
	const struct unit_container *t = &u->cfg->ct;
	size_t n = 0;

	if (t->enabled && !t->tmpfs_set &&
	    (add_mount(s, &n, NULL, "/tmp", "mode=1777", false, false) < 0 ||
	     add_mount(s, &n, NULL, "/run", "mode=755", false, false) < 0))
		return -1;
	for (size_t i = 0; i < t->tmpfs.n; i++)
		if (tmpfs_entry(s, &n, t->tmpfs.v[i]) < 0)
			return -1;
	for (size_t i = 0; i < t->bind.n; i++)
		if (add_bind(s, &n, t->bind.v[i], false) < 0)
			return -1;
	for (size_t i = 0; i < t->bind_ro.n; i++)
		if (add_bind(s, &n, t->bind_ro.v[i], true) < 0)
			return -1;
	s->c.mounts = s->mounts;
	s->c.n_mounts = n;
	return 0;
}

/* ---- devices ---- */

/* Docker's default allow-list: any node may be made (m), only these opened */
static const struct cg_device default_devices[] = {
    {'c', CG_DEV_ANY, CG_DEV_ANY, "m"},
    {'b', CG_DEV_ANY, CG_DEV_ANY, "m"},
    {'c', 1, 3, "rwm"},		   /* null */
    {'c', 1, 5, "rwm"},		   /* zero */
    {'c', 1, 7, "rwm"},		   /* full */
    {'c', 1, 8, "rwm"},		   /* random */
    {'c', 1, 9, "rwm"},		   /* urandom */
    {'c', 5, 0, "rwm"},		   /* tty */
    {'c', 5, 1, "rwm"},		   /* console */
    {'c', 5, 2, "rwm"},		   /* ptmx */
    {'c', 136, CG_DEV_ANY, "rwm"}, /* pts */
};

/* "/dev/PATH [rwm]": the host node's type and number, the access given (all by default) */
static int device_rule(const char *spec, struct cg_device *d, struct sup_error **err)
{
	size_t n = strcspn(spec, " \t");
	const char *acc = spec + n + strspn(spec + n, " \t");
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%.*s", (int)n, spec);
	if (stat(path, &st) < 0)
		return sup_error_set(err, errno, "Devices=%s", path);
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return sup_error_set(err, ENODEV, "Devices=%s: not a device node", path);
	d->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
	d->major = major(st.st_rdev);
	d->minor = minor(st.st_rdev);
	snprintf(d->access, sizeof(d->access), "%s", *acc ? acc : "rwm");
	return 0;
}

int sup_ct_devices(const struct unit_config *cfg, struct cg_device **out, size_t *n,
		   struct sup_error **err)
{
	const struct unit_container *t = &cfg->ct;
	size_t k = SUP_ARRAY_SIZE(default_devices);
	struct cg_device *v;

	*out = NULL;
	*n = 0;
	if (!t->enabled)
		return 0; /* a plain or sandboxed unit sees the host's /dev */
	v = calloc(k + t->devices.n, sizeof(*v));
	if (!v)
		return sup_error_set(err, ENOMEM, "devices");
	memcpy(v, default_devices, sizeof(default_devices));
	for (size_t i = 0; i < t->devices.n; i++)
		if (device_rule(t->devices.v[i], &v[k++], err) < 0) {
			free(v);
			return -1;
		}
	*out = v;
	*n = k;
	return 0;
}

/* ---- seccomp ---- */

static int seccomp(struct unit *u, struct spawn_container *c, struct spawn_bpf *tmp,
		   struct sup_error **err)
{
	const struct unit_container *t = &u->cfg->ct;
	struct unit_ct *x = u->ct;

	if (!t->enabled || t->seccomp == UNIT_SECCOMP_UNCONFINED)
		return 0;
	if (t->seccomp == UNIT_SECCOMP_PROFILE) {
		if (spawn_seccomp_compile(t->seccomp_profile, c->caps, tmp, err) < 0)
			return -1;
		c->seccomp = tmp;
		return 0;
	}
	if (!x->bpf_valid || x->bpf_caps != c->caps) {
		spawn_bpf_free(&x->bpf);
		x->bpf_valid = false;
		if (spawn_seccomp_compile(NULL, c->caps, &x->bpf, err) < 0)
			return -1;
		x->bpf_valid = true;
		x->bpf_caps = c->caps;
	}
	c->seccomp = &x->bpf;
	return 0;
}

static struct spawn_bpf profile_bpf; /* a profile file's filter, for one spawn */

/* The root to pivot into: RootDirectory=; or an image's overlay (a detached mount) or the
 * host's / bound on an empty directory. */
static int root_dir(struct unit *u, struct ct_spawn *s, struct sup_error **err)
{
	const struct unit_container *t = &u->cfg->ct;

	if (t->root_directory) {
		snprintf(s->root, sizeof(s->root), "%s", t->root_directory);
		s->c.root = s->root;
		return 0;
	}
	snprintf(s->root, sizeof(s->root), "%s/unit/%s/root", supd->conf.run_dir, u->name);
	if (sup_mkdir_p(s->root, 0755) < 0)
		return sup_error_set(err, errno, "create %s", s->root);
	s->c.root = s->root;
	if (t->image)
		return sup_img_root_tree(u, &s->c.root_tree, err);
	s->c.root_is_host = true;
	return 0;
}

static int notify(struct unit *u, struct ct_spawn *s, struct strv *env, struct sup_error **err)
{
	if (u->notify_fd < 0 || !s->c.full)
		return 0;
	if (sup_notify_path(u, s->notify, sizeof(s->notify)) < 0)
		return sup_error_set(err, ENAMETOOLONG, "notify socket of %s", u->name);
	s->c.notify_socket = s->notify;
	if (strv_env_set(env, "NOTIFY_SOCKET=" SPAWN_NOTIFY_PATH) < 0)
		return sup_error_set(err, ENOMEM, "environment");
	return 0;
}

/* The parts every container spawn has, new or joined. */
static int common(struct unit *u, struct ct_spawn *s, struct sup_error **err)
{
	const struct unit_container *t = &u->cfg->ct;
	struct spawn_container *c = &s->c;

	if (!u->ct && !(u->ct = calloc(1, sizeof(*u->ct))))
		return sup_error_set(err, ENOMEM, "container");
	c->join_pidfd = c->pty_sock = c->init_image = -1;
	c->root_tree = -1;
	c->ns = unit_container_namespaces(u->cfg);
	c->full = t->enabled;
	c->caps_set = t->enabled || t->caps_set;
	c->caps = t->caps;
	c->ambient = t->ambient;
	c->no_new_privs = t->no_new_privs < 0 ? t->enabled : t->no_new_privs == 1;
	spawn_bpf_free(&profile_bpf);
	return seccomp(u, c, &profile_bpf, err);
}

int sup_ct_prepare(struct unit *u, struct ct_spawn *s, struct spawn_request *req, struct strv *env,
		   struct sup_error **err)
{
	const struct unit_container *t = &u->cfg->ct;
	struct spawn_container *c = &s->c;

	memset(s, 0, sizeof(*s));
	if (!unit_container_wanted(u->cfg))
		return 0;
	if (common(u, s, err) < 0 || id_maps(u, c, err) < 0 ||
	    (t->enabled && root_dir(u, s, err) < 0) || notify(u, s, env, err) < 0)
		return -1;
	if (build_mounts(u, s) < 0)
		return sup_error_set(err, ENOMEM, "container mounts");
	c->read_only_root = t->read_only_root;
	c->hostname = t->hostname ? t->hostname : u->name;
	c->init = t->enabled && t->init && (c->ns & UNIT_NS_PID);
	c->init_image = c->init ? spawn_init_image() : -1;
	c->shm_size = t->shm_size;
	c->time_offset_usec = t->time_offset_usec;
	c->devices = t->devices.v;
	c->n_devices = t->devices.n;
	req->container = c;
	return 0;
}

void sup_ct_spawn_free(struct ct_spawn *s)
{
	if (s->c.root_tree > 2) /* an image's overlay: the child has its own reference */
		close(s->c.root_tree);
	for (size_t i = 0; i < s->n_strings; i++)
		free(s->strings[i]);
	free(s->strings);
	free(s->mounts);
	memset(s, 0, sizeof(*s));
}

void sup_ct_spawned(struct unit *u, struct ct_spawn *s, bool ok)
{
	struct unit_ct *x = u->ct;

	if (x) {
		x->active = ok && s->c.ns + s->c.full + s->c.caps_set + s->c.no_new_privs > 0 &&
			    u->cfg && unit_container_wanted(u->cfg);
		x->init = x->active && s->c.init;
		x->execd = x->have_status = false;
		x->svc_pid = 0;
		x->ns = s->c.ns;
		free(x->root);
		x->root = s->c.full && !s->c.root_is_host ? strdup(s->c.root) : NULL;
	}
	sup_img_spawned(u, ok);
	spawn_bpf_free(&profile_bpf);
	sup_ct_spawn_free(s);
}

/* ---- the run: what the init reports ---- */

/* The service is the init's only child when it exec's. */
static pid_t service_pid(pid_t init)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	if (sup_read_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return 0;
	return (pid_t)strtol(buf, NULL, 10);
}

static void record(struct unit *u, int r, const struct spawn_failure *f)
{
	struct unit_ct *x = u->ct;

	switch (r) {
	case 1:
		unit_main_spawn_failed(u, f->msg);
		break;
	case 2:
		x->execd = true;
		x->svc_pid = service_pid(u->main.pid);
		unit_main_execd(u);
		break;
	case 3:
		x->have_status = true;
		x->svc_wstatus = f->errnum;
		break;
	default:
		break;
	}
}

void sup_ct_on_sync(struct ev_loop *loop, ev_io *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, spawn_io);
	struct spawn_failure f;

	for (;;) {
		int r = spawn_read_result(u->spawn_fd, &f);
		if (r < 0)
			return;
		if (r == 0) { /* the init is gone */
			ev_io_stop(loop, w);
			close(u->spawn_fd);
			u->spawn_fd = -1;
			return;
		}
		record(u, r, &f);
	}
}

int sup_ct_wstatus(struct unit *u, int wstatus)
{
	if (!u->ct || !u->ct->init || !u->ct->have_status)
		return wstatus;
	u->ct->have_status = false;
	return u->ct->svc_wstatus;
}

void sup_ct_status_json(struct unit *u, json_t *o)
{
	struct unit_ct *x = u->ct;
	char ns[64];

	if (!x || !x->active || !u->cfg || !unit_container_wanted(u->cfg)) {
		json_object_set_new(o, "container", json_null());
		return;
	}
	if (x->init && x->svc_pid && u->main.pid)
		json_object_set_new(o, "pid", json_integer(x->svc_pid));
	json_object_set_new(
	    o, "container",
	    json_pack("{s:s, s:o, s:o}", "namespaces", unit_ns_names(x->ns, ns, sizeof(ns)), "root",
		      x->root ? json_string(x->root) : json_null(), "init_pid",
		      x->init && u->main.pid ? json_integer(u->main.pid) : json_null()));
}

void sup_ct_free(struct unit *u)
{
	if (!u->ct)
		return;
	spawn_bpf_free(&u->ct->bpf);
	free(u->ct->root);
	free(u->ct);
	u->ct = NULL;
}

int sup_ct_join(struct unit *u, struct ct_spawn *s, struct spawn_request *req, struct strv *env,
		struct sup_error **err)
{
	memset(s, 0, sizeof(*s));
	s->c.join_pidfd = s->c.pty_sock = s->c.init_image = -1;
	s->c.root_tree = -1;
	if (!u->ct || !u->ct->active || !u->main.pid || !u->main.has_pidfd || !u->cfg)
		return 0;
	if (common(u, s, err) < 0)
		return -1;
	s->c.ns = u->ct->ns;
	s->c.join_pidfd = u->main.pidfd;
	if (u->notify_fd >= 0 && s->c.full &&
	    strv_env_set(env, "NOTIFY_SOCKET=" SPAWN_NOTIFY_PATH) < 0)
		return sup_error_set(err, ENOMEM, "environment");
	req->container = &s->c;
	return 0;
}

void sup_ct_check_set(struct unit_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct unit_entry *e = &set->v[i];
		struct sup_error *err = NULL;
		char *text = NULL;

		if (!e->config || e->config->ct.seccomp != UNIT_SECCOMP_PROFILE)
			continue;
		if (spawn_seccomp_check(e->config->ct.seccomp_profile, &err) == 0)
			continue;
		if (asprintf(&text, "%s:%lu: Seccomp: %s",
			     e->config->path ? e->config->path : e->name,
			     e->config->ct.seccomp_line, err->msg) >= 0)
			unit_entry_fail(e, text);
		free(text);
		sup_error_free(err);
	}
}
