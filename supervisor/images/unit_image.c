/*
 * Image= units: the pin, the image of a start, its overlay root, status, update. supd parses
 * no image: the helper's `prepare` (or `pull`) answers with the config and the layers, and
 * what supd takes from that answer is checked here field by field (strings without NUL or
 * control bytes, bounded lists, digests, and layer directories made from the diff_ids, never
 * taken as paths). The writable layers are in unit_layers.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/image.h"
#include "sup/log.h"
#include "sup/signal.h"
#include "core/effects.h"
#include "core/service.h"
#include "core/state.h"
#include "images/helper.h"
#include "images/unit_image.h"
#include "images/unit_image_private.h"
#include "supd.h"

#define LIST_MAX   4096 /* entries of an image's Entrypoint+Cmd and Env */
#define LAYERS_MAX 500	/* overlayfs stacks at most 500 lower layers */
#define TEXT_MAX   (64u << 10)

static unsigned store_gen; /* bumped when rmi, gc or load may have changed the store */

/* ---- the pin: STATE/units/NAME/image ---- */

static void pin_line(struct unit_img *m, char *line)
{
	char *eq = strchr(line, '=');

	if (!eq)
		return;
	*eq++ = '\0';
	if (!strcmp(line, "image"))
		m->pin_image = strdup(eq);
	else if (!strcmp(line, "name"))
		m->pin_name = strdup(eq);
	else if (!strcmp(line, "digest") && img_digest_valid(eq))
		snprintf(m->pin_digest, sizeof(m->pin_digest), "%s", eq);
	else if (!strcmp(line, "source_digest") && img_digest_valid(eq))
		snprintf(m->pin_source, sizeof(m->pin_source), "%s", eq);
}

static void pin_clear(struct unit_img *m)
{
	free(m->pin_image);
	free(m->pin_name);
	m->pin_image = m->pin_name = NULL;
	m->pin_digest[0] = m->pin_source[0] = '\0';
}

static void pin_load(struct unit *u, struct unit_img *m)
{
	char path[PATH_MAX], buf[8192], *save = NULL;
	ssize_t n;

	sup_img_unit_path(u, "image", path, sizeof(path));
	n = sup_read_at(AT_FDCWD, path, buf, sizeof(buf));
	if (n <= 0)
		return;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		pin_line(m, l);
	if (!m->pin_image || !m->pin_digest[0]) {
		sup_warn(u->name, "%s: not a pin (image= and digest= lines); ignored", path);
		pin_clear(m);
	}
}

int sup_img_pin_save(struct unit *u, struct unit_img *m, struct sup_error **err)
{
	char path[PATH_MAX], dir[PATH_MAX], *text = NULL;
	int r, n;

	sup_img_unit_path(u, NULL, dir, sizeof(dir));
	sup_img_unit_path(u, "image", path, sizeof(path));
	n = asprintf(&text, "image=%s\nname=%s\ndigest=%s\n%s%s%s", m->pin_image,
		     m->pin_name ? m->pin_name : m->pin_image, m->pin_digest,
		     m->pin_source[0] ? "source_digest=" : "", m->pin_source,
		     m->pin_source[0] ? "\n" : "");
	if (n < 0)
		return sup_error_set(err, ENOMEM, "pin");
	r = sup_mkdir_p(dir, 0700) < 0
		? -1
		: sup_write_file_atomic(AT_FDCWD, path, text, (size_t)n, 0600);
	free(text);
	return r < 0 ? sup_error_set(err, errno, "write %s", path) : 0;
}

struct unit_img *sup_img_of(struct unit *u)
{
	if (!u->img && !(u->img = calloc(1, sizeof(*u->img))))
		return NULL;
	if (!u->img->pin_read) {
		u->img->pin_read = true;
		pin_load(u, u->img);
	}
	return u->img;
}

/* Pinned for this Image= (a changed Image= starts over). */
static bool pinned_to(const struct unit_img *m, const char *image)
{
	return m->pin_image && m->pin_digest[0] && !strcmp(m->pin_image, image);
}

/* ---- the helper's answer, checked ---- */

static void cfg_free(struct image_cfg *c)
{
	free(c->name);
	free(c->cwd);
	free(c->user);
	free(c->group);
	strv_free(&c->argv);
	strv_free(&c->env);
	strv_free(&c->lowers);
	memset(c, 0, sizeof(*c));
}

