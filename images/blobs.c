/*
 * Blob downloads: several at once on one curl multi handle, each streamed into its partial
 * file in tmp/ while it is hashed. A partial left by an earlier pull is hashed again and
 * resumed with a Range request; a 200 answer to that restarts the blob from byte 0. Nothing
 * reaches blobs/ before its size and sha256 match the descriptor.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "digest.h"
#include "registry.h"

#define IMG_WAITFDS_MAX 8

enum xfer_state { X_QUEUED, X_ACTIVE, X_WAIT, X_DONE };

struct xfer {
	struct img_reg *r;
	const struct img_desc *d;
	struct img_partial part;
	struct img_hasher h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	enum xfer_state state;
	bool started_body, writing, too_big, bad_range, opened, waiting;
	unsigned attempt, redirects, auths;
	uint64_t due; /* monotonic usec of the next try */
	char errbuf[CURL_ERROR_SIZE];
	const struct img_fetch_hooks *hk;
	size_t index;
};

static void progress(struct xfer *x, uint64_t done, const char *state)
{
	if (x->hk && x->hk->progress)
		x->hk->progress(x->hk->ctx, x->d, done, state);
}

/* The blob is in the store: tell the caller (a pull starts unpacking it). */
static int committed(struct xfer *x, struct sup_error **err)
{
	x->state = X_DONE;
	if (x->hk && x->hk->committed)
		return x->hk->committed(x->hk->ctx, x->index, err);
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int restart_blob(struct xfer *x)
{
	if (ftruncate(x->part.fd, 0) < 0)
		return -1;
	x->part.have = 0;
	img_hasher_free(&x->h);
	return img_hasher_init(&x->h, NULL);
}

/* "bytes START-END/TOTAL" must start where our file ends */
static bool range_ok(struct xfer *x)
{
	struct curl_header *h = NULL;
	unsigned long long start;

	if (curl_easy_header(x->easy, "Content-Range", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return false;
	return sscanf(h->value, "bytes %llu-", &start) == 1 && start == x->part.have;
}

static int begin_body(struct xfer *x)
{
	long code = 0;

	x->started_body = true;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code == 206) {
		if (!range_ok(x)) {
			x->bad_range = true;
			return -1;
		}
		x->writing = true;
	} else if (code == 200) {
		/* a registry that ignores Range sends it all again: start over */
		if (x->part.have > 0 && restart_blob(x) < 0)
			return -1;
		x->writing = true;
	}
	return 0;
}

static size_t blob_write(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n, off = 0;

	if (!x->started_body && begin_body(x) < 0)
		return 0;
	if (!x->writing)
		return len; /* an error page or a redirect's body */
	if (x->part.have + len > x->d->size) {
		x->too_big = true;
		return 0;
	}
	while (off < len) {
		ssize_t w = pwrite(x->part.fd, p + off, len - off, (off_t)(x->part.have + off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += (size_t)w;
	}
	img_hasher_update(&x->h, p, len);
	x->part.have += len;
	progress(x, x->part.have, "downloading");
	return len;
}

static int open_partial(struct xfer *x, struct img_store *s, struct sup_error **err)
{
	int r = img_store_partial_open(s, x->d->digest, &x->part, err);

	if (r != 0)
		return r;
	x->opened = true;
	if (img_hasher_init(&x->h, err) < 0)
		return -1;
	if (x->part.have > x->d->size && restart_blob(x) < 0)
		return sup_error_set(err, errno, "truncate partial %s", x->d->digest);
	if (img_hash_fd(x->part.fd, &x->h, x->part.have, err) < 0)
		return -1;
	if (x->part.have)
		progress(x, x->part.have, "resuming");
	return 0;
}

static int start(struct xfer *x, CURLM *m, struct sup_error **err)
{
	_cleanup_free_ char *auth = img_reg_auth_header(x->r, x->url);
	char range[64];

	curl_easy_reset(x->easy);
	img_reg_setup_easy(x->r, x->easy);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (x->part.have > 0) {
		snprintf(range, sizeof(range), "Range: bytes=%llu-",
			 (unsigned long long)x->part.have);
		x->hdrs = curl_slist_append(x->hdrs, range);
	}
	if (auth)
		x->hdrs = curl_slist_append(x->hdrs, auth);
	if (x->r->set->max_rate)
		curl_easy_setopt(x->easy, CURLOPT_MAX_RECV_SPEED_LARGE,
				 (curl_off_t)x->r->set->max_rate);
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, blob_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	x->errbuf[0] = '\0';
	x->started_body = x->writing = x->too_big = x->bad_range = false;
	x->state = X_ACTIVE;
	x->r->requests++;
	if (curl_multi_add_handle(m, x->easy) != CURLM_OK)
		return sup_error_set(err, 0, "blob %s: curl_multi_add_handle", x->d->digest);
	return 0;
}

static int finish(struct xfer *x, struct img_store *s, struct sup_error **err)
{
	char got[IMG_DIGEST_LEN + 1];

	img_hasher_final(&x->h, got);
	if (strcmp(got, x->d->digest) != 0) {
		img_store_partial_drop(s, &x->part);
		return sup_error_set(err, 0,
				     "blob %s: digest mismatch (got %s): the registry sent corrupt "
				     "data; nothing kept",
				     x->d->digest, got);
	}
	if (img_store_partial_commit(s, &x->part, err) < 0)
		return -1;
	progress(x, x->d->size, "done");
	return committed(x, err);
}

static void schedule_retry(struct xfer *x, const char *retry_after)
{
	uint64_t d =
	    img_reg_backoff_usec(x->r, x->attempt++, img_retry_after_usec(retry_after, time(NULL)));

	x->r->retries++;
	x->due = now_usec() + d;
	x->state = X_WAIT;
	progress(x, x->part.have, "retrying");
}

static char *header_value(CURL *easy, const char *name)
{
	struct curl_header *h = NULL;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return NULL;
	return h->value;
}

static bool retryable(CURLcode res, long code)
{
	if (res == CURLE_OK)
		return code == 429 || code >= 500;
	return res == CURLE_COULDNT_CONNECT || res == CURLE_OPERATION_TIMEDOUT ||
	       res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR || res == CURLE_PARTIAL_FILE ||
	       res == CURLE_GOT_NOTHING || res == CURLE_HTTP2 || res == CURLE_HTTP2_STREAM ||
	       res == CURLE_SSL_CONNECT_ERROR || res == CURLE_COULDNT_RESOLVE_HOST;
}

static int redirect(struct xfer *x)
{
	char *loc = NULL;

	if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc ||
	    x->redirects++ >= 5)
		return -1;
	free(x->url);
	x->url = strdup(loc);
	x->state = X_QUEUED;
	return x->url ? 0 : -1;
}

/* One transfer ended: done, retry later, follow, re-authenticate, or fail. */
static int complete(struct xfer *x, struct img_store *s, CURLcode res, struct sup_error **err)
{
	long code = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (x->too_big) {
		img_store_partial_drop(s, &x->part);
		return sup_error_set(err, 0, "blob %s: more than the %llu bytes declared",
				     x->d->digest, (unsigned long long)x->d->size);
	}
	if (res == CURLE_OK && (code == 200 || code == 206) && x->part.have == x->d->size)
		return finish(x, s, err);
	if (x->bad_range || (res == CURLE_OK && code == 416)) {
		if (restart_blob(x) < 0 || x->attempt++ > x->r->set->retries)
			return sup_error_set(err, errno, "blob %s: resume failed", x->d->digest);
		x->state = X_QUEUED;
		return 0;
	}
	if (res == CURLE_OK && code == 401 && x->auths++ < 2 &&
	    img_same_origin(x->url, x->r->base)) {
		if (img_reg_authenticate(x->r, header_value(x->easy, "WWW-Authenticate"), 401,
					 err) < 0)
			return sup_error_wrap(err, "blob %s", x->d->digest);
		x->state = X_QUEUED;
		return 0;
	}
	if (res == CURLE_OK && code >= 300 && code < 400 && redirect(x) == 0)
		return 0;
	if ((retryable(res, code) || (res == CURLE_OK && code / 100 == 2)) &&
	    x->attempt < x->r->set->retries) {
		schedule_retry(x, res == CURLE_OK ? header_value(x->easy, "Retry-After") : NULL);
		return 0;
	}
	if (res != CURLE_OK)
		return sup_error_set(err, 0, "blob %s: %s", x->d->digest,
				     x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
	return sup_error_set(err, 0, "blob %s: HTTP %ld from %s", x->d->digest, code, x->url);
}

static int init_xfer(struct xfer *x, struct img_reg *r, const struct img_desc *d, size_t index,
		     const struct img_fetch_hooks *hk, struct sup_error **err)
{
	memset(x, 0, sizeof(*x));
	x->r = r;
	x->d = d;
	x->index = index;
	x->part.fd = -1;
	x->hk = hk;
	x->easy = curl_easy_init();
	if (!x->easy || asprintf(&x->url, "%s/v2/%s/blobs/%s", r->base, r->repo, d->digest) < 0) {
		x->url = NULL;
		return sup_error_set(err, ENOMEM, "blob transfer");
	}
	return 0;
}

static void free_xfer(struct xfer *x, CURLM *m)
{
	if (x->easy) {
		if (x->state == X_ACTIVE)
			curl_multi_remove_handle(m, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->hdrs);
	free(x->url);
	img_hasher_free(&x->h);
	img_store_partial_close(&x->part); /* kept on disk: the next pull resumes it */
}

/* Start what may start now; returns how long until a waiting transfer is due (ms). */
static long launch(struct xfer *xs, size_t n, CURLM *m, struct img_store *s, size_t *active,
		   struct sup_error **err)
{
	uint64_t now = now_usec(), next = UINT64_MAX;

	for (size_t i = 0; i < n && !*err; i++) {
		struct xfer *x = &xs[i];
		if (x->state == X_WAIT && x->due > now) {
			next = x->due < next ? x->due : next;
			continue;
		}
		if ((x->state != X_QUEUED && x->state != X_WAIT) ||
		    *active >= x->r->set->concurrent)
			continue;
		if (!x->opened) {
			int r = open_partial(x, s, err);
			if (r == 2) {
				/* another pull has it: look again shortly */
				x->state = X_WAIT;
				x->due = now + 100000;
				next = x->due < next ? x->due : next;
				if (!x->waiting)
					progress(x, 0, "waiting");
				x->waiting = true;
				continue;
			}
			if (r == 1) {
				progress(x, x->d->size, "exists");
				committed(x, err);
				continue;
			}
			if (r < 0)
				break;
			/* a partial that is already whole needs no request */
			if (x->part.have == x->d->size) {
				finish(x, s, err);
				continue;
			}
		}
		if (start(x, m, err) == 0)
			(*active)++;
	}
	if (next == UINT64_MAX)
		return 1000;
	return (long)((next - now) / 1000) + 1;
}

static bool all_done(const struct xfer *xs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (xs[i].state != X_DONE)
			return false;
	return true;
}

/* Wait for the downloads and the caller's fds together. */
static void wait_any(CURLM *m, const struct img_fetch_hooks *hk, long wait_ms)
{
	struct curl_waitfd w[IMG_WAITFDS_MAX];
	int fds[IMG_WAITFDS_MAX];
	size_t k = hk && hk->fds ? hk->fds(hk->ctx, fds, IMG_WAITFDS_MAX) : 0;

	for (size_t i = 0; i < k; i++)
		w[i] = (struct curl_waitfd){.fd = fds[i], .events = CURL_WAIT_POLLIN};
	curl_multi_poll(m, w, (unsigned)k, (int)(wait_ms > 1000 ? 1000 : wait_ms), NULL);
}

int img_reg_fetch_blobs(struct img_reg *r, struct img_store *s, const struct img_desc *descs,
			size_t n, const struct img_fetch_hooks *hooks, struct sup_error **err)
{
	CURLM *m = curl_multi_init();
	struct xfer *xs = calloc(n ? n : 1, sizeof(*xs));
	size_t active = 0;
	int running = 0;

	if (!m || !xs) {
		sup_error_set(err, ENOMEM, "blob downloads");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (init_xfer(&xs[i], r, &descs[i], i, hooks, err) < 0)
			goto out;
		/* the same blob twice (repeated empty layers are common): fetched once; a second
		 * transfer would wait forever on the first one's lock on the partial */
		for (size_t k = 0; k < i; k++)
			if (!strcmp(descs[k].digest, descs[i].digest))
				xs[i].state = X_DONE;
	}
	while (!*err && !all_done(xs, n)) {
		long wait = launch(xs, n, m, s, &active, err);
		CURLMsg *msg;
		int left;
		if (*err)
			break;
		curl_multi_perform(m, &running);
		while (!*err && (msg = curl_multi_info_read(m, &left))) {
			struct xfer *x = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			curl_multi_remove_handle(m, x->easy);
			active--;
			x->state = X_QUEUED;
			complete(x, s, msg->data.result, err);
		}
		if (!*err && !all_done(xs, n))
			wait_any(m, hooks, wait);
		if (!*err && hooks && hooks->service)
			hooks->service(hooks->ctx, err);
	}
out:
	for (size_t i = 0; xs && i < n; i++)
		free_xfer(&xs[i], m);
	free(xs);
	if (m)
		curl_multi_cleanup(m);
	return *err ? -1 : 0;
}
