/*
 * A directory of units: every NAME.unit and NAME.service read (at most 1 MiB) and parsed,
 * sorted by name; templates (NAME@.unit, NAME@.service) kept as text, and the instances that
 * loaded units name created from them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unit_private.h"

static int read_all(int fd, const char *shown, size_t cap, char **text, size_t *len,
		    struct sup_error **err)
{
	_cleanup_free_ char *buf = malloc(cap);
	size_t n = 0;

	if (!buf)
		return sup_error_set(err, ENOMEM, "read %s", shown);
	for (;;) {
		ssize_t r;
		if (n == cap) {
			char *p;
			if (cap > UNIT_FILE_MAX)
				return sup_error_set(err, 0, "%s: larger than 1 MiB; allowed: %s",
						     shown, "a unit file of at most 1 MiB");
			cap = cap * 2 > UNIT_FILE_MAX + 1 ? UNIT_FILE_MAX + 1 : cap * 2;
			p = realloc(buf, cap);
			if (!p)
				return sup_error_set(err, ENOMEM, "read %s", shown);
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sup_error_set(err, errno, "read %s", shown);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*text = sup_steal_ptr(buf);
	*len = n;
	return 0;
}

int unit_read_file(int dirfd, const char *path, const char *shown, char **text, size_t *len,
		   struct sup_error **err)
{
	/* O_NONBLOCK: a FIFO named like a unit must not hang the loader */
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	*text = NULL;
	if (fd < 0)
		return sup_error_set(err, errno, "open %s", shown);
	if (fstat(fd, &st) < 0)
		return sup_error_set(err, errno, "stat %s", shown);
	if (!S_ISREG(st.st_mode))
		return sup_error_set(err, 0, "%s: not a regular file; allowed: a unit file", shown);
	if (st.st_size > UNIT_FILE_MAX)
		return sup_error_set(err, 0,
				     "%s: %lld bytes; allowed: a unit file of at most 1 MiB", shown,
				     (long long)st.st_size);
	return read_all(fd, shown, (size_t)st.st_size + 1, text, len, err);
}

void unit_entry_add_error(struct unit_entry *e, const char *text, size_t where)
{
	char *joined;

	unit_problems_add(&e->problems, UNIT_ERROR, text, where);
	joined = unit_problems_join(&e->problems, UNIT_ERROR);
	if (joined) {
		free(e->error);
		e->error = joined;
	}
}

void unit_entry_set_bad(struct unit_entry *e)
{
	unit_config_free(e->config);
	free(e->config);
	e->config = NULL;
	if (!e->error)
		e->error = strdup("bad unit");
}

void unit_entry_fail(struct unit_entry *e, const char *text)
{
	const char *colon = strstr(text, ": ");

	unit_entry_add_error(e, text, colon ? (size_t)(colon - text) + 2 : 0);
	unit_entry_set_bad(e);
}

/* The entry's config, problems and error from parsing text as unit e->name. */
static void parse_entry(struct unit_entry *e, const char *path, const char *text, size_t len)
{
	unit_parse_string(e->name, path, text, len, &e->config, &e->problems);
	e->error = unit_problems_join(&e->problems, UNIT_ERROR);
	if (!e->config && !e->error)
		e->error = strdup("out of memory");
	if (!e->error && e->problems.errors)
		e->problems.oom = true;
}

/* One directory entry that names a unit or a template, before anything is read. */
struct dir_file {
	char name[UNIT_NAME_MAX + 1];
	char *file;
};

static int file_cmp(const void *a, const void *b)
{
	const struct dir_file *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->file, y->file);
}

static int problem_cmp(const void *a, const void *b)
{
	return strcmp(((const struct unit_problem *)a)->text,
		      ((const struct unit_problem *)b)->text);
}

/* readdir's order is the filesystem's: the directory's problems in file name order. */
static void sort_problems(struct unit_problems *pl)
{
	if (pl->n)
		qsort(pl->v, pl->n, sizeof(*pl->v), problem_cmp);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct unit_entry *)a)->name, ((const struct unit_entry *)b)->name);
}

static int template_cmp(const void *a, const void *b)
{
	return strcmp(((const struct unit_template *)a)->name,
		      ((const struct unit_template *)b)->name);
}

