/*
 * The key table: every [Unit] and [Service] key with its value type, its field in struct
 * unit_config and what it allows. unit_dispatch() routes each assignment through it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

struct unit_key;

/* A value type: parse into the field (why gets "what is wrong"), reset it on an empty value. */
struct value_type {
	int (*parse)(const struct unit_key *k, const char *value, void *field,
		     struct unit_buf *why);
	void (*reset)(void *field); /* NULL: copy the default */
};

struct range {
	uint64_t min, max;
};

struct unit_key {
	const char *section;
	const char *key;
	const struct value_type *type;
	size_t offset, size;
	const char *allowed;
	const void *arg; /* enum names, or a range */
};

/* ---- value types ---- */

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

static int set_string(char **field, const char *value, struct unit_buf *why)
{
	char *dup = strdup(value);

	if (!dup) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	free(*field);
	*field = dup;
	return 0;
}

static int invalid(const char *value, bool too_large, struct unit_buf *why)
{
	unit_buf_quote(why, value);
	unit_buf_printf(why, too_large ? " is too large" : " is not valid");
	return -1;
}

static int parse_text(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
{
	return set_string(field, value, why);
}

static int parse_path(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
{
	if (value[0] != '/') {
		unit_buf_quote(why, value);
		unit_buf_printf(why, " is not an absolute path");
		return -1;
	}
	return set_string(field, value, why);
}

/* A user or group: a number below 2^32-1, or a name of [A-Za-z0-9_.-] (a trailing $ too). */
static int parse_user(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
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
		return invalid(value, false, why);
	return set_string(field, value, why);
}

static int push_unique(struct strv *sv, const char *s, struct unit_buf *why)
{
	if (strv_contains(sv, s))
		return 0;
	if (sv->n >= UNIT_LIST_MAX) {
		unit_buf_printf(why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push(sv, s) < 0) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	return 0;
}

/* Space-separated unit names; each is validated, repeats are dropped. */
static int parse_units(const struct unit_key *k, const char *value, void *field,
		       struct unit_buf *why)
{
	struct strv words = {0};
	const char *what;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(why, "%s", what);
		return -1;
	}
	for (size_t i = 0; i < words.n && r == 0; i++) {
		if (!unit_name_valid(words.v[i])) {
			unit_buf_quote(why, words.v[i]);
			unit_buf_printf(why, " is not a valid unit name");
			r = -1;
		} else {
			r = push_unique(field, words.v[i], why);
		}
	}
	strv_free(&words);
	return r;
}

static int parse_argv(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
{
	struct strv argv = {0};
	const char *what;

	if (unit_parse_argv(value, &argv, &what) < 0) {
		unit_buf_printf(why, "%s in ", what);
		unit_buf_quote(why, value);
		return -1;
	}
	if (argv.n == 0 || argv.v[0][0] == '\0') {
		unit_buf_printf(why, "the program name is empty");
		strv_free(&argv);
		return -1;
	}
	strv_free(field);
	*(struct strv *)field = argv;
	return 0;
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
static int env_set(struct strv *env, char *assignment, struct unit_buf *why)
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
		unit_buf_printf(why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push_take(env, assignment) < 0) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	return 0;
}

/* KEY=value assignments, split and unquoted like Exec=: A=1 "B=two words". */
static int parse_env(const struct unit_key *k, const char *value, void *field, struct unit_buf *why)
{
	struct strv words = {0};
	const char *what;
	size_t i;
	int r = 0;

	if (unit_parse_argv(value, &words, &what) < 0) {
		unit_buf_printf(why, "%s in ", what);
		unit_buf_quote(why, value);
		return -1;
	}
	for (i = 0; i < words.n; i++) {
		const char *eq = strchr(words.v[i], '=');
		if (!eq || !env_name_valid(words.v[i], (size_t)(eq - words.v[i]))) {
			unit_buf_quote(why, words.v[i]);
			unit_buf_printf(why, " is not a KEY=value assignment");
			strv_free(&words);
			return -1;
		}
	}
	for (i = 0; i < words.n && r == 0; i++)
		r = env_set(field, words.v[i], why); /* takes the string, even on failure */
	for (; i < words.n; i++)
		free(words.v[i]);
	free(words.v);
	return r;
}

/* One path per assignment; a leading '-' (kept) makes the file optional. */
static int parse_envfile(const struct unit_key *k, const char *value, void *field,
			 struct unit_buf *why)
{
	struct strv *sv = field;

	if (value[value[0] == '-'] != '/') {
		unit_buf_quote(why, value);
		unit_buf_printf(why, " is not an absolute path");
		return -1;
	}
	if (sv->n >= UNIT_LIST_MAX) {
		unit_buf_printf(why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push(sv, value) < 0) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	return 0;
}

_Static_assert(sizeof(enum unit_type) == sizeof(int) && sizeof(enum unit_restart) == sizeof(int) &&
		   sizeof(enum unit_output) == sizeof(int),
	       "enum fields are set as int");

static int parse_enum(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
{
	const char *const *names = k->arg;

	for (int i = 0; names[i]; i++)
		if (strcmp(value, names[i]) == 0) {
			memcpy(field, &i, sizeof(i));
			return 0;
		}
	return invalid(value, false, why);
}

static int parse_duration(const struct unit_key *k, const char *value, void *field,
			  struct unit_buf *why)
{
	uint64_t v;

	if (unit_parse_duration(value, &v) < 0)
		return invalid(value, errno == ERANGE, why);
	if (v == USEC_INFINITY && !k->arg) {
		unit_buf_printf(why, "'infinity' is not allowed here");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* Decimal digits followed by exactly `suffix` ("" or "%"), within k's range, into an unsigned. */
static int parse_ranged(const struct unit_key *k, const char *value, const char *suffix,
			void *field, struct unit_buf *why)
{
	const struct range *r = k->arg;
	uint64_t v = 0;
	size_t i;

	for (i = 0; value[i] >= '0' && value[i] <= '9'; i++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, value[i] - '0', &v))
			v = UINT64_MAX; /* saturate: reported as out of range */
	if (i == 0 || strcmp(value + i, suffix) != 0)
		return invalid(value, false, why);
	if (v < r->min || v > r->max) {
		unit_buf_quote(why, value);
		unit_buf_printf(why, " is out of range");
		return -1;
	}
	*(unsigned *)field = (unsigned)v;
	return 0;
}

static int parse_uint(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
{
	return parse_ranged(k, value, "", field, why);
}

static int parse_signal(const struct unit_key *k, const char *value, void *field,
			struct unit_buf *why)
{
	if (sup_signal_parse(value, field) < 0)
		return invalid(value, false, why);
	return 0;
}

static int parse_bool(const struct unit_key *k, const char *value, void *field,
		      struct unit_buf *why)
{
	if (unit_parse_bool(value, field) < 0)
		return invalid(value, false, why);
	return 0;
}

/* ---- [Resources] values ---- */

static int parse_percent(const struct unit_key *k, const char *value, void *field,
			 struct unit_buf *why)
{
	return parse_ranged(k, value, "%", field, why);
}

/* A CPU list: N or N-M, comma-separated, each below 4096, ranges ascending. */
static int parse_cpuset(const struct unit_key *k, const char *value, void *field,
			struct unit_buf *why)
{
	const char *p = value;

	for (;;) {
		uint64_t a = 0, b;
		size_t n = 0;

		for (; p[n] >= '0' && p[n] <= '9' && n < 5; n++)
			a = a * 10 + (uint64_t)(p[n] - '0');
		if (n == 0 || n == 5 || a >= 4096)
			return invalid(value, false, why);
		p += n;
		b = a;
		if (*p == '-') {
			p++;
			b = 0;
			for (n = 0; p[n] >= '0' && p[n] <= '9' && n < 5; n++)
				b = b * 10 + (uint64_t)(p[n] - '0');
			if (n == 0 || n == 5 || b >= 4096 || b < a)
				return invalid(value, false, why);
			p += n;
		}
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return invalid(value, false, why);
	}
	return set_string(field, value, why);
}

/* A size (K M G T: powers of 1024) or infinity. */
static int parse_limit_size(const struct unit_key *k, const char *value, void *field,
			    struct unit_buf *why)
{
	uint64_t v = 0;

	if (unit_parse_size(value, &v) < 0 || v == UNIT_RES_UNSET)
		return invalid(value, errno == ERANGE || v == UNIT_RES_UNSET, why);
	*(uint64_t *)field = v;
	return 0;
}

/* A count or infinity. */
static int parse_limit_count(const struct unit_key *k, const char *value, void *field,
			     struct unit_buf *why)
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
			return invalid(value, true, why);
	if (i == 0 || value[i])
		return invalid(value, false, why);
	if (v == 0 || v >= UNIT_RES_UNSET) {
		unit_buf_quote(why, value);
		unit_buf_printf(why, " is out of range");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* "DEVICE-PATH RATE": stored as "PATH BYTES"; a later entry for the same path replaces. */
static int parse_bandwidth(const struct unit_key *k, const char *value, void *field,
			   struct unit_buf *why)
{
	struct strv *sv = field;
	const char *sp = strrchr(value, ' ');
	_cleanup_free_ char *path = NULL, *entry = NULL;
	uint64_t rate;

	if (!sp || value[0] != '/') {
		unit_buf_quote(why, value);
		unit_buf_printf(why, " is not a device path and a rate");
		return -1;
	}
	path = strndup(value, (size_t)(sp - value));
	if (!path) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	while (*path && path[strlen(path) - 1] == ' ')
		path[strlen(path) - 1] = '\0';
	if (unit_parse_size(sp + 1, &rate) < 0 || rate == 0) {
		unit_buf_quote(why, sp + 1);
		unit_buf_printf(why, errno == ERANGE ? " is too large" : " is not a valid rate");
		return -1;
	}
	if (rate == SIZE_INFINITY) {
		if (asprintf(&entry, "%s infinity", path) < 0)
			entry = NULL;
	} else if (asprintf(&entry, "%s %llu", path, (unsigned long long)rate) < 0) {
		entry = NULL;
	}
	if (!entry) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < sv->n; i++) {
		size_t n = strlen(path);
		if (strncmp(sv->v[i], path, n) == 0 && sv->v[i][n] == ' ') {
			free(sv->v[i]);
			sv->v[i] = sup_steal_ptr(entry);
			return 0;
		}
	}
	if (sv->n >= UNIT_LIST_MAX) {
		unit_buf_printf(why, "more than %d entries", UNIT_LIST_MAX);
		return -1;
	}
	if (strv_push_take(sv, entry) < 0) {
		unit_buf_printf(why, "out of memory");
		return -1;
	}
	entry = NULL;
	return 0;
}

static const struct value_type t_text = {parse_text, reset_string};
static const struct value_type t_path = {parse_path, reset_string};
static const struct value_type t_user = {parse_user, reset_string};
static const struct value_type t_units = {parse_units, reset_strv};
static const struct value_type t_argv = {parse_argv, reset_strv};
static const struct value_type t_env = {parse_env, reset_strv};
static const struct value_type t_envfile = {parse_envfile, reset_strv};
static const struct value_type t_enum = {parse_enum, NULL};
static const struct value_type t_duration = {parse_duration, NULL};
static const struct value_type t_uint = {parse_uint, NULL};
static const struct value_type t_signal = {parse_signal, NULL};
static const struct value_type t_bool = {parse_bool, NULL};
static const struct value_type t_percent = {parse_percent, NULL};
static const struct value_type t_cpuset = {parse_cpuset, reset_string};
static const struct value_type t_limit_size = {parse_limit_size, NULL};
static const struct value_type t_limit_count = {parse_limit_count, NULL};
static const struct value_type t_bandwidth = {parse_bandwidth, reset_strv};

/* ---- the table ---- */

#define FIELD(f) offsetof(struct unit_config, f), sizeof(((struct unit_config *)0)->f)
#define DURATION "a duration such as 500ms, 10s, 2min, 1h, 1min 30s, or a number of seconds"
#define UNITS	 "space-separated unit names of 1-64 characters A-Z a-z 0-9 _ . @ -"
#define ARGV	 "a command line: words split at blanks, \"...\" and '...' quote, \\ escapes"

static const bool infinity_ok = true;
static const struct range burst_range = {0, 10000};
static const struct range retries_range = {1, 10000};
static const struct range weight_range = {1, 10000};
static const struct range quota_range = {1, 100000};
#define SIZE_OR_INF "a size in bytes (K, M, G, T: powers of 1024, e.g. 512M), or infinity"
#define BANDWIDTH                                                                                  \
	"an absolute device path and a rate in bytes per second (K, M, G), e.g. /dev/vda 10M"

static const struct unit_key keys[] = {
    {"Unit", "Description", &t_text, FIELD(description), "any text", NULL},
    {"Unit", "Requires", &t_units, FIELD(requires), UNITS, NULL},
    {"Unit", "Wants", &t_units, FIELD(wants), UNITS, NULL},
    {"Unit", "After", &t_units, FIELD(after), UNITS, NULL},

    {"Service", "Exec", &t_argv, FIELD(exec), ARGV, NULL},
    {"Service", "Type", &t_enum, FIELD(type), "simple, notify, oneshot", unit_type_names},
    {"Service", "Environment", &t_env, FIELD(environment),
     "KEY=value assignments (KEY of A-Z a-z 0-9 _, not starting with a digit), \"quoted\" when "
     "they hold spaces",
     NULL},
    {"Service", "EnvironmentFile", &t_envfile, FIELD(environment_file),
     "an absolute path, with a leading - if the file is optional", NULL},
    {"Service", "WorkingDirectory", &t_path, FIELD(working_directory), "an absolute path", NULL},
    {"Service", "User", &t_user, FIELD(user),
     "a user name (A-Z a-z 0-9 _ . -, at most 32) or a number", NULL},
    {"Service", "Group", &t_user, FIELD(group),
     "a group name (A-Z a-z 0-9 _ . -, at most 32) or a number", NULL},
    {"Service", "Restart", &t_enum, FIELD(restart), "no, on-failure, on-abnormal, always",
     unit_restart_names},
    {"Service", "RestartSec", &t_duration, FIELD(restart_usec), DURATION, NULL},
    {"Service", "RestartMaxSec", &t_duration, FIELD(restart_max_usec), DURATION, NULL},
    {"Service", "StartLimitBurst", &t_uint, FIELD(start_limit_burst),
     "a number from 0 (no limit) to 10000", &burst_range},
    {"Service", "StartLimitIntervalSec", &t_duration, FIELD(start_limit_interval_usec), DURATION,
     NULL},
    {"Service", "StopSignal", &t_signal, FIELD(stop_signal),
     "a signal name (SIGTERM or TERM) or number", NULL},
    {"Service", "StopTimeoutSec", &t_duration, FIELD(stop_timeout_usec), DURATION ", or infinity",
     &infinity_ok},
    {"Service", "ReadyTimeoutSec", &t_duration, FIELD(ready_timeout_usec), DURATION ", or infinity",
     &infinity_ok},
    {"Service", "WatchdogSec", &t_duration, FIELD(watchdog_usec), DURATION "; 0 = off", NULL},
    {"Service", "HealthCmd", &t_argv, FIELD(health_cmd), ARGV, NULL},
    {"Service", "HealthIntervalSec", &t_duration, FIELD(health_interval_usec), DURATION, NULL},
    {"Service", "HealthTimeoutSec", &t_duration, FIELD(health_timeout_usec), DURATION, NULL},
    {"Service", "HealthRetries", &t_uint, FIELD(health_retries), "a number from 1 to 10000",
     &retries_range},
    {"Service", "StandardOutput", &t_enum, FIELD(std_output), "log, null, inherit",
     unit_output_names},
    {"Service", "StandardError", &t_enum, FIELD(std_error), "log, null, inherit",
     unit_output_names},
    {"Service", "ExitWithUnit", &t_bool, FIELD(exit_with_unit),
     "yes, no, true, false, on, off, 1, 0", NULL},

    {"Resources", "CPUWeight", &t_uint, FIELD(res.cpu_weight), "a number from 1 to 10000",
     &weight_range},
    {"Resources", "CPUQuota", &t_percent, FIELD(res.cpu_quota_pct),
     "a percentage of one CPU from 1% to 100000%, e.g. 50% or 200%", &quota_range},
    {"Resources", "CPUSet", &t_cpuset, FIELD(res.cpu_set),
     "CPU numbers and ranges below 4096, comma-separated, e.g. 0-1,3", NULL},
    {"Resources", "MemoryMax", &t_limit_size, FIELD(res.memory_max), SIZE_OR_INF, NULL},
    {"Resources", "MemoryHigh", &t_limit_size, FIELD(res.memory_high), SIZE_OR_INF, NULL},
    {"Resources", "MemorySwapMax", &t_limit_size, FIELD(res.memory_swap_max), SIZE_OR_INF, NULL},
    {"Resources", "PidsMax", &t_limit_count, FIELD(res.pids_max),
     "a number of processes from 1, or infinity", NULL},
    {"Resources", "IOWeight", &t_uint, FIELD(res.io_weight), "a number from 1 to 10000",
     &weight_range},
    {"Resources", "IOReadBandwidthMax", &t_bandwidth, FIELD(res.io_read_bw), BANDWIDTH, NULL},
    {"Resources", "IOWriteBandwidthMax", &t_bandwidth, FIELD(res.io_write_bw), BANDWIDTH, NULL},
};

_Static_assert(SUP_ARRAY_SIZE(keys) <= UNIT_KEYS_MAX, "raise UNIT_KEYS_MAX");

static const char *const sections[] = {"Unit", "Service", "Resources"};

const char *unit_section_lookup(const char *name)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(sections); i++)
		if (strcmp(name, sections[i]) == 0)
			return sections[i];
	return NULL;
}

int unit_key_lookup(const char *section, const char *key)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return (int)i;
	return -1;
}

unsigned long unit_key_line(const struct unit_parser *p, const char *section, const char *key)
{
	int i = unit_key_lookup(section, key);
	return i < 0 ? 0 : p->key_line[i];
}

bool unit_key_bad(const struct unit_parser *p, const char *section, const char *key)
{
	int i = unit_key_lookup(section, key);
	return i >= 0 && p->key_bad[i];
}

/* "unknown key in [Service] (it belongs in [Unit]); allowed: Exec, Type, ..." */
static void unknown_key(struct unit_parser *p, const char *section, const char *key)
{
	struct unit_buf allowed = {0};
	const char *other = NULL;

	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, section) == 0)
			unit_buf_printf(&allowed, "%s%s", allowed.len ? ", " : "", keys[i].key);
		else if (strcmp(keys[i].key, key) == 0)
			other = keys[i].section;
	}
	if (other)
		unit_problem(p, p->line, key,
			     "unknown key in [%s] (it belongs in [%s]); allowed: %s", section,
			     other, allowed.failed ? "?" : allowed.p);
	else
		unit_problem(p, p->line, key, "unknown key in [%s]; allowed: %s", section,
			     allowed.failed ? "?" : allowed.p);
	unit_buf_free(&allowed);
}

static void reset_field(const struct unit_key *k, void *field)
{
	struct unit_config d = {0};

	if (k->type->reset) {
		k->type->reset(field);
		return;
	}
	unit_config_defaults(&d);
	memcpy(field, (char *)&d + k->offset, k->size);
}

void unit_dispatch(struct unit_parser *p, const char *section, const char *key, const char *value)
{
	struct unit_buf why = {0};
	const struct unit_key *k;
	void *field;
	int i;

	if (!*key) {
		unit_buf_printf(&why, "=%s", value);
		unit_problem(p, p->line, why.failed ? "=" : why.p,
			     "no key before '='; allowed: KEY=VALUE");
		unit_buf_free(&why);
		return;
	}
	if (!*section) {
		unit_problem(
		    p, p->line, key,
		    "key before any section; allowed: a [Unit] or [Service] header above it");
		return;
	}
	i = unit_key_lookup(section, key);
	if (i < 0) {
		unknown_key(p, section, key);
		return;
	}
	k = &keys[i];
	field = (char *)p->c + k->offset;
	p->key_line[i] = p->line;
	if (!*value) {
		reset_field(k, field); /* systemd: an empty assignment resets, lists are emptied */
		return;
	}
	if (k->type->parse(k, value, field, &why) < 0) {
		p->key_bad[i] = true;
		if (p->comment_cut)
			unit_buf_printf(&why,
					" (the line was cut at ' ;': a ';' after a blank starts "
					"a comment)");
		unit_problem(p, p->line, key, "%s; allowed: %s", why.failed ? "?" : why.p,
			     k->allowed);
	}
	unit_buf_free(&why);
}
