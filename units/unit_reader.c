/*
 * The line reader given to inih's ini_parse_stream(). Debian's inih (r55) reads into a
 * 200-byte stack buffer (INI_MAX_LINE; a longer line is cut and its rest parsed as a line
 * of its own), treats an indented line as the continuation of the previous key's value
 * (Python configparser style: "  Restart=no" would become a second value of the key above),
 * cuts a value at an inline comment (';' after whitespace, so Exec=sh -c "a ; b" ends at
 * "a), cuts section names at 50 bytes and does not give the handler line numbers; it calls
 * the reader once per line and the handler for that line before reading the next one.
 * So this reader, per logical line:
 *  - counts physical lines: p->line is the line the handler's assignment started on;
 *  - joins systemd-style continuations (an odd number of trailing '\'), skipping comment
 *    lines inside them, and strips indentation, so an indented line is a line of its own;
 *  - reports, with their line, what inih rejects without saying where: no '=', a section
 *    header without ']', a NUL byte; inih then gets an empty line. inih would also take
 *    "Key: value" (':' as separator), which is reported here as a missing '=';
 *  - handles section headers itself and gives inih the canonical "[Unit]" or "[Service]";
 *    keys under an unknown section are skipped (the header was reported);
 *  - dispatches a line too long for inih's buffer itself, split by the same rules.
 * Inline comments stay: that is what inih users expect, and the docs say so.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "unit_private.h"

const char *unit_ini_find(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

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

static void section_header(struct unit_parser *p, char *s)
{
	char *end = strchr(s, ']');
	const char *rest = end ? end + 1 + strspn(end + 1, " \t\v\f\r") : NULL;

	p->section = NULL;
	if (!end) {
		unit_problem(p, p->line, s, "no ']' at the end of the section header; allowed: %s",
			     "[Unit], [Service], [Resources]");
	} else if (*rest && *rest != '#' && *rest != ';') {
		unit_problem(p, p->line, s, "text after the section header; allowed: %s",
			     "[Unit], [Service], [Resources]");
	} else {
		end[1] = '\0';
		*end = '\0';
		p->section = unit_section_lookup(s + 1);
		*end = ']';
		if (!p->section)
			unit_problem(p, p->line, s,
				     "unknown section; allowed: [Unit], [Service], [Resources]");
	}
}

/* KEY=VALUE too long for inih: split as inih would (inline comment cut, blanks trimmed). */
static void long_assignment(struct unit_parser *p, char *s, char *eq)
{
	char *key_end = eq, *value = eq + 1, *v_end;

	while (key_end > s && isspace((unsigned char)key_end[-1]))
		key_end--;
	*key_end = '\0';
	v_end = (char *)unit_ini_find(value, NULL);
	*v_end = '\0';
	while (isspace((unsigned char)*value))
		value++;
	while (v_end > value && isspace((unsigned char)v_end[-1]))
		*--v_end = '\0';
	unit_dispatch(p, p->section, s, value);
}

/* Put in str (num bytes) what inih gets for the logical line s, which may be written to. */
static void classify(struct unit_parser *p, char *s, char *str, size_t num)
{
	const char *sep;
	size_t n;

	str[0] = '\0';
	if (*s == '[') {
		section_header(p, s);
		if (p->section)
			snprintf(str, num, "[%s]", p->section);
		return;
	}
	if (!p->section)
		return; /* under an unknown section: the header was reported */
	sep = unit_ini_find(s, "=:");
	if (*sep != '=') {
		bool colon = *sep == ':';
		for (n = (size_t)(sep - s); n && isspace((unsigned char)s[n - 1]); n--)
			;
		s[n] = '\0';
		unit_problem(p, p->line, s, "missing '='%s; allowed: KEY=VALUE",
			     colon ? " (':' does not separate a key from its value)" : "");
		return;
	}
	p->comment_cut = *unit_ini_find(sep + 1, NULL) == ';';
	n = strlen(s);
	if (n + 1 > num)
		long_assignment(p, s, (char *)sep);
	else
		memcpy(str, s, n + 1);
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
