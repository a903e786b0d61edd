/*
 * The line reader given to inih's ini_parse_stream(). Debian's inih (r55) reads into a
 * 200-byte stack buffer (INI_MAX_LINE; a longer line is cut and its rest parsed as a line
 * of its own), treats an indented line as the continuation of the previous key's value
 * (Python configparser style: "  Restart=no" would become a second value of the key above),
 * cuts a value at an inline comment (';' after whitespace, so ExecStart=sh -c 'a ; b' would
 * end at "'a"; systemd has no inline comments), cuts section names at 50 bytes and does not
 * give the handler line numbers; it calls the reader once per line and the handler for that
 * line before reading the next one. So this reader, per logical line:
 *  - counts physical lines: p->line is the line the handler's assignment started on;
 *  - joins systemd-style continuations (an odd number of trailing '\'), skipping comment
 *    lines inside them, and strips indentation, so an indented line is a line of its own;
 *  - reports, with their line, what inih rejects without saying where: no '=', a section
 *    header without ']', a NUL byte; inih then gets an empty line. inih would also take
 *    "Key: value" (':' as separator), which is reported here as a missing '=';
 *  - handles section headers itself and gives inih the canonical "[Unit]", "[Service]", ...;
 *    keys under an unknown or ignored section are skipped (the header was reported);
 *  - gives inih only "KEY=" and keeps the value, whole, in p->value for the handler: inih
 *    splits sections and keys but never sees a value, so it cannot cut one at " ;" nor at
 *    its buffer size. A key inih could not take (a blank before a ';' in it, or longer than
 *    its buffer) is dispatched here directly, by the same rules.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "unit_private.h"

static bool odd_backslashes(const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && s[n - 1 - k] == '\\')
		k++;
	return k % 2 == 1;
}

/* The next logical line into p->logical, blank and comment lines skipped; false at the end. */
static bool assemble(struct unit_parser *p)
{
	bool cont = false;

	p->logical.len = 0;
	while (p->pos < p->len) {
		const char *s = p->text + p->pos, *nl = memchr(s, '\n', p->len - p->pos);
		size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;
		unsigned long lineno = p->next_line++;

		p->pos += n + (nl != NULL);
		if (memchr(s, '\0', n)) {
			unit_problem(p, lineno, NULL, "the line holds a NUL byte; allowed: text");
			n = 0;
		}
		if (lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
			s += 3; /* UTF-8 byte order mark */
			n -= 3;
		}
		for (; n && isspace((unsigned char)*s); s++, n--)
			;
		for (; n && isspace((unsigned char)s[n - 1]); n--)
			;
		if ((n && (*s == '#' || *s == ';')) || (!cont && n == 0))
			continue;
		if (!cont)
			p->line = lineno;
		if (!odd_backslashes(s, n)) {
			unit_buf_append(&p->logical, s, n);
			return true;
		}
		unit_buf_append(&p->logical, s, n - 1);
		unit_buf_append(&p->logical, " ", 1);
		cont = true;
	}
	return cont;
}

#define SECTIONS "[Unit], [Service], [Resources], [Container], [Install]"

static void section_header(struct unit_parser *p, char *s)
{
	char *end = strchr(s, ']');
	const char *rest = end ? end + 1 + strspn(end + 1, " \t\v\f\r") : NULL;

	p->section = NULL;
	if (!end) {
		unit_problem(p, p->line, s, "no ']' at the end of the section header; allowed: %s",
			     SECTIONS);
		return;
	}
	if (*rest && *rest != '#' && *rest != ';') {
		unit_problem(p, p->line, s, "text after the section header; allowed: %s", SECTIONS);
		return;
	}
	end[1] = '\0';
	*end = '\0';
	p->section = unit_section_lookup(s + 1);
	*end = ']';
	if (p->section && strcmp(p->section, "Container") == 0)
		p->c->ct.enabled = true; /* even empty: a container with the defaults */
	if (p->section)
		return;
	if (strncmp(s + 1, "X-", 2) == 0)
		unit_warning(p, p->line, s,
			     "section ignored, with its keys (X- sections are "
			     "extensions for other tools)");
	else
		unit_problem(p, p->line, s, "unknown section; allowed: %s", SECTIONS);
}

/* Whether inih takes "KEY=" as that key: it fits its buffer, no ';' after a blank in it. */
static bool inih_safe(const char *key, size_t n, size_t num)
{
	for (size_t i = 1; i < n; i++)
		if (key[i] == ';' && isspace((unsigned char)key[i - 1]))
			return false;
	return n + 2 <= num;
}

/* Put in str (num bytes) what inih gets for the logical line s, which may be written to. */
static void classify(struct unit_parser *p, char *s, char *str, size_t num)
{
	char *sep, *value;
	size_t n;

	str[0] = '\0';
	p->value = NULL;
	if (*s == '[') {
		section_header(p, s);
		if (p->section)
			snprintf(str, num, "[%s]", p->section);
		return;
	}
	if (!p->section)
		return; /* under an unknown or ignored section: the header was reported */
	sep = s + strcspn(s, "=:");
	for (n = (size_t)(sep - s); n && isspace((unsigned char)s[n - 1]); n--)
		;
	if (*sep != '=') {
		bool colon = *sep == ':';
		s[n] = '\0';
		unit_problem(p, p->line, s, "missing '='%s; allowed: KEY=VALUE",
			     colon ? " (':' does not separate a key from its value)" : "");
		return;
	}
	s[n] = '\0';
	for (value = sep + 1; isspace((unsigned char)*value); value++)
		;
	for (size_t v = strlen(value); v && isspace((unsigned char)value[v - 1]); v--)
		value[v - 1] = '\0'; /* a continuation on the last line leaves a blank */
	p->value = value;
	if (!inih_safe(s, n, num)) {
		unit_dispatch(p, p->section, s, value);
		p->value = NULL;
		return;
	}
	memcpy(str, s, n);
	memcpy(str + n, "=", 2);
}

char *unit_read_line(char *str, int num, void *stream)
{
	struct unit_parser *p = stream;
	char *s;

	if (num < 16 || !assemble(p))
		return NULL;
	if (p->logical.failed) {
		unit_problem(p, p->line, NULL, "out of memory");
		return NULL;
	}
	s = p->logical.p + strspn(p->logical.p, " \t\v\f\r");
	classify(p, s, str, (size_t)num);
	return str;
}
