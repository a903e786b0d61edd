/* EnvironmentFile= reading, done in the spawned child (never in supd's loop). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "envfile.h"

static bool valid_key(const char *k, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)k[0]) || k[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)k[i]) || k[i] == '_'))
			return false;
	return true;
}

/* Strip one level of matching quotes; "..." honours \" and \\. */
static char *unquote(const char *v)
{
	size_t n = strlen(v);
	char *out, *o;

	if (n < 2 || (v[0] != '"' && v[0] != '\'') || v[n - 1] != v[0])
		return strdup(v);
	out = o = malloc(n);
	if (!out)
		return NULL;
	for (size_t i = 1; i < n - 1; i++) {
		if (v[0] == '"' && v[i] == '\\' && i + 1 < n - 1)
			i++;
		*o++ = v[i];
	}
	*o = '\0';
	return out;
}

int envfile_parse_line(const char *line, char **key, char **value)
{
	const char *eq, *k;
	size_t klen, vlen;
	_cleanup_free_ char *raw = NULL;

	while (isspace((unsigned char)*line))
		line++;
	if (!*line || *line == '#' || *line == ';')
		return 0;
	if (strncmp(line, "export ", 7) == 0)
		line += 7;
	k = line;
	eq = strchr(k, '=');
	if (!eq)
		return -1;
	klen = eq - k;
	while (klen && isspace((unsigned char)k[klen - 1]))
		klen--;
	if (!valid_key(k, klen))
		return -1;
	eq++;
	while (isspace((unsigned char)*eq))
		eq++;
	vlen = strlen(eq);
	while (vlen && isspace((unsigned char)eq[vlen - 1]))
		vlen--;
	raw = strndup(eq, vlen);
	*key = strndup(k, klen);
	*value = raw ? unquote(raw) : NULL;
	if (!*key || !*value) {
		free(*key);
		free(*value);
		return -1;
	}
	return 1;
}

#define ENVFILE_MAX (1 << 20)

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m)    ? "a directory"
	       : S_ISFIFO(m) ? "a FIFO"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	       : S_ISSOCK(m) ? "a socket"
			     : "not a regular file";
}

/* The file, opened for reading: 0 with *out, 1 if it does not exist, -1 with *err. Only a
 * regular file of at most ENVFILE_MAX bytes: /dev/zero (endless), a FIFO (an open or a read
 * that never returns) and a directory are refused, saying what they are. */
static int open_envfile(const char *path, FILE **out, struct sup_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), e;
	struct stat st;

	*out = NULL;
	if (fd < 0)
		return errno == ENOENT ? 1 : sup_error_set(err, errno, "EnvironmentFile=%s", path);
	if (fstat(fd, &st) < 0)
		e = sup_error_set(err, errno, "EnvironmentFile=%s", path);
	else if (!S_ISREG(st.st_mode))
		e = sup_error_set(err, 0,
				  "EnvironmentFile=%s: %s; allowed: a file of KEY=value lines",
				  path, file_kind(st.st_mode));
	else if (st.st_size > ENVFILE_MAX)
		e = sup_error_set(err, 0, "EnvironmentFile=%s: %lld bytes; allowed: at most 1 MiB",
				  path, (long long)st.st_size);
	else if (!(*out = fdopen(fd, "re")))
		e = sup_error_set(err, errno, "EnvironmentFile=%s", path);
	else
		return 0;
	close(fd);
	return e;
}

static int apply_file(const char *path, bool optional, struct sup_error **err)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, total = 0;
	unsigned lineno = 0;
	ssize_t n;
	int r = open_envfile(path, &f, err);

	if (r < 0 || (r > 0 && optional))
		return r < 0 ? -1 : 0;
	if (r > 0)
		return sup_error_set(err, ENOENT, "EnvironmentFile=%s", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *key = NULL, *value = NULL;

		if ((total += (size_t)n) > ENVFILE_MAX) /* it grew since the check */
			return sup_error_set(err, 0, "EnvironmentFile=%s: over 1 MiB", path);
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		r = envfile_parse_line(line, &key, &value);
		if (r < 0)
			return sup_error_set(err, 0, "%s:%u: not a KEY=value line", path, lineno);
		if (r > 0)
			setenv(key, value, 1);
		free(key);
		free(value);
	}
	return 0;
}

int envfile_apply(const struct strv *files, struct sup_error **err)
{
	for (size_t i = 0; i < files->n; i++) {
		const char *p = files->v[i];
		bool optional = p[0] == '-';

		if (apply_file(optional ? p + 1 : p, optional, err) < 0)
			return -1;
	}
	return 0;
}
