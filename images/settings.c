/*
 * supd.conf's [Images] section (inih, as supervisor/config.c reads the rest) and Docker
 * config.json credentials. Keys and defaults are listed in docs/images.md.
 */
#include <errno.h>
#include <ini.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "settings.h"

void img_settings_init(struct img_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->concurrent = 3;
	s->retries = 5;
	s->connect_timeout_usec = 30 * 1000000ull;
	s->low_speed_usec = 60 * 1000000ull;
	s->max_layer_size = 32ull << 30;
	s->min_free = 256ull << 20;
	s->retry_base_usec = 500000;
	img_platform_host(&s->platform);
}

void img_settings_free(struct img_settings *s)
{
	strv_free(&s->mirrors);
	strv_free(&s->insecure);
	free(s->auth_file);
	free(s->ca_file);
	free(s->proxy);
	free(s->no_proxy);
	memset(s, 0, sizeof(*s));
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = *v ? strdup(v) : NULL;
	return 0;
}

static int set_uint(unsigned *dst, const char *v, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (!*v || *end || n < lo || n > hi)
		return -1;
	*dst = (unsigned)n;
	return 0;
}

static int push_words(struct strv *sv, const char *v)
{
	_cleanup_free_ char *copy = strdup(v);
	char *save = NULL;

	if (!copy)
		return -1;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (strv_push(sv, w) < 0)
			return -1;
	return 0;
}

static int set_mirror(struct img_settings *s, const char *v)
{
	_cleanup_free_ char *copy = strdup(v);
	char *sp = copy ? strpbrk(copy, " \t") : NULL;
	char *url;

	if (!sp)
		return -1;
	*sp = '\0';
	url = sp + 1 + strspn(sp + 1, " \t");
	if (!*copy || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return -1;
	return strv_push(&s->mirrors, copy) < 0 || strv_push(&s->mirrors, url) < 0 ? -1 : 0;
}

static int set_platform(struct img_settings *s, const char *v)
{
	struct sup_error *e = NULL;
	int r = img_platform_parse(v, &s->platform, &e);
	sup_error_free(e);
	return r;
}

int img_settings_set(struct img_settings *s, const char *key, const char *v, struct sup_error **err)
{
	uint64_t n;
	int r = -1;

	if (!strcmp(key, "Mirror"))
		r = set_mirror(s, v);
	else if (!strcmp(key, "Insecure"))
		r = push_words(&s->insecure, v);
	else if (!strcmp(key, "AuthFile"))
		r = set_str(&s->auth_file, v);
	else if (!strcmp(key, "CACertificates"))
		r = set_str(&s->ca_file, v);
	else if (!strcmp(key, "Proxy"))
		r = set_str(&s->proxy, v);
	else if (!strcmp(key, "NoProxy"))
		r = set_str(&s->no_proxy, v);
	else if (!strcmp(key, "ConcurrentDownloads"))
		r = set_uint(&s->concurrent, v, 1, 16);
	else if (!strcmp(key, "ConcurrentUnpacks"))
		r = set_uint(&s->unpack_parallel, v, 1, IMG_UNPACK_PARALLEL_MAX);
	else if (!strcmp(key, "Retries"))
		r = set_uint(&s->retries, v, 0, 20);
	else if (!strcmp(key, "ConnectTimeoutSec"))
		r = unit_parse_duration(v, &s->connect_timeout_usec);
	else if (!strcmp(key, "LowSpeedTimeSec"))
		r = unit_parse_duration(v, &s->low_speed_usec);
	else if (!strcmp(key, "RetryDelaySec"))
		r = unit_parse_duration(v, &s->retry_base_usec);
	else if (!strcmp(key, "MaxLayerSize"))
		r = unit_parse_size(v, &s->max_layer_size);
	else if (!strcmp(key, "MinFreeSpace"))
		r = unit_parse_size(v, &n) < 0 || n == UINT64_MAX ? -1 : (s->min_free = n, 0);
	else if (!strcmp(key, "MaxDownloadRate"))
		r = unit_parse_size(v, &n) < 0 ? -1 : (s->max_rate = n == UINT64_MAX ? 0 : n, 0);
	else if (!strcmp(key, "Platform"))
		r = set_platform(s, v);
	else
		return sup_error_set(err, 0, "[Images] %s=: unknown key", key);
	if (r < 0)
		return sup_error_set(err, 0, "[Images] %s=%s: invalid value", key, v);
	return 0;
}

struct load_ctx {
	struct img_settings *s;
	const char *path;
	struct sup_error **err;
};

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *ctx = user;

	if (strcmp(section, "Images") != 0 || !strcmp(key, "HelperTimeoutSec")) /* supd's */
		return 1;
	if (img_settings_set(ctx->s, key, value, ctx->err) < 0) {
		sup_error_wrap(ctx->err, "%s", ctx->path);
		return 0;
	}
	return 1;
}

int img_settings_load(struct img_settings *s, const char *path, struct sup_error **err)
{
	struct load_ctx ctx = {s, path, err};
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	int r;

	if (!f)
		return errno == ENOENT ? 0 : sup_error_set(err, errno, "open %s", path);
	r = ini_parse_file(f, handler, &ctx);
	if (r > 0 && !*err)
		return sup_error_set(err, 0, "%s:%d: syntax error or bad [Images] setting", path,
				     r);
	return r ? -1 : 0;
}

bool img_settings_insecure(const struct img_settings *s, const char *hostport)
{
	if (img_host_is_loopback(hostport))
		return true;
	for (size_t i = 0; i < s->insecure.n; i++)
		if (!strcmp(s->insecure.v[i], hostport))
			return true;
	return false;
}

size_t img_settings_mirrors(const struct img_settings *s, const char *registry, const char **out,
			    size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i + 1 < s->mirrors.n && n < max; i += 2)
		if (!strcmp(s->mirrors.v[i], registry))
			out[n++] = s->mirrors.v[i + 1];
	return n;
}
