/* struct unit_config: the spec's defaults, freeing, comparison, unit names. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

void unit_config_defaults(struct unit_config *c)
{
	char name[sizeof(c->name)];
	char *path = c->path;

	memcpy(name, c->name, sizeof(name));
	memset(c, 0, sizeof(*c));
	memcpy(c->name, name, sizeof(name));
	c->path = path;
	c->type = UNIT_TYPE_SIMPLE;
	c->restart = UNIT_RESTART_ON_FAILURE;
	c->restart_usec = 100 * USEC_PER_MSEC;
	c->restart_max_usec = 30 * USEC_PER_SEC;
	c->start_limit_burst = 5;
	c->start_limit_interval_usec = 60 * USEC_PER_SEC;
	c->stop_signal = SIGTERM;
	c->stop_timeout_usec = 10 * USEC_PER_SEC;
	c->ready_timeout_usec = 30 * USEC_PER_SEC;
	c->watchdog_usec = 0;
	c->health_interval_usec = 30 * USEC_PER_SEC;
	c->health_timeout_usec = 5 * USEC_PER_SEC;
	c->health_retries = 3;
	c->std_output = UNIT_OUTPUT_LOG;
	c->std_error = UNIT_OUTPUT_LOG;
	c->exit_with_unit = false;
	c->res.memory_max = c->res.memory_high = c->res.memory_swap_max = UNIT_RES_UNSET;
	c->res.pids_max = UNIT_RES_UNSET;
}

void unit_config_free(struct unit_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->description);
	strv_free(&c->requires);
	strv_free(&c->wants);
	strv_free(&c->after);
	strv_free(&c->exec);
	strv_free(&c->environment);
	strv_free(&c->environment_file);
	free(c->working_directory);
	free(c->user);
	free(c->group);
	strv_free(&c->health_cmd);
	free(c->res.cpu_set);
	c->res.cpu_set = NULL;
	strv_free(&c->res.io_read_bw);
	strv_free(&c->res.io_write_bw);
	c->path = c->description = c->working_directory = c->user = c->group = NULL;
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool unit_resources_equal(const struct unit_resources *a, const struct unit_resources *b)
{
	return a->cpu_weight == b->cpu_weight && a->cpu_quota_pct == b->cpu_quota_pct &&
	       str_equal(a->cpu_set, b->cpu_set) && a->memory_max == b->memory_max &&
	       a->memory_high == b->memory_high && a->memory_swap_max == b->memory_swap_max &&
	       a->pids_max == b->pids_max && a->io_weight == b->io_weight &&
	       strv_equal(&a->io_read_bw, &b->io_read_bw) &&
	       strv_equal(&a->io_write_bw, &b->io_write_bw);
}

bool unit_config_equal(const struct unit_config *a, const struct unit_config *b)
{
	return unit_config_equal_but_resources(a, b) && unit_resources_equal(&a->res, &b->res);
}

bool unit_config_equal_but_resources(const struct unit_config *a, const struct unit_config *b)
{
	return strcmp(a->name, b->name) == 0 && str_equal(a->path, b->path) &&
	       str_equal(a->description, b->description) &&
	       strv_equal(&a->requires, &b->requires) && strv_equal(&a->wants, &b->wants) &&
	       strv_equal(&a->after, &b->after) && strv_equal(&a->exec, &b->exec) &&
	       a->type == b->type && strv_equal(&a->environment, &b->environment) &&
	       strv_equal(&a->environment_file, &b->environment_file) &&
	       str_equal(a->working_directory, b->working_directory) &&
	       str_equal(a->user, b->user) && str_equal(a->group, b->group) &&
	       a->restart == b->restart && a->restart_usec == b->restart_usec &&
	       a->restart_max_usec == b->restart_max_usec &&
	       a->start_limit_burst == b->start_limit_burst &&
	       a->start_limit_interval_usec == b->start_limit_interval_usec &&
	       a->stop_signal == b->stop_signal && a->stop_timeout_usec == b->stop_timeout_usec &&
	       a->ready_timeout_usec == b->ready_timeout_usec &&
	       a->watchdog_usec == b->watchdog_usec && strv_equal(&a->health_cmd, &b->health_cmd) &&
	       a->health_interval_usec == b->health_interval_usec &&
	       a->health_timeout_usec == b->health_timeout_usec &&
	       a->health_retries == b->health_retries && a->std_output == b->std_output &&
	       a->std_error == b->std_error && a->exit_with_unit == b->exit_with_unit;
}

bool unit_name_from_file(const char *filename, char name[UNIT_NAME_MAX + 1])
{
	size_t n = strlen(filename);

	if (n <= 5 || strcmp(filename + n - 5, ".unit") != 0 || n - 5 > UNIT_NAME_MAX)
		return false;
	memcpy(name, filename, n - 5);
	name[n - 5] = '\0';
	if (!unit_name_valid(name)) {
		name[0] = '\0';
		return false;
	}
	return true;
}
