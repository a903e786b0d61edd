/*
 * systemd keys sup does not act on: those with no effect where sup runs (a warning), those that
 * would change behaviour (an error: a unit is not started without what it asked for), the
 * sandboxing keys (an error until [Container] maps them) and keys whose one value sup's
 * behaviour matches. The key table gives each its reason.
 */
#include <string.h>

#include "unit_types.h"

static int parse_ignored(struct unit_ctx *x, const char *value, void *field)
{
	unit_warning(x->p, x->p->line, x->key, "ignored: %s", x->k->allowed);
	return 0;
}

static int parse_refused(struct unit_ctx *x, const char *value, void *field)
{
	unit_buf_printf(&x->why, "not supported: %s; the unit is not started without it",
			x->k->allowed);
	x->whole = true;
	return -1;
}

/* A sandboxing key: an error, unless its value asks for nothing. */
static int parse_sandbox(struct unit_ctx *x, const char *value, void *field)
{
	const struct sandbox *sb = x->k->arg;
	bool b;

	if ((!*value && sb->empty_is_nothing) ||
	    (*value && sb->no_is_nothing && unit_parse_bool(value, &b) == 0 && !b))
		return 0;
	if (sb->maps_to)
		unit_buf_printf(&x->why, "not supported yet: it will map onto %s", sb->maps_to);
	else
		unit_buf_printf(&x->why, "not supported");
	unit_buf_printf(&x->why, "; a unit must never run with less isolation than it asked for");
	x->whole = true;
	return -1;
}

static bool fixed_matches(const struct fixed *f, const char *value)
{
	bool want, got;

	if (!f->boolean)
		return strcmp(value, f->ok) == 0;
	unit_parse_bool(f->ok, &want);
	return unit_parse_bool(value, &got) == 0 && got == want;
}

/* The one value that matches what sup does; another warns or is an error. */
static int parse_fixed(struct unit_ctx *x, const char *value, void *field)
{
	const struct fixed *f = x->k->arg;
	bool b;

	if (!*value || fixed_matches(f, value))
		return 0;
	if (f->boolean && unit_parse_bool(value, &b) < 0) {
		unit_invalid(x, value, false);
		unit_buf_printf(&x->why, "; allowed: %s (yes or no)", f->ok);
		x->whole = true;
		return -1;
	}
	if (f->other_warns) {
		unit_warning(x->p, x->p->line, x->key, "'%s' ignored: %s", value, f->because);
		return 0;
	}
	unit_buf_quote(&x->why, value);
	unit_buf_printf(&x->why, " is not supported: %s; allowed: %s (or no %s= at all)",
			f->because, f->ok, x->key);
	x->whole = true;
	return -1;
}

const struct value_type t_ignored = {parse_ignored, NULL, VT_TAKES_EMPTY | VT_NO_SPECIFIERS};
const struct value_type t_refused = {parse_refused, NULL, VT_TAKES_EMPTY | VT_NO_SPECIFIERS};
const struct value_type t_sandbox = {parse_sandbox, NULL, VT_TAKES_EMPTY | VT_NO_SPECIFIERS};
const struct value_type t_fixed = {parse_fixed, NULL, VT_TAKES_EMPTY};