/* A file of systemd's other unit types (dbus.socket): said, not silently skipped. */
static void foreign_file(struct unit_set *set, const char *dir, const char *file)
{
	const char *what = unit_foreign_file(file);
	char *text = NULL;

	if (!what || file[0] == '.')
		return;
	if (asprintf(&text, "%s/%s: ignored: sup has no %s", dir, file, what) < 0) {
		set->problems.oom = true;
		return;
	}
	unit_problems_add(&set->problems, UNIT_WARNING, text, strlen(dir) + strlen(file) + 3);
	free(text);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A NAME.unit or NAME.service whose NAME is not a unit name: said, not silently skipped. The
 * file name is the directory's: shown with its odd bytes as '?'. */
static void bad_name(struct unit_set *set, const char *dir, const char *file)
{
	char shown[256 + 4], *text = NULL;
	size_t i;

	if (file[0] == '.' || !(ends_with(file, ".unit") || ends_with(file, ".service")))
		return;
	for (i = 0; file[i] && i < 256; i++)
		shown[i] = (file[i] >= 0x20 && file[i] < 0x7f) ? file[i] : '?';
	strcpy(shown + i, file[i] ? "..." : "");
	if (asprintf(&text,
		     "%s/%s: ignored: not a valid unit name; allowed: NAME.unit or NAME.service, "
		     "NAME being 1 to %d of A-Z a-z 0-9 _ . @ -",
		     dir, shown, UNIT_NAME_MAX) < 0) {
		set->problems.oom = true;
		return;
	}
	unit_problems_add(&set->problems, UNIT_WARNING, text, strlen(dir) + strlen(shown) + 3);
	free(text);
}

/* Every NAME.unit and NAME.service of d, sorted by name; -1 with errno on failure. */
static int list_dir(struct unit_set *set, DIR *d, const char *dir, struct dir_file **out, size_t *n)
{
	struct dir_file *v = NULL;
	struct dirent *de;

	*n = 0;
	for (errno = 0; (de = readdir(d)); errno = 0) {
		char name[UNIT_NAME_MAX + 1];
		struct dir_file *nv;
		if (!unit_name_from_file(de->d_name, name, NULL)) {
			foreign_file(set, dir, de->d_name);
			bad_name(set, dir, de->d_name);
			continue;
		}
		nv = reallocarray(v, *n + 1, sizeof(*v));
		if (!nv)
			break;
		v = nv;
		strcpy(v[*n].name, name);
		v[*n].file = strdup(de->d_name);
		if (!v[(*n)++].file)
			break;
	}
	*out = v;
	if (errno)
		return -1;
	if (*n)
		qsort(v, *n, sizeof(*v), file_cmp);
	return 0;
}

static void free_files(struct dir_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].file);
	free(v);
}

static struct unit_entry *new_entry(struct unit_set *set, const char *name)
{
	struct unit_entry *v = set->v;

	if (set->n == set->cap) { /* doubling: thousands of units must not copy n^2 entries */
		size_t cap = set->cap ? set->cap * 2 : 64;
		if (!(v = reallocarray(set->v, cap, sizeof(*v))))
			return NULL;
		set->v = v;
		set->cap = cap;
	}
	memset(&v[set->n], 0, sizeof(v[set->n]));
	strcpy(v[set->n].name, name);
	return &v[set->n++];
}

/* NAME.unit and NAME.service for one name: an error naming both, nothing read. */
static int add_conflict(struct unit_set *set, const char *dir, const struct dir_file *f,
			size_t count)
{
	struct unit_entry *e = new_entry(set, f[0].name);
	struct unit_buf b = {0};
	size_t where;

	if (!e)
		return -1;
	unit_buf_printf(&b, "%s/%s: ", dir, f[0].file);
	where = b.len;
	unit_buf_printf(&b, "unit '%s' is also defined by", f[0].name);
	for (size_t i = 1; i < count; i++)
		unit_buf_printf(&b, " %s/%s", dir, f[i].file);
	unit_buf_printf(&b, "; allowed: one file per unit, NAME.unit or NAME.service");
	if (b.failed)
		return -1;
	unit_entry_add_error(e, b.p, where);
	unit_buf_free(&b);
	return e->error ? 0 : -1;
}

