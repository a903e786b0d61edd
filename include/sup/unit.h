/*
 * struct unit_config: a unit file, parsed and validated. Produced by units/ (pure: no
 * process, no kernel), consumed by the supervisor and the spawner.
 */
#ifndef SUP_UNIT_H
#define SUP_UNIT_H

#include <stdbool.h>
#include <stdint.h>

#include "sup/error.h"
#include "sup/names.h"
#include "sup/signal.h"
#include "sup/strv.h"

#define USEC_PER_SEC  1000000ULL
#define USEC_PER_MSEC 1000ULL
#define USEC_INFINITY UINT64_MAX
#define SIZE_INFINITY UINT64_MAX

enum unit_type {
	UNIT_TYPE_SIMPLE,
	UNIT_TYPE_NOTIFY,
	UNIT_TYPE_ONESHOT,
};

enum unit_restart {
	UNIT_RESTART_NO,
	UNIT_RESTART_ON_FAILURE,
	UNIT_RESTART_ON_ABNORMAL,
	UNIT_RESTART_ALWAYS,
};

enum unit_output {
	UNIT_OUTPUT_LOG,
	UNIT_OUTPUT_NULL,
	UNIT_OUTPUT_INHERIT,
};

/* A [Resources] figure that was not given: the kernel's default stays. */
#define UNIT_RES_UNSET (UINT64_MAX - 1)

struct unit_resources {
	unsigned cpu_weight;	  /* 1..10000; 0 = not set */
	unsigned cpu_quota_pct;	  /* percent of one CPU; 0 = not set */
	char *cpu_set;		  /* "0-1,3"; NULL = not set */
	uint64_t memory_max;	  /* bytes, SIZE_INFINITY, or UNIT_RES_UNSET */
	uint64_t memory_high;	  /* same */
	uint64_t memory_swap_max; /* same */
	uint64_t pids_max;	  /* a number, SIZE_INFINITY (infinity) or UNIT_RES_UNSET */
	unsigned io_weight;	  /* 1..10000; 0 = not set */
	struct strv io_read_bw;	  /* "DEVICE-PATH BYTES-PER-SECOND" (bytes as a number) */
	struct strv io_write_bw;
};

struct unit_config {
	char name[UNIT_NAME_MAX + 1];
	char *path; /* the file it came from */

	/* [Unit] */
	char *description;
	struct strv requires;
	struct strv wants;
	struct strv after;

	/* [Service] */
	struct strv exec; /* argv, already split; empty = none given */
	enum unit_type type;
	struct strv environment;      /* KEY=value */
	struct strv environment_file; /* paths, a leading '-' kept: optional */
	char *working_directory;      /* NULL = default */
	char *user;		      /* NULL = default */
	char *group;
	enum unit_restart restart;
	uint64_t restart_usec;
	uint64_t restart_max_usec;
	unsigned start_limit_burst;
	uint64_t start_limit_interval_usec;
	int stop_signal;
	uint64_t stop_timeout_usec;
	uint64_t ready_timeout_usec;
	uint64_t watchdog_usec; /* 0 = off */
	struct strv health_cmd; /* empty = none */
	uint64_t health_interval_usec;
	uint64_t health_timeout_usec;
	unsigned health_retries;
	enum unit_output std_output;
	enum unit_output std_error;
	bool exit_with_unit;

	/* [Resources]: cgroup limits (spawner/cgroup_*.c map them to v2 or v1 files) */
	struct unit_resources res;
};

/* Fill c with the spec's defaults (name and path untouched). */
void unit_config_defaults(struct unit_config *c);
void unit_config_free(struct unit_config *c);
/* Same configuration (path and description included): reload leaves equal units alone. */
bool unit_config_equal(const struct unit_config *a, const struct unit_config *b);
/* Same [Resources] figures. */
bool unit_resources_equal(const struct unit_resources *a, const struct unit_resources *b);
/* Equal but for [Resources]: reload can apply new limits without a restart. */
bool unit_config_equal_but_resources(const struct unit_config *a, const struct unit_config *b);

/* "web" from "web.unit"; false if the file name is not NAME.unit with a valid NAME. */
bool unit_name_from_file(const char *filename, char name[UNIT_NAME_MAX + 1]);

/*
 * Parse the text of one unit file. On success returns 0 and *out (free with
 * unit_config_free + free). On failure returns -1 and *err holds every problem found,
 * one per line: "PATH:LINE: KEY: what is wrong; allowed: ...".
 */
int unit_parse_string(const char *name, const char *path, const char *text, size_t len,
		      struct unit_config **out, struct sup_error **err);
/* Read PATH (at most 1 MiB) and parse it. */
int unit_parse_file(const char *name, const char *path, struct unit_config **out,
		    struct sup_error **err);

/* A directory of units: every NAME.unit, parsed; a unit with errors has config == NULL. */
struct unit_entry {
	char name[UNIT_NAME_MAX + 1];
	char *file;		    /* its file name in the directory */
	struct unit_config *config; /* NULL when error != NULL */
	char *error;		    /* bad-unit reason, or NULL */
};

struct unit_set {
	struct unit_entry *v;
	size_t n;
};

/* Load DIR. Returns -1 only if DIR itself cannot be read; per-file errors go in entries. */
int unit_set_load(const char *dir, struct unit_set *set, struct sup_error **err);
/* The same in steps (a reload parses a few files per turn of supd's loop): the names, sorted,
 * no file read; then entry i parsed. -1 only on ENOMEM (or DIR unreadable, for the scan). */
int unit_set_scan(const char *dir, struct unit_set *set, struct sup_error **err);
int unit_set_parse_one(const char *dir, struct unit_set *set, size_t i, struct sup_error **err);
void unit_set_free(struct unit_set *set);
struct unit_entry *unit_set_find(struct unit_set *set, const char *name);
/*
 * Dependency checks: a Requires= naming a unit that is missing or bad, and every unit on a
 * Requires=/After= cycle, get error set (config freed, entry becomes bad-unit), with a message
 * that names the other units involved. Wants= of a missing unit is not an error.
 * Repeats until stable, so units requiring a unit that became bad become bad too.
 */
void unit_set_check_deps(struct unit_set *set);

/* Value parsers, shared by the table and by tests. Return 0, or -1 if invalid. */
int unit_parse_duration(const char *s,
			uint64_t *usec);	     /* 500ms 10s 2min 1h, bare secs, "infinity" */
int unit_parse_size(const char *s, uint64_t *bytes); /* 4096 512K 64M 2G, infinity */
int unit_parse_bool(const char *s, bool *b);	     /* yes/no true/false on/off 1/0 */
/* Shell-like split: "..." '...' and backslash; no globbing, no variables. */
int unit_parse_argv(const char *s, struct strv *argv, const char **why);

/* Names for enums and signals (static strings). */
const char *unit_type_name(enum unit_type t);
const char *unit_restart_name(enum unit_restart r);

#endif
