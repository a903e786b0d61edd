/* EnvironmentFile= reading, done in the spawned child (never in supd's loop). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int apply_file(const char *path, bool optional, struct sup_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;

	if (!f) {
		if (optional && errno == ENOENT)
			return 0;
		return sup_error_set(err, errno, "EnvironmentFile=%s", path);
	}
	while (getline(&line, &cap, f) >= 0) {
		char *key = NULL, *value = NULL;
		int r;

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