static int add_unit(struct unit_set *set, int dfd, const char *path, const struct dir_file *f)
{
	struct unit_entry *e = new_entry(set, f->name);
	_cleanup_free_ char *text = NULL;
	struct sup_error *err = NULL;
	size_t len;

	if (!e)
		return -1;
	if (unit_read_file(dfd, f->file, path, &text, &len, &err) == 0) {
		parse_entry(e, path, text, len);
		return e->problems.oom ? -1 : 0;
	}
	if (err->errnum == ENOMEM) {
		sup_error_free(err);
		return -1;
	}
	unit_entry_add_error(e, err->msg, 0);
	sup_error_free(err);
	return e->error ? 0 : -1;
}

/* A template: its text kept, checked by parsing it for a sample instance. */
static int add_template(struct unit_set *set, int dfd, const char *path, const struct dir_file *f)
{
	struct unit_template *v = reallocarray(set->templates, set->n_templates + 1, sizeof(*v));
	struct unit_config *c = NULL;
	struct sup_error *err = NULL;
	struct unit_template *t;

	if (!v)
		return -1;
	set->templates = v;
	t = &v[set->n_templates++];
	*t = (struct unit_template){.path = strdup(path)};
	strcpy(t->name, f->name);
	if (!t->path)
		return -1;
	if (unit_read_file(dfd, f->file, path, &t->text, &t->len, &err) < 0) {
		unit_problems_add(&t->problems, UNIT_ERROR, err->msg, 0);
		t->problems.oom |= err->errnum == ENOMEM;
		sup_error_free(err);
		return t->problems.oom ? -1 : 0;
	}
	unit_template_instantiate(t, strlen(t->name) < UNIT_NAME_MAX - 8 ? "instance" : "i", &c,
				  &t->problems);
	unit_config_free(c);
	free(c);
	return t->problems.oom ? -1 : 0;
}

/* One name's files (count > 1: a conflict), read into the set. */
static int add_name(struct unit_set *set, int dfd, const char *dir, const struct dir_file *f,
		    size_t count)
{
	_cleanup_free_ char *path = NULL;

	if (count > 1)
		return add_conflict(set, dir, f, count);
	if (asprintf(&path, "%s/%s", dir, f->file) < 0) {
		path = NULL;
		return -1;
	}
	if (unit_name_is_template(f->name))
		return add_template(set, dfd, path, f);
	return add_unit(set, dfd, path, f);
}

struct unit_scan {
	struct dir_file *files;
	size_t n, next;
	int dfd;
};

static void scan_free(struct unit_set *set)
{
	if (!set->scan)
		return;
	free_files(set->scan->files, set->scan->n);
	if (set->scan->dfd >= 0)
		close(set->scan->dfd);
	free(set->scan);
	set->scan = NULL;
}

int unit_set_scan(const char *dir, struct unit_set *set, struct sup_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);

	*set = (struct unit_set){0};
	if (!d)
		return sup_error_set(err, errno, "open units directory %s", dir);
	set->scan = calloc(1, sizeof(*set->scan));
	if (!set->scan)
		return sup_error_set(err, ENOMEM, "load units directory %s", dir);
	set->scan->dfd = fcntl(dirfd(d), F_DUPFD_CLOEXEC, 3);
	if (set->scan->dfd < 0 || list_dir(set, d, dir, &set->scan->files, &set->scan->n) < 0) {
		int e = errno;
		unit_set_free(set);
		return sup_error_set(err, e, "%s units directory %s", e == ENOMEM ? "load" : "read",
				     dir);
	}
	return 0;
}

int unit_set_parse_next(const char *dir, struct unit_set *set, struct sup_error **err)
{
	struct unit_scan *sc = set->scan;
	size_t count = 1;

	if (!sc || sc->next >= sc->n)
		return 0;
	while (sc->next + count < sc->n &&
	       strcmp(sc->files[sc->next].name, sc->files[sc->next + count].name) == 0)
		count++;
	if (add_name(set, sc->dfd, dir, &sc->files[sc->next], count) < 0) {
		unit_set_free(set);
		return sup_error_set(err, ENOMEM, "load units directory %s", dir);
	}
	sc->next += count;
	return sc->next < sc->n;
}

/* The first name of the lists that pull units in which is an instance still to be created. */
static const char *missing_instance(struct unit_set *set, const struct unit_config *c)
{
	const struct strv *lists[] = {&c->requires, &c->wants, &c->binds_to};

	for (size_t l = 0; l < SUP_ARRAY_SIZE(lists); l++)
		for (size_t j = 0; j < lists[l]->n; j++) {
			const char *n = lists[l]->v[j];
			if (strchr(n, '@') && !unit_set_find(set, n))
				return n;
		}
	return NULL;
}

