/*
 * supd.conf (optional, INI): [Control] Group=; [Log] BufferSize=, Directory=, MaxFileSize=,
 * MaxFiles=; [Machine] Hostname=, ShutdownTimeoutSec=. A bad line is reported and skipped: supd
 * never refuses to run over its config.
 */
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cgroup.h"
#include "sup/log.h"
#include "supd.h"

struct conf_ctx {
	struct supd_config *c;
	const char *path;
	int errors;
};

static int set_size(const char *v, uint64_t *out)
{
	return unit_parse_size(v, out);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct conf_ctx *ctx = user;
	struct supd_config *c = ctx->c;
	uint64_t n;

	if (!strcmp(section, "Control") && !strcmp(key, "Group")) {
		struct group *g = getgrnam(value);
		char *end;
		unsigned long id = strtoul(value, &end, 10);
		if (g)
			c->control_gid = g->gr_gid;
		else if (*value && !*end)
			c->control_gid = (gid_t)id;
		else
			goto bad;
	} else if (!strcmp(section, "Log") && !strcmp(key, "BufferSize")) {
		if (set_size(value, &n) < 0 || n < 4096 || n == SIZE_INFINITY)
			goto bad;
		c->log_ring_bytes = n;
	} else if (!strcmp(section, "Log") && !strcmp(key, "Directory")) {
		free(c->log_dir);
		c->log_dir = *value ? strdup(value) : NULL;
	} else if (!strcmp(section, "Log") && !strcmp(key, "MaxFileSize")) {
		if (set_size(value, &n) < 0 || n < 4096)
			goto bad;
		c->log_file_max = n;
	} else if (!strcmp(section, "Log") && !strcmp(key, "MaxFiles")) {
		char *end;
		unsigned long k = strtoul(value, &end, 10);
		if (!*value || *end || k > 100)
			goto bad;
		c->log_file_keep = (unsigned)k;
	} else if (!strcmp(section, "Cgroup") && !strcmp(key, "Mode")) {
		enum cg_mode m;
		if (cg_mode_parse(value, &m) < 0)
			goto bad;
		c->cgroup_mode = (int)m;
	} else if (!strcmp(section, "Cgroup") && !strcmp(key, "FavorDynMods")) {
		bool b;
		if (unit_parse_bool(value, &b) < 0)
			goto bad;
		c->cgroup_favor = b ? 1 : 0;
	} else if (!strcmp(section, "Metrics") && !strcmp(key, "Listen")) {
		free(c->metrics_listen);
		c->metrics_listen = *value ? strdup(value) : NULL;
	} else if (!strcmp(section, "Machine") && !strcmp(key, "ShutdownTimeoutSec")) {
		/* a deadline there must be: at least a second, never "infinity" */
		if (unit_parse_duration(value, &n) < 0 || n < 1000000 || n == UINT64_MAX)
			goto bad;
		c->shutdown_timeout_usec = n;
	} else if (!strcmp(section, "Machine") && !strcmp(key, "Hostname")) {
		if (!*value || strlen(value) > 64)
			goto bad;
		free(c->hostname);
		c->hostname = strdup(value);
	} else {
		sup_err(NULL, "%s: [%s] %s=: unknown key; ignored", ctx->path, section, key);
		ctx->errors++;
	}
	return 1;
bad:
	sup_err(NULL, "%s: [%s] %s=%s: invalid value; ignored", ctx->path, section, key, value);
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
