/* supctl's output formatting (supctl_fmt.c): pure, so the unit tests can check it. */
#ifndef SUPCTL_H
#define SUPCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* 45s, 3m12s, 2h03m, 4d02h */
const char *supctl_fmt_duration(uint64_t secs, char *buf, size_t n);
/* CPU time: 4ms, 1.25s, 3m12s; "-" when usec < 0 (unknown) */
const char *supctl_fmt_cpu(int64_t usec, char *buf, size_t n);
/* 1024-based: 512B, 12.3K, 123M; "-" when bytes < 0 (unknown) */
const char *supctl_fmt_bytes(int64_t bytes, char *buf, size_t n);
/* last_exit of a status object: code 1, SIGKILL, stopped (by request), or "-" */
const char *supctl_fmt_exit(const json_t *last_exit, char *buf, size_t n);
/* ISO 8601 in local time with milliseconds: 2026-01-31T12:00:00.123Z or ...+02:00 */
const char *supctl_fmt_time(double ts, char *buf, size_t n);

/* How logs shows a line's time (-o): systemd's short "Dec 01 13:15:32", short-precise (with
 * milliseconds), short-iso "2026-12-01T13:15:32Z", short-iso-precise (-t), none (cat,
 * --no-timestamps) */
enum supctl_ts {
	SUPCTL_TS_SHORT,
	SUPCTL_TS_PRECISE,
	SUPCTL_TS_ISO,
	SUPCTL_TS_ISO_PRECISE,
	SUPCTL_TS_NONE,
};
const char *supctl_fmt_ts(double ts, enum supctl_ts how, char *buf, size_t n);

bool supctl_valid_unit_name(const char *s);
/* systemd's ActiveState of a unit status object: active, reloading, inactive, failed,
 * activating, deactivating; and whether it counts as active (is-active, status's exit) */
const char *supctl_active_state(const json_t *u);
bool supctl_unit_active(const json_t *u);
/* supctl_exec.c: supctl exec UNIT [--] CMD... (argv from UNIT on) */
int supctl_exec(const char *socket_path, int argc, char **argv);
/* supctl_images.c: pull, images, rmi, load, gc, update, drop-layer (argv from the command on;
 * json: --json came before the command) */
bool supctl_is_image_command(const char *name);
int supctl_images(const char *socket_path, bool json, int argc, char **argv);

/* The status table of an array of unit status objects, then the errors of broken units. */
void supctl_print_status(FILE *out, const json_t *units, bool color);
/* Text from a unit, its control characters escaped (\x1b, \u009b). */
void supctl_put_escaped(FILE *out, const char *s, size_t n);
/* One log line object {"ts", "stream", "text"} as text: control characters escaped; a unit's
 * line that looks like one of supd's notes ("supd: ...") or begins with a backslash gets a
 * backslash in front. */
void supctl_print_log_line(FILE *out, const json_t *line, enum supctl_ts ts, const char *label);
/* status UNIT: the detail view of one status object (with the processes and limits) */
void supctl_print_detail(FILE *out, const json_t *u, bool color);
/* metrics --json: the Prometheus text as [{"name", "labels": {...}, "value"}] */
json_t *supctl_metrics_json(const char *text);
/* The label a line of several units' logs carries: its SyslogIdentifier=, else its unit. */
const char *supctl_line_label(const json_t *line);
/* supctl_stats.c: the stats table (cpu_pct < 0: total CPU time instead of a percentage) */
/* size the UNIT column to the names of units (a stats array) */
void supctl_stats_fit(const json_t *units);
void supctl_print_stats_header(FILE *out, bool top);
void supctl_print_stats_row(FILE *out, const json_t *unit, double cpu_pct);
void supctl_print_stats(FILE *out, const json_t *units);
/* What a reload did: one "added/removed/changed NAME" line each, or "no changes". */
void supctl_print_reload(FILE *out, const json_t *data);

#endif
