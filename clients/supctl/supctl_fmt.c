/* supctl's human output: the status table and its figures, log lines, reload summaries. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup/cleanup.h"
#include "supctl.h"

#define UNIT_NAME_MAX 64

const char *supctl_fmt_duration(uint64_t secs, char *buf, size_t n)
{
	if (secs < 60)
		snprintf(buf, n, "%" PRIu64 "s", secs);
	else if (secs < 3600)
		snprintf(buf, n, "%" PRIu64 "m%02" PRIu64 "s", secs / 60, secs % 60);
	else if (secs < 86400)
		snprintf(buf, n, "%" PRIu64 "h%02" PRIu64 "m", secs / 3600, secs % 3600 / 60);
	else
		snprintf(buf, n, "%" PRIu64 "d%02" PRIu64 "h", secs / 86400, secs % 86400 / 3600);
	return buf;
}

const char *supctl_fmt_cpu(int64_t usec, char *buf, size_t n)
{
	if (usec < 0)
		snprintf(buf, n, "-");
	else if (usec < 1000000)
		snprintf(buf, n, "%" PRId64 "ms", usec / 1000);
	else if (usec < 59995000) /* below what %.2f would round up to 60.00 */
		snprintf(buf, n, "%.2fs", (double)usec / 1e6);
	else
		supctl_fmt_duration(((uint64_t)usec + 500000) / 1000000, buf, n);
	return buf;
}

const char *supctl_fmt_bytes(int64_t bytes, char *buf, size_t n)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 0) {
		snprintf(buf, n, "-");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, n, "%" PRId64 "B", bytes);
		return buf;
	}
	v /= 1024;
	/* move up a unit where the rounded figure would read 1024 */
	while (v >= 1023.5 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	if (v < 99.95)
		snprintf(buf, n, "%.1f%c", v, units[u]);
	else
		snprintf(buf, n, "%.0f%c", v, units[u]);
	return buf;
}

const char *supctl_fmt_exit(const json_t *last_exit, char *buf, size_t n)
{
	const json_t *code = json_object_get(last_exit, "code");
	const json_t *sig = json_object_get(last_exit, "signal");

	if (json_is_true(json_object_get(last_exit, "stopped")))
		snprintf(buf, n, "stopped");
	else if (json_is_integer(code))
		snprintf(buf, n, "code %" JSON_INTEGER_FORMAT, json_integer_value(code));
	else if (json_is_string(sig))
		snprintf(buf, n, "%s", json_string_value(sig));
	else
		snprintf(buf, n, "-");
	return buf;
}

const char *supctl_fmt_time(double ts, char *buf, size_t n)
{
	time_t t = (time_t)ts;
	int ms = (int)((ts - (double)t) * 1000);
	struct tm tm;
	char date[32];
	long off;

	if (ts < 0 || !localtime_r(&t, &tm)) {
		snprintf(buf, n, "-");
		return buf;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff / 60;
	if (off == 0)
		snprintf(buf, n, "%s.%03dZ", date, ms);
	else
		snprintf(buf, n, "%s.%03d%c%02ld:%02ld", date, ms, off < 0 ? '-' : '+',
			 labs(off) / 60, labs(off) % 60);
	return buf;
}

bool supctl_valid_unit_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= UNIT_NAME_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-") == n;
}

/* systemd's ActiveState of a status object (supd's active_state; from an older supd, its
 * state) */
const char *supctl_active_state(const json_t *u)
{
	const char *a = json_string_value(json_object_get(u, "active_state"));
	const char *s = json_string_value(json_object_get(u, "state"));

	if (a)
		return a;
	if (!s)
		return "unknown";
	if (strcmp(s, "running") == 0 || strcmp(s, "unhealthy") == 0)
		return "active";
	if (strcmp(s, "starting") == 0 || strcmp(s, "restarting") == 0)
		return "activating";
	if (strcmp(s, "stopping") == 0)
		return "deactivating";
	if (strcmp(s, "failed") == 0 || strcmp(s, "bad-unit") == 0)
		return "failed";
	return "inactive";
}

bool supctl_unit_active(const json_t *u)
{
	const char *a = supctl_active_state(u);

	return strcmp(a, "active") == 0 || strcmp(a, "reloading") == 0;
}

/* --- the status table */

enum col {
	COL_UNIT,
	COL_STATE,
	COL_PID,
	COL_UPTIME,
	COL_RESTARTS,
	COL_CPU,
	COL_MEMORY,
	COL_EXIT,
	NCOLS
};

static const char *const headers[NCOLS] = {"UNIT",     "STATE", "PID",	  "UPTIME",
					   "RESTARTS", "CPU",	"MEMORY", "LAST EXIT"};

#define CELL_MAX 72 /* a unit name is at most 64 */

struct row {
	char cell[NCOLS][CELL_MAX];
	const char *color;
};

#define GREEN  "\033[32m"
#define RED    "\033[31m"
#define YELLOW "\033[33m"
#define RESET  "\033[0m"

