/*
 * Image references, as Docker and the distribution project read them:
 * [registry[:port]/]repo[:tag][@sha256:hex]. A first component is a registry only when it
 * holds a '.' or a ':' or is "localhost" (or an [ipv6] literal); otherwise the image is on
 * Docker Hub, whose single-component names live under library/. Pure: no I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "sup/image.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN  128

bool img_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != IMG_DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	return true;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t len = j - i;
		bool ok = (len == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-')) ||
			  (len == 2 && s[i] == '_' && s[i + 1] == '_') || strspn(s + i, "-") >= len;
		if (!ok)
			return false;
		i = j;
	}
	return true;
}

static bool repo_valid(const char *repo)
{
	const char *p = repo;

	if (strlen(repo) > NAME_MAX_LEN)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!component_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TAG_MAX_LEN || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

static bool port_valid(const char *p)
{
	size_t n = strspn(p, "0123456789");
	return n > 0 && n <= 5 && p[n] == '\0' && atoi(p) <= 65535;
}

static bool registry_valid(const char *r)
{
	const char *port = NULL;

	if (r[0] == '[') {
		const char *close = strchr(r, ']');
		char addr[64];
		struct in6_addr a6;
		if (!close || (size_t)(close - r - 1) >= sizeof(addr))
			return false;
		snprintf(addr, sizeof(addr), "%.*s", (int)(close - r - 1), r + 1);
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return false;
		if (close[1] == '\0')
			return true;
		return close[1] == ':' && port_valid(close + 2);
	}
	port = strchr(r, ':');
	size_t hn = port ? (size_t)(port - r) : strlen(r);
	if (hn == 0 || hn > 253 || r[0] == '-' || r[0] == '.')
		return false;
	for (size_t i = 0; i < hn; i++)
		if (!isalnum((unsigned char)r[i]) && r[i] != '.' && r[i] != '-')
			return false;
	return !port || port_valid(port + 1);
}

/* Does the first component name a registry? */
static bool looks_like_registry(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !memcmp(s, "localhost", 9)) ||
	       (n > 0 && s[0] == '[');
}

static int split_name(char *name, struct img_ref *ref, struct sup_error **err)
{
	char *slash = strchr(name, '/');
	const char *repo = name;

	if (slash && looks_like_registry(name, (size_t)(slash - name))) {
		*slash = '\0';
		if (!registry_valid(name))
			return sup_error_set(err, 0, "invalid registry name \"%s\"", name);
		ref->registry = strdup(strcmp(name, "index.docker.io") ? name : IMG_DOCKER_HUB);
		repo = slash + 1;
	} else {
		ref->registry = strdup(IMG_DOCKER_HUB);
	}
	if (!ref->registry)
		return sup_error_set(err, ENOMEM, "image reference");
	if (!strcmp(ref->registry, IMG_DOCKER_HUB) && !strchr(repo, '/')) {
		if (asprintf(&ref->repo, "library/%s", repo) < 0)
			ref->repo = NULL;
	} else {
		ref->repo = strdup(repo);
	}
	if (!ref->repo)
		return sup_error_set(err, ENOMEM, "image reference");
	if (!repo_valid(ref->repo))
		return sup_error_set(
		    err, 0,
		    "invalid repository name \"%s\" (lower-case letters, digits and "
		    "separators . _ __ - between components)",
		    repo);
	return 0;
}

int img_ref_parse(const char *s, struct img_ref *ref, struct sup_error **err)
{
	_cleanup_free_ char *name = NULL;
	char *at, *colon, *slash;

	memset(ref, 0, sizeof(*ref));
	if (!s || !*s || strlen(s) > 4096)
		return sup_error_set(err, 0, "empty or over-long image reference");
	name = strdup(s);
	if (!name)
		return sup_error_set(err, ENOMEM, "image reference");
	at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!img_digest_valid(at + 1))
			return sup_error_set(err, 0,
					     "\"%s\": a pinned digest must be sha256: and 64 "
					     "lower-case hex digits",
					     s);
		ref->digest = strdup(at + 1);
	}
	slash = strrchr(name, '/');
	colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash) && !(colon > name && colon[-1] == ']')) {
		*colon = '\0';
		if (!tag_valid(colon + 1)) {
			sup_error_set(err, 0, "\"%s\": invalid tag \"%s\"", s, colon + 1);
			goto fail;
		}
		ref->tag = strdup(colon + 1);
	} else if (!ref->digest) {
		ref->tag = strdup("latest");
	}
	if (split_name(name, ref, err) < 0) {
		sup_error_wrap(err, "image reference \"%s\"", s);
		goto fail;
	}
	return 0;
fail:
	img_ref_free(ref);
	return -1;
}

void img_ref_free(struct img_ref *ref)
{
	free(ref->registry);
	free(ref->repo);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

char *img_ref_string(const struct img_ref *ref)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s%s%s%s%s", ref->registry, ref->repo, ref->tag ? ":" : "",
		     ref->tag ? ref->tag : "", ref->digest ? "@" : "",
		     ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}

const char *img_ref_api_host(const struct img_ref *ref)
{
	return strcmp(ref->registry, IMG_DOCKER_HUB) ? ref->registry : IMG_DOCKER_HUB_API;
}

bool img_host_is_loopback(const char *hostport)
{
	char host[256];
	struct in_addr a4;
	struct in6_addr a6;
	const char *end;

	if (hostport[0] == '[') {
		end = strchr(hostport, ']');
		if (!end)
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(end - hostport - 1), hostport + 1);
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	end = strchr(hostport, ':');
	if (snprintf(host, sizeof(host), "%.*s",
		     (int)(end ? end - hostport : (long)strlen(hostport)),
		     hostport) >= (int)sizeof(host))
		return false;
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}
