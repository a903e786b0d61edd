/*
 * struct unit_config: a unit file, parsed and validated. Produced by units/ (pure: no
 * process, no kernel), consumed by the supervisor and the spawner.
 */
#ifndef SUP_UNIT_H
#define SUP_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sup/error.h"
#include "sup/names.h"
#include "sup/signal.h"
#include "sup/strv.h"

#define USEC_PER_SEC  1000000ULL
#define USEC_PER_MSEC 1000ULL
#define USEC_INFINITY UINT64_MAX
#define SIZE_INFINITY UINT64_MAX
/* Health checks run at most this often, whatever HealthIntervalSec= says (a warning says so):
 * a check every microsecond is a fork loop. */
#define UNIT_HEALTH_INTERVAL_MIN (100 * USEC_PER_MSEC)

/* UNIT_TYPE_* and UNIT_RESTART_* values are appended, never renumbered (the supervisor switches
 * on them). */
enum unit_type {
	UNIT_TYPE_SIMPLE, /* also systemd's Type=exec: sup's simple is up once the exec succeeded */
	UNIT_TYPE_NOTIFY,
	UNIT_TYPE_ONESHOT,
	UNIT_TYPE_FORKING, /* runtime pending: up once the started process exited 0 */
};

enum unit_restart {
	UNIT_RESTART_NO,
	UNIT_RESTART_ON_FAILURE,
	UNIT_RESTART_ON_ABNORMAL,
	UNIT_RESTART_ALWAYS,
	UNIT_RESTART_ON_SUCCESS,  /* runtime pending: clean exit (0, SuccessExitStatus=, or a clean
				     signal: HUP INT TERM PIPE) */
	UNIT_RESTART_ON_WATCHDOG, /* runtime pending: watchdog timeout only */
	UNIT_RESTART_ON_ABORT, /* runtime pending: an unclean signal only (not HUP INT TERM PIPE) */
};

enum unit_output {
	UNIT_OUTPUT_LOG,
	UNIT_OUTPUT_NULL,
	UNIT_OUTPUT_INHERIT,
};

/* KillMode=: who gets the stop signal. control-group is what supd has always done. */
enum unit_kill_mode {
	UNIT_KILL_CONTROL_GROUP, /* StopSignal to every process of the unit's cgroup */
	UNIT_KILL_MIXED,   /* runtime pending: StopSignal to the main process, SIGKILL to all */
	UNIT_KILL_PROCESS, /* runtime pending: the main process only; the rest stay in the cgroup */
};

/* NotifyAccess=: whose sd_notify messages count. all is what supd does today. */
enum unit_notify_access {
	UNIT_NOTIFY_ALL,  /* any process of the unit (its process group, session or cgroup) */
	UNIT_NOTIFY_NONE, /* runtime pending */
	UNIT_NOTIFY_MAIN, /* runtime pending: the main process only */
	UNIT_NOTIFY_EXEC, /* runtime pending: the main process and the Exec*= commands */
};

/* How the file is read: NAME.unit (sup) or NAME.service (systemd: specifiers and $VAR). */
enum unit_dialect {
	UNIT_DIALECT_SUP,
	UNIT_DIALECT_SYSTEMD,
};

/* A [Resources] figure that was not given: the kernel's default stays. */
#define UNIT_RES_UNSET (UINT64_MAX - 1)

/* IOReadBandwidthMax= / IOWriteBandwidthMax=: one device and its rate. */
struct unit_io_limit {
	char *path;	/* the device (or a file on it), absolute */
	uint64_t bytes; /* per second; SIZE_INFINITY = no limit */
};

struct unit_io_limits {
	struct unit_io_limit *v;
	size_t n;
};

struct unit_resources {
	unsigned cpu_weight;		  /* 1..10000; 0 = not set */
	unsigned cpu_quota_pct;		  /* percent of one CPU; 0 = not set */
	char *cpu_set;			  /* "0-1,3"; NULL = not set */
	uint64_t memory_max;		  /* bytes, SIZE_INFINITY, or UNIT_RES_UNSET */
	uint64_t memory_high;		  /* same */
	uint64_t memory_swap_max;	  /* same */
	uint64_t pids_max;		  /* a number, SIZE_INFINITY (infinity) or UNIT_RES_UNSET */
	unsigned io_weight;		  /* 1..10000; 0 = not set */
	struct unit_io_limits io_read_bw; /* a later entry for the same path replaced the earlier */
	struct unit_io_limits io_write_bw;
};

