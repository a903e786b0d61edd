/* NULL-terminated string vectors. */
#ifndef SUP_STRV_H
#define SUP_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct strv {
	char **v; /* NULL-terminated, or NULL when empty */
	size_t n;
};

/* Append a copy of s. Returns 0, or -1 with errno = ENOMEM. */
int strv_push(struct strv *sv, const char *s);
/* Append s, taking ownership. */
int strv_push_take(struct strv *sv, char *s);
void strv_free(struct strv *sv);
bool strv_equal(const struct strv *a, const struct strv *b);
bool strv_contains(const struct strv *sv, const char *s);
int strv_copy(struct strv *dst, const struct strv *src);
/* An environment: set KEY=value (a copy of assignment), replacing an earlier KEY. 0 or -1. */
int strv_env_set(struct strv *env, const char *assignment);
/* Join with sep into a new string (NULL on ENOMEM). */
char *strv_join(const struct strv *sv, const char *sep);

#endif
