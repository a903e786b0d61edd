/* WWW-Authenticate challenges and Retry-After values: header text into numbers. Pure. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"

/* A quoted-string or a token starting at *p; advances *p. */
static char *param_value(const char **p)
{
	const char *s = *p;
	char *out, *o;

	if (*s != '"') {
		size_t n = strcspn(s, ", \t");
		*p = s + n;
		return strndup(s, n);
	}
	out = o = malloc(strlen(s) + 1);
	if (!out)
		return NULL;
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && s[1])
			s++;
		*o++ = *s;
	}
	*o = '\0';
	*p = *s == '"' ? s + 1 : s;
	return out;
}

static char **param_slot(struct img_challenge *c, const char *name, size_t n)
{
	if (n == 5 && !strncasecmp(name, "realm", 5))
		return &c->realm;
	if (n == 7 && !strncasecmp(name, "service", 7))
		return &c->service;
	if (n == 5 && !strncasecmp(name, "scope", 5))
		return &c->scope;
	if (n == 5 && !strncasecmp(name, "error", 5))
		return &c->error;
	return NULL;
}

int img_challenge_parse(const char *hdr, struct img_challenge *c, struct sup_error **err)
{
	const char *p = hdr + strspn(hdr, " \t");
	size_t n = strcspn(p, " \t");

	memset(c, 0, sizeof(*c));
	if (n == 0 || n >= sizeof(c->scheme))
		return sup_error_set(err, 0, "WWW-Authenticate: no scheme in \"%.80s\"", hdr);
	memcpy(c->scheme, p, n);
	p += n;
	while (*p) {
		const char *name;
		size_t nl;
		char **slot, *v;
		p += strspn(p, " \t,");
		name = p;
		nl = strcspn(p, "= \t,");
		if (nl == 0 || p[nl] != '=')
			break; /* next challenge or garbage: the first one is enough */
		p += nl + 1;
		v = param_value(&p);
		if (!v) {
			img_challenge_free(c);
			return sup_error_set(err, ENOMEM, "WWW-Authenticate");
		}
		slot = param_slot(c, name, nl);
		if (slot && !*slot)
			*slot = v;
		else
			free(v);
	}
	if (!strcasecmp(c->scheme, "Bearer") && (!c->realm || !*c->realm)) {
		img_challenge_free(c);
		return sup_error_set(err, 0, "WWW-Authenticate: Bearer challenge without a realm");
	}
	return 0;
}

void img_challenge_free(struct img_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

#define RETRY_AFTER_MAX_USEC (600ull * 1000000)

uint64_t img_retry_after_usec(const char *v, time_t now)
{
	struct tm tm = {0};
	char *end;
	uint64_t usec;

	if (!v)
		return 0;
	while (isspace((unsigned char)*v))
		v++;
	if (isdigit((unsigned char)*v)) {
		unsigned long long s = strtoull(v, &end, 10);
		if (*end && !isspace((unsigned char)*end))
			return 0;
		usec = s > RETRY_AFTER_MAX_USEC / 1000000 ? RETRY_AFTER_MAX_USEC : s * 1000000;
		return usec;
	}
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return 0;
	time_t t = timegm(&tm);
	if (t <= now)
		return 0;
	usec = (uint64_t)(t - now) * 1000000;
	return usec > RETRY_AFTER_MAX_USEC ? RETRY_AFTER_MAX_USEC : usec;
}
