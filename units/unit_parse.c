/* One unit file's text to a struct unit_config: inih over our reader, the table, the checks. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

void unit_report(struct unit_parser *p, enum unit_severity sev, unsigned long line, const char *key,
		 const char *fmt, va_list ap)
{
	struct unit_buf b = {0};
	char *what = NULL;
	size_t where;

	if (sev == UNIT_ERROR)
		p->n_errors++;
	if (p->n_found++ >= UNIT_PROBLEMS_MAX)
		return; /* counted, summed up at the end */
	if (vasprintf(&what, fmt, ap) < 0) {
		p->oom = true;
		return;
	}
	unit_buf_printf(&b, "%s", p->path);
	if (line)
		unit_buf_printf(&b, ":%lu", line);
	unit_buf_printf(&b, ": ");
	where = b.len;
	if (key) {
		unit_buf_escape(&b, key, 60);
		unit_buf_printf(&b, ": ");
	}
	unit_buf_printf(&b, "%s", what);
	free(what);
	if (b.failed) {
		p->oom = true;
		unit_buf_free(&b);
	}
	p->found[p->n_found - 1] = (struct unit_found){line, sev, b.p, where};
}

void unit_problem(struct unit_parser *p, unsigned long line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	unit_report(p, UNIT_ERROR, line, key, fmt, ap);
	va_end(ap);
}

void unit_warning(struct unit_parser *p, unsigned long line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	unit_report(p, UNIT_WARNING, line, key, fmt, ap);
	va_end(ap);
}

/*
 * inih's handler: section is "" before any header, else the canonical name we gave it. The
 * reader gave inih "KEY=" only: the value is the reader's, whole (see unit_reader.c).
 */
static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct unit_parser *p = user;

	unit_dispatch(p, section, key, p->value ? p->value : value);
	return 1; /* problems are collected, never a reason to stop */
}

/* Every problem, in line order (file-wide ones first), into pl; frees them. */
static void finish(struct unit_parser *p, struct unit_problems *pl)
{
	size_t kept = p->n_found < UNIT_PROBLEMS_MAX ? p->n_found : UNIT_PROBLEMS_MAX;

	/* insertion sort: qsort is not stable, and there are at most UNIT_PROBLEMS_MAX */
	for (size_t i = 1; i < kept; i++)
		for (size_t j = i; j > 0 && p->found[j - 1].line > p->found[j].line; j--) {
			struct unit_found t = p->found[j];
			p->found[j] = p->found[j - 1];
			p->found[j - 1] = t;
		}
	for (size_t i = 0; i < kept; i++) {
		if (p->found[i].text)
			unit_problems_add(pl, p->found[i].severity, p->found[i].text,
					  p->found[i].where);
		free(p->found[i].text);
	}
	if (p->n_found > UNIT_PROBLEMS_MAX) {
		char *more = NULL;
		if (asprintf(&more, "%s: %u more problems not shown", p->path,
			     p->n_found - UNIT_PROBLEMS_MAX) < 0)
			p->oom = true;
		else
			unit_problems_add(pl, p->n_errors ? UNIT_ERROR : UNIT_WARNING, more,
					  strlen(p->path) + 2);
		free(more);
	}
	if (p->oom) {
		unit_problems_add(pl, UNIT_ERROR, "out of memory", 0);
		pl->oom = true;
	}
}

/* The specifier context of unit NAME read from PATH. */
static int naming(struct unit_parser *p, const char *name, const char *path, char **full)
{
	const char *at = strchr(name, '@');
	size_t n = path ? strlen(path) : 0;
	bool systemd = n > 8 && strcmp(path + n - 8, ".service") == 0;

	p->c->dialect = systemd ? UNIT_DIALECT_SYSTEMD : UNIT_DIALECT_SUP;
	p->specifiers = systemd || at;
	p->instance = at ? at + 1 : "";
	*full = NULL;
	if (systemd && asprintf(full, "%s.service", name) < 0)
		return -1;
	p->full_name = *full ? *full : name;
	return 0;
}

static int setup(struct unit_parser *p, const char *name, const char *path, char **full)
{
	p->c = calloc(1, sizeof(*p->c));
	if (!p->c || (path && !(p->c->path = strdup(path)))) {
		free(p->c);
		p->c = NULL;
		return -1;
	}
	strcpy(p->c->name, name);
	unit_config_defaults(p->c);
	if (naming(p, name, path, full) < 0) {
		unit_config_free(p->c);
		free(p->c);
		p->c = NULL;
		return -1;
	}
	return 0;
}

int unit_parse_string(const char *name, const char *path, const char *text, size_t len,
		      struct unit_config **out, struct unit_problems *problems)
{
	return unit_parse_text(name, path, text, len, true, out, problems);
}

int unit_parse_text(const char *name, const char *path, const char *text, size_t len,
		    bool pending_checks, struct unit_config **out, struct unit_problems *problems)
{
	struct unit_parser p = {
	    .path = path ? path : name, .text = text, .len = len, .next_line = 1, .section = ""};
	_cleanup_free_ char *full = NULL;
	int r;

	*out = NULL;
	if (!unit_name_valid(name) || unit_name_is_template(name)) {
		unit_problem(&p, 0, NULL, "'%s' is not a valid unit name", name);
		finish(&p, problems);
		return -1;
	}
	if (setup(&p, name, path, &full) < 0) {
		unit_problems_add(problems, UNIT_ERROR, "out of memory", 0);
		problems->oom = true;
		return -1;
	}
	r = ini_parse_stream(unit_read_line, &p, handler, &p);
	if (r != 0 && p.n_errors == 0) /* the reader takes what inih would refuse: not expected */
		unit_problem(&p, 0, NULL, "the INI parser failed (%d)", r);
	/* per key, a value already reported as bad keeps the checks on that key quiet */
	unit_check_config(&p);
	if (pending_checks)
		unit_check_pending(&p);
	unit_buf_free(&p.logical);
	finish(&p, problems);
	if (p.n_errors || p.oom) {
		unit_config_free(p.c);
		free(p.c);
		return -1;
	}
	*out = p.c;
	return 0;
}

int unit_parse_file(const char *name, const char *path, struct unit_config **out,
		    struct unit_problems *problems)
{
	_cleanup_free_ char *text = NULL;
	struct sup_error *err = NULL;
	size_t len;

	*out = NULL;
	if (unit_read_file(AT_FDCWD, path, path, &text, &len, &err) < 0) {
		unit_problems_add(problems, UNIT_ERROR, err->msg, 0);
		problems->oom |= err->errnum == ENOMEM;
		sup_error_free(err);
		return -1;
	}
	return unit_parse_string(name, path, text, len, out, problems);
}