static const struct {
	const char *state;
	const char *color;
} state_colors[] = {
    {"running", GREEN},	  {"exited", GREEN},	{"failed", RED},	{"bad-unit", RED},
    {"starting", YELLOW}, {"stopping", YELLOW}, {"restarting", YELLOW}, {"unhealthy", YELLOW},
};

static const char *state_color(const char *state)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(state_colors); i++)
		if (strcmp(state, state_colors[i].state) == 0)
			return state_colors[i].color;
	return NULL;
}

/* Server text into a cell: printable ASCII only, so widths are byte counts. */
static void set_cell(char *cell, const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i < CELL_MAX - 1; i++)
		cell[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	cell[i] = '\0';
}

static int64_t number_or(const json_t *o, const char *key, int64_t dflt)
{
	const json_t *j = json_object_get(o, key);

	if (json_is_integer(j))
		return json_integer_value(j);
	if (json_is_real(j))
		return (int64_t)json_real_value(j);
	return dflt;
}

static void fill_row(struct row *r, const json_t *u)
{
	const char *state = json_string_value(json_object_get(u, "state"));
	int64_t pid = number_or(u, "pid", 0), up = number_or(u, "uptime_s", 0);
	char buf[CELL_MAX];

	set_cell(r->cell[COL_UNIT], json_string_value(json_object_get(u, "name")) ?: "?");
	set_cell(r->cell[COL_STATE], state ?: "?");
	r->color = state ? state_color(state) : NULL;
	snprintf(buf, sizeof(buf), "%" PRId64, pid);
	set_cell(r->cell[COL_PID], pid > 0 ? buf : "-");
	set_cell(r->cell[COL_UPTIME],
		 pid > 0 ? supctl_fmt_duration(up > 0 ? (uint64_t)up : 0, buf, sizeof(buf)) : "-");
	snprintf(buf, sizeof(buf), "%" PRId64, number_or(u, "restarts", 0));
	set_cell(r->cell[COL_RESTARTS], buf);
	set_cell(r->cell[COL_CPU],
		 supctl_fmt_cpu(number_or(u, "cpu_usage_usec", -1), buf, sizeof(buf)));
	set_cell(r->cell[COL_MEMORY],
		 supctl_fmt_bytes(number_or(u, "memory_current_bytes", -1), buf, sizeof(buf)));
	set_cell(r->cell[COL_EXIT],
		 supctl_fmt_exit(json_object_get(u, "last_exit"), buf, sizeof(buf)));
}

static void print_row(FILE *out, const struct row *r, const size_t *width, bool color)
{
	for (int c = 0; c < NCOLS; c++) {
		const char *text = r->cell[c];
		int pad = c + 1 < NCOLS ? (int)(width[c] - strlen(text)) : 0;

		if (c > 0)
			fputs("  ", out);
		if (c == COL_STATE && color && r->color)
			fprintf(out, "%s%s%s", r->color, text, RESET);
		else
			fputs(text, out);
		fprintf(out, "%*s", pad, "");
	}
	fputc('\n', out);
}

/* One unit asked for, with Image=: its image and the digest in use (pinned, or pulling). */
static void print_image(FILE *out, const json_t *units)
{
	const json_t *im = json_object_get(json_array_get(units, 0), "image");
	const char *ref = json_string_value(json_object_get(im, "ref"));
	const char *digest = json_string_value(json_object_get(im, "digest"));
	char name[CELL_MAX], r[CELL_MAX * 4];

	if (json_array_size(units) != 1 || !ref)
		return;
	set_cell(name, json_string_value(json_object_get(json_array_get(units, 0), "name")) ?: "?");
	snprintf(r, sizeof(r), "%s", ref);
	for (char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(out, "\n%s: image %s%s%s%s\n", name, r, digest ? " " : "", digest ? digest : "",
		json_is_true(json_object_get(im, "pulling")) ? " (pulling)" : "");
}

/* Server text on one line: control characters become spaces. */
static void put_flat(FILE *out, const char *s)
{
	for (const char *p = s; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, out);
}

/* "web: /etc/sup/units/web.unit:3: ..." under the table, one line each; a unit file that a
 * reload could not load says so, with the configuration that stays in force. */
static void print_errors(FILE *out, const json_t *units)
{
	const json_t *u;
	bool first = true;
	size_t i;

	json_array_foreach(units, i, u)
	{
		const char *state = json_string_value(json_object_get(u, "state"));
		const char *error = json_string_value(json_object_get(u, "error"));
		const char *reload = json_string_value(json_object_get(u, "reload_error"));
		char name[CELL_MAX];

		if (!state || (strcmp(state, "failed") != 0 && strcmp(state, "bad-unit") != 0))
			error = NULL;
		if (!error && !reload)
			continue;
		if (first)
			fputc('\n', out);
		first = false;
		set_cell(name, json_string_value(json_object_get(u, "name")) ?: "?");
		if (error) {
			fprintf(out, "%s: ", name);
			put_flat(out, error);
			fputc('\n', out);
		}
		if (reload) {
			fprintf(out, "%s: not reloaded: ", name);
			put_flat(out, reload);
			fputs(" (the previous configuration stays in force)\n", out);
		}
	}
}

void supctl_print_status(FILE *out, const json_t *units, bool color)
{
	size_t n = json_array_size(units), width[NCOLS];
	_cleanup_free_ struct row *rows = calloc(n + 1, sizeof(*rows));

	if (!rows) {
		fputs("supctl: out of memory\n", stderr);
		return;
	}
	for (int c = 0; c < NCOLS; c++) {
		set_cell(rows[0].cell[c], headers[c]);
		width[c] = strlen(headers[c]);
	}
	for (size_t i = 0; i < n; i++) {
		fill_row(&rows[i + 1], json_array_get(units, i));
		for (int c = 0; c < NCOLS; c++)
			if (strlen(rows[i + 1].cell[c]) > width[c])
				width[c] = strlen(rows[i + 1].cell[c]);
	}
	for (size_t i = 0; i <= n; i++)
		print_row(out, &rows[i], width, color);
	print_errors(out, units);
	print_image(out, units);
}

/* --- logs and reload */

/*
 * A unit's text on the admin's terminal: C0 controls but TAB, DEL and C1 controls (escape
 * sequences that move the cursor, retitle the window or rewrite the line; a NUL) are shown
 * escaped, \x1b or \u009b, never sent raw. The text is UTF-8 (supd replaced the rest).
 */
void supctl_put_escaped(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			fprintf(out, "\\u%04x", (unsigned char)s[++i]);
		else
			fputc(c, out);
	}
}

