/* units/ internals: the message buffer, the parse state, the key table and the line reader. */
#ifndef SUP_UNIT_PRIVATE_H
#define SUP_UNIT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "sup/cleanup.h"
#include "sup/unit.h"

#define UNIT_FILE_MAX	(1024 * 1024) /* bytes of one unit file */
#define UNIT_ERRORS_MAX 50	      /* problems listed per file; the rest are counted */
#define UNIT_LIST_MAX	4096	      /* entries of one list key (bounds the duplicate checks) */
#define UNIT_KEYS_MAX	64	      /* capacity of the per-key state of a parse */

/* A growing string for messages. After an allocation failure it stays as it was, failed set. */
struct unit_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

void unit_buf_append(struct unit_buf *b, const char *s, size_t n);
void unit_buf_printf(struct unit_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s as shown in a message: control bytes as \xNN, cut to max bytes with "..." */
void unit_buf_escape(struct unit_buf *b, const char *s, size_t max);
/* the same between single quotes */
void unit_buf_quote(struct unit_buf *b, const char *s);
void unit_buf_free(struct unit_buf *b);

/* One problem found: its text, sorted by line at the end (the checks come after the reader). */
struct unit_problem_text {
	unsigned long line;
	char *text;
};

/* Parse state of one file, shared by the reader, the inih handler and the checks. */
struct unit_parser {
	const char *path; /* as shown in messages */
	struct unit_config *c;
	struct unit_problem_text problems[UNIT_ERRORS_MAX];
	unsigned n_errors; /* found, may be more than kept */
	bool oom;

	const char *text;
	size_t len, pos;
	unsigned long next_line; /* physical number of the next line to read */
	unsigned long line;	 /* first physical line of the logical line being handled */
	struct unit_buf logical; /* that logical line, continuation lines joined */
	const char *section;	 /* canonical name, "" before any header, NULL in a bad one */
	bool comment_cut;	 /* inih cut this line's value at an inline comment */

	unsigned long key_line[UNIT_KEYS_MAX]; /* per table entry: last line, 0 = not given */
	bool key_bad[UNIT_KEYS_MAX];	       /* per table entry: some value was rejected */
};

/* Record "PATH:LINE: KEY: <fmt>" (line 0: no line, key NULL: no key). */
void unit_problem(struct unit_parser *p, unsigned long line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The key table (unit_table.c). */
const char *unit_section_lookup(const char *name);	   /* canonical "Unit"/"Service", or NULL */
int unit_key_lookup(const char *section, const char *key); /* table index, or -1 */
/* Route one assignment through the table; problems are recorded, never returned. */
void unit_dispatch(struct unit_parser *p, const char *section, const char *key, const char *value);
/* Line of the last assignment of KEY (0 = not given) and whether a value of it was rejected. */
unsigned long unit_key_line(const struct unit_parser *p, const char *section, const char *key);
bool unit_key_bad(const struct unit_parser *p, const char *section, const char *key);

/* inih reader over p->text (unit_reader.c): see there for what it takes off inih's hands. */
char *unit_read_line(char *str, int num, void *stream);
/* inih's find_chars_or_comment: first of chars, or an inline comment (';' after whitespace). */
const char *unit_ini_find(const char *s, const char *chars);

/* Cross-key checks once the whole file is read (unit_check.c). */
void unit_check_config(struct unit_parser *p);

/* Values (value.c, signal.c). */
extern const char *const unit_type_names[];
extern const char *const unit_restart_names[];
extern const char *const unit_output_names[];
/* "1min 30s" style; buf of at least UNIT_DURATION_TEXT bytes */
#define UNIT_DURATION_TEXT 64
const char *unit_format_duration(uint64_t usec, char *buf);

/* File contents, at most UNIT_FILE_MAX bytes (unit_set.c). */
int unit_read_file(int dirfd, const char *path, const char *shown, char **text, size_t *len,
		   struct sup_error **err);

#endif
