/* Value types of the key table: text, paths, users, environment, numbers, [Resources] values. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/image.h"
#include "unit_types.h"

int unit_oom(struct unit_ctx *x)
{
	unit_buf_printf(&x->why, "out of memory");
	return -1;
}

int unit_invalid(struct unit_ctx *x, const char *value, bool too_large)
{
	unit_buf_quote(&x->why, value);
	unit_buf_printf(&x->why, too_large ? " is too large" : " is not valid");
	return -1;
}

int unit_set_string(struct unit_ctx *x, char **field, const char *value)
{
	char *dup = strdup(value);

	if (!dup)
		return unit_oom(x);
	free(*field);
	*field = dup;
	return 0;
}

int unit_push_unique(struct unit_ctx *x, struct strv *sv, const char *s)
{
	if (strv_contains(sv, s))
		return 0;
	if (sv->n >= UNIT_LIST_MAX) {
		unit_buf_printf(&x->why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push(sv, s) < 0)
		return unit_oom(x);
	return 0;
}

static void reset_string(void *field)
{
	char **s = field;
	free(*s);
	*s = NULL;
}

static void reset_strv(void *field)
{
	strv_free(field);
}

static int parse_text(struct unit_ctx *x, const char *value, void *field)
{
	return unit_set_string(x, field, value);
}

static int parse_path(struct unit_ctx *x, const char *value, void *field)
{
	if (value[0] != '/') {
		unit_buf_quote(&x->why, value);
		unit_buf_printf(&x->why, " is not an absolute path");
		return -1;
	}
	return unit_set_string(x, field, value);
}

/* An image reference as Docker reads it (sup/image.h: pure code): a typo is the unit file's
 * error, not a failed start. Kept as written; the canonical name comes with the pull. */
static int parse_image(struct unit_ctx *x, const char *value, void *field)
{
	struct sup_error *err = NULL;
	struct img_ref ref;

	if (img_ref_parse(value, &ref, &err) < 0) {
		unit_buf_printf(&x->why, "%s", err->msg);
		sup_error_free(err);
		return -1;
	}
	img_ref_free(&ref);
	return unit_set_string(x, field, value);
}

/* A user or group: a number below 2^32-1, or a name of [A-Za-z0-9_.-] (a trailing $ too). */
static int parse_user(struct unit_ctx *x, const char *value, void *field)
{
	size_t n = strspn(value, "0123456789");
	uint64_t id = 0;
	bool ok;

	if (value[n] == '\0') {
		ok = n <= 10;
		for (size_t i = 0; ok && i < n; i++)
			id = id * 10 + (uint64_t)(value[i] - '0');
		ok = ok && id < UINT32_MAX;
	} else {
		n = strspn(value,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
		ok = n > 0 && value[0] != '-' &&
		     (value[n] == '\0' || (value[n] == '$' && !value[n + 1])) &&
		     strlen(value) <= 32;
	}
	if (!ok)
		return unit_invalid(x, value, false);
	return unit_set_string(x, field, value);
}

static bool env_name_valid(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_",
			    s[i]))
			return false;
	return true;
}

/* KEY=value in the list: a later assignment of KEY replaces the earlier one in place. */
static int env_set(struct unit_ctx *x, struct strv *env, char *assignment)
{
	size_t n = strcspn(assignment, "=");

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], assignment, n + 1) == 0) {
			free(env->v[i]);
			env->v[i] = assignment;
			return 0;
		}
	if (env->n >= UNIT_LIST_MAX) {
		free(assignment);
		unit_buf_printf(&x->why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push_take(env, assignment) < 0)
		return unit_oom(x);
	return 0;
}

/* KEY=value assignments, split and unquoted like Exec=: A=1 "B=two words". */
static int parse_env(struct unit_ctx *x, const char *value, void *field)
{
	struct strv words = {0};
	const char *what;
	size_t i;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(&x->why, "%s in ", what);
		unit_buf_quote(&x->why, value);
		return -1;
	}
	for (i = 0; i < words.n; i++) {
		const char *eq = strchr(words.v[i], '=');
		if (!eq || !env_name_valid(words.v[i], (size_t)(eq - words.v[i]))) {
			unit_buf_quote(&x->why, words.v[i]);
			unit_buf_printf(&x->why, " is not a KEY=value assignment");
			strv_free(&words);
			return -1;
		}
	}
	for (i = 0; i < words.n && r == 0; i++)
		r = env_set(x, field, words.v[i]); /* takes the string, even on failure */
	for (; i < words.n; i++)
		free(words.v[i]);
	free(words.v);
	return r;
}

