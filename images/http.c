/*
 * One registry GET from start to answer: headers, the Bearer token flow (a token per
 * realm/service/scope, cached until it expires), retries, redirects. Small bodies only
 * (manifests, configs, tokens): blobs go through blobs.c.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup/cleanup.h"
#include "registry.h"

#define REDIRECTS_MAX 5
#define TOKEN_MAX     (1u << 20)

struct body {
	char *data;
	size_t len, max;
	bool overflow;
};

static size_t body_write(char *p, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	size_t len = size * n;
	char *d;

	if (b->len + len > b->max) {
		b->overflow = true;
		return 0; /* aborts the transfer */
	}
	d = realloc(b->data, b->len + len + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, len);
	b->len += len;
	d[b->len] = '\0';
	b->data = d;
	return len;
}

void img_http_free(struct img_http *h)
{
	free(h->body);
	free(h->content_type);
	free(h->docker_digest);
	memset(h, 0, sizeof(*h));
}

static char *header_dup(CURL *easy, const char *name)
{
	struct curl_header *h = NULL;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return NULL;
	return strdup(h->value);
}

/* Retry on these: the connection broke, not the request. */
static bool transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/* The registry's own words: {"errors":[{"code":..,"message":..}]} -> "CODE: message". */
static void registry_message(const char *body, size_t len, char *out, size_t size)
{
	json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_array_get(json_object_get(root, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (!msg)
		msg = json_string_value(json_object_get(root, "details"));
	if (code || msg)
		snprintf(out, size, ": %s%s%s", code ? code : "", code && msg ? ": " : "",
			 msg ? msg : "");
	else
		out[0] = '\0';
	json_decref(root);
}

struct reply {
	struct img_http http;
	char *www_auth, *location, *retry_after;
	CURLcode res;
	char errbuf[CURL_ERROR_SIZE];
	bool overflow;
};

static void reply_free(struct reply *rp)
{
	img_http_free(&rp->http);
	free(rp->www_auth);
	free(rp->location);
	free(rp->retry_after);
	memset(rp, 0, sizeof(*rp));
}

static void perform(struct img_reg *r, const char *url, const char *accept, const char *auth,
		    size_t max, struct reply *rp)
{
	CURL *easy = r->easy;
	struct curl_slist *h = NULL;
	struct body b = {.max = max};
	char acc[512], *loc = NULL;

	memset(rp, 0, sizeof(*rp));
	curl_easy_reset(easy);
	img_reg_setup_easy(r, easy);
	if (accept) {
		snprintf(acc, sizeof(acc), "Accept: %s", accept);
		h = curl_slist_append(h, acc);
	}
	if (auth)
		h = curl_slist_append(h, auth);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, rp->errbuf);
	rp->res = curl_easy_perform(easy);
	r->requests++;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &rp->http.code);
	rp->http.body = b.data;
	rp->http.len = b.len;
	rp->overflow = b.overflow;
	rp->http.content_type = header_dup(easy, "Content-Type");
	rp->http.docker_digest = header_dup(easy, "Docker-Content-Digest");
	rp->www_auth = header_dup(easy, "WWW-Authenticate");
	rp->retry_after = header_dup(easy, "Retry-After");
	if (curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		rp->location = strdup(loc);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
}

static int cached_token(struct img_reg *r, const char *key)
{
	for (size_t i = 0; i < r->n_tokens; i++)
		if (!strcmp(r->tokens[i].key, key))
			return (int)i;
	return -1;
}

static int store_token(struct img_reg *r, char *key, const char *tok, long long ttl)
{
	int i = cached_token(r, key);

	if (ttl < 60) /* the distribution spec's floor */
		ttl = 60;
	if (i < 0) {
		if (r->n_tokens == SUP_ARRAY_SIZE(r->tokens)) {
			free(r->tokens[0].key);
			free(r->tokens[0].token);
			memmove(r->tokens, r->tokens + 1, sizeof(r->tokens[0]) * --r->n_tokens);
		}
		i = (int)r->n_tokens++;
		r->tokens[i].key = key;
	} else {
		free(key);
		free(r->tokens[i].token);
	}
	r->tokens[i].token = strdup(tok);
	/* 10 s early: a token must not expire between our check and the registry's */
	r->tokens[i].expires = time(NULL) + ttl - 10;
	r->scope_token = r->tokens[i].token;
	return r->scope_token ? 0 : -1;
}

static int parse_token(struct img_reg *r, char *key, const struct img_http *h,
		       struct sup_error **err)
{
	json_t *root = json_loadb(h->body ? h->body : "", h->len, 0, NULL);
	const char *tok = json_string_value(json_object_get(root, "token"));
	json_t *ttl = json_object_get(root, "expires_in");
	int rc;

	if (!tok || !*tok)
		tok = json_string_value(json_object_get(root, "access_token"));
	if (!tok || !*tok) {
		json_decref(root);
		free(key);
		return sup_error_set(err, 0, "token server: no token in the answer");
	}
	rc = store_token(r, key, tok, json_is_integer(ttl) ? json_integer_value(ttl) : 60);
	json_decref(root);
	return rc < 0 ? sup_error_set(err, ENOMEM, "token") : 0;
}

static char *token_url(struct img_reg *r, const struct img_challenge *c, const char *scope)
{
	char *svc = c->service ? curl_easy_escape(r->easy, c->service, 0) : NULL;
	char *sc = curl_easy_escape(r->easy, scope, 0);
	char *url = NULL;

	if (asprintf(&url, "%s%sservice=%s&scope=%s", c->realm, strchr(c->realm, '?') ? "&" : "?",
		     svc ? svc : "", sc ? sc : "") < 0)
		url = NULL;
	curl_free(svc);
	curl_free(sc);
	return url;
}

static int fetch_token(struct img_reg *r, const struct img_challenge *c, struct sup_error **err)
{
	_cleanup_free_ char *scope = NULL, *key = NULL, *url = NULL, *auth = NULL;
	struct reply rp;
	int i, rc;

	if (c->scope)
		scope = strdup(c->scope);
	else if (asprintf(&scope, "repository:%s:pull", r->repo) < 0)
		scope = NULL;
	if (!scope ||
	    asprintf(&key, "%s\n%s\n%s", c->realm, c->service ? c->service : "", scope) < 0)
		return sup_error_set(err, ENOMEM, "token");
	i = cached_token(r, key);
	if (i >= 0 && r->tokens[i].expires > time(NULL) && r->scope_token != r->tokens[i].token) {
		r->scope_token = r->tokens[i].token;
		return 0;
	}
	url = token_url(r, c, scope);
	if (!url || !strncmp(url, "file:", 5))
		return sup_error_set(err, 0, "token realm \"%s\" unusable", c->realm);
	auth = r->user ? img_basic_header(r->user, r->pass) : NULL;
	for (unsigned attempt = 0;; attempt++) {
		perform(r, url, "application/json", auth, TOKEN_MAX, &rp);
		bool again = (rp.res != CURLE_OK && transient(rp.res)) ||
			     (rp.res == CURLE_OK && (rp.http.code == 429 || rp.http.code >= 500));
		if (!again || attempt >= r->set->retries)
			break;
		img_reg_backoff(r, attempt, img_retry_after_usec(rp.retry_after, time(NULL)));
		reply_free(&rp);
	}
	if (rp.res != CURLE_OK)
		rc = sup_error_set(err, 0, "token server %s: %s", c->realm,
				   rp.errbuf[0] ? rp.errbuf : curl_easy_strerror(rp.res));
	else if (rp.http.code == 401 || rp.http.code == 403)
		rc = sup_error_set(err, 0, "token server %s: HTTP %ld: %s", c->realm, rp.http.code,
				   r->user ? "credentials rejected" : "anonymous access refused");
	else if (rp.http.code != 200)
		rc = sup_error_set(err, 0, "token server %s: HTTP %ld", c->realm, rp.http.code);
	else
		rc = parse_token(r, sup_steal_ptr(key), &rp.http, err);
	reply_free(&rp);
	return rc;
}

int img_reg_authenticate(struct img_reg *r, const char *www, int code, struct sup_error **err)
{
	struct img_challenge c;
	int rc;

	if (!www)
		return sup_error_set(err, 0, "HTTP %d without a WWW-Authenticate challenge", code);
	if (img_challenge_parse(www, &c, err) < 0)
		return -1;
	if (!strcasecmp(c.scheme, "Basic")) {
		if (!r->user)
			rc = sup_error_set(err, 0,
					   "%s wants a user name and password (Basic auth); none "
					   "for it in %s",
					   r->registry, r->set->auth_file ?: IMG_DEFAULT_AUTH_FILE);
		else if (r->basic)
			rc = sup_error_set(err, 0, "%s: credentials rejected (Basic auth)",
					   r->registry);
		else
			rc = (r->basic = true, 0);
	} else if (!strcasecmp(c.scheme, "Bearer")) {
		rc = fetch_token(r, &c, err);
	} else {
		rc = sup_error_set(err, 0, "%s: unsupported auth scheme %s", r->registry, c.scheme);
	}
	img_challenge_free(&c);
	return rc;
}

/* The token in use, unless it has expired (then the registry's 401 starts the flow again). */
static void drop_expired(struct img_reg *r)
{
	for (size_t i = 0; i < r->n_tokens; i++)
		if (r->scope_token == r->tokens[i].token && r->tokens[i].expires <= time(NULL))
			r->scope_token = NULL;
}

static int answer(struct img_reg *r, const char *url, struct reply *rp, struct img_http *out,
		  struct sup_error **err)
{
	char msg[512];

	if (rp->overflow)
		return sup_error_set(err, 0, "GET %s: answer too large", url);
	if (rp->res != CURLE_OK)
		return sup_error_set(err, 0, "GET %s: %s", url,
				     rp->errbuf[0] ? rp->errbuf : curl_easy_strerror(rp->res));
	if (rp->http.code != 200) {
		registry_message(rp->http.body, rp->http.len, msg, sizeof(msg));
		return sup_error_set(err, 0, "GET %s: HTTP %ld%s", url, rp->http.code, msg);
	}
	*out = rp->http;
	memset(&rp->http, 0, sizeof(rp->http));
	return 0;
}

int img_reg_get(struct img_reg *r, const char *kind, const char *ref, const char *accept,
		size_t max, struct img_http *out, struct sup_error **err)
{
	_cleanup_free_ char *url = NULL, *cur = NULL;
	unsigned attempt = 0, redirects = 0, auths = 0;
	struct reply rp = {0};
	int rc;

	if (asprintf(&url, "%s/v2/%s/%s/%s", r->base, r->repo, kind, ref) < 0 ||
	    !(cur = strdup(url)))
		return sup_error_set(err, ENOMEM, "url");
	for (;;) {
		_cleanup_free_ char *auth = (drop_expired(r), img_reg_auth_header(r, cur));
		reply_free(&rp);
		perform(r, cur, accept, auth, max, &rp);
		bool retry = (rp.res != CURLE_OK && transient(rp.res)) ||
			     (rp.res == CURLE_OK && (rp.http.code == 429 || rp.http.code >= 500));
		if (retry && attempt < r->set->retries) {
			img_reg_backoff(r, attempt++,
					img_retry_after_usec(rp.retry_after, time(NULL)));
			continue;
		}
		if (rp.res == CURLE_OK && rp.http.code == 401 && auths++ < 2 &&
		    img_same_origin(cur, r->base)) {
			if (img_reg_authenticate(r, rp.www_auth, 401, err) < 0)
				break;
			continue;
		}
		if (rp.res == CURLE_OK && rp.http.code >= 300 && rp.http.code < 400 &&
		    rp.location && redirects++ < REDIRECTS_MAX) {
			free(cur);
			cur = sup_steal_ptr(rp.location);
			continue;
		}
		break;
	}
	if (*err) {
		reply_free(&rp);
		return sup_error_wrap(err, "GET %s", url);
	}
	rc = answer(r, url, &rp, out, err);
	reply_free(&rp);
	return rc;
}
