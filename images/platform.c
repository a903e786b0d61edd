/*
 * Platforms (os/arch/variant) and the choice of one manifest out of an index or manifest list.
 * Names follow the OCI image spec's GOOS/GOARCH values; the usual uname and Debian spellings
 * are mapped onto them. Pure: no I/O.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "sup/image.h"
#include "manifest.h"

struct arch_alias {
	const char *name, *arch, *variant;
};

static const struct arch_alias aliases[] = {
    {"x86_64", "amd64", ""}, {"x86-64", "amd64", ""},	{"aarch64", "arm64", ""},
    {"armhf", "arm", "v7"},  {"armel", "arm", "v6"},	{"armv7l", "arm", "v7"},
    {"armv6l", "arm", "v6"}, {"armv5tel", "arm", "v5"}, {"i386", "386", ""},
    {"i686", "386", ""},     {"x86", "386", ""},
};

static int set(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!((dst[i] >= 'a' && dst[i] <= 'z') || (dst[i] >= '0' && dst[i] <= '9') ||
		      dst[i] == '_' || dst[i] == '-'))
			return -1;
	return 0;
}

static void normalise(struct img_platform *p)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(p->arch, aliases[i].name) != 0)
			continue;
		snprintf(p->arch, sizeof(p->arch), "%s", aliases[i].arch);
		if (!p->variant[0])
			snprintf(p->variant, sizeof(p->variant), "%s", aliases[i].variant);
		break;
	}
	/* the defaults the OCI tools assume */
	if (!strcmp(p->arch, "arm") && !p->variant[0])
		snprintf(p->variant, sizeof(p->variant), "v7");
	if (!strcmp(p->arch, "arm64") && !strcmp(p->variant, "v8"))
		p->variant[0] = '\0';
}

static bool os_known(const char *s, size_t n)
{
	static const char *const oses[] = {"linux",   "windows", "freebsd", "darwin",  "netbsd",
					   "openbsd", "solaris", "illumos", "android", "unknown"};

	for (size_t i = 0; i < sizeof(oses) / sizeof(oses[0]); i++)
		if (strlen(oses[i]) == n && !memcmp(oses[i], s, n))
			return true;
	return false;
}

int img_platform_parse(const char *s, struct img_platform *p, struct sup_error **err)
{
	const char *parts[3] = {0};
	size_t lens[3] = {0}, n = 0;
	const char *q = s;

	memset(p, 0, sizeof(*p));
	while (n < 3) {
		const char *slash = strchr(q, '/');
		parts[n] = q;
		lens[n++] = slash ? (size_t)(slash - q) : strlen(q);
		if (!slash)
			break;
		q = slash + 1;
		if (n == 3)
			goto bad;
	}
	/* "arch" or "arch/variant" mean linux; "linux/arch" names the os */
	size_t first = n == 3 || (n == 2 && os_known(parts[0], lens[0])) ? 1 : 0;
	if (set(p->os, sizeof(p->os), first ? parts[0] : "linux", first ? lens[0] : 5) < 0 ||
	    set(p->arch, sizeof(p->arch), parts[first], lens[first]) < 0 || !p->arch[0] ||
	    (n > first + 1 &&
	     set(p->variant, sizeof(p->variant), parts[first + 1], lens[first + 1]) < 0))
		goto bad;
	normalise(p);
	return 0;
bad:
	return sup_error_set(err, 0,
			     "invalid platform \"%s\" (os/arch[/variant], e.g. linux/amd64, "
			     "linux/arm64, linux/arm/v7)",
			     s);
}

void img_platform_host(struct img_platform *p)
{
	struct utsname u;

	memset(p, 0, sizeof(*p));
	snprintf(p->os, sizeof(p->os), "linux");
	if (uname(&u) == 0)
		snprintf(p->arch, sizeof(p->arch), "%.*s", (int)sizeof(p->arch) - 1, u.machine);
	normalise(p);
}

const char *img_platform_format(const struct img_platform *p, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
	return buf;
}

/* How well does a manifest's platform suit the wanted one: 0 not at all, higher is better.
 * An arm/v7 machine also runs v6 and v5 code, preferring the closest. */
int img_platform_score(const struct img_platform *want, const struct img_platform *have)
{
	struct img_platform h = *have;

	normalise(&h);
	if (strcmp(want->os, h.os) != 0 || strcmp(want->arch, h.arch) != 0)
		return 0;
	if (!strcmp(want->variant, h.variant))
		return 100;
	if (!strcmp(h.arch, "arm") && h.variant[0] == 'v' && want->variant[0] == 'v') {
		int w = want->variant[1] - '0', g = h.variant[1] - '0';
		return g >= 5 && g < w ? 50 + g : 0;
	}
	if (!strcmp(h.arch, "amd64") && (!strcmp(h.variant, "v1") || !h.variant[0]))
		return 90;
	return 0;
}

/* Attestation manifests (BuildKit's provenance, SBOMs) are listed as unknown/unknown. */
static bool is_attestation(const struct img_desc *d)
{
	return !strcmp(d->platform.os, "unknown") || !strcmp(d->platform.arch, "unknown") ||
	       d->attestation;
}

int img_index_select(const struct img_manifest *idx, const struct img_platform *want,
		     size_t *chosen, struct sup_error **err)
{
	int best = 0;
	char buf[96];

	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct img_desc *d = &idx->manifests[i];
		int score;
		if (!d->has_platform || is_attestation(d) ||
		    (d->kind != IMG_KIND_MANIFEST && d->kind != IMG_KIND_INDEX))
			continue;
		score = img_platform_score(want, &d->platform);
		if (score > best) {
			best = score;
			*chosen = i;
		}
	}
	if (best)
		return 0;
	return sup_error_set(err, 0, "no manifest for platform %s in the index (%zu entries)",
			     img_platform_format(want, buf, sizeof(buf)), idx->n_manifests);
}