/* A string of the answer: no NUL, no control bytes, at most TEXT_MAX. NULL if absent/null. */
static int text_of(json_t *v, const char *what, const char **out, struct sup_error **err)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!s || strlen(s) != n || n > TEXT_MAX)
		return sup_error_set(err, 0, "the image's %s is not a string of text", what);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return sup_error_set(err, 0, "the image's %s holds a control character",
					     what);
	*out = s;
	return 0;
}

static int list_of(json_t *a, const char *what, bool env, struct strv *out, struct sup_error **err)
{
	size_t i;
	json_t *v;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) + out->n > LIST_MAX)
		return sup_error_set(err, 0, "the image's %s is not a list (of at most %d)", what,
				     LIST_MAX);
	json_array_foreach(a, i, v)
	{
		const char *s;
		if (text_of(v, what, &s, err) < 0)
			return -1;
		if (!s || (env && (s[0] == '=' || !strchr(s, '='))))
			return sup_error_set(err, 0, "the image's %s: entry %zu is not %s", what, i,
					     env ? "KEY=value" : "a string");
		if (strv_push(out, s) < 0)
			return sup_error_set(err, ENOMEM, "image %s", what);
	}
	return 0;
}

/* Topmost first, as overlayfs takes them; each STATE/images/layers/<hex>/root. */
static int layers_of(json_t *a, struct strv *lowers, struct sup_error **err)
{
	size_t n = json_array_size(a);

	if (!json_is_array(a) || n == 0 || n > LAYERS_MAX)
		return sup_error_set(err, 0, "the image has %zu layers (1 to %d can be mounted)", n,
				     LAYERS_MAX);
	for (size_t i = n; i-- > 0;) {
		const char *d = json_string_value(json_object_get(json_array_get(a, i), "diff_id"));
		char *p = NULL;

		if (!img_digest_valid(d))
			return sup_error_set(err, 0, "the image's layer %zu has no valid diff_id",
					     i);
		if (asprintf(&p, "%s/images/layers/%s/root", supd->conf.state_dir, d + 7) < 0 ||
		    strv_push_take(lowers, p) < 0)
			return sup_error_set(err, ENOMEM, "layers");
	}
	return 0;
}

/* [A-Za-z0-9_.-]+ (a name) or digits: what the container's own /etc/passwd will resolve. */
static bool id_word(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    s[i]))
			return false;
	return true;
}

/* User: "user", "uid", "user:group", "uid:gid" (Docker's forms). */
static int user_of(const char *s, struct image_cfg *c, struct sup_error **err)
{
	const char *colon;
	size_t n;

	if (!s || !*s)
		return 0;
	colon = strchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (!id_word(s, n) || (colon && !id_word(colon + 1, strlen(colon + 1))))
		return sup_error_set(err, 0, "the image's User \"%s\" is not a user[:group]", s);
	c->user = strndup(s, n);
	c->group = colon ? strdup(colon + 1) : NULL;
	return c->user ? 0 : sup_error_set(err, ENOMEM, "user");
}

static int cwd_of(const char *s, struct image_cfg *c, struct sup_error **err)
{
	if (!s || !*s)
		return 0;
	/* the OCI config wants it absolute; Docker reads a relative one from / */
	if (asprintf(&c->cwd, "%s%s", s[0] == '/' ? "" : "/", s) < 0)
		return sup_error_set(err, ENOMEM, "working directory");
	return 0;
}

static int strings_of(json_t *res, struct image_cfg *c, struct sup_error **err)
{
	const char *name, *cwd, *user, *sig, *source;

	if (text_of(json_object_get(res, "name"), "name", &name, err) < 0 ||
	    text_of(json_object_get(res, "working_dir"), "WorkingDir", &cwd, err) < 0 ||
	    text_of(json_object_get(res, "user"), "User", &user, err) < 0 ||
	    text_of(json_object_get(res, "stop_signal"), "StopSignal", &sig, err) < 0 ||
	    text_of(json_object_get(res, "source_digest"), "source digest", &source, err) < 0)
		return -1;
	if (source && img_digest_valid(source))
		snprintf(c->source, sizeof(c->source), "%s", source);
	/* a digest for a name: the image was found by its digest; the pin keeps its name */
	if (name && !img_digest_valid(name) && !(c->name = strdup(name)))
		return sup_error_set(err, ENOMEM, "name");
	if (sig && sup_signal_parse(sig, &c->stop_signal) < 0)
		c->stop_signal = 0; /* an odd one is ignored, as Docker's default stands */
	return cwd_of(cwd, c, err) < 0 ? -1 : user_of(user, c, err);
}

