/* NULL-terminated string vectors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sup/strv.h"

int strv_push_take(struct strv *sv, char *s)
{
	char **v;

	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	/* one realloc per push keeps no hidden capacity field: any strv built by hand stays valid
	 */
	v = reallocarray(sv->v, sv->n + 2, sizeof(*v));
	if (!v) {
		free(s);
		errno = ENOMEM;
		return -1;
	}
	v[sv->n++] = s;
	v[sv->n] = NULL;
	sv->v = v;
	return 0;
}

int strv_push(struct strv *sv, const char *s)
{
	return strv_push_take(sv, strdup(s));
}

void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

bool strv_equal(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

bool strv_contains(const struct strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

/* dst is overwritten, not freed: pass an empty or uninitialised one. On failure dst is empty. */
int strv_copy(struct strv *dst, const struct strv *src)
{
	struct strv tmp = {0};

	for (size_t i = 0; i < src->n; i++)
		if (strv_push(&tmp, src->v[i]) < 0) {
			strv_free(&tmp);
			*dst = tmp;
			return -1;
		}
	*dst = tmp;
	return 0;
}

char *strv_join(const struct strv *sv, const char *sep)
{
	size_t seplen = strlen(sep), len = 1;
	char *out, *p;

	for (size_t i = 0; i < sv->n; i++)
		len += strlen(sv->v[i]) + (i ? seplen : 0);
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	for (size_t i = 0; i < sv->n; i++) {
		if (i)
			p = mempcpy(p, sep, seplen);
		p = stpcpy(p, sv->v[i]);
	}
	*p = '\0';
	return out;
}

int strv_env_set(struct strv *env, const char *assignment)
{
	size_t klen = strcspn(assignment, "=");

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], assignment, klen) == 0 && env->v[i][klen] == '=') {
			char *dup = strdup(assignment);
			if (!dup)
				return -1;
			free(env->v[i]);
			env->v[i] = dup;
			return 0;
		}
	return strv_push(env, assignment);
}
