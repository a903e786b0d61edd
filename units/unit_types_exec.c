/*
 * Value types of the process keys: command lines with systemd's prefixes, exit statuses,
 * Limit*=, conditions, RuntimeDirectory=/StateDirectory=, TimeoutSec=.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "unit_types.h"

/* ---- command lines ---- */

/* systemd's prefixes of a command: '-' and ':' are taken, the others refused with why. */
static const struct prefix {
	char c;
	unsigned flag; /* 0: refused */
	const char *what;
} prefixes[] = {
    {'-', UNIT_CMD_IGNORE_FAILURE, NULL},
    {':', UNIT_CMD_NO_EXPAND, NULL},
    {'@', 0, "'@' (argv[0] given apart from the program)"},
    {'+', 0, "'+' (run with full privileges)"},
    {'!', 0, "'!' (privileges without ambient capabilities)"},
    {'|', 0, "'|' (run through the user's shell)"},
};

/* Strip the prefixes off argv[0]; -1 with why on a refused one or an empty program. */
static int strip_prefixes(struct unit_ctx *x, struct strv *argv, unsigned *flags)
{
	char *w = argv->v[0];
	size_t n = 0;

	*flags = 0;
	for (bool more = true; more && w[n];) {
		more = false;
		for (size_t i = 0; i < SUP_ARRAY_SIZE(prefixes); i++) {
			if (w[n] != prefixes[i].c)
				continue;
			if (!prefixes[i].flag) {
				unit_buf_printf(&x->why, "the prefix %s is not supported",
						prefixes[i].what);
				return -1;
			}
			*flags |= prefixes[i].flag;
			n++;
			more = true;
		}
	}
	if (!w[n]) {
		unit_buf_printf(&x->why, "the program name is empty");
		return -1;
	}
	memmove(w, w + n, strlen(w + n) + 1);
	return 0;
}

/* One command line from *s (up to a ';' word) into argv and its prefix flags. */
static int one_command(struct unit_ctx *x, const char **s, struct strv *argv, unsigned *flags)
{
	const char *what, *start = *s;

	if (unit_parse_command(s, argv, &what) < 0) {
		unit_buf_printf(&x->why, "%s in ", what);
		unit_buf_quote(&x->why, start);
		return -1;
	}
	if (argv->n == 0) {
		unit_buf_printf(&x->why, "the program name is empty");
		return -1;
	}
	if (strip_prefixes(x, argv, flags) < 0) {
		strv_free(argv);
		return -1;
	}
	return 0;
}

/* Exec= / ExecStart=: the main command, one. */
static int parse_exec(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_config *c = x->p->c;
	struct strv argv = {0};
	unsigned flags;

	if (strcmp(x->key, "ExecStart") == 0 && c->exec.n > 0) {
		unit_buf_printf(&x->why,
				"a second command; allowed: one (an empty ExecStart= before "
				"it replaces the first; several commands, which systemd "
				"runs in turn for Type=oneshot, are not supported)");
		x->whole = true;
		return -1;
	}
	if (one_command(x, &value, &argv, &flags) < 0)
		return -1;
	if (*value) {
		strv_free(&argv);
		unit_buf_printf(&x->why, "more than one command (separated by ' ; ')");
		return -1;
	}
	strv_free(field);
	*(struct strv *)field = argv;
	c->exec_flags = flags;
	return 0;
}

static void reset_exec(void *field)
{
	strv_free(field);
	/* exec_flags go with the command: reset by the next assignment */
}

static void free_commands(struct unit_commands *l)
{
	for (size_t i = 0; i < l->n; i++)
		strv_free(&l->v[i].argv);
	free(l->v);
	*l = (struct unit_commands){0};
}

static void reset_commands(void *field)
{
	free_commands(field);
}

static int add_command(struct unit_ctx *x, struct unit_commands *l, struct strv *argv,
		       unsigned flags)
{
	struct unit_command *v;

	if (l->n >= UNIT_LIST_MAX) {
		strv_free(argv);
		unit_buf_printf(&x->why, "more than %d commands", UNIT_LIST_MAX);
		return -1;
	}
	v = reallocarray(l->v, l->n + 1, sizeof(*v));
	if (!v) {
		strv_free(argv);
		return unit_oom(x);
	}
	l->v = v;
	v[l->n++] = (struct unit_command){*argv, flags};
	return 0;
}

