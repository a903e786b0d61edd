/* supd's private shapes: the manager, the runtime unit, the control clients. */
#ifndef SUP_SUPD_H
#define SUP_SUPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>
#include <jansson.h>

#include "sup/cleanup.h"
#include "sup/proto.h"
#include "sup/unit.h"
#include "logs/logbuf.h"
#include "core/policy.h"

enum unit_state {
	UNIT_INACTIVE,
	UNIT_STARTING,
	UNIT_RUNNING,
	UNIT_STOPPING,
	UNIT_RESTARTING,
	UNIT_EXITED,
	UNIT_FAILED,
	UNIT_UNHEALTHY,
	UNIT_BAD,
	UNIT_STATE__MAX,
};

const char *unit_state_name(enum unit_state s);

struct list {
	struct list *prev, *next;
};

struct outpipe; /* a capture pipe being read: output.c */

struct last_exit {
	bool valid;
	bool signaled;
	int code; /* exit code, or signal number */
};

struct unit {
	struct list link;
	char name[UNIT_NAME_MAX + 1];
	struct unit_config *cfg; /* NULL when bad */
	char *error;		 /* why bad-unit or failed; NULL otherwise */

	enum unit_state state;	      /* written only by unit_set_state() */
	bool wanted;		      /* should be up: set by boot/start, cleared by stop */
	bool removed;		      /* reload dropped it: freed once inactive */
	struct unit_config *next_cfg; /* reload changed it: applied at the next start */

	pid_t pid;		  /* main process, 0 if none */
	pid_t pgid;		  /* its process group (= pid: setsid) */
	bool exec_done;		  /* the spawn sync pipe reported a successful exec */
	bool spawn_failed;	  /* ... or a failure before exec */
	bool killing;		  /* we signalled it; stop_kind says why */
	bool auto_restart;	  /* the next spawn is a restart by policy: counted in restarts */
	bool job_pending;	  /* a start/restart request not yet settled */
	char *dep_error;	  /* a requirement failed: the state to end in is failed */
	bool ready;		  /* notify: READY=1 seen */
	enum exit_kind stop_kind; /* why we are killing it: SUCCESS = by request */
	bool restart_after_stop;  /* `restart` command: start again once down */
	uint64_t run_seq;	  /* spawns so far; waiters compare it */

	uint64_t start_mono;	/* monotonic usec of the current run's spawn */
	uint64_t start_real;	/* realtime usec of it */
	uint64_t state_mono;	/* monotonic usec of the last state change */
	unsigned restarts;	/* automatic restarts since supd started */
	uint64_t restart_delay; /* delay used before the current run, 0 if none */
	struct start_limit limit;
	struct last_exit last_exit;
	char *status_text; /* STATUS= from sd_notify */

	ev_timer timer;	   /* state timer: ready timeout, stop timeout, restart delay */
	ev_timer watchdog; /* WatchdogSec */
	ev_io spawn_io;	   /* sync pipe of a spawn in progress */
	int spawn_fd;

	/* health checks */
	ev_timer health_timer;
	pid_t health_pid;
	uint64_t health_started;
	unsigned health_failures;
	bool healthy_seen;

	/* cgroup (cgroups.c): NULL when the host has none, or between runs */
	struct cgroup *cg;
	const struct unit_config *cg_cfg; /* the config whose limits the cgroup has */
	ev_io cg_io;			  /* OOM (and v2 populated) events */
	ev_timer cg_timer;		  /* while draining: re-check, and retry rmdir on EBUSY */
	bool draining; /* the main process ended; waiting for the cgroup to empty */
	unsigned drain_tries;
	int exit_wstatus;     /* of the main process, kept while draining */
	uint64_t cg_oom_base; /* the cgroup's OOM kill count already counted */
	uint64_t oom_kills;   /* OOM kills in the unit since supd started */
	bool oom_this_run;

	struct logbuf *log;
	struct outpipe *out[2]; /* stdout, stderr of the current run */
	struct list followers;	/* clients following the log */
};

struct client;

struct supd_config {
	char *units_dir;
	char *config_file;
	char *state_dir;
	char *run_dir;
	char *socket_path;
	char *notify_path;
	gid_t control_gid; /* (gid_t)-1: root only */
	size_t log_ring_bytes;
	char *log_dir; /* NULL: no log files */
	uint64_t log_file_max;
	unsigned log_file_keep;
	int machine_mode;     /* enum machine_mode (machine.h): --machine / --container, or auto */
	char *hostname;	      /* [Machine] Hostname=: set when the machine's init (default "sup") */
	int cgroup_mode;      /* enum cg_mode: [Cgroup] Mode= (default auto) */
	int cgroup_favor;     /* [Cgroup] FavorDynMods=: 1, 0, or -1 = only as the machine's init */
	char *metrics_listen; /* [Metrics] Listen=ADDR:PORT; NULL: off */

	/* [Machine] ShutdownTimeoutSec=: how long the machine's shutdown may take; 0: 90 s */
	uint64_t shutdown_timeout_usec;
};

struct supd {
	struct ev_loop *loop;
	struct supd_config conf;
	struct list units;
	size_t n_units;
	bool shutting_down;
	int exit_status; /* supd's own exit status at shutdown */
	bool is_pid1;
	bool sched_pending;
	ev_prepare sched;

	int signal_fd;
	ev_io signal_io;
	int notify_fd;
	ev_io notify_io;
	int control_fd;
	ev_io control_io;
	struct list clients;
	size_t n_clients;
	char *load_error;	   /* the units directory could not be read */
	unsigned long nofile_soft; /* RLIMIT_NOFILE soft limit supd started with (0: unchanged) */
};

extern struct supd *supd;

