/*
 * Expansion, as systemd does it: specifiers (%i %I %n %N %p %%) when a file is read, and
 * $VAR / ${VAR} in command lines when a command is spawned (from the unit's environment,
 * which only exists then). Both pure.
 */
#include <errno.h>
#include <string.h>

#include "unit_private.h"

/* systemd's unescaping of a name part: '-' is '/' ("\xNN" cannot occur in a sup name). */
static void unescape(struct unit_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unit_buf_append(b, s[i] == '-' ? "/" : &s[i], 1);
}

static void prefix(struct unit_buf *b, const char *name)
{
	unit_buf_append(b, name, strcspn(name, "@"));
}

/* One specifier character into b; false if it is not one. */
static bool specifier(const struct unit_parser *p, char c, struct unit_buf *b)
{
	switch (c) {
	case 'i':
		unit_buf_printf(b, "%s", p->instance);
		return true;
	case 'I':
		unescape(b, p->instance, strlen(p->instance));
		return true;
	case 'n':
		unit_buf_printf(b, "%s", p->full_name);
		return true;
	case 'N':
		unit_buf_printf(b, "%s", p->c->name);
		return true;
	case 'p':
		prefix(b, p->c->name);
		return true;
	case '%':
		unit_buf_append(b, "%", 1);
		return true;
	default:
		return false;
	}
}

int unit_resolve_specifiers(const struct unit_parser *p, const char *value, struct unit_buf *out,
			    char *bad)
{
	for (const char *s = value; *s; s++) {
		if (*s != '%') {
			unit_buf_append(out, s, 1);
			continue;
		}
		if (!specifier(p, s[1], out)) {
			*bad = s[1];
			return -1;
		}
		s++;
	}
	if (!out->p)
		unit_buf_append(out, "", 0);
	return out->failed ? -1 : 0;
}

/* ---- $VAR ---- */

static bool env_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* The value of NAME (n bytes) in env, the last assignment winning; NULL if unset. */
static const char *lookup(const struct strv *env, const char *name, size_t n)
{
	for (size_t i = env->n; i-- > 0;)
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=')
			return env->v[i] + n + 1;
	return NULL;
}

/* A word that is exactly $NAME: replaced by the value's words. */
static bool whole_variable(const char *w)
{
	return w[0] == '$' && w[1] && w[1] != '{' && w[1] != '$';
}

/* ${NAME} and $$ within a word; anything else stays as written. */
static void expand_word(const char *w, const struct strv *env, struct unit_buf *b)
{
	unit_buf_append(b, "", 0);
	while (*w) {
		const char *end;
		if (w[0] == '$' && w[1] == '$') {
			unit_buf_append(b, "$", 1);
			w += 2;
			continue;
		}
		if (w[0] == '$' && w[1] == '{') {
			for (end = w + 2; env_char(*end); end++)
				;
			if (*end == '}' && end > w + 2) {
				const char *v = lookup(env, w + 2, (size_t)(end - w - 2));
				unit_buf_printf(b, "%s", v ? v : "");
				w = end + 1;
				continue;
			}
		}
		unit_buf_append(b, w, 1);
		w++;
	}
}

int unit_expand_argv(const struct strv *argv, const struct strv *env, struct strv *out)
{
	for (size_t i = 0; i < argv->n; i++) {
		const char *w = argv->v[i], *why;
		struct unit_buf b = {0};
		if (whole_variable(w)) {
			const char *v = lookup(env, w + 1, strlen(w + 1));
			if (v && unit_parse_argv(v, out, &why) < 0)
				return -1; /* errno: EINVAL (its quoting) or ENOMEM */
			continue;
		}
		expand_word(w, env, &b);
		if (b.failed) {
			unit_buf_free(&b);
			errno = ENOMEM;
			return -1;
		}
		if (strv_push_take(out, b.p) < 0)
			return -1; /* it freed b.p; errno ENOMEM */
	}
	return 0;
}

bool unit_argv_has_variables(const struct strv *argv)
{
	for (size_t i = 0; i < argv->n; i++) {
		const char *w = argv->v[i], *brace = strstr(w, "${");
		if (whole_variable(w) || strstr(w, "$$") || (brace && strchr(brace, '}')))
			return true;
	}
	return false;
}
