/*
 * supd.conf (optional, INI): [Control] Group=; [Log] BufferSize=, Directory=, MaxFileSize=,
 * MaxFiles=; [Cgroup] Mode=, FavorDynMods=; [Metrics] Listen=; [Machine] Hostname=,
 * ShutdownTimeoutSec=; [Images] HelperTimeoutSec=; the rest of [Images] belongs to sup-image. A bad
 * line is reported and skipped: supd never refuses to run over its config.
 */
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/log.h"
#include "supd.h"

struct conf_ctx {
	struct supd_config *c;
	const char *path;
	int errors;
};

/* Each setter: 0, or -1 for a value it does not take (reported, the default stays). */
static int set_group(struct supd_config *c, const char *v)
{
	struct group *g = getgrnam(v);
	char *end;
	unsigned long id = strtoul(v, &end, 10);

	if (g)
		c->control_gid = g->gr_gid;
	else if (*v && !*end)
		c->control_gid = (gid_t)id;
	else
		return -1;
	return 0;
}

static int set_buffer(struct supd_config *c, const char *v)
{
	uint64_t n;

	if (unit_parse_size(v, &n) < 0 || n < 4096 || n == SIZE_INFINITY)
		return -1;
	c->log_ring_bytes = n;
	return 0;
}

static int set_string(char **field, const char *v)
{
	free(*field);
	*field = *v ? strdup(v) : NULL;
	return 0;
}

static int set_log_dir(struct supd_config *c, const char *v)
{
	return set_string(&c->log_dir, v);
}

static int set_file_max(struct supd_config *c, const char *v)
{
	uint64_t n;

	if (unit_parse_size(v, &n) < 0 || n < 4096)
		return -1;
	c->log_file_max = n;
	return 0;
}

static int set_file_keep(struct supd_config *c, const char *v)
{
	char *end;
	unsigned long k = strtoul(v, &end, 10);

	if (!*v || *end || k > 100)
		return -1;
	c->log_file_keep = (unsigned)k;
	return 0;
}

static int set_cg_mode(struct supd_config *c, const char *v)
{
	enum cg_mode m;

	if (cg_mode_parse(v, &m) < 0)
		return -1;
	c->cgroup_mode = (int)m;
	return 0;
}

static int set_favor(struct supd_config *c, const char *v)
{
	bool b;

	if (unit_parse_bool(v, &b) < 0)
		return -1;
	c->cgroup_favor = b ? 1 : 0;
	return 0;
}

static int set_listen(struct supd_config *c, const char *v)
{
	return set_string(&c->metrics_listen, v);
}

/* how long the image helper may stay silent before supd kills it: at least a second */
static int set_helper_timeout(struct supd_config *c, const char *v)
{
	uint64_t n;

	if (unit_parse_duration(v, &n) < 0 || n < 1000000 || n == UINT64_MAX)
		return -1;
	c->image_helper_timeout_usec = n;
	return 0;
}

/* a deadline there must be: at least a second, never "infinity" */
static int set_shutdown(struct supd_config *c, const char *v)
{
	uint64_t n;

	if (unit_parse_duration(v, &n) < 0 || n < 1000000 || n == UINT64_MAX)
		return -1;
	c->shutdown_timeout_usec = n;
	return 0;
}

static int set_hostname(struct supd_config *c, const char *v)
{
	if (!*v || strlen(v) > 64)
		return -1;
	return set_string(&c->hostname, v);
}

static const struct {
	const char *section, *key;
	int (*set)(struct supd_config *c, const char *v);
} keys[] = {
    {"Control", "Group", set_group},
    {"Log", "BufferSize", set_buffer},
    {"Log", "Directory", set_log_dir},
    {"Log", "MaxFileSize", set_file_max},
    {"Log", "MaxFiles", set_file_keep},
    {"Cgroup", "Mode", set_cg_mode},
    {"Cgroup", "FavorDynMods", set_favor},
    {"Metrics", "Listen", set_listen},
    {"Machine", "ShutdownTimeoutSec", set_shutdown},
    {"Machine", "Hostname", set_hostname},
    {"Images", "HelperTimeoutSec", set_helper_timeout},
};

/* Sections read by another program than supd (sup-image: [Images], but for supd's keys). */
static const char *const foreign[] = {"Images"};

static bool is_supd_key(const char *section, const char *key)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++)
		if (!strcmp(section, keys[i].section) && !strcmp(key, keys[i].key))
			return true;
	return false;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct conf_ctx *ctx = user;

	for (size_t i = 0; i < SUP_ARRAY_SIZE(foreign); i++)
		if (!strcmp(section, foreign[i]) && !is_supd_key(section, key))
			return 1;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++) {
		if (strcmp(section, keys[i].section) || strcmp(key, keys[i].key))
			continue;
		if (keys[i].set(ctx->c, value) < 0) {
			sup_err(NULL, "%s: [%s] %s=%s: invalid value; ignored", ctx->path, section,
				key, value);
			ctx->errors++;
		}
		return 1;
	}
	sup_err(NULL, "%s: [%s] %s=: unknown key; ignored", ctx->path, section, key);
	ctx->errors++;
	return 1;
}

int sup_config_load(struct supd_config *c, struct sup_error **err)
{
	struct conf_ctx ctx = {.c = c, .path = c->config_file};
	FILE *f = fopen(c->config_file, "re");
	int r;

	if (!f)
		return errno == ENOENT ? 0 : sup_error_set(err, errno, "open %s", c->config_file);
	r = ini_parse_file(f, handler, &ctx);
	fclose(f);
	if (r > 0)
		return sup_error_set(err, 0, "%s:%d: syntax error", c->config_file, r);
	return ctx.errors ? sup_error_set(err, 0, "%s: %d bad settings ignored", c->config_file,
					  ctx.errors)
			  : 0;
}