/* ExecStartPre= and friends: a list; one line may hold several commands split by ' ; '. */
static int parse_commands(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_commands *l = field, added = {0};

	while (*value) {
		struct strv argv = {0};
		unsigned flags;
		if (one_command(x, &value, &argv, &flags) < 0 ||
		    add_command(x, &added, &argv, flags) < 0) {
			free_commands(&added);
			return -1;
		}
	}
	for (size_t i = 0; i < added.n; i++)
		if (add_command(x, l, &added.v[i].argv, added.v[i].flags) < 0) {
			for (size_t j = i + 1; j < added.n; j++)
				strv_free(&added.v[j].argv);
			free(added.v);
			return -1;
		}
	free(added.v);
	return 0;
}

/* HealthCmd=: a plain command line, no prefixes. */
static int parse_argv(struct unit_ctx *x, const char *value, void *field)
{
	struct strv argv = {0};
	const char *what;

	if (unit_parse_argv(value, &argv, &what) < 0) {
		unit_buf_printf(&x->why, "%s in ", what);
		unit_buf_quote(&x->why, value);
		return -1;
	}
	if (argv.n == 0 || argv.v[0][0] == '\0') {
		unit_buf_printf(&x->why, "the program name is empty");
		strv_free(&argv);
		return -1;
	}
	strv_free(field);
	*(struct strv *)field = argv;
	return 0;
}

/* ---- exit statuses ---- */

bool unit_exit_set_has_code(const struct unit_exit_set *s, int code)
{
	return code >= 0 && code <= 255 && (s->codes[code / 32] >> (code % 32)) & 1u;
}

bool unit_exit_set_has_signal(const struct unit_exit_set *s, int sig)
{
	return sig >= 1 && sig <= 64 && (s->signals >> (sig - 1)) & 1u;
}

bool unit_exit_set_empty(const struct unit_exit_set *s)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(s->codes); i++)
		if (s->codes[i])
			return false;
	return s->signals == 0;
}

/* Exit codes 0-255 and signal names (SIGTERM, TERM), blank-separated, added to the set. */
static int parse_exit_set(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_exit_set *set = field, add = {0};
	struct strv words = {0};
	const char *what;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(&x->why, "%s", what);
		return -1;
	}
	for (size_t i = 0; i < words.n && r == 0; i++) {
		const char *w = words.v[i];
		size_t n = strspn(w, "0123456789");
		int sig;
		if (n && !w[n] && n <= 3 && atoi(w) <= 255)
			add.codes[atoi(w) / 32] |= 1u << (atoi(w) % 32);
		else if (!n && sup_signal_parse(w, &sig) == 0 && sig >= 1 && sig <= 64)
			add.signals |= 1ull << (sig - 1);
		else
			r = unit_invalid(x, w, false);
	}
	strv_free(&words);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(set->codes); i++)
		set->codes[i] |= add.codes[i];
	set->signals |= add.signals;
	return 0;
}

static void reset_exit_set(void *field)
{
	memset(field, 0, sizeof(struct unit_exit_set));
}

/* ---- Limit*= ---- */

/* A plain decimal number (no sign, no blanks). */
static int rlimit_number(const char *s, uint64_t *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end || errno ? -1 : 0;
}

/* LimitNICE=: a signed nice level -20..19 is the rlimit 40..1, as setrlimit(2) counts it. */
static int rlimit_nice(const char *s, uint64_t *v)
{
	char *end;
	long long nice;

	if (s[0] != '-' && s[0] != '+')
		return rlimit_number(s, v);
	errno = 0;
	nice = strtoll(s, &end, 10);
	if (*end || errno || nice < -20 || nice > 19)
		return -1;
	*v = (uint64_t)(20 - nice);
	return 0;
}

/* LimitCPU= in seconds, LimitRTTIME= in microseconds (a bare number too). */
static int rlimit_time(const char *s, enum rlimit_unit u, uint64_t *v)
{
	uint64_t usec;

	if (u == RL_USEC && s[strspn(s, "0123456789")] == '\0')
		return rlimit_number(s, v);
	if (unit_parse_duration(s, &usec) < 0)
		return -1;
	*v = u == RL_SEC ? usec / USEC_PER_SEC : usec;
	return 0;
}

/* One side of "SOFT:HARD": a number in the key's unit, or infinity. */
static int rlimit_value(const char *s, enum rlimit_unit u, uint64_t *v)
{
	if (strcmp(s, "infinity") == 0) {
		*v = SIZE_INFINITY;
		return 0;
	}
	if (u == RL_SIZE)
		return unit_parse_size(s, v);
	if (u == RL_SEC || u == RL_USEC)
		return rlimit_time(s, u, v);
	if (u == RL_NICE)
		return rlimit_nice(s, v);
	return rlimit_number(s, v);
}

