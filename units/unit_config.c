/* struct unit_config: the spec's defaults, freeing, comparison, unit names. */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

void unit_config_defaults(struct unit_config *c)
{
	char name[sizeof(c->name)];
	char *path = c->path;
	enum unit_dialect dialect = c->dialect;

	memcpy(name, c->name, sizeof(name));
	memset(c, 0, sizeof(*c));
	memcpy(c->name, name, sizeof(name));
	c->path = path;
	c->dialect = dialect;
	c->type = UNIT_TYPE_SIMPLE;
	c->restart = UNIT_RESTART_ON_FAILURE;
	c->restart_usec = 100 * USEC_PER_MSEC;
	c->restart_max_usec = 30 * USEC_PER_SEC;
	c->start_limit_burst = 5;
	c->start_limit_interval_usec = 60 * USEC_PER_SEC;
	c->stop_signal = SIGTERM;
	c->kill_mode = UNIT_KILL_CONTROL_GROUP;
	c->stop_timeout_usec = 10 * USEC_PER_SEC;
	c->ready_timeout_usec = 30 * USEC_PER_SEC;
	c->watchdog_usec = 0;
	c->notify_access = UNIT_NOTIFY_ALL;
	c->health_interval_usec = 30 * USEC_PER_SEC;
	c->health_timeout_usec = 5 * USEC_PER_SEC;
	c->health_retries = 3;
	c->std_output = UNIT_OUTPUT_LOG;
	c->std_error = UNIT_OUTPUT_LOG;
	c->exit_with_unit = false;
	for (size_t i = 0; i < UNIT_RLIMITS; i++)
		c->limits[i] = (struct unit_rlimit){UNIT_RES_UNSET, UNIT_RES_UNSET};
	c->umask = -1;
	c->nice = c->oom_score_adjust = UNIT_INT_UNSET;
	c->ignore_sigpipe =
	    false; /* systemd's default is yes: it will be once the spawner does it */
	c->runtime_directory_mode = c->state_directory_mode = 0755;
	c->res.memory_max = c->res.memory_high = c->res.memory_swap_max = UNIT_RES_UNSET;
	c->res.pids_max = UNIT_RES_UNSET;
	c->ct.caps = UNIT_CAPS_DOCKER;
	c->ct.no_new_privs = -1;
	c->ct.init = true;
	c->ct.shm_size = 64ULL << 20;
}

/* Every member but name, dialect and [Resources], by kind: one list for freeing and comparing. */
enum field_kind { F_STR, F_STRV, F_CMDS, F_PLAIN };

#define F(kind, f)                                                                                 \
	{                                                                                          \
		kind, offsetof(struct unit_config, f), sizeof(((struct unit_config *)0)->f)        \
	}

static const struct field {
	enum field_kind kind;
	size_t offset, size;
} fields[] = {
    F(F_STR, path),
    F(F_STR, description),
    F(F_STRV, requires),
    F(F_STRV, wants),
    F(F_STRV, after),
    F(F_STRV, before),
    F(F_STRV, binds_to),
    F(F_STRV, part_of),
    F(F_STRV, conflicts),
    F(F_STRV, condition_path_exists),
    F(F_STRV, assert_path_exists),
    F(F_STRV, exec),
    F(F_PLAIN, exec_flags),
    F(F_CMDS, exec_start_pre),
    F(F_CMDS, exec_start_post),
    F(F_CMDS, exec_stop),
    F(F_CMDS, exec_stop_post),
    F(F_CMDS, exec_reload),
    F(F_PLAIN, type),
    F(F_STR, pid_file),
    F(F_PLAIN, remain_after_exit),
    F(F_STRV, environment),
    F(F_STRV, environment_file),
    F(F_STR, working_directory),
    F(F_STR, user),
    F(F_STR, group),
    F(F_PLAIN, restart),
    F(F_PLAIN, restart_usec),
    F(F_PLAIN, restart_max_usec),
    F(F_PLAIN, success_exit_status),
    F(F_PLAIN, restart_prevent_exit_status),
    F(F_PLAIN, start_limit_burst),
    F(F_PLAIN, start_limit_interval_usec),
    F(F_PLAIN, stop_signal),
    F(F_PLAIN, stop_signal_set),
    F(F_PLAIN, kill_mode),
    F(F_PLAIN, stop_timeout_usec),
    F(F_PLAIN, ready_timeout_usec),
    F(F_PLAIN, watchdog_usec),
    F(F_PLAIN, notify_access),
    F(F_STRV, health_cmd),
    F(F_PLAIN, health_interval_usec),
    F(F_PLAIN, health_timeout_usec),
    F(F_PLAIN, health_retries),
    F(F_PLAIN, std_output),
    F(F_PLAIN, std_error),
    F(F_STR, syslog_identifier),
    F(F_PLAIN, exit_with_unit),
    F(F_PLAIN, limits),
    F(F_PLAIN, umask),
    F(F_PLAIN, nice),
    F(F_PLAIN, oom_score_adjust),
    F(F_PLAIN, ignore_sigpipe),
    F(F_STRV, runtime_directory),
    F(F_PLAIN, runtime_directory_mode),
    F(F_STRV, state_directory),
    F(F_PLAIN, state_directory_mode),
    F(F_PLAIN, ct.enabled),
    F(F_STR, ct.image),
    F(F_STR, ct.root_directory),
    F(F_PLAIN, ct.read_only_root),
    F(F_PLAIN, ct.namespaces),
    F(F_STR, ct.hostname),
    F(F_PLAIN, ct.userns),
    F(F_PLAIN, ct.userns_host),
    F(F_PLAIN, ct.userns_inside),
    F(F_PLAIN, ct.userns_count),
    F(F_STRV, ct.bind),
    F(F_STRV, ct.bind_ro),
    F(F_STRV, ct.tmpfs),
    F(F_PLAIN, ct.tmpfs_set),
    F(F_PLAIN, ct.caps),
    F(F_PLAIN, ct.caps_set),
    F(F_PLAIN, ct.ambient),
    F(F_PLAIN, ct.no_new_privs),
    F(F_PLAIN, ct.seccomp),
    F(F_STR, ct.seccomp_profile),
    F(F_PLAIN, ct.network),
    F(F_STR, ct.network_unit),
    F(F_STR, ct.address),
    F(F_STRV, ct.publish),
    F(F_PLAIN, ct.time_offset_usec),
    F(F_PLAIN, ct.init),
    F(F_PLAIN, ct.shm_size),
    F(F_STRV, ct.devices),
};

