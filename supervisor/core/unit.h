/*
 * The runtime unit: one per unit file, owned by the registry (registry.c), driven by the
 * state machine (state.c, service.c), ordered by deps.c. Each concern keeps its own part
 * of the unit in an embedded struct (health, cgroup, logs), declared here so that the unit
 * is one allocation.
 */
#ifndef SUP_CORE_UNIT_H
#define SUP_CORE_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "sup/hash.h"
#include "sup/list.h"
#include "sup/unit.h"
#include "core/policy.h"

/* The public states of the spec (supctl status, JSON, metrics). */
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

/*
 * Where exactly a unit is: every sub-state maps onto one public state (state.c holds the
 * table, the allowed transitions and the timer each sub-state arms).
 */
enum unit_sub {
	SUB_DEAD,      /* inactive: never started, or stopped by request */
	SUB_QUEUED,    /* starting: wanted, waiting for its requirements; no process */
	SUB_PULL,      /* starting: its image is being pulled */
	SUB_PRE,       /* starting: an ExecStartPre= command runs */
	SUB_SPAWN,     /* starting: the main process is forked and sets itself up */
	SUB_START,     /* starting: exec'd; waiting until it is up (READY=1, oneshot, forking) */
	SUB_POST,      /* starting: an ExecStartPost= command runs */
	SUB_RUNNING,   /* running */
	SUB_RELOAD,    /* running: an ExecReload= command runs */
	SUB_UNHEALTHY, /* unhealthy: health checks fail; left running (Restart= does not cover it)
			*/
	SUB_UNHEALTHY_KILL, /* unhealthy: stopped because unhealthy; its stop signal is sent */
	SUB_STOP_CMD,	    /* stopping: an ExecStop= command runs */
	SUB_STOP_TERM,	    /* stopping: the stop signal is sent (by request or for a failure) */
	SUB_STOP_KILL,	    /* stopping: still there at StopTimeoutSec: SIGKILL sent */
	SUB_DRAIN,	    /* stopping: the main process ended; the rest of its cgroup is killed */
	SUB_STOP_POST,	    /* stopping: an ExecStopPost= command runs (the run is over) */
	SUB_AUTO_RESTART,   /* restarting: waiting out the restart delay */
	SUB_EXITED,	    /* exited */
	SUB_REMAIN,	    /* exited, and still counted active (RemainAfterExit=yes) */
	SUB_FAILED,	    /* failed */
	SUB_BAD,	    /* bad-unit */
	SUB__MAX,
};

/* What the unit should be: start/stop requests and dependencies set it. */
enum unit_goal {
	GOAL_DOWN,
	GOAL_UP,
};

/* Who asked for the current or next run; a client waits while its request is unsettled. */
enum unit_job {
	JOB_NONE,
	JOB_START,	  /* a start request: settles once up, failed, or restarting */
	JOB_RESTART,	  /* a restart request: a stop, then a start */
	JOB_AUTO_RESTART, /* Restart=: the next run counts as a restart */
	JOB_FOLLOW, /* taken down while a requirement restarts; back up with it, and that start
		     * is not counted against its start limit (the requirement's run is) */
};

/* Timers a unit may have armed; the state timer belongs to the sub-state. */
enum unit_timer_id {
	UNIT_TIMER_STATE,    /* ready/start timeout, stop timeout, restart delay */
	UNIT_TIMER_WATCHDOG, /* WatchdogSec */
	UNIT_TIMER_HEALTH,   /* HealthIntervalSec, HealthTimeoutSec */
	UNIT_TIMER_CGROUP,   /* drain retries */
	UNIT_TIMER__MAX,
};

/* A process supd is waiting for: registered by pid (children.c), reaped in one place. */
enum child_kind {
	CHILD_MAIN,
	CHILD_CONTROL, /* ExecStartPre=, ExecStartPost=, ExecReload=, ExecStop= */
	CHILD_HEALTH,
	CHILD_OTHER, /* not a unit's: the console shell, an image helper */
};

struct sup_child {
	struct sup_hnode node;
	pid_t pid; /* 0: not registered */
	int pidfd; /* with has_pidfd: signals go through it (no pid reuse race) */
	bool has_pidfd;
	enum child_kind kind;
	void (*reaped)(struct sup_child *c, int wstatus);
};

struct last_exit {
	bool valid;
	bool signaled;
	bool stopped; /* the run ended by request (supctl stop/restart, a reload), not by itself */
	int code;     /* exit code, or signal number */
};

/* Resolved dependency edges (deps.c): pointers into the registry, rebuilt on every load. */
struct unit_edges {
	struct unit **v;
	const char **names; /* requires: the name each slot was given as (v[i] NULL: missing) */
	size_t n;
};

struct outpipe;
struct logbuf;
struct cgroup;
struct unit_ct;
struct unit_img;

struct unit {
	struct sup_hnode by_name; /* registry: live units by name (removed ones are not) */
	struct list link;	  /* registry: every unit, removed ones too */
	char name[UNIT_NAME_MAX + 1];
	struct unit_config *cfg;      /* NULL when bad */
	struct unit_config *next_cfg; /* reload changed it: applied at the next start */
	char *error;		      /* why bad-unit, failed, or being stopped for a failure */
	char *reload_error;	      /* the file no longer loads; cfg (the last good one) stays */
	bool removed;		      /* reload dropped it: freed once down */