/* One path per assignment; a leading '-' (kept) makes the file optional. */
static int parse_envfile(struct unit_ctx *x, const char *value, void *field)
{
	struct strv *sv = field;

	if (value[value[0] == '-'] != '/') {
		unit_buf_quote(&x->why, value);
		unit_buf_printf(&x->why, " is not an absolute path");
		return -1;
	}
	if (sv->n >= UNIT_LIST_MAX) {
		unit_buf_printf(&x->why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push(sv, value) < 0)
		return unit_oom(x);
	return 0;
}

/* arg: {name, value} pairs, NULL-terminated; several names may give one value. */
static int parse_enum(struct unit_ctx *x, const char *value, void *field)
{
	const struct unit_enum *e = x->k->arg;

	for (; e->name; e++)
		if (strcmp(value, e->name) == 0) {
			memcpy(field, &e->value, sizeof(e->value));
			return 0;
		}
	return unit_invalid(x, value, false);
}

static int parse_duration(struct unit_ctx *x, const char *value, void *field)
{
	unsigned flags = x->k->flags;
	uint64_t v;

	if (unit_parse_duration(value, &v) < 0)
		return unit_invalid(x, value, errno == ERANGE);
	if (v == USEC_INFINITY && !(flags & (K_INFINITY | K_ZERO_INFINITY))) {
		unit_buf_printf(&x->why, "'infinity' is not allowed here");
		return -1;
	}
	/* systemd's TimeoutStartSec=0 and TimeoutStopSec=0 disable the timeout: 0 is kept, and
	 * means "none" at run time as infinity does (state.c); a load-time warning says so */
	*(uint64_t *)field = v;
	return 0;
}

/* Decimal digits into *v (saturating: reported as out of range); their count. */
static size_t digits(const char *s, uint64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		if (__builtin_mul_overflow(*v, 10, v) || __builtin_add_overflow(*v, s[i] - '0', v))
			*v = UINT64_MAX;
	return i;
}

/* An optional sign (signed ranges only), decimal digits, exactly `suffix`, within k's range. */
static int parse_ranged(struct unit_ctx *x, const char *value, const char *sfx, int64_t *out)
{
	const struct range *r = x->k->arg;
	bool neg = r->min < 0 && value[0] == '-';
	const char *s = value + (neg || (r->min < 0 && value[0] == '+'));
	uint64_t v;
	size_t i = digits(s, &v);
	int64_t sv = v > INT64_MAX ? INT64_MAX : (int64_t)v;

	if (i == 0 || strcmp(s + i, sfx) != 0)
		return unit_invalid(x, value, false);
	if (neg)
		sv = -sv;
	if (sv < r->min || sv > r->max) {
		unit_buf_quote(&x->why, value);
		unit_buf_printf(&x->why, " is out of range");
		return -1;
	}
	*out = sv;
	return 0;
}

static int parse_uint(struct unit_ctx *x, const char *value, void *field)
{
	int64_t v;

	if (parse_ranged(x, value, "", &v) < 0)
		return -1;
	*(unsigned *)field = (unsigned)v;
	return 0;
}

static int parse_int(struct unit_ctx *x, const char *value, void *field)
{
	int64_t v;

	if (parse_ranged(x, value, "", &v) < 0)
		return -1;
	*(int *)field = (int)v;
	return 0;
}

/* An octal number (UMask=, ...Mode=), 1 to 4 digits, within k's range; stored as an int. */
static int parse_octal(struct unit_ctx *x, const char *value, void *field)
{
	const struct range *r = x->k->arg;
	size_t n = strspn(value, "01234567");
	int v = 0;

	if (n == 0 || n > 4 || value[n])
		return unit_invalid(x, value, false);
	for (size_t i = 0; i < n; i++)
		v = v * 8 + (value[i] - '0');
	if (v > r->max) {
		unit_buf_quote(&x->why, value);
		unit_buf_printf(&x->why, " is out of range");
		return -1;
	}
	memcpy(field, &v, sizeof(v));
	return 0;
}

static int parse_signal(struct unit_ctx *x, const char *value, void *field)
{
	if (sup_signal_parse(value, field) < 0)
		return unit_invalid(x, value, false);
	return 0;
}

static int parse_bool(struct unit_ctx *x, const char *value, void *field)
{
	if (unit_parse_bool(value, field) < 0)
		return unit_invalid(x, value, false);
	return 0;
}

/* ---- [Resources] values ---- */

static int parse_percent(struct unit_ctx *x, const char *value, void *field)
{
	int64_t v;

	if (parse_ranged(x, value, "%", &v) < 0)
		return -1;
	*(unsigned *)field = (unsigned)v;
	return 0;
}

/* One CPU number below 4096 at *p; -1 if there is none. */
static long cpu_number(const char **p)
{
	long a = 0;
	size_t n;

	for (n = 0; (*p)[n] >= '0' && (*p)[n] <= '9' && n < 5; n++)
		a = a * 10 + ((*p)[n] - '0');
	if (n == 0 || n == 5 || a >= 4096)
		return -1;
	*p += n;
	return a;
}

/*
 * A CPU list: N or N-M, ranges ascending, separated by commas (or blanks, as systemd's
 * AllowedCPUs= takes them); stored comma-separated, as the cgroup file wants it.
 */
static int parse_cpuset(struct unit_ctx *x, const char *value, void *field)
{
	_cleanup_free_ char *norm = strdup(value);
	const char *p = value;
	size_t o = 0;

	if (!norm)
		return unit_oom(x);
	for (;;) {
		const char *start = p;
		long a = cpu_number(&p), b = a;
		if (a >= 0 && *p == '-') {
			p++;
			b = cpu_number(&p);
		}
		if (a < 0 || b < a)
			return unit_invalid(x, value, false);
		memcpy(norm + o, start, (size_t)(p - start));
		o += (size_t)(p - start);
		p += strspn(p, " \t");
		if (*p == ',') {
			p += 1 + strspn(p + 1, " \t");
			if (!*p)
				return unit_invalid(x, value, false);
		} else if (*p && p[-1] != ' ' && p[-1] != '\t') {
			return unit_invalid(x, value, false);
		}
		if (!*p)
			break;
		norm[o++] = ',';
	}
	norm[o] = '\0';
	return unit_set_string(x, field, norm);
}

/* A size (K M G T: powers of 1024) or infinity. */
static int parse_limit_size(struct unit_ctx *x, const char *value, void *field)
{
	uint64_t v = 0;

	if (unit_parse_size(value, &v) < 0 || v == UNIT_RES_UNSET)
		return unit_invalid(x, value, errno == ERANGE || v == UNIT_RES_UNSET);
	*(uint64_t *)field = v;
	return 0;
}

/* A count or infinity. */
static int parse_limit_count(struct unit_ctx *x, const char *value, void *field)
{
	uint64_t v = 0;
	size_t i;

	if (strcmp(value, "infinity") == 0) {
		*(uint64_t *)field = SIZE_INFINITY;
		return 0;
	}
	for (i = 0; value[i] >= '0' && value[i] <= '9'; i++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, value[i] - '0', &v))
			return unit_invalid(x, value, true);
	if (i == 0 || value[i])
		return unit_invalid(x, value, false);
	if (v == 0 || v >= UNIT_RES_UNSET) {
		unit_buf_quote(&x->why, value);
		unit_buf_printf(&x->why, " is out of range");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

static void reset_bandwidth(void *field)
{
	struct unit_io_limits *l = field;

	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	*l = (struct unit_io_limits){0};
}

/* Add or replace (same path) one entry; takes path. */
static int bandwidth_set(struct unit_ctx *x, struct unit_io_limits *l, char *path, uint64_t bytes)
{
	struct unit_io_limit *v;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0) {
			free(path);
			l->v[i].bytes = bytes;
			return 0;
		}
	if (l->n >= UNIT_LIST_MAX) {
		free(path);
		unit_buf_printf(&x->why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	v = reallocarray(l->v, l->n + 1, sizeof(*v));
	if (!v) {
		free(path);
		return unit_oom(x);
	}
	l->v = v;
	v[l->n++] = (struct unit_io_limit){path, bytes};
	return 0;
}

/* "DEVICE-PATH RATE"; a later entry for the same path replaces the earlier one. */
static int parse_bandwidth(struct unit_ctx *x, const char *value, void *field)
{
	const char *sp = strrchr(value, ' ');
	char *path;
	uint64_t rate;
	size_t n;

	if (!sp || value[0] != '/') {
		unit_buf_quote(&x->why, value);
		unit_buf_printf(&x->why, " is not a device path and a rate");
		return -1;
	}
	if (unit_parse_size(sp + 1, &rate) < 0 || rate == 0) {
		unit_buf_quote(&x->why, sp + 1);
		unit_buf_printf(&x->why,
				errno == ERANGE ? " is too large" : " is not a valid rate");
		return -1;
	}
	for (n = (size_t)(sp - value); n && value[n - 1] == ' '; n--)
		;
	path = strndup(value, n);
	if (!path)
		return unit_oom(x);
	return bandwidth_set(x, field, path, rate);
}

const struct value_type t_text = {parse_text, reset_string, 0};
const struct value_type t_image = {parse_image, reset_string, 0};
const struct value_type t_path = {parse_path, reset_string, 0};
const struct value_type t_user = {parse_user, reset_string, 0};
const struct value_type t_env = {parse_env, reset_strv, 0};
const struct value_type t_envfile = {parse_envfile, reset_strv, 0};
const struct value_type t_enum = {parse_enum, NULL, VT_NO_SPECIFIERS};
const struct value_type t_duration = {parse_duration, NULL, VT_NO_SPECIFIERS};
const struct value_type t_uint = {parse_uint, NULL, VT_NO_SPECIFIERS};
const struct value_type t_int = {parse_int, NULL, VT_NO_SPECIFIERS};
const struct value_type t_octal = {parse_octal, NULL, VT_NO_SPECIFIERS};
const struct value_type t_signal = {parse_signal, NULL, VT_NO_SPECIFIERS};
const struct value_type t_bool = {parse_bool, NULL, VT_NO_SPECIFIERS};
const struct value_type t_percent = {parse_percent, NULL, VT_NO_SPECIFIERS};
const struct value_type t_cpuset = {parse_cpuset, reset_string, VT_NO_SPECIFIERS};
const struct value_type t_limit_size = {parse_limit_size, NULL, VT_NO_SPECIFIERS};
const struct value_type t_limit_count = {parse_limit_count, NULL, VT_NO_SPECIFIERS};
const struct value_type t_bandwidth = {parse_bandwidth, reset_bandwidth, VT_NO_SPECIFIERS};