/* Flags of one command line, from systemd's prefixes. */
#define UNIT_CMD_IGNORE_FAILURE 0x1u /* '-': a failure is recorded but counts as success */
#define UNIT_CMD_NO_EXPAND	0x2u /* ':': no $VAR expansion */

/* One ExecStartPre=/ExecStartPost=/ExecStop=/ExecStopPost=/ExecReload= command. */
struct unit_command {
	struct strv argv; /* split and unquoted; $VAR not expanded (unit_expand_argv, at spawn) */
	unsigned flags;	  /* UNIT_CMD_* */
};

struct unit_commands {
	struct unit_command *v;
	size_t n;
};

/* SuccessExitStatus= / RestartPreventExitStatus=: exit codes 0..255 and signals 1..64. */
struct unit_exit_set {
	uint32_t codes[8];
	uint64_t signals; /* bit sig-1 */
};

bool unit_exit_set_has_code(const struct unit_exit_set *s, int code);
bool unit_exit_set_has_signal(const struct unit_exit_set *s, int sig);
bool unit_exit_set_empty(const struct unit_exit_set *s);

/* Limit*= (setrlimit(2)), indexed by RLIMIT_*; soft == UNIT_RES_UNSET: not set. */
#define UNIT_RLIMITS 16 /* RLIMIT_NLIMITS on Linux */
struct unit_rlimit {
	uint64_t soft, hard; /* SIZE_INFINITY = RLIM_INFINITY */
};

#define UNIT_INT_UNSET (-2147483647 - 1) /* Nice=, OOMScoreAdjust= not given */

/* [Container] Namespaces=: which namespaces a unit gets. */
#define UNIT_NS_PID    0x01u
#define UNIT_NS_NET    0x02u
#define UNIT_NS_MNT    0x04u
#define UNIT_NS_UTS    0x08u
#define UNIT_NS_IPC    0x10u
#define UNIT_NS_USER   0x20u
#define UNIT_NS_CGROUP 0x40u
#define UNIT_NS_TIME   0x80u
#define UNIT_NS_DEFAULT                                                                            \
	(UNIT_NS_PID | UNIT_NS_NET | UNIT_NS_MNT | UNIT_NS_UTS | UNIT_NS_IPC | UNIT_NS_CGROUP)

enum unit_userns {
	UNIT_USERNS_DEFAULT, /* off unless Namespaces= lists user, then auto */
	UNIT_USERNS_AUTO,    /* a private range of 65536 ids chosen by supd, stable per unit */
	UNIT_USERNS_MAP,     /* HOST:CONTAINER:COUNT */
};

enum unit_seccomp {
	UNIT_SECCOMP_DEFAULT,	 /* an allow-list equivalent to Docker's default profile */
	UNIT_SECCOMP_UNCONFINED, /* none */
	UNIT_SECCOMP_PROFILE,	 /* an OCI/Docker JSON profile file */
};

enum unit_network {
	UNIT_NETWORK_NONE,	/* its own net namespace, lo up */
	UNIT_NETWORK_HOST,	/* the host's */
	UNIT_NETWORK_BRIDGE,	/* runtime pending: the networking issue */
	UNIT_NETWORK_CONTAINER, /* runtime pending: another unit's */
};

/* Docker's default capability set (14): what a container keeps unless Capabilities= says. */
#define UNIT_CAPS_DOCKER                                                                           \
	((1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) |       \
	 (1ULL << 7) | (1ULL << 8) | (1ULL << 10) | (1ULL << 13) | (1ULL << 18) | (1ULL << 27) |   \
	 (1ULL << 29) | (1ULL << 31))
#define UNIT_CAP_MAX 40 /* CAP_CHECKPOINT_RESTORE: the last one capabilities(7) names */

/*
 * [Container]: with the section (enabled), the unit is a full container with the spec's
 * defaults. Without it, systemd's sandboxing keys (NoNewPrivileges=, PrivateTmp=, ...) set
 * single fields here, and the unit gets only the isolation those ask for.
 */
