/* A directory of units: every NAME.unit read (at most 1 MiB) and parsed, sorted by name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unit_private.h"

static int read_all(int fd, const char *shown, size_t cap, char **text, size_t *len,
		    struct sup_error **err)
{
	_cleanup_free_ char *buf = malloc(cap);
	size_t n = 0;

	if (!buf)
		return sup_error_set(err, ENOMEM, "read %s", shown);
	for (;;) {
		ssize_t r;
		if (n == cap) {
			char *p;
			if (cap > UNIT_FILE_MAX)
				return sup_error_set(err, 0, "%s: larger than 1 MiB; allowed: %s",
						     shown, "a unit file of at most 1 MiB");
			cap = cap * 2 > UNIT_FILE_MAX + 1 ? UNIT_FILE_MAX + 1 : cap * 2;
			p = realloc(buf, cap);
			if (!p)
				return sup_error_set(err, ENOMEM, "read %s", shown);
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sup_error_set(err, errno, "read %s", shown);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*text = sup_steal_ptr(buf);
	*len = n;
	return 0;
}

int unit_read_file(int dirfd, const char *path, const char *shown, char **text, size_t *len,
		   struct sup_error **err)
{
	/* O_NONBLOCK: a FIFO named like a unit must not hang the loader */
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	*text = NULL;
	if (fd < 0)
		return sup_error_set(err, errno, "open %s", shown);
	if (fstat(fd, &st) < 0)
		return sup_error_set(err, errno, "stat %s", shown);
	if (!S_ISREG(st.st_mode))
		return sup_error_set(err, 0, "%s: not a regular file; allowed: a unit file", shown);
	if (st.st_size > UNIT_FILE_MAX)
		return sup_error_set(err, 0,
				     "%s: %lld bytes; allowed: a unit file of at most 1 MiB", shown,
				     (long long)st.st_size);
	return read_all(fd, shown, (size_t)st.st_size + 1, text, len, err);
}

/* Read and parse one file into e; only running out of memory is an error of the whole load. */
static int load_entry(int dirfd, const char *dir, const char *file, struct unit_entry *e,
		      struct sup_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct sup_error *uerr = NULL;
	size_t len;

	if (asprintf(&path, "%s/%s", dir, file) < 0) {
		path = NULL;
		return sup_error_set(err, ENOMEM, "load %s/%s", dir, file);
	}
	if (unit_read_file(dirfd, file, path, &text, &len, &uerr) == 0)
		unit_parse_string(e->name, path, text, len, &e->config, &uerr);
	if (uerr) {
		if (uerr->errnum == ENOMEM) {
			sup_error_free(uerr);
			return sup_error_set(err, ENOMEM, "load %s", path);
		}
		e->error = strdup(uerr->msg);
		sup_error_free(uerr);
		if (!e->error)
			return sup_error_set(err, ENOMEM, "load %s", path);
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct unit_entry *)a)->name, ((const struct unit_entry *)b)->name);
}

static int add_name(struct unit_set *set, size_t *cap, const char *dir, const char *file,
		    const char *name, struct sup_error **err)
{
	struct unit_entry *e;

	if (set->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct unit_entry *v = reallocarray(set->v, ncap, sizeof(*v));
		if (!v)
			return sup_error_set(err, ENOMEM, "load %s", dir);
		set->v = v;
		*cap = ncap;
	}
	e = &set->v[set->n];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, name);
	e->file = strdup(file);
	if (!e->file)
		return sup_error_set(err, ENOMEM, "load %s", dir);
	set->n++;
	return 0;
}

int unit_set_scan(const char *dir, struct unit_set *set, struct sup_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	char name[UNIT_NAME_MAX + 1];
	struct dirent *de;
	size_t cap = 0;

	*set = (struct unit_set){0};
	if (!d)
		return sup_error_set(err, errno, "open units directory %s", dir);
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (!unit_name_from_file(de->d_name, name))
			continue;
		if (add_name(set, &cap, dir, de->d_name, name, err) < 0) {
			unit_set_free(set);
			return -1;
		}
	}
	if (errno) {
		unit_set_free(set);
		return sup_error_set(err, errno, "read units directory %s", dir);
	}
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), entry_cmp);
	return 0;
}

int unit_set_parse_one(const char *dir, struct unit_set *set, size_t i, struct sup_error **err)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct unit_entry *e = &set->v[i];

	if (dfd < 0) {
		e->error = NULL;
		if (asprintf(&e->error, "open units directory %s: %s", dir, strerror(errno)) < 0)
			return sup_error_set(err, ENOMEM, "load %s", dir);
		return 0;
	}
	return load_entry(dfd, dir, e->file, e, err);
}

int unit_set_load(const char *dir, struct unit_set *set, struct sup_error **err)
{
	if (unit_set_scan(dir, set, err) < 0)
		return -1;
	for (size_t i = 0; i < set->n; i++)
		if (unit_set_parse_one(dir, set, i, err) < 0) {
			unit_set_free(set);
			return -1;
		}
	return 0;
}

void unit_set_free(struct unit_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		unit_config_free(set->v[i].config);
		free(set->v[i].config);
		free(set->v[i].error);
		free(set->v[i].file);
	}
	free(set->v);
	*set = (struct unit_set){0};
}

struct unit_entry *unit_set_find(struct unit_set *set, const char *name)
{
	struct unit_entry key;

	if (!set->n || strlen(name) > UNIT_NAME_MAX)
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, set->v, set->n, sizeof(*set->v), entry_cmp);
}
