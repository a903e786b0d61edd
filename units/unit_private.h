/* units/ internals: the message buffer, the parse state, the key table and the line reader. */
#ifndef SUP_UNIT_PRIVATE_H
#define SUP_UNIT_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "sup/cleanup.h"
#include "sup/unit.h"

#define UNIT_FILE_MAX	  (1024 * 1024) /* bytes of one unit file */
#define UNIT_PROBLEMS_MAX 50		/* problems listed per file; the rest are counted */
#define UNIT_LIST_MAX	  4096		/* entries of one list key (bounds the duplicate checks) */
#define UNIT_KEYS_MAX	  256		/* capacity of the per-key state of a parse */

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

/* One problem found, sorted by line at the end (the checks come after the reader). */
struct unit_found {
	unsigned long line;
	enum unit_severity severity;
	char *text;
	size_t where;
};

/* Parse state of one file, shared by the reader, the inih handler and the checks. */
struct unit_parser {
	const char *path; /* as shown in messages */
	struct unit_config *c;
	struct unit_found found[UNIT_PROBLEMS_MAX];
	unsigned n_found;  /* found, may be more than kept */
	unsigned n_errors; /* errors among them */
	bool oom;

	/* specifiers (%i %I %n %N %p %%): resolved in systemd's dialect and in templates */
	bool specifiers;
	const char *full_name; /* %n: "web.service" in systemd's dialect, else the name */
	const char *instance;  /* %i: after the '@' of an instance, else "" */

	const char *text;
	size_t len, pos;
	unsigned long next_line; /* physical number of the next line to read */
	unsigned long line;	 /* first physical line of the logical line being handled */
	struct unit_buf logical; /* that logical line, continuation lines joined */
	const char *section;	 /* canonical name, "" before any header, NULL in a skipped one */
	const char *value;	 /* the whole value of the assignment being handled */

	/* per canonical table entry */
	unsigned long key_line[UNIT_KEYS_MAX];	/* last line, 0 = not given */
	const char *key_spelled[UNIT_KEYS_MAX]; /* the spelling used on that line */
	bool key_bad[UNIT_KEYS_MAX];		/* some value was rejected */
};

/* unit_parse_string, with the runtime-pending checks optional: tests look at what the pending
 * keys store. */
int unit_parse_text(const char *name, const char *path, const char *text, size_t len,
		    bool pending_checks, struct unit_config **out, struct unit_problems *problems);

/* Record "PATH:LINE: KEY: <fmt>" (line 0: no line, key NULL: no key). */
void unit_problem(struct unit_parser *p, unsigned long line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void unit_warning(struct unit_parser *p, unsigned long line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void unit_report(struct unit_parser *p, enum unit_severity sev, unsigned long line, const char *key,
		 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* The key table (unit_table.c). */
/* canonical "Unit"/"Service"/"Resources"/"Install", or NULL */
const char *unit_section_lookup(const char *name);
/* Route one assignment through the table; problems are recorded, never returned. */
void unit_dispatch(struct unit_parser *p, const char *section, const char *key, const char *value);
/* Line of the last assignment of KEY, by any spelling (0 = not given); the spelling used. */
unsigned long unit_key_line(const struct unit_parser *p, const char *key);
const char *unit_key_spelled(const struct unit_parser *p, const char *key);
/* Whether some value of KEY (any spelling) was rejected. */
bool unit_key_bad(const struct unit_parser *p, const char *key);
/* The closest known key to a misspelt one (edit distance), or NULL (unit_suggest.c). */
const char *unit_suggest_key(const char *key);
/* The key names of the table, for unit_suggest_key: NULL past the end. */
const char *unit_table_key(size_t i);

/* inih reader over p->text (unit_reader.c): see there for what it takes off inih's hands. */
char *unit_read_line(char *str, int num, void *stream);

/* One command line of *s into argv (as unit_parse_argv): an unquoted ';' word ends it, and *s
 * is left after that (argv.c). */
int unit_parse_command(const char **s, struct strv *argv, const char **why);

/* Cross-key checks once the whole file is read (unit_check.c). */
void unit_check_config(struct unit_parser *p);
/* Keys parsed whose runtime is not there yet: errors, from one table (unit_pending.c). */
void unit_check_pending(struct unit_parser *p);

/* Specifiers: VALUE with %i %I %n %N %p %% resolved into out; -1 and *bad (the character
 * after the '%') on an unknown one (unit_expand.c). */
int unit_resolve_specifiers(const struct unit_parser *p, const char *value, struct unit_buf *out,
			    char *bad);

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

/* Problems of a whole entry (unit_set.c, unit_deps.c): add one, and keep entry->error in step. */
void unit_entry_add_error(struct unit_entry *e, const char *text, size_t where);
/* Free the config: the entry is a bad unit now (its error was added). */
void unit_entry_set_bad(struct unit_entry *e);
/* For NAME.socket, NAME.timer, ... (systemd's other unit types): what sup has not ("socket
 * units (no socket activation)"); NULL for other names (unit_types_deps.c). */
const char *unit_foreign_file(const char *filename);
/* The line a dependency name came from (0 = unknown). */
unsigned long unit_dep_line(const struct unit_config *c, const char *key, const char *name);

#endif
