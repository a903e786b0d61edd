/*
 * The mountinfo parser. A line is
 *   ID PARENT MAJ:MIN ROOT TARGET MNT_OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTS
 * with octal escapes in the paths. The file is read whole (it can be large: a machine with
 * thousands of mounts), so no line is ever cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "sup/mountinfo.h"

/* Decode \NNN octal escapes in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void mount_free(struct sup_mount *e)
{
	free(e->root);
	free(e->target);
	free(e->mnt_opts);
	free(e->fstype);
	free(e->source);
	free(e->super_opts);
}

/* Split line (written to) into fields; returns the count, at most max. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t && n < max; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	return n;
}

/* 1 parsed, 0 skipped, -1 ENOMEM. */
static int parse_line(char *line, struct sup_mount *e)
{
	char *f[64], *g[3] = {NULL, NULL, NULL}, *sep = strstr(line, " - ");
	size_t n, k;

	if (!sep)
		return 0;
	*sep = '\0';
	n = split(line, f, 64);
	k = split(sep + 3, g, 3);
	if (n < 6 || k < 2)
		return 0;
	memset(e, 0, sizeof(*e));
	if (sscanf(f[0], "%u", &e->id) != 1 || sscanf(f[1], "%u", &e->parent_id) != 1 ||
	    sscanf(f[2], "%u:%u", &e->major, &e->minor) != 2)
		return 0;
	unescape(f[3]);
	unescape(f[4]);
	unescape(g[1]);
	e->root = strdup(f[3]);
	e->target = strdup(f[4]);
	e->mnt_opts = strdup(f[5]);
	e->fstype = strdup(g[0]);
	e->source = strdup(g[1]);
	e->super_opts = strdup(k > 2 ? g[2] : "");
	if (!e->root || !e->target || !e->mnt_opts || !e->fstype || !e->source || !e->super_opts) {
		mount_free(e);
		return -1;
	}
	return 1;
}

int sup_mounts_parse(const char *text, size_t len, struct sup_mounts *m, struct sup_error **err)
{
	size_t cap = 0;

	*m = (struct sup_mounts){0};
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		_cleanup_free_ char *line = strndup(text + pos, n);
		struct sup_mount e;
		int r;

		pos += n + (nl != NULL);
		if (!line)
			goto oom;
		r = parse_line(line, &e);
		if (r < 0)
			goto oom;
		if (r == 0)
			continue;
		if (m->n == cap) {
			struct sup_mount *v = reallocarray(m->v, cap ? cap * 2 : 32, sizeof(*v));
			if (!v) {
				mount_free(&e);
				goto oom;
			}
			m->v = v;
			cap = cap ? cap * 2 : 32;
		}
		m->v[m->n++] = e;
	}
	return 0;
oom:
	sup_mounts_free(m);
	return sup_error_set(err, ENOMEM, "parse mountinfo");
}

int sup_mounts_read(const char *path, struct sup_mounts *m, struct sup_error **err)
{
	const char *p = path ? path : "/proc/self/mountinfo";
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	*m = (struct sup_mounts){0};
	if (fd < 0)
		return sup_error_set(err, errno, "open %s", p);
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 16384);
			if (!nb)
				return sup_error_set(err, ENOMEM, "read %s", p);
			buf = nb;
			cap = cap ? cap * 2 : 16384;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sup_error_set(err, errno, "read %s", p);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return sup_mounts_parse(buf, len, m, err);
}

void sup_mounts_free(struct sup_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		mount_free(&m->v[i]);
	free(m->v);
	*m = (struct sup_mounts){0};
}

const struct sup_mount *sup_mounts_at(const struct sup_mounts *m, const char *target)
{
	for (size_t i = m->n; i-- > 0;)
		if (strcmp(m->v[i].target, target) == 0)
			return &m->v[i];
	return NULL;
}

bool sup_is_mountpoint(const char *target)
{
	struct sup_mounts m;
	struct sup_error *err = NULL;
	bool found;

	if (sup_mounts_read(NULL, &m, &err) < 0) {
		sup_error_free(err);
		return false;
	}
	found = sup_mounts_at(&m, target) != NULL;
	sup_mounts_free(&m);
	return found;
}

bool sup_list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}
