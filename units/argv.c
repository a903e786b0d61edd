/* Shell-like word splitting for Exec=, HealthCmd= and Environment=; nothing is expanded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * One word from *s into out (which has room for all of s). Outside quotes '\' takes the next
 * character literally; in "..." only \" and \\ are escapes (as in sh); '...' is literal.
 */
static int next_word(const char **s, char *out, const char **why)
{
	const char *p = *s;
	char quote = 0;

	for (; *p && (quote || !is_space(*p)); p++) {
		if (quote == '\'') {
			if (*p == '\'')
				quote = 0;
			else
				*out++ = *p;
		} else if (quote == '"') {
			if (*p == '"')
				quote = 0;
			else if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				*out++ = *++p;
			else
				*out++ = *p;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '\\') {
			if (!p[1]) {
				*why = "ends with a lone backslash";
				return -1;
			}
			*out++ = *++p;
		} else {
			*out++ = *p;
		}
	}
	if (quote) {
		*why = quote == '"' ? "unterminated double quote" : "unterminated single quote";
		return -1;
	}
	*out = '\0';
	*s = p;
	return 0;
}

/* A word that is exactly an unquoted ';': systemd's separator of command lines. */
static bool is_separator(const char *s)
{
	return s[0] == ';' && (!s[1] || is_space(s[1]));
}

/*
 * Words of *s into a new list; with commands, an unquoted ';' word ends the list and *s is
 * left after it. On failure *why says what is wrong.
 */
static int split(const char **s, bool commands, struct strv *words, const char **why)
{
	const char *p = *s;
	char *buf = malloc(strlen(p) + 1);

	*why = "out of memory";
	if (!buf)
		return -1;
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		if (commands && is_separator(p)) {
			p++;
			break;
		}
		if (next_word(&p, buf, why) < 0 || strv_push(words, buf) < 0) {
			free(buf);
			strv_free(words);
			return -1;
		}
	}
	free(buf);
	*s = p;
	*why = NULL;
	return 0;
}

/* Hand words over to argv; on failure argv is left as it was. */
static int hand_over(struct strv *words, struct strv *argv, const char **why)
{
	for (size_t i = 0; i < words->n; i++)
		if (strv_push_take(argv, words->v[i]) < 0) {
			/* the rest were never handed over */
			for (size_t j = i + 1; j < words->n; j++)
				free(words->v[j]);
			free(words->v);
			while (argv->n > 0 && i-- > 0) {
				free(argv->v[--argv->n]);
				argv->v[argv->n] = NULL;
			}
			*why = "out of memory";
			errno = ENOMEM;
			return -1;
		}
	free(words->v);
	*why = NULL;
	return 0;
}

/* Appends the words to argv; on failure argv is left as it was and *why says what is wrong. */
int unit_parse_argv(const char *s, struct strv *argv, const char **why)
{
	struct strv words = {0};

	if (split(&s, false, &words, why) < 0) {
		errno = strcmp(*why, "out of memory") == 0 ? ENOMEM : EINVAL;
		return -1;
	}
	return hand_over(&words, argv, why);
}

int unit_parse_command(const char **s, struct strv *argv, const char **why)
{
	struct strv words = {0};

	if (split(s, true, &words, why) < 0) {
		errno = strcmp(*why, "out of memory") == 0 ? ENOMEM : EINVAL;
		return -1;
	}
	return hand_over(&words, argv, why);
}