static void free_commands(struct unit_commands *l)
{
	for (size_t i = 0; i < l->n; i++)
		strv_free(&l->v[i].argv);
	free(l->v);
	*l = (struct unit_commands){0};
}

static void free_io(struct unit_io_limits *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	*l = (struct unit_io_limits){0};
}

void unit_config_free(struct unit_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(fields); i++) {
		void *f = (char *)c + fields[i].offset;
		if (fields[i].kind == F_STR) {
			free(*(char **)f);
			*(char **)f = NULL;
		} else if (fields[i].kind == F_STRV) {
			strv_free(f);
		} else if (fields[i].kind == F_CMDS) {
			free_commands(f);
		}
	}
	for (size_t i = 0; i < c->n_dep_origins; i++)
		free(c->dep_origins[i].name);
	free(c->dep_origins);
	c->dep_origins = NULL;
	c->n_dep_origins = 0;
	free(c->res.cpu_set);
	c->res.cpu_set = NULL;
	free_io(&c->res.io_read_bw);
	free_io(&c->res.io_write_bw);
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool commands_equal(const struct unit_commands *a, const struct unit_commands *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].flags != b->v[i].flags || !strv_equal(&a->v[i].argv, &b->v[i].argv))
			return false;
	return true;
}

static bool io_equal(const struct unit_io_limits *a, const struct unit_io_limits *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].bytes != b->v[i].bytes || strcmp(a->v[i].path, b->v[i].path) != 0)
			return false;
	return true;
}

bool unit_resources_equal(const struct unit_resources *a, const struct unit_resources *b)
{
	return a->cpu_weight == b->cpu_weight && a->cpu_quota_pct == b->cpu_quota_pct &&
	       str_equal(a->cpu_set, b->cpu_set) && a->memory_max == b->memory_max &&
	       a->memory_high == b->memory_high && a->memory_swap_max == b->memory_swap_max &&
	       a->pids_max == b->pids_max && a->io_weight == b->io_weight &&
	       io_equal(&a->io_read_bw, &b->io_read_bw) &&
	       io_equal(&a->io_write_bw, &b->io_write_bw);
}

bool unit_config_equal(const struct unit_config *a, const struct unit_config *b)
{
	return unit_config_equal_but_resources(a, b) && unit_resources_equal(&a->res, &b->res);
}

static bool field_equal(const struct field *f, const struct unit_config *a,
			const struct unit_config *b)
{
	const void *x = (const char *)a + f->offset, *y = (const char *)b + f->offset;

	switch (f->kind) {
	case F_STR:
		return str_equal(*(char *const *)x, *(char *const *)y);
	case F_STRV:
		return strv_equal(x, y);
	case F_CMDS:
		return commands_equal(x, y);
	default: /* plain members: integers and arrays of them, no padding */
		return memcmp(x, y, f->size) == 0;
	}
}

bool unit_config_equal_but_resources(const struct unit_config *a, const struct unit_config *b)
{
	if (strcmp(a->name, b->name) != 0 || a->dialect != b->dialect)
		return false;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(fields); i++)
		if (!field_equal(&fields[i], a, b))
			return false;
	return true;
}

/* ---- names ---- */

static const struct suffix {
	const char *s;
	enum unit_dialect dialect;
} suffixes[] = {{".unit", UNIT_DIALECT_SUP}, {".service", UNIT_DIALECT_SYSTEMD}};

bool unit_name_from_file(const char *filename, char name[UNIT_NAME_MAX + 1],
			 enum unit_dialect *dialect)
{
	size_t n = strlen(filename);

	for (size_t i = 0; i < SUP_ARRAY_SIZE(suffixes); i++) {
		size_t m = strlen(suffixes[i].s);
		if (n <= m || strcmp(filename + n - m, suffixes[i].s) != 0 || n - m > UNIT_NAME_MAX)
			continue;
		memcpy(name, filename, n - m);
		name[n - m] = '\0';
		if (!unit_name_valid(name))
			break;
		if (dialect)
			*dialect = suffixes[i].dialect;
		return true;
	}
	name[0] = '\0';
	return false;
}

bool unit_name_is_template(const char *name)
{
	size_t n = strlen(name);

	return n > 1 && name[n - 1] == '@' && strchr(name, '@') == name + n - 1;
}

const char *unit_name_strip_service(const char *name, char buf[UNIT_NAME_MAX + 1])
{
	size_t n = strlen(name);

	if (n <= 8 || n - 8 > UNIT_NAME_MAX || strcmp(name + n - 8, ".service") != 0)
		return name;
	memcpy(buf, name, n - 8);
	buf[n - 8] = '\0';
	return buf;
}
