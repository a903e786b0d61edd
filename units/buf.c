/* Growing message buffer for the parser's problem list. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

static bool reserve(struct unit_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	if (more > SIZE_MAX / 4 - b->len) {
		b->failed = true;
		return false;
	}
	cap = b->cap ? b->cap : 128;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void unit_buf_printf(struct unit_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n)) {
		b->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void unit_buf_escape(struct unit_buf *b, const char *s, size_t max)
{
	size_t n = strlen(s);
	bool cut = n > max;

	if (cut)
		n = max;
	if (!reserve(b, n * 4 + 3))
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			b->len += (size_t)sprintf(b->p + b->len, "\\x%02x", ch);
		else
			b->p[b->len++] = (char)ch;
	}
	if (cut)
		b->len += (size_t)sprintf(b->p + b->len, "...");
	b->p[b->len] = '\0';
}

void unit_buf_quote(struct unit_buf *b, const char *s)
{
	unit_buf_printf(b, "'");
	unit_buf_escape(b, s, 60);
	unit_buf_printf(b, "'");
}

void unit_buf_free(struct unit_buf *b)
{
	free(b->p);
	*b = (struct unit_buf){0};
}

void unit_buf_append(struct unit_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