/* supd's own notes read "supd: ...": a unit's line that would look like one (or that begins
 * with the backslash of this escape) gets a backslash in front, so a note cannot be forged. */
static bool looks_like_a_note(const char *s, size_t n)
{
	return (n >= 6 && memcmp(s, "supd: ", 6) == 0) || (n && s[0] == '\\');
}

const char *supctl_fmt_ts(double ts, enum supctl_ts how, char *buf, size_t n)
{
	time_t t = (time_t)ts;
	struct tm tm;
	char date[48];
	size_t len;

	if (how == SUPCTL_TS_ISO_PRECISE)
		return supctl_fmt_time(ts, buf, n);
	if (ts < 0 || !localtime_r(&t, &tm)) {
		snprintf(buf, n, "-");
		return buf;
	}
	if (how == SUPCTL_TS_SHORT || how == SUPCTL_TS_PRECISE) {
		strftime(date, sizeof(date), "%b %d %H:%M:%S", &tm);
		if (how == SUPCTL_TS_PRECISE)
			snprintf(buf, n, "%s.%03d", date, (int)((ts - (double)t) * 1000));
		else
			snprintf(buf, n, "%s", date);
		return buf;
	}
	/* short-iso: the ISO form without the milliseconds */
	supctl_fmt_time((double)t, date, sizeof(date));
	len = strlen(date);
	if (len > 4 && date[19] == '.')
		memmove(date + 19, date + 23, len - 23 + 1);
	snprintf(buf, n, "%s", date);
	return buf;
}

const char *supctl_line_label(const json_t *line)
{
	return json_string_value(json_object_get(line, "ident"))
		   ?: json_string_value(json_object_get(line, "unit"));
}

void supctl_print_log_line(FILE *out, const json_t *line, enum supctl_ts how, const char *label)
{
	const json_t *text = json_object_get(line, "text");
	const char *stream = json_string_value(json_object_get(line, "stream"));
	const char *s = json_is_string(text) ? json_string_value(text) : "";
	size_t n = json_is_string(text) ? json_string_length(text) : 0;
	char ts[64];

	if (how != SUPCTL_TS_NONE)
		fprintf(out, "%s ",
			supctl_fmt_ts(json_number_value(json_object_get(line, "ts")), how, ts,
				      sizeof(ts)));
	if (label) {
		supctl_put_escaped(out, label, strlen(label));
		fputs(": ", out);
	}
	if (stream && strcmp(stream, "supd") == 0)
		fputs("supd: ", out);
	else if (looks_like_a_note(s, n))
		fputc('\\', out);
	supctl_put_escaped(out, s, n);
	fputc('\n', out);
}

void supctl_print_reload(FILE *out, const json_t *data)
{
	static const char *const what[] = {"added", "removed", "changed"};
	const char *key;
	json_t *error;
	bool any = false;

	for (size_t w = 0; w < SUP_ARRAY_SIZE(what); w++) {
		const json_t *names = json_object_get(data, what[w]), *name;
		size_t i;

		json_array_foreach(names, i, name)
		{
			char cell[CELL_MAX];

			set_cell(cell, json_string_value(name) ?: "?");
			fprintf(out, "%s %s\n", what[w], cell);
			any = true;
		}
	}
	json_object_foreach((json_t *)json_object_get(data, "errors"), key, error)
	{
		char cell[CELL_MAX];

		set_cell(cell, key);
		fprintf(out, "not reloaded %s: ", cell);
		put_flat(out, json_string_value(error) ?: "?");
		fputs(" (the previous configuration stays in force)\n", out);
		any = true;
	}
	if (!any)
		fputs("no changes\n", out);
}
