/* The registry client: OCI Distribution API v2 over libcurl. */
#ifndef SUP_IMAGES_REGISTRY_H
#define SUP_IMAGES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sup/error.h"
#include "sup/image.h"
#include "manifest.h"
#include "settings.h"
#include "store.h"

/* A WWW-Authenticate challenge: scheme and the parameters the token flow uses. */
struct img_challenge {
	char scheme[16]; /* "Bearer" or "Basic" */
	char *realm, *service, *scope;
	char *error; /* error="insufficient_scope" etc. */
};
/* Parse the first challenge of a WWW-Authenticate value. Pure. */
int img_challenge_parse(const char *hdr, struct img_challenge *c, struct sup_error **err);
void img_challenge_free(struct img_challenge *c);
/* Retry-After: delta-seconds or an HTTP date; microseconds from now, capped at 10 min;
 * 0 when absent or unreadable. Pure but for the clock. */
uint64_t img_retry_after_usec(const char *value, time_t now);

struct img_token {
	char *key; /* realm \n service \n scope */
	char *token;
	time_t expires;
};

struct img_reg {
	const struct img_settings *set;
	char *registry; /* as named in the reference: "docker.io" */
	char *base;	/* "https://registry-1.docker.io" or a mirror's URL */
	char *repo;
	char *user, *pass;
	struct img_token tokens[8];
	size_t n_tokens;
	char *scope_token; /* the token for the current request, or NULL */
	bool basic;	   /* the registry asked for Basic */
	char *ca_bundle;   /* system bundle + CACertificates=, for CURLOPT_CAINFO_BLOB */
	size_t ca_len;
	void *easy; /* CURL*, kept for small requests (connection reuse) */
	unsigned long long requests, retries;
};

struct img_http {
	long code;
	char *body;
	size_t len;
	char *content_type, *docker_digest;
};
void img_http_free(struct img_http *h);

/* Connect to base (scheme://host[:port], no path) for registry/repo. */
int img_reg_open(struct img_reg *r, const struct img_settings *set, const char *registry,
		 const char *base, const char *repo, struct sup_error **err);
void img_reg_close(struct img_reg *r);

/* GET /v2/<repo>/<kind>/<ref> with auth, retries and redirects; only a 200 is returned,
 * anything else is an error naming the registry's message. max bounds the body. */
int img_reg_get(struct img_reg *r, const char *kind, const char *ref, const char *accept,
		size_t max, struct img_http *out, struct sup_error **err);

/* What a caller hooks into the download loop (every member may be NULL). */
struct img_fetch_hooks {
	void *ctx;
	void (*progress)(void *ctx, const struct img_desc *d, uint64_t done, const char *state);
	/* descs[i] is in the store now (fetched, or there before) */
	int (*committed)(void *ctx, size_t i, struct sup_error **err);
	/* fds to watch along with the downloads, and the call when one may be ready */
	size_t (*fds)(void *ctx, int *fds, size_t max);
	int (*service)(void *ctx, struct sup_error **err);
};

/* Blob downloads, several at once (curl multi), into the store's partial files, each
 * verified against its descriptor before it is committed. */
int img_reg_fetch_blobs(struct img_reg *r, struct img_store *s, const struct img_desc *descs,
			size_t n, const struct img_fetch_hooks *hooks, struct sup_error **err);

/* Internal to registry/blobs: curl options every request gets. */
void img_reg_setup_easy(struct img_reg *r, void *easy);
/* The Authorization header for url (NULL when none: another host never gets one). */
char *img_reg_auth_header(struct img_reg *r, const char *url);
/* Handle a 401 answer: fetch a token for the challenge (or note Basic). 0 = retry. */
int img_reg_authenticate(struct img_reg *r, const char *www_authenticate, int code,
			 struct sup_error **err);
bool img_same_origin(const char *a, const char *b);
/* "Authorization: Basic base64(user:pass)" (malloc'd). */
char *img_basic_header(const char *user, const char *pass);
/* Sleep for the n-th retry's backoff, or Retry-After when the server gave one. */
void img_reg_backoff(struct img_reg *r, unsigned attempt, uint64_t retry_after_usec);
uint64_t img_reg_backoff_usec(const struct img_reg *r, unsigned attempt, uint64_t retry_after_usec);

#endif
