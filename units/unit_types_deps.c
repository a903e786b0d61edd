/*
 * Dependency lists: space-separated unit names, systemd's spellings included. "db.service"
 * is unit db; systemd's targets are ignored with a warning (sup has none: a unit starts once
 * its own dependencies are up); other systemd unit types are refused where they would be
 * required, ignored with a warning where they would only order or pull in.
 */
#include <stdlib.h>
#include <string.h>

#include "unit_types.h"

static const struct foreign {
	const char *suffix;
	const char *what;
} foreign[] = {
    {".target", "targets (a unit starts once its own dependencies are up)"},
    {".socket", "socket units (no socket activation)"},
    {".mount", "mount units (mount it before supd starts the unit)"},
    {".automount", "automount units"},
    {".swap", "swap units"},
    {".timer", "timer units"},
    {".path", "path units"},
    {".device", "device units"},
    {".slice", "slices (each unit has a cgroup of its own)"},
    {".scope", "scopes"},
};

static const struct foreign *foreign_type(const char *name)
{
	/* (the table is also used for files of the units directory: unit_foreign_file) */
	size_t n = strlen(name);

	for (size_t i = 0; i < SUP_ARRAY_SIZE(foreign); i++) {
		size_t m = strlen(foreign[i].suffix);
		if (n > m && strcmp(name + n - m, foreign[i].suffix) == 0)
			return &foreign[i];
	}
	return NULL;
}

/* Remember where NAME was named: the first line of its current membership in the list. */
static int note_origin(struct unit_ctx *x, const char *key, const char *name)
{
	struct unit_config *c = x->p->c;
	struct unit_dep_origin *v;

	for (size_t i = 0; i < c->n_dep_origins; i++)
		if (strcmp(c->dep_origins[i].key, key) == 0 &&
		    strcmp(c->dep_origins[i].name, name) == 0) {
			c->dep_origins[i].line = x->p->line;
			return 0;
		}
	v = reallocarray(c->dep_origins, c->n_dep_origins + 1, sizeof(*v));
	if (!v)
		return unit_oom(x);
	c->dep_origins = v;
	v[c->n_dep_origins] = (struct unit_dep_origin){key, strdup(name), x->p->line};
	if (!v[c->n_dep_origins].name)
		return unit_oom(x);
	c->n_dep_origins++;
	return 0;
}

/* A name that must be run (Requires=, BindsTo=): a foreign type cannot be ignored. */
static bool required(const struct unit_ctx *x)
{
	const char *k = x->k->canon ? x->k->canon : x->k->key;

	return strcmp(k, "Requires") == 0 || strcmp(k, "BindsTo") == 0;
}

/* One word: 0 added or ignored (with a warning), -1 refused (why says so). */
static int one_name(struct unit_ctx *x, const char *word, struct strv *list)
{
	char buf[UNIT_NAME_MAX + 1];
	const char *name = unit_name_strip_service(word, buf);
	const struct foreign *f = foreign_type(name);
	const char *key = x->k->canon ? x->k->canon : x->k->key;

	if (f && (!required(x) || strcmp(f->suffix, ".target") == 0)) {
		unit_warning(x->p, x->p->line, x->key, "'%s' ignored: sup has no %s", name,
			     f->what);
		return 0;
	}
	if (f) {
		unit_buf_quote(&x->why, name);
		unit_buf_printf(&x->why, ": sup has no %s", f->what);
		x->whole = true;
		return -1;
	}
	if (!unit_name_valid(name) || unit_name_is_template(name)) {
		unit_buf_quote(&x->why, name);
		unit_buf_printf(&x->why,
				unit_name_is_template(name)
				    ? " is a template; name an instance of it (NAME@INSTANCE)"
				    : " is not a valid unit name");
		return -1;
	}
	if (strv_contains(list, name))
		return 0;
	if (unit_push_unique(x, list, name) < 0)
		return -1;
	return note_origin(x, key, name);
}

static int parse_units(struct unit_ctx *x, const char *value, void *field)
{
	struct strv words = {0};
	const char *what;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(&x->why, "%s", what);
		return -1;
	}
	for (size_t i = 0; i < words.n && r == 0; i++)
		r = one_name(x, words.v[i], field);
	strv_free(&words);
	return r;
}

static void reset_strv(void *field)
{
	strv_free(field);
}

const struct value_type t_units = {parse_units, reset_strv, 0};

unsigned long unit_dep_line(const struct unit_config *c, const char *key, const char *name)
{
	for (size_t i = 0; i < c->n_dep_origins; i++)
		if (strcmp(c->dep_origins[i].key, key) == 0 &&
		    strcmp(c->dep_origins[i].name, name) == 0)
			return c->dep_origins[i].line;
	return 0;
}

const char *unit_foreign_file(const char *filename)
{
	const struct foreign *f = foreign_type(filename);

	return f ? f->what : NULL;
}