/* list.c-style helpers */
static inline void list_init(struct list *l)
{
	l->prev = l->next = l;
}
static inline bool list_empty(const struct list *l)
{
	return l->next == l;
}
static inline void list_add_tail(struct list *l, struct list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}
static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}
#define list_for_each_safe(pos, tmp, head)                                                         \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                           \
	     (pos) = (tmp), (tmp) = (pos)->next)
#define unit_of(l) sup_container_of(l, struct unit, link)
/* Safe against freeing the current unit. */
#define for_each_unit(u)                                                                           \
	for (struct list *_p = supd->units.next, *_n = _p->next;                                   \
	     _p != &supd->units && ((u) = unit_of(_p), 1); _p = _n, _n = _p->next)

uint64_t now_mono(void);
uint64_t now_real(void);

/* manager.c: the set of units */
struct unit *sup_unit_find(const char *name);
struct unit *sup_unit_by_pid(pid_t pid);
struct unit *sup_unit_new(const char *name, struct unit_config *cfg, const char *error);
void sup_unit_free(struct unit *u);
int sup_units_load(struct sup_error **err);
/* reload: fills the three arrays with names; returns -1 if the directory cannot be read */
int sup_units_reload(json_t *added, json_t *removed, json_t *changed, struct sup_error **err);

/* state.c: the state machine */
void unit_set_state(struct unit *u, enum unit_state s);
void sup_unit_note(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sup_unit_start(struct unit *u, bool clear_limit, struct sup_error **err);
void sup_unit_stop(struct unit *u);
void sup_unit_restart(struct unit *u);
void sup_unit_reset(struct unit *u);
void sup_unit_exited(struct unit *u, int wstatus);
void sup_unit_spawn(struct unit *u);
void sup_unit_stop_now(struct unit *u);
void sup_unit_stopped(struct unit *u);
void sup_unit_timers_init(struct unit *u);
void sup_unit_spawned(struct unit *u);
void sup_unit_spawn_failed(struct unit *u, const char *msg);
void sup_unit_fail_stop(struct unit *u, enum exit_kind kind, int sig, const char *why);
void sup_schedule(void); /* ask for a scheduling pass before the loop sleeps */
void sup_shutdown(int status);
void sup_boot_units(void); /* supd.c: load the units and start them; errors into load_error */
bool unit_is_up(const struct unit *u); /* running (ready) or exited ok */
bool unit_is_down(const struct unit *u);

/* deps.c: ordering */
void sup_sched_pass(void);
void sup_want(struct unit *u);	 /* wanted, with Requires/Wants, recursively */
void sup_unwant(struct unit *u); /* not wanted; nor anything that Requires it */

/* spawn_unit.c: turn a unit into a spawn request */
int sup_spawn_unit(struct unit *u, struct sup_error **err);
pid_t sup_spawn_health(struct unit *u, struct sup_error **err);
void sup_spawn_sync_finish(struct unit *u); /* read the sync pipe's last word, close it */

/* reaper.c */
void sup_reap(void);

/* notify.c */
int sup_notify_init(struct sup_error **err);
void sup_watchdog_arm(struct unit *u);

/* health.c */
void sup_health_arm(struct unit *u);
void sup_health_disarm(struct unit *u);
bool sup_health_reaped(pid_t pid, int wstatus);

/* output.c */
int sup_output_pipe(struct unit *u, enum log_stream s, int *child_fd, struct sup_error **err);
void sup_output_detach(struct unit *u);
void sup_output_drain(struct unit *u);
void sup_output_line_added(struct unit *u);

/* control.c */
int sup_control_init(struct sup_error **err);
void sup_control_state_changed(struct unit *u);
void sup_control_log_added(struct unit *u);
void sup_control_unit_gone(struct unit *u);

/* commands.c */
json_t *sup_unit_status_json(struct unit *u);

/* cgroups.c: each unit's cgroup, limits, OOM events, stats */
struct spawn_request;
struct cg_stats;
void sup_cg_setup(void);
/* Before a spawn: the unit's cgroup, made and limited; fills req's cgroup fields. */
int sup_cg_prepare(struct unit *u, struct spawn_request *req, struct sup_error **err);
/* Health checks join the running unit's cgroup (no-op without one). */
void sup_cg_join(struct unit *u, struct spawn_request *req);
/* Signal the whole cgroup (SIGKILL: cgroup.kill / freeze-kill). false: no cgroup. */
bool sup_cg_signal(struct unit *u, int sig);
/* The main process ended: kill the rest; true while the cgroup still has to empty (then
 * sup_unit_exit_finish() runs), false when done (cgroup gone or none). */
bool sup_cg_drain(struct unit *u);
void sup_cg_reaped(void);	     /* after a reaping batch: re-check draining units */
void sup_cg_apply(struct unit *u);   /* new limits on a running unit (reload) */
void sup_cg_release(struct unit *u); /* down for good: remove its (empty) cgroup */
bool sup_cg_stats(struct unit *u, struct cg_stats *st); /* false: no cgroup */
void sup_cg_unit_free(struct unit *u);
void sup_cg_fini(void);		       /* supd exits (not as the machine's init) */
const char *sup_cg_backend_name(void); /* "v2", "v1", or "none" */

/* stats.c: cgroup figures for status, stats and metrics (read when asked) */
bool sup_stats_status(struct unit *u, json_t *o); /* false: no cgroup */
json_t *sup_stats_json(const struct strv *names); /* none: every unit */
json_t *sup_metrics_text(void);			  /* a JSON string */

/* state.c: the rest of sup_unit_exited once the cgroup is empty */
void sup_unit_exit_finish(struct unit *u);

/* config.c */
int sup_config_load(struct supd_config *c, struct sup_error **err);

#endif
