/* One unit file's text to a struct unit_config: inih over our reader, the table, the checks. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

void unit_problem(struct unit_parser *p, unsigned long line, const char *key, const char *fmt, ...)
{
	struct unit_buf b = {0};
	char *what = NULL;
	va_list ap;
	int r;

	if (p->n_errors++ >= UNIT_ERRORS_MAX)
		return; /* counted, summed up at the end */
	va_start(ap, fmt);
	r = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (r < 0) {
		p->oom = true;
		return;
	}
	unit_buf_printf(&b, "%s", p->path);
	if (line)
		unit_buf_printf(&b, ":%lu", line);
	unit_buf_printf(&b, ": ");
	if (key) {
		unit_buf_escape(&b, key, 60);
		unit_buf_printf(&b, ": ");
	}
	unit_buf_printf(&b, "%s", what);
	free(what);
	if (b.failed)
		p->oom = true;
	p->problems[p->n_errors - 1] = (struct unit_problem_text){line, b.failed ? NULL : b.p};
	if (b.failed)
		unit_buf_free(&b);
}

/* inih's handler: section is "" before any header, else the canonical name we gave it. */
static int handler(void *user, const char *section, const char *key, const char *value)
{
	unit_dispatch(user, section, key, value);
	return 1; /* problems are collected, never a reason to stop */
}

/* Every problem, one per line, in line order (file-wide ones first); frees them. */
static int finish(struct unit_parser *p, struct sup_error **err)
{
	size_t kept = p->n_errors < UNIT_ERRORS_MAX ? p->n_errors : UNIT_ERRORS_MAX;
	struct unit_buf b = {0};
	int r;

	/* insertion sort: qsort is not stable, and there are at most UNIT_ERRORS_MAX */
	for (size_t i = 1; i < kept; i++)
		for (size_t j = i; j > 0 && p->problems[j - 1].line > p->problems[j].line; j--) {
			struct unit_problem_text t = p->problems[j];
			p->problems[j] = p->problems[j - 1];
			p->problems[j - 1] = t;
		}
	for (size_t i = 0; i < kept; i++) {
		if (p->problems[i].text)
			unit_buf_printf(&b, "%s%s", b.len ? "\n" : "", p->problems[i].text);
		free(p->problems[i].text);
	}
	if (p->n_errors > UNIT_ERRORS_MAX)
		unit_buf_printf(&b, "\n%s: %u more problems not shown", p->path,
				p->n_errors - UNIT_ERRORS_MAX);
	if (p->oom || b.failed)
		r = sup_error_set(err, ENOMEM, "parse %s", p->path);
	else
		r = sup_error_set(err, 0, "%s", b.p);
	unit_buf_free(&b);
	return r;
}

int unit_parse_string(const char *name, const char *path, const char *text, size_t len,
		      struct unit_config **out, struct sup_error **err)
{
	struct unit_parser p = {
	    .path = path ? path : name, .text = text, .len = len, .next_line = 1, .section = ""};
	int r;

	*out = NULL;
	if (!unit_name_valid(name))
		return sup_error_set(err, 0, "%s: '%s' is not a valid unit name", p.path, name);
	p.c = calloc(1, sizeof(*p.c));
	if (!p.c || (path && !(p.c->path = strdup(path)))) {
		free(p.c);
		return sup_error_set(err, ENOMEM, "parse %s", p.path);
	}
	strcpy(p.c->name, name);
	unit_config_defaults(p.c);

	r = ini_parse_stream(unit_read_line, &p, handler, &p);
	if (r != 0 && p.n_errors == 0) /* the reader takes what inih would refuse: not expected */
		unit_problem(&p, 0, NULL, "the INI parser failed (%d)", r);
	/* per key, a value already reported as bad keeps the checks on that key quiet */
	unit_check_config(&p);
	unit_buf_free(&p.logical);
	if (p.n_errors || p.oom) {
		r = finish(&p, err);
		unit_config_free(p.c);
		free(p.c);
		return r;
	}
	*out = p.c;
	return 0;
}

int unit_parse_file(const char *name, const char *path, struct unit_config **out,
		    struct sup_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	*out = NULL;
	if (unit_read_file(AT_FDCWD, path, path, &text, &len, err) < 0)
		return -1;
	return unit_parse_string(name, path, text, len, out, err);
}