struct unit_container {
	bool enabled; /* a [Container] section was given */
	char *image;  /* an image reference, as written */
	char *root_directory;
	bool read_only_root;
	unsigned namespaces; /* UNIT_NS_*; a container's default is UNIT_NS_DEFAULT */
	char *hostname;	     /* NULL: the unit's name */
	enum unit_userns userns;
	uint32_t userns_host, userns_inside, userns_count; /* UNIT_USERNS_MAP */
	struct strv bind; /* "HOST:CONTAINER" (CONTAINER defaulted to HOST); "-" first: optional */
	struct strv bind_ro; /* the same, mounted read-only */
	struct strv tmpfs;   /* "PATH" or "PATH:OPTIONS" */
	bool tmpfs_set;	     /* Tmpfs= given (else /tmp and /run for a container) */
	uint64_t caps;	     /* the bounding set, one bit per capability */
	bool caps_set;	     /* Capabilities= (or CapabilityBoundingSet=) given */
	uint64_t ambient;    /* AmbientCapabilities= */
	int no_new_privs;    /* -1: the default (yes for a container, no otherwise) */
	enum unit_seccomp seccomp;
	char *seccomp_profile;
	unsigned long seccomp_line; /* where Seccomp= was given (not compared) */
	enum unit_network network;
	char *network_unit; /* Network=container:UNIT */
	char *address;	    /* runtime pending */
	struct strv publish;
	int64_t time_offset_usec;
	bool init;	     /* Init=: a minimal init is PID 1 of the pid namespace */
	uint64_t shm_size;   /* /dev/shm */
	struct strv devices; /* "/dev/PATH rwm" */
};

struct unit_config;
/* Whether the unit gets any isolation at all: a container, or a systemd sandboxing key. */
bool unit_container_wanted(const struct unit_config *c);
/* The namespaces a unit gets (Network= and the implied mnt and user namespaces counted). */
unsigned unit_container_namespaces(const struct unit_config *c);

/* Where a unit was named in a dependency list, for messages: "PATH:LINE: Requires: ...". */
struct unit_dep_origin {
	const char *key; /* the canonical key, a static string: "Requires", "After", ... */
	char *name;
	unsigned long line;
};

struct unit_config {
	char name[UNIT_NAME_MAX + 1];
	char *path; /* the file it came from */
	enum unit_dialect dialect;

	/* [Unit] */
	char *description;
	struct strv requires;
	struct strv wants;
	struct strv after;
	struct strv before;		     /* runtime pending */
	struct strv binds_to;		     /* runtime pending */
	struct strv part_of;		     /* runtime pending */
	struct strv conflicts;		     /* runtime pending */
	struct strv condition_path_exists;   /* runtime pending: "PATH", or "!PATH" */
	struct strv assert_path_exists;	     /* runtime pending: same */
	struct unit_dep_origin *dep_origins; /* not compared: where the names above came from */
	size_t n_dep_origins;

	/* [Service] */
	struct strv exec;    /* argv, already split; empty = none given */
	unsigned exec_flags; /* UNIT_CMD_* from an ExecStart= prefix ('-': runtime pending) */
	struct unit_commands exec_start_pre; /* runtime pending, each of these lists */
	struct unit_commands exec_start_post;
	struct unit_commands exec_stop;
	struct unit_commands exec_stop_post;
	struct unit_commands exec_reload;
	enum unit_type type;
	char *pid_file;		      /* runtime pending, Type=forking */
	bool remain_after_exit;	      /* runtime pending */
	struct strv environment;      /* KEY=value */
	struct strv environment_file; /* paths, a leading '-' kept: optional */
	char *working_directory;      /* NULL = default */
	char *user;		      /* NULL = default */
	char *group;
	enum unit_restart restart;
	uint64_t restart_usec;
	uint64_t restart_max_usec;
	struct unit_exit_set success_exit_status;	  /* runtime pending */
	struct unit_exit_set restart_prevent_exit_status; /* runtime pending */
	unsigned start_limit_burst;
	uint64_t start_limit_interval_usec;
	int stop_signal;
	bool stop_signal_set; /* StopSignal= given (else an image's StopSignal stands in) */
	enum unit_kill_mode kill_mode;
	uint64_t stop_timeout_usec;
	uint64_t ready_timeout_usec; /* ReadyTimeoutSec= = TimeoutStartSec= (any type: pending) */
	uint64_t watchdog_usec;	     /* 0 = off */
	enum unit_notify_access notify_access;
	struct strv health_cmd; /* empty = none */
	uint64_t health_interval_usec;
	uint64_t health_timeout_usec;
	unsigned health_retries;
	enum unit_output std_output;
	enum unit_output std_error;
	char *syslog_identifier; /* runtime pending */
	bool exit_with_unit;

