/*
 * Registry requests: one libcurl easy handle per registry for manifests, configs and tokens
 * (kept-alive), the auth dance (Bearer token flow with per-scope caching, or Basic),
 * retries with backoff on 429/5xx/broken connections honouring Retry-After, and redirects
 * followed by hand so that an Authorization header never leaves the registry's origin.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "registry.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define CA_MAX		 (8u << 20)
#define TOKEN_MAX	 (1u << 20)
#define REDIRECTS_MAX	 5

static int read_small(const char *path, char **out, size_t *len, struct sup_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = malloc(CA_MAX);
	size_t n;

	if (!f)
		return errno == ENOENT ? 1 : sup_error_set(err, errno, "open %s", path);
	if (!buf)
		return sup_error_set(err, ENOMEM, "read %s", path);
	n = fread(buf, 1, CA_MAX, f);
	if (ferror(f) || n == CA_MAX)
		return sup_error_set(err, ferror(f) ? EIO : EFBIG, "read %s", path);
	*out = sup_steal_ptr(buf);
	*len = n;
	return 0;
}

/* CURLOPT_CAINFO would replace the system bundle: append CACertificates= to it instead. */
static int load_ca(struct img_reg *r, struct sup_error **err)
{
	_cleanup_free_ char *sys = NULL, *extra = NULL;
	size_t sys_len = 0, extra_len = 0;

	if (!r->set->ca_file)
		return 0;
	if (read_small(r->set->ca_file, &extra, &extra_len, err) != 0)
		return sup_error_wrap(err, "CACertificates=");
	if (read_small(SYSTEM_CA_BUNDLE, &sys, &sys_len, err) < 0)
		return -1;
	r->ca_bundle = malloc(sys_len + extra_len + 2);
	if (!r->ca_bundle)
		return sup_error_set(err, ENOMEM, "CA bundle");
	if (sys_len)
		memcpy(r->ca_bundle, sys, sys_len);
	r->ca_bundle[sys_len] = '\n';
	memcpy(r->ca_bundle + sys_len + 1, extra, extra_len);
	r->ca_len = sys_len + 1 + extra_len;
	return 0;
}

int img_reg_open(struct img_reg *r, const struct img_settings *set, const char *registry,
		 const char *base, const char *repo, struct sup_error **err)
{
	memset(r, 0, sizeof(*r));
	r->set = set;
	r->registry = strdup(registry);
	r->base = strdup(base);
	r->repo = strdup(repo);
	r->easy = curl_easy_init();
	if (!r->registry || !r->base || !r->repo || !r->easy) {
		img_reg_close(r);
		return sup_error_set(err, ENOMEM, "registry client");
	}
	if (load_ca(r, err) < 0 ||
	    img_auth_lookup(set->auth_file, registry, &r->user, &r->pass, err) < 0) {
		img_reg_close(r);
		return -1;
	}
	return 0;
}

void img_reg_close(struct img_reg *r)
{
	for (size_t i = 0; i < r->n_tokens; i++) {
		free(r->tokens[i].key);
		free(r->tokens[i].token);
	}
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->registry);
	free(r->base);
	free(r->repo);
	free(r->user);
	free(r->pass);
	free(r->ca_bundle);
	memset(r, 0, sizeof(*r));
}

void img_reg_setup_easy(struct img_reg *r, void *easy)
{
	const struct img_settings *s = r->set;

	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "sup/" SUP_VERSION);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->connect_timeout_usec / 1000));
	/* no overall timeout (layers can be large): a transfer below 1 KiB/s for
	 * LowSpeedTimeSec= is dropped and retried from where it stopped */
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)(s->low_speed_usec / 1000000));
	if (r->ca_bundle) {
		struct curl_blob blob = {r->ca_bundle, r->ca_len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
	}
	/* the usual *_proxy environment variables are libcurl's default; Proxy= overrides */
	if (s->proxy)
		curl_easy_setopt(easy, CURLOPT_PROXY, s->proxy);
	if (s->no_proxy)
		curl_easy_setopt(easy, CURLOPT_NOPROXY, s->no_proxy);
}

bool img_same_origin(const char *a, const char *b)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	char *pa[3] = {0}, *pb[3] = {0};
	CURLUPart parts[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
	bool same = ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
		    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;

	for (int i = 0; i < 3 && same; i++) {
		curl_url_get(ua, parts[i], &pa[i], CURLU_DEFAULT_PORT);
		curl_url_get(ub, parts[i], &pb[i], CURLU_DEFAULT_PORT);
		same = pa[i] && pb[i] && !strcasecmp(pa[i], pb[i]);
	}
	for (int i = 0; i < 3; i++) {
		curl_free(pa[i]);
		curl_free(pb[i]);
	}
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

char *img_basic_header(const char *user, const char *pass)
{
	_cleanup_free_ char *plain = NULL;
	_cleanup_free_ unsigned char *b64 = NULL;
	char *h = NULL;
	int n;

	if (asprintf(&plain, "%s:%s", user, pass) < 0)
		return NULL;
	b64 = malloc(strlen(plain) / 3 * 4 + 8);
	if (!b64)
		return NULL;
	n = EVP_EncodeBlock(b64, (unsigned char *)plain, (int)strlen(plain));
	if (asprintf(&h, "Authorization: Basic %.*s", n, b64) < 0)
		return NULL;
	return h;
}

char *img_reg_auth_header(struct img_reg *r, const char *url)
{
	char *h = NULL;

	if (!img_same_origin(url, r->base))
		return NULL;
	if (r->scope_token) {
		if (asprintf(&h, "Authorization: Bearer %s", r->scope_token) < 0)
			return NULL;
		return h;
	}
	if (r->basic && r->user)
		return img_basic_header(r->user, r->pass);
	return NULL;
}

uint64_t img_reg_backoff_usec(const struct img_reg *r, unsigned attempt, uint64_t retry_after)
{
	uint64_t d = r->set->retry_base_usec << (attempt > 6 ? 6 : attempt);

	if (retry_after)
		return retry_after;
	return d > 30 * 1000000ull ? 30 * 1000000ull : d;
}

void img_reg_backoff(struct img_reg *r, unsigned attempt, uint64_t retry_after)
{
	uint64_t d = img_reg_backoff_usec(r, attempt, retry_after);
	struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};

	r->retries++;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