static int parse_answer(json_t *res, struct image_cfg *c, struct sup_error **err)
{
	const char *digest = json_string_value(json_object_get(res, "digest"));

	if (!img_digest_valid(digest))
		return sup_error_set(err, 0, "the image helper's answer has no digest");
	snprintf(c->digest, sizeof(c->digest), "%s", digest);
	/* Entrypoint and Cmd together, as Docker runs them */
	if (list_of(json_object_get(res, "entrypoint"), "Entrypoint", false, &c->argv, err) < 0 ||
	    list_of(json_object_get(res, "cmd"), "Cmd", false, &c->argv, err) < 0 ||
	    list_of(json_object_get(res, "env"), "Env", true, &c->env, err) < 0 ||
	    layers_of(json_object_get(res, "layers"), &c->lowers, err) < 0)
		return -1;
	return strings_of(res, c, err);
}

/* ---- a start: the pull sub-state ---- */

static void install(struct unit *u, struct unit_img *m, struct image_cfg *c)
{
	cfg_free(&m->cfg);
	m->cfg = *c;
	memset(c, 0, sizeof(*c));
	m->ready = true;
	m->gen = store_gen;
	u->img_stop_signal = m->cfg.stop_signal;
}

/* The answer of a start's prepare: pinned (first start, or a new digest), then installed. */
static int take_answer(struct unit *u, struct unit_img *m, json_t *res, struct sup_error **err)
{
	struct image_cfg c = {0};
	const char *image = u->cfg->ct.image;
	char was[IMG_DIGEST_LEN + 1];

	if (parse_answer(res, &c, err) < 0) {
		cfg_free(&c);
		return -1;
	}
	if (!pinned_to(m, image) || strcmp(m->pin_digest, c.digest)) {
		struct sup_error *perr = NULL;
		snprintf(was, sizeof(was), "%s", pinned_to(m, image) ? m->pin_digest : "");
		sup_img_pin(m, image, c.name, c.digest, c.source);
		if (sup_img_pin_save(u, m, &perr) < 0) {
			unit_note(u, "image: %s (the pin is not kept past supd)", perr->msg);
			sup_error_free(perr);
		}
		unit_note(u, "image %s: pinned to %s%s%s", m->pin_name, c.digest,
			  was[0] ? ", was " : "", was);
	}
	install(u, m, &c);
	sup_img_drop_other_layers(u, m->pin_digest);
	return 0;
}

void sup_img_pin(struct unit_img *m, const char *image, const char *name, const char *digest,
		 const char *source)
{
	char *i = strdup(image), *n = strdup(name ? name : (m->pin_name ? m->pin_name : image));

	pin_clear(m);
	m->pin_image = i;
	m->pin_name = n;
	snprintf(m->pin_digest, sizeof(m->pin_digest), "%s", digest);
	snprintf(m->pin_source, sizeof(m->pin_source), "%s", source ? source : "");
}

static void prepared(void *ctx, json_t *res, const char *error)
{
	struct unit *u = ctx;
	struct unit_img *m = u->img;
	struct sup_error *err = NULL;

	m->job = NULL;
	if (!error && take_answer(u, m, res, &err) < 0)
		error = err->msg;
	if (!error)
		m->force_pull = false;
	unit_image_ready(u, error);
	sup_error_free(err);
}

static const struct img_job_ops prepare_ops = {sup_img_note_event, prepared};

/* Is what the last start prepared still good for this one? */
static bool still_ready(const struct unit *u, const struct unit_img *m)
{
	return m->ready && m->gen == store_gen && !m->force_pull &&
	       pinned_to(m, u->cfg->ct.image) && !strcmp(m->cfg.digest, m->pin_digest);
}

