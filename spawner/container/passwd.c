/*
 * User=/Group= of a container, from its own /etc/passwd and /etc/group, read after
 * pivot_root: never through NSS, which would load modules from the image into a process that
 * still holds every capability. A number not in the files is taken as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"

static bool parse_num(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return *s && !*end && !errno && *v < 0xffffffffUL;
}

/* Split line at ':' into at most max fields (the newline cut). The number of fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\n")] = '\0';
	for (char *p = line; n < max; p++) {
		f[n++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p = '\0';
	}
	return n;
}

static bool matches(const char *name, unsigned long id, const char *want)
{
	unsigned long w;

	return strcmp(name, want) == 0 || (parse_num(want, &w) && w == id);
}

/* name:x:uid:gid:gecos:home:shell */
static bool find_user(FILE *f, const char *want, struct ct_ids *ids, gid_t *gid)
{
	char line[1024], *fl[7];
	unsigned long u, g;

	while (fgets(line, sizeof(line), f)) {
		if (split(line, fl, 7) < 7 || !parse_num(fl[2], &u) || !matches(fl[0], u, want))
			continue;
		ids->uid = (uid_t)u;
		*gid = parse_num(fl[3], &g) ? (gid_t)g : 0;
		snprintf(ids->name, sizeof(ids->name), "%s", fl[0]);
		snprintf(ids->home, sizeof(ids->home), "%s", fl[5]);
		snprintf(ids->shell, sizeof(ids->shell), "%s", fl[6]);
		return true;
	}
	return false;
}

/* name:x:gid:members: Group= by name or number, and the user's supplementary groups */
static void scan_groups(FILE *f, const char *want, gid_t *gid, bool *found, struct ct_ids *ids)
{
	char line[4096], *fl[4], *save = NULL;
	unsigned long g;

	while (fgets(line, sizeof(line), f)) {
		if (split(line, fl, 4) < 4 || !parse_num(fl[2], &g))
			continue;
		if (want && !*found && matches(fl[0], g, want)) {
			*gid = (gid_t)g;
			*found = true;
		}
		for (char *m = strtok_r(fl[3], ",", &save); m && ids->name[0];
		     m = strtok_r(NULL, ",", &save))
			if (strcmp(m, ids->name) == 0 &&
			    ids->n_groups < (int)(sizeof(ids->groups) / sizeof(ids->groups[0])))
				ids->groups[ids->n_groups++] = (gid_t)g;
	}
}

void ct_resolve_user(int sync, const char *user, const char *group, struct ct_ids *ids)
{
	unsigned long v;
	gid_t gid = 0;
	bool found = false;
	FILE *f;

	memset(ids, 0, sizeof(*ids));
	snprintf(ids->home, sizeof(ids->home), "/");
	if (!user && !group)
		return;
	ids->set = true;
	if (user) {
		f = fopen("/etc/passwd", "re");
		if (!(f && find_user(f, user, ids, &gid))) {
			if (!parse_num(user, &v))
				ct_fail(sync, f ? 0 : errno,
					"User=%s: not in the root's /etc/passwd", user);
			ids->uid = (uid_t)v;
			gid = (gid_t)v;
		}
		if (f)
			fclose(f);
	}
	f = fopen("/etc/group", "re");
	if (f)
		scan_groups(f, group, &gid, &found, ids);
	if (f)
		fclose(f);
	if (group && !found) {
		if (!parse_num(group, &v))
			ct_fail(sync, 0, "Group=%s: not in the root's /etc/group", group);
		gid = (gid_t)v;
	}
	ids->gid = gid;
}