	/* the state machine: sub and state written only by unit_set_sub() (state.c) */
	enum unit_sub sub;
	enum unit_state state; /* the public state of sub */
	uint64_t state_mono;   /* monotonic usec of the last change of public state */
	enum unit_goal goal;
	enum unit_job job;
	enum exit_kind result; /* the outcome of this run as far as known: SUCCESS = none yet */
	char *dep_error;       /* a requirement is lost: the unit ends failed with this text */

	/* the current run */
	struct sup_child main;		  /* main process */
	struct sup_child control;	  /* the ExecStart*=/ExecStop= command running, if any */
	const struct unit_commands *cmds; /* the list it is from (phases.c) */
	size_t cmd_next;		  /* the next command of that list */
	int control_fd;			  /* its spawn report pipe */
	int control_wstatus;		  /* of the last one, for messages */
	bool exit_to_note;     /* the main process's end is still to be noted (finish()) */
	bool condition_failed; /* ConditionPathExists= said no at the last start */
	pid_t pgid;
	uint64_t run_seq; /* spawns so far */
	uint64_t start_mono, start_real;
	unsigned restarts;	/* automatic restarts since supd started */
	uint64_t restart_delay; /* delay used before the current run, 0 if none */
	struct start_limit limit;
	struct last_exit last_exit;
	int exit_wstatus;  /* of the main process, kept while the cgroup drains */
	char *status_text; /* STATUS= from sd_notify */
	int notify_fd;	   /* its notify socket (notify.c), -1 if none */
	ino_t notify_ino;  /* the socket file's inode: a deleted one is made again */
	ev_io notify_io;
	ev_io spawn_io; /* sync pipe of a spawn in progress (exec.c) */
	int spawn_fd;

	ev_timer timers[UNIT_TIMER__MAX];

	/* health checks (health.c) */
	struct sup_child health;
	pid_t health_pgid; /* its process group: what it left behind is killed with it */
	int health_fd;	   /* its spawn report pipe (exec.c) */
	uint64_t health_started;
	unsigned health_failures;

	/* the unit as a container (container.c): NULL for a plain unit */
	struct unit_ct *ct;
	/* Image= (images/unit_image.c): NULL until used; the image's StopSignal (0: none) */
	struct unit_img *img;
	int img_stop_signal;

	/* cgroup (cgroups.c): NULL when the host has none, or between runs */
	struct cgroup *cg;
	struct cgroup *health_cg;	  /* the leaf health checks run in (sup_cg_join_leaf) */
	struct cgroup *exec_cg;		  /* the leaf `supctl exec` commands run in */
	const struct unit_config *cg_cfg; /* the config whose limits the cgroup has */
	ev_io cg_io;			  /* OOM (and v2 populated) events */
	struct list drain_link;		  /* on the draining list while in SUB_DRAIN */
	unsigned drain_tries;
	uint64_t drain_since; /* when the drain began; 0 once its warning is out */
	bool freezing;	      /* a freeze-kill is under way (polled by the cgroup timer) */
	unsigned freeze_polls;
	uint64_t cg_oom_base; /* the cgroup's OOM kill count already counted */
	uint64_t oom_kills;   /* OOM kills in the unit since supd started */
	bool oom_this_run;

	/* captured output (logs/) */
	struct logbuf *log;
	struct outpipe *out[2]; /* stdout, stderr of the current run */
	struct list followers;	/* clients following the log */
	uint64_t many_seq;	/* the last line sent to those following several units */

	/* dependencies (deps.c) */
	/* what this unit names (BindsTo= counts as Requires=, another's Before= as After=) */
	struct unit_edges requires, wants, after;
	struct unit_edges conflicts;		   /* Conflicts=, both ways */
	struct unit_edges parts;		   /* the units that are PartOf= this one */
	struct unit_edges required_by, ordered_by; /* who names this unit (Requires=, After=) */
	struct list dirty_link;			   /* on the scheduler's queue */
	bool dirty;
};

#define unit_of_link(l) sup_container_of(l, struct unit, link)

/* registry.c: the set of units */
struct unit *unit_find(const char *name); /* a live unit (not removed), or NULL */
/* A removed unit of that name not freed yet (its last run is still stopping), or NULL. */
struct unit *unit_find_removed(const char *name);
/* Takes ownership of cfg; error != NULL makes it a bad unit. NULL on ENOMEM. */
struct unit *unit_new(const char *name, struct unit_config *cfg, const char *error);
void unit_free(struct unit *u);
/* Take a unit out of the name index (reload removed it); it stays in the list until freed. */
void unit_mark_removed(struct unit *u);
void unit_free_config(struct unit_config *c);

/* Every unit, removed ones too; safe against freeing the current one. */
#define for_each_unit(u)                                                                           \
	for (struct list *_p = supd->units.next, *_n = _p->next;                                   \
	     _p != &supd->units && ((u) = unit_of_link(_p), 1); _p = _n, _n = _p->next)

#endif