int unit_image_prepare(struct unit *u, struct sup_error **err)
{
	struct unit_img *m = sup_img_of(u);
	char *args[8] = {"prepare", u->cfg->ct.image}, **a = args + 2;
	bool pinned;

	if (!m)
		return sup_error_set(err, ENOMEM, "image");
	if (still_ready(u, m))
		return 1;
	m->ready = false;
	pinned = pinned_to(m, u->cfg->ct.image);
	if (m->force_pull) {
		args[0] = "pull";
	} else if (pinned) {
		*a++ = "--digest";
		*a++ = m->pin_digest;
		if (m->pin_source[0]) {
			*a++ = "--source-digest";
			*a++ = m->pin_source;
		}
	}
	strv_free(&m->noted);
	sup_img_job_cancel(m->job);
	m->job = sup_img_job_start(NULL, args, -1, &prepare_ops, u, err);
	if (!m->job)
		return -1;
	unit_note(u, "image %s: %s", u->cfg->ct.image,
		  m->force_pull ? "pulling"
		  : pinned	? "preparing the pinned digest"
				: "preparing (pulled if not in the store)");
	return 0;
}

/* ---- the spawn ---- */

/*
 * A read-only root has no upper directory to make mount points in: like Docker's init layer,
 * RUN/image-init is the topmost lower of every such root, with the directories the container
 * mounts on (proc, sys, dev, tmp, run) and the files it binds (etc/hostname, etc/hosts), empty.
 */
static int init_layer(char *buf, size_t size, struct sup_error **err)
{
	static const char *const dirs[] = {"proc", "sys", "dev", "tmp", "run", "etc"};
	static const char *const files[] = {"etc/hostname", "etc/hosts"};
	char p[PATH_MAX];

	if (snprintf(buf, size, "%s/image-init", supd->conf.run_dir) >= (int)size)
		return sup_error_set(err, ENAMETOOLONG, "%s/image-init", supd->conf.run_dir);
	if (sup_mkdir_p(buf, 0755) < 0)
		return sup_error_set(err, errno, "create %s", buf);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(dirs); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", buf, dirs[i]) >= (int)sizeof(p))
			return sup_error_set(err, ENAMETOOLONG, "%s", buf);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return sup_error_set(err, errno, "create %s", p);
	}
	for (size_t i = 0; i < SUP_ARRAY_SIZE(files); i++) {
		int fd;
		if (snprintf(p, sizeof(p), "%s/%s", buf, files[i]) >= (int)sizeof(p))
			return sup_error_set(err, ENAMETOOLONG, "%s", buf);
		fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return sup_error_set(err, errno, "create %s", p);
		close(fd);
	}
	return 0;
}

int sup_img_root_tree(struct unit *u, int *fd, struct sup_error **err)
{
	struct unit_img *m = u->img;
	char store[PATH_MAX], dir[PATH_MAX], init[PATH_MAX];
	struct strv lowers = {0};
	struct img_overlay ov = {0};
	int r = 0;

	*fd = -1;
	if (!u->cfg->ct.image)
		return 0;
	if (!m || !m->ready)
		return sup_error_set(err, 0, "image %s: not prepared", u->cfg->ct.image);
	snprintf(store, sizeof(store), "%s/images", supd->conf.state_dir);
	ov.store = store;
	if (u->cfg->ct.read_only_root) {
		r = init_layer(init, sizeof(init), err);
		if (r == 0 && strv_push(&lowers, init) < 0)
			r = sup_error_set(err, ENOMEM, "layers");
		for (size_t i = 0; r == 0 && i < m->cfg.lowers.n; i++)
			if (strv_push(&lowers, m->cfg.lowers.v[i]) < 0)
				r = sup_error_set(err, ENOMEM, "layers");
		ov.lower = lowers;
	} else {
		ov.lower = m->cfg.lowers;
		sup_img_layer_dir(u, m->cfg.digest, dir, sizeof(dir));
		r = sup_img_layers_parent(u, err);
		if (r == 0)
			r = img_overlay_prepare(dir, &ov, err);
	}
	if (r == 0)
		r = img_overlay_fsmount(&ov, 0, fd, err);
	free((char *)ov.upper);
	free((char *)ov.work);
	strv_free(&lowers);
	if (r < 0) {
		m->ready = false; /* the next start asks the helper again */
		sup_error_wrap(err, "the root of image %s", m->pin_name ? m->pin_name : "");
	}
	return r;
}