/* Instances named by loaded units, created until none is missing (names are bounded). */
static int instantiate_named(struct unit_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct unit_config *c = set->v[i].config;
		const char *name = c ? missing_instance(set, c) : NULL;
		char copy[UNIT_NAME_MAX + 1];
		if (!name)
			continue;
		snprintf(copy, sizeof(copy), "%s", name);
		if (!unit_set_instantiate(set, copy)) {
			if (errno == ENOMEM)
				return -1;
			continue; /* no template: the dependency checks report it */
		}
		i = (size_t)-1; /* the set was re-sorted: start over */
	}
	return 0;
}

int unit_set_finish(const char *dir, struct unit_set *set, struct sup_error **err)
{
	scan_free(set);
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), entry_cmp);
	if (set->n_templates)
		qsort(set->templates, set->n_templates, sizeof(*set->templates), template_cmp);
	sort_problems(&set->problems);
	if (instantiate_named(set) < 0) {
		unit_set_free(set);
		return sup_error_set(err, ENOMEM, "load units directory %s", dir);
	}
	return 0;
}

int unit_set_load(const char *dir, struct unit_set *set, struct sup_error **err)
{
	int r;

	if (unit_set_scan(dir, set, err) < 0)
		return -1;
	while ((r = unit_set_parse_next(dir, set, err)) > 0)
		;
	if (r < 0)
		return -1;
	return unit_set_finish(dir, set, err);
}

void unit_set_free(struct unit_set *set)
{
	scan_free(set);
	for (size_t i = 0; i < set->n; i++) {
		unit_config_free(set->v[i].config);
		free(set->v[i].config);
		free(set->v[i].error);
		unit_problems_free(&set->v[i].problems);
	}
	for (size_t i = 0; i < set->n_templates; i++) {
		free(set->templates[i].path);
		free(set->templates[i].text);
		unit_problems_free(&set->templates[i].problems);
	}
	free(set->v);
	free(set->templates);
	unit_problems_free(&set->problems);
	*set = (struct unit_set){0};
}

struct unit_entry *unit_set_find(struct unit_set *set, const char *name)
{
	struct unit_entry key;

	if (!set->n || strlen(name) > UNIT_NAME_MAX)
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, set->v, set->n, sizeof(*set->v), entry_cmp);
}

struct unit_template *unit_set_find_template(struct unit_set *set, const char *name)
{
	struct unit_template key;

	if (!set->n_templates || strlen(name) > UNIT_NAME_MAX)
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, set->templates, set->n_templates, sizeof(*set->templates),
		       template_cmp);
}

int unit_template_instantiate(const struct unit_template *t, const char *instance,
			      struct unit_config **out, struct unit_problems *problems)
{
	char name[UNIT_NAME_MAX + 2];

	*out = NULL;
	if (!t->text) {
		unit_problems_add(problems, UNIT_ERROR, "the template could not be read", 0);
		return -1;
	}
	snprintf(name, sizeof(name), "%s%s", t->name, instance);
	return unit_parse_string(name, t->path, t->text, t->len, out, problems);
}

struct unit_entry *unit_set_instantiate(struct unit_set *set, const char *name)
{
	char tname[UNIT_NAME_MAX + 1];
	const char *at = strchr(name, '@');
	struct unit_template *t;
	struct unit_entry *e = unit_set_find(set, name);

	if (e)
		return e;
	errno = ENOENT;
	if (!at || !at[1] || !unit_name_valid(name))
		return NULL;
	snprintf(tname, sizeof(tname), "%.*s", (int)(at - name + 1), name);
	t = unit_set_find_template(set, tname);
	if (!t)
		return NULL;
	e = new_entry(set, name);
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	unit_template_instantiate(t, at + 1, &e->config, &e->problems);
	e->error = e->config ? NULL : unit_problems_join(&e->problems, UNIT_ERROR);
	qsort(set->v, set->n, sizeof(*set->v), entry_cmp);
	e = unit_set_find(set, name);
	if (e->problems.oom || (!e->config && !e->error)) {
		errno = ENOMEM;
		return NULL;
	}
	return e;
}