/* "VALUE" (soft and hard) or "SOFT:HARD", in the key's unit (a size, a count, seconds for
 * LimitCPU=, microseconds for LimitRTTIME=, a nice level or 40..1 for LimitNICE=). */
static int parse_rlimit(struct unit_ctx *x, const char *value, void *field)
{
	const struct rlimit_arg *a = x->k->arg;
	struct unit_rlimit *rl = field;
	_cleanup_free_ char *soft = strdup(value);
	char *colon;
	uint64_t s, h;

	if (!soft)
		return unit_oom(x);
	errno = 0;
	colon = strchr(soft, ':');
	if (colon)
		*colon = '\0';
	if (rlimit_value(soft, a->unit, &s) < 0 ||
	    (colon && rlimit_value(colon + 1, a->unit, &h) < 0) || s == UNIT_RES_UNSET)
		return unit_invalid(x, value, errno == ERANGE);
	if (!colon)
		h = s;
	if (s > h) {
		unit_buf_printf(&x->why, "the soft limit is above the hard one in ");
		unit_buf_quote(&x->why, value);
		return -1;
	}
	*rl = (struct unit_rlimit){s, h};
	return 0;
}

static void reset_rlimit(void *field)
{
	*(struct unit_rlimit *)field = (struct unit_rlimit){UNIT_RES_UNSET, UNIT_RES_UNSET};
}

/* ---- conditions, directories ---- */

/* ConditionPathExists=/AssertPathExists=: an absolute path, '!' before it negates. */
static int parse_conditions(struct unit_ctx *x, const char *value, void *field)
{
	const char *path = value + (value[0] == '!');

	if (value[0] == '|') {
		unit_buf_printf(&x->why, "the '|' prefix (any of several conditions) is not "
					 "supported");
		return -1;
	}
	if (path[0] != '/') {
		unit_buf_quote(&x->why, path);
		unit_buf_printf(&x->why, " is not an absolute path");
		return -1;
	}
	return unit_push_unique(x, field, value);
}

/* A relative path without . or .. components, under /run or /var/lib. */
static bool dir_valid(const char *d)
{
	if (!*d || d[0] == '/')
		return false;
	for (const char *p = d; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n + (p[n] == '/');
		if (p[-1] == '/' && !*p)
			return false; /* a trailing '/' */
	}
	return true;
}

/* RuntimeDirectory=/StateDirectory=: blank-separated relative paths. */
static int parse_dirs(struct unit_ctx *x, const char *value, void *field)
{
	struct strv words = {0};
	const char *what;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(&x->why, "%s", what);
		return -1;
	}
	for (size_t i = 0; i < words.n && r == 0; i++)
		r = dir_valid(words.v[i]) ? unit_push_unique(x, field, words.v[i])
					  : unit_invalid(x, words.v[i], false);
	strv_free(&words);
	return r;
}

/* TimeoutSec=: TimeoutStartSec= and TimeoutStopSec= at once; 0 is no timeout. */
static int parse_timeout_both(struct unit_ctx *x, const char *value, void *field)
{
	struct unit_config *c = x->p->c;
	uint64_t v;

	if (unit_parse_duration(value, &v) < 0)
		return unit_invalid(x, value, errno == ERANGE);
	c->ready_timeout_usec = c->stop_timeout_usec = v; /* 0: none, as infinity */
	return 0;
}

static void reset_timeout_both(void *field)
{
	struct unit_config *c = field, d = {0};

	unit_config_defaults(&d);
	c->ready_timeout_usec = d.ready_timeout_usec;
	c->stop_timeout_usec = d.stop_timeout_usec;
}

static void reset_strv(void *field)
{
	strv_free(field);
}

const struct value_type t_exec = {parse_exec, reset_exec, 0};
const struct value_type t_argv = {parse_argv, reset_strv, 0};
const struct value_type t_commands = {parse_commands, reset_commands, 0};
const struct value_type t_exit_set = {parse_exit_set, reset_exit_set, VT_NO_SPECIFIERS};
const struct value_type t_rlimit = {parse_rlimit, reset_rlimit, VT_NO_SPECIFIERS};
const struct value_type t_conditions = {parse_conditions, reset_strv, 0};
const struct value_type t_dirs = {parse_dirs, reset_strv, 0};
const struct value_type t_timeout_both = {parse_timeout_both, reset_timeout_both, VT_NO_SPECIFIERS};