void sup_img_spawned(struct unit *u, bool ok)
{
	if (u->img && ok && u->cfg && u->cfg->ct.image)
		snprintf(u->img->running, sizeof(u->img->running), "%s", u->img->cfg.digest);
}

static bool ready(const struct unit *u)
{
	return u->img && u->img->ready && u->cfg && u->cfg->ct.image;
}

char *const *sup_img_argv(const struct unit *u)
{
	return ready(u) && u->img->cfg.argv.n ? u->img->cfg.argv.v : NULL;
}

int sup_img_env(const struct unit *u, struct strv *env)
{
	if (!ready(u))
		return 0;
	for (size_t i = 0; i < u->img->cfg.env.n; i++)
		if (strv_env_set(env, u->img->cfg.env.v[i]) < 0)
			return -1;
	return 0;
}

const char *sup_img_cwd(const struct unit *u)
{
	return ready(u) ? u->img->cfg.cwd : NULL;
}

void sup_img_user(const struct unit *u, const char **user, const char **group)
{
	/* the unit's User= takes the group with it: the image's group goes with its user */
	if (!ready(u) || *user || *group)
		return;
	*user = u->img->cfg.user;
	*group = u->img->cfg.group;
}

/* ---- the unit's life ---- */

static bool runless(enum unit_sub s)
{
	return s == SUB_DEAD || s == SUB_QUEUED || s == SUB_PULL || s == SUB_EXITED ||
	       s == SUB_REMAIN || s == SUB_FAILED || s == SUB_AUTO_RESTART || s == SUB_BAD;
}

void sup_img_observe(struct unit *u, const struct unit_change *c)
{
	struct unit_img *m = u->img;

	if (!m)
		return;
	/* stopped while pulling: the helper goes (the store stays consistent) */
	if (c->old_sub == SUB_PULL && c->new_sub != SUB_PULL && m->job) {
		sup_img_job_cancel(m->job);
		m->job = NULL;
	}
	if (runless(c->new_sub))
		m->running[0] = '\0'; /* no container of it is left: gc may take its digest */
}

void sup_img_force_pull(struct unit *u)
{
	struct unit_img *m = sup_img_of(u);

	if (m && u->cfg && u->cfg->ct.image)
		m->force_pull = true;
}

void sup_img_free(struct unit *u)
{
	struct unit_img *m = u->img;

	if (!m)
		return;
	sup_img_job_cancel(m->job);
	sup_img_update_abort(u, "the unit was removed");
	pin_clear(m);
	cfg_free(&m->cfg);
	strv_free(&m->noted);
	free(m);
	u->img = NULL;
}

void sup_img_store_changed(void)
{
	store_gen++;
}

void sup_img_status_json(struct unit *u, json_t *o)
{
	struct unit_img *m;
	char dir[PATH_MAX];
	const char *digest, *pin;

	if (!u->cfg || !u->cfg->ct.image || !(m = sup_img_of(u))) {
		json_object_set_new(o, "image", json_null());
		return;
	}
	pin = pinned_to(m, u->cfg->ct.image) ? m->pin_digest : NULL; /* not a changed Image='s */
	digest = m->running[0] ? m->running : pin;
	if (digest)
		sup_img_layer_dir(u, digest, dir, sizeof(dir));
	json_object_set_new(
	    o, "image",
	    json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:o, s:b}", "ref", u->cfg->ct.image, "name",
		      pin ? m->pin_name : NULL, "digest", digest, "pinned", pin, "source_digest",
		      pin && m->pin_source[0] ? m->pin_source : NULL, "writable_layer",
		      digest && !u->cfg->ct.read_only_root ? json_string(dir) : json_null(),
		      "pulling", m->job != NULL));
}

int sup_img_keep_args(struct strv *args)
{
	struct unit *u;

	for_each_unit(u)
	{
		struct unit_img *m = u->cfg && u->cfg->ct.image ? sup_img_of(u) : u->img;
		const char *d[2] = {m ? m->pin_digest : "", m ? m->running : ""};

		for (size_t i = 0; i < 2; i++)
			if (d[i][0] && (strv_push(args, "--keep") < 0 || strv_push(args, d[i]) < 0))
				return -1;
	}
	return 0;
}