	/* [Service]: the process's own settings, applied by the spawner (runtime pending) */
	struct unit_rlimit limits[UNIT_RLIMITS];
	int umask;	      /* 0..0777, or -1 = inherited */
	int nice;	      /* -20..19, or UNIT_INT_UNSET */
	int oom_score_adjust; /* -1000..1000, or UNIT_INT_UNSET */
	bool ignore_sigpipe;
	struct strv runtime_directory; /* relative to /run */
	unsigned runtime_directory_mode;
	struct strv state_directory; /* relative to /var/lib */
	unsigned state_directory_mode;

	/* [Resources]: cgroup limits (spawner/cgroup_*.c map them to v2 or v1 files) */
	struct unit_resources res;

	/* [Container], and systemd's sandboxing keys mapped onto it */
	struct unit_container ct;
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

/*
 * The unit name a file defines: "web" from "web.unit" or "web.service", "getty@" from the
 * template "getty@.service". False if the file is not NAME.unit or NAME.service with a valid
 * NAME. dialect (may be NULL) gets the file's dialect.
 */
bool unit_name_from_file(const char *filename, char name[UNIT_NAME_MAX + 1],
			 enum unit_dialect *dialect);
/* "getty@" (a template: ends with '@'), "getty@tty1" (an instance: '@' then more). */
bool unit_name_is_template(const char *name);
/* systemd's names in dependency lists: "db.service" is unit "db"; other suffixes stay. */
const char *unit_name_strip_service(const char *name, char buf[UNIT_NAME_MAX + 1]);

/*
 * Problems found in a unit file: errors (the unit is not started) and warnings (something in
 * it has no effect under sup), each "PATH:LINE: KEY: what is wrong; allowed: ...", one line
 * each, in line order (problems of the whole file first).
 */
enum unit_severity {
	UNIT_WARNING,
	UNIT_ERROR,
};

struct unit_problem {
	enum unit_severity severity;
	char *text;
	size_t where; /* length of the "PATH:LINE: " prefix of text (0 if none) */
};

struct unit_problems {
	struct unit_problem *v;
	size_t n;
	size_t errors; /* how many of v are errors */
	bool oom;      /* some problem could not be recorded: treat the unit as bad */
};

/* Append a copy of text; where as in struct unit_problem. */
void unit_problems_add(struct unit_problems *pl, enum unit_severity sev, const char *text,
		       size_t where);
/* The texts of one severity joined by '\n', or NULL if there are none (or no memory). */
char *unit_problems_join(const struct unit_problems *pl, enum unit_severity sev);
void unit_problems_free(struct unit_problems *pl);

/*
 * Parse the text of one unit file. PATH (may be NULL: the name is shown) ends in ".service"
 * for systemd's dialect. Every problem found is appended to *problems (which the caller
 * initialises to {0} and frees). Returns 0 and *out (free with unit_config_free + free) when
 * there is no error, warnings or not; -1 and *out = NULL when there is at least one.
 * NAME@INSTANCE names resolve the specifiers %i %I of a template's text.
 */
int unit_parse_string(const char *name, const char *path, const char *text, size_t len,
		      struct unit_config **out, struct unit_problems *problems);
/* Read PATH (at most 1 MiB) and parse it; a file that cannot be read is an error problem. */
int unit_parse_file(const char *name, const char *path, struct unit_config **out,
		    struct unit_problems *problems);

/* A directory of units: every NAME.unit and NAME.service, parsed. */
struct unit_entry {
	char name[UNIT_NAME_MAX + 1];
	struct unit_config *config; /* NULL when the unit has errors */
	char *error;		    /* its errors joined by '\n' (the bad-unit reason), or NULL */
	struct unit_problems problems; /* every problem, warnings too, in line order */
	/* set by the caller before unit_set_check_deps(): the file is bad but the caller keeps
	 * an older config of the unit in force (a reload), so its dependants are not bad */
	bool kept;
	bool dep_bad; /* its own file is fine: a dependency made it bad (unit_set_check_deps) */
};

/* A template, NAME@.unit or NAME@.service: instances are parsed from its text on demand. */
struct unit_template {
	char name[UNIT_NAME_MAX + 1]; /* "getty@" */
	char *path;
	char *text;
	size_t len;
	struct unit_problems problems; /* found parsing it for a sample instance, or reading it */
};

struct unit_scan; /* unit_set_scan(): the files still to parse */

struct unit_set {
	struct unit_entry *v;
	size_t n, cap;
	struct unit_scan *scan;
	struct unit_template *templates; /* not units: nothing runs from them until named */
	size_t n_templates;
	struct unit_problems problems; /* of the directory: systemd files sup ignores (warnings) */
};

/*
 * Load DIR. Returns -1 only if DIR itself cannot be read (or memory ran out); per-file
 * problems go in the entries. Instances named in a dependency list of a loaded unit
 * (Requires=getty@tty1) are created from their template, transitively.
 */
int unit_set_load(const char *dir, struct unit_set *set, struct sup_error **err);
/*
 * The same in steps, so that a reload can parse a few files per turn of supd's loop: scan
 * lists the files (none is read); parse_next reads and parses the next unit's files and
 * returns 1 while more are left, 0 when done; finish sorts and creates the named instances.
 * Each returns -1 (and *err) only when DIR cannot be listed or memory ran out.
 */
int unit_set_scan(const char *dir, struct unit_set *set, struct sup_error **err);
int unit_set_parse_next(const char *dir, struct unit_set *set, struct sup_error **err);
int unit_set_finish(const char *dir, struct unit_set *set, struct sup_error **err);
void unit_set_free(struct unit_set *set);
struct unit_entry *unit_set_find(struct unit_set *set, const char *name);
/* A check outside the parser (supd's: a Seccomp= profile) failed: the entry becomes a bad
 * unit with text ("PATH:LINE: KEY: ...") as its error. */
void unit_entry_fail(struct unit_entry *e, const char *text);
struct unit_template *unit_set_find_template(struct unit_set *set, const char *name);
/*
 * NAME@INSTANCE for a start request or a dependency: its entry, created from the template
 * NAME@ if there is no such unit yet. NULL if there is neither (errno ENOENT) or no memory
 * (errno ENOMEM). The entry may be a bad unit.
 */
struct unit_entry *unit_set_instantiate(struct unit_set *set, const char *name);
/* Parse the template's text for unit NAME@INSTANCE, as unit_parse_string. */
int unit_template_instantiate(const struct unit_template *t, const char *instance,
			      struct unit_config **out, struct unit_problems *problems);
/*
 * Dependency checks: a Requires=/BindsTo= naming a unit that is missing or bad, and every unit
 * on an ordering cycle (Requires=, BindsTo=, After=, and Before= reversed), get an error
 * (config freed, entry becomes bad-unit) with PATH:LINE of the key and the units involved.
 * Wants=, PartOf=, Conflicts= of a missing unit are not errors. Repeats until stable, so
 * units requiring a unit that became bad become bad too.
 */
void unit_set_check_deps(struct unit_set *set);

/*
 * supd --check: load DIR as supd would (dependency checks included), print every problem to
 * out ("PATH:LINE: error: ..." / "PATH:LINE: warning: ...") and a summary line. Returns the
 * exit status: 0 no errors (warnings allowed), 1 errors, 2 DIR cannot be read.
 */
int unit_verify_dir(const char *dir, FILE *out);

/*
 * $VAR expansion of one command line, as systemd does at exec time: a word that is exactly
 * $NAME becomes the value split at blanks (quotes respected), no word if unset; ${NAME} within
 * a word becomes the value as-is (empty if unset); $$ is a '$'; any other '$' stays.
 * env holds KEY=value (a later KEY wins); the caller adds MAINPID= where it applies.
 * Appends to out; returns 0, or -1 with errno (ENOMEM, EINVAL: a value with bad quoting).
 */
int unit_expand_argv(const struct strv *argv, const struct strv *env, struct strv *out);
/* Whether unit_expand_argv could change argv (a '$' in a word). */
bool unit_argv_has_variables(const struct strv *argv);

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
/* capabilities(7) names: "CAP_NET_ADMIN" for 12; NULL past UNIT_CAP_MAX. */
const char *unit_cap_name(unsigned cap);
/* "net_admin", "CAP_NET_ADMIN" (any case): its number, or -1. */
int unit_cap_from_name(const char *s);
/* "pid net mnt" for a UNIT_NS_* mask, into buf. */
const char *unit_ns_names(unsigned mask, char *buf, size_t size);

#endif
