/*
 * RUNTIME PENDING: keys that are parsed, checked and stored in struct unit_config, but that
 * supd does not act on yet. A unit must never run without what it asked for, so each use
 * below is an error ("not yet supported") until the runtime lands. This table is the one
 * place to flip: when the state machine or the spawner implements a row, delete the row (and
 * its line in docs/units.md's table), and the key works.
 */
#include <string.h>

#include "unit_private.h"

struct pending {
	const char *key; /* canonical key the message points at (its spelling in the file) */
	bool (*used)(const struct unit_parser *p);
	const char *what; /* what is not done yet */
	const char *who;  /* which part of supd will act on it */
};

#define SM "the unit state machine"
#define SP "the spawner"

static bool start_pre(const struct unit_parser *p)
{
	return p->c->exec_start_pre.n > 0;
}
static bool start_post(const struct unit_parser *p)
{
	return p->c->exec_start_post.n > 0;
}
static bool stop(const struct unit_parser *p)
{
	return p->c->exec_stop.n > 0;
}
static bool stop_post(const struct unit_parser *p)
{
	return p->c->exec_stop_post.n > 0;
}
static bool reload(const struct unit_parser *p)
{
	return p->c->exec_reload.n > 0;
}
static bool main_ignore_failure(const struct unit_parser *p)
{
	return p->c->exec.n > 0 && (p->c->exec_flags & UNIT_CMD_IGNORE_FAILURE);
}
static bool forking(const struct unit_parser *p)
{
	return p->c->type == UNIT_TYPE_FORKING;
}
static bool remain(const struct unit_parser *p)
{
	return p->c->remain_after_exit;
}
static bool kill_mode(const struct unit_parser *p)
{
	return p->c->kill_mode != UNIT_KILL_CONTROL_GROUP;
}
static bool before(const struct unit_parser *p)
{
	return p->c->before.n > 0;
}
static bool binds_to(const struct unit_parser *p)
{
	return p->c->binds_to.n > 0;
}
static bool part_of(const struct unit_parser *p)
{
	return p->c->part_of.n > 0;
}
static bool conflicts(const struct unit_parser *p)
{
	return p->c->conflicts.n > 0;
}
static bool success_status(const struct unit_parser *p)
{
	return !unit_exit_set_empty(&p->c->success_exit_status);
}
static bool prevent_status(const struct unit_parser *p)
{
	return !unit_exit_set_empty(&p->c->restart_prevent_exit_status);
}
static bool restart_new(const struct unit_parser *p)
{
	return p->c->restart >= UNIT_RESTART_ON_SUCCESS;
}
/* A start timeout where supd has none today: a finite one given for oneshot or forking. */
static bool start_timeout(const struct unit_parser *p)
{
	return (p->c->type == UNIT_TYPE_ONESHOT || p->c->type == UNIT_TYPE_FORKING) &&
	       p->c->ready_timeout_usec != USEC_INFINITY && p->c->ready_timeout_usec != 0 &&
	       (unit_key_line(p, "ReadyTimeoutSec") || unit_key_line(p, "TimeoutSec"));
}
static bool notify_access(const struct unit_parser *p)
{
	return p->c->notify_access != UNIT_NOTIFY_ALL;
}
static bool condition(const struct unit_parser *p)
{
	return p->c->condition_path_exists.n > 0;
}
static bool assertion(const struct unit_parser *p)
{
	return p->c->assert_path_exists.n > 0;
}
static bool limits(const struct unit_parser *p)
{
	for (size_t i = 0; i < UNIT_RLIMITS; i++)
		if (p->c->limits[i].soft != UNIT_RES_UNSET)
			return true;
	return false;
}
static bool umask_set(const struct unit_parser *p)
{
	return p->c->umask >= 0;
}
static bool nice_set(const struct unit_parser *p)
{
	return p->c->nice != UNIT_INT_UNSET;
}
static bool oom_set(const struct unit_parser *p)
{
	return p->c->oom_score_adjust != UNIT_INT_UNSET;
}
static bool sigpipe(const struct unit_parser *p)
{
	return p->c->ignore_sigpipe;
}
static bool runtime_dir(const struct unit_parser *p)
{
	return p->c->runtime_directory.n > 0;
}
static bool state_dir(const struct unit_parser *p)
{
	return p->c->state_directory.n > 0;
}
/* systemd's dialect expands $VAR in command lines at spawn (unit_expand_argv) */
static bool variables(const struct unit_parser *p)
{
	return p->c->dialect == UNIT_DIALECT_SYSTEMD && !(p->c->exec_flags & UNIT_CMD_NO_EXPAND) &&
	       unit_argv_has_variables(&p->c->exec);
}

static bool image(const struct unit_parser *p)
{
	return p->c->ct.image != NULL;
}
static bool network_later(const struct unit_parser *p)
{
	return p->c->ct.network == UNIT_NETWORK_BRIDGE ||
	       p->c->ct.network == UNIT_NETWORK_CONTAINER;
}
static bool address(const struct unit_parser *p)
{
	return p->c->ct.address != NULL;
}
static bool publish(const struct unit_parser *p)
{
	return p->c->ct.publish.n > 0;
}

static const struct pending pending[] = {
    {"Image", image, "Image=", "the images issue's unit step"},
    {"Network", network_later, "Network=bridge and Network=container:UNIT", "the networking issue"},
    {"Address", address, "Address=", "the networking issue"},
    {"Publish", publish, "Publish=", "the networking issue"},
    {"ExecStartPre", start_pre, "ExecStartPre=", SM},
    {"ExecStartPost", start_post, "ExecStartPost=", SM},
    {"ExecStop", stop, "ExecStop=", SM},
    {"ExecStopPost", stop_post, "ExecStopPost=", SM},
    {"ExecReload", reload, "ExecReload=", SM},
    {"Exec", main_ignore_failure, "the '-' prefix on the main command", SM},
    {"Type", forking, "Type=forking (with PIDFile=)", SM},
    {"RemainAfterExit", remain, "RemainAfterExit=yes", SM},
    {"KillMode", kill_mode, "KillMode=mixed or KillMode=process", SM},
    {"Before", before, "Before=", SM},
    {"BindsTo", binds_to, "BindsTo=", SM},
    {"PartOf", part_of, "PartOf=", SM},
    {"Conflicts", conflicts, "Conflicts=", SM},
    {"SuccessExitStatus", success_status, "SuccessExitStatus=", SM},
    {"RestartPreventExitStatus", prevent_status, "RestartPreventExitStatus=", SM},
    {"Restart", restart_new, "Restart=on-success, on-watchdog or on-abort", SM},
    {"ReadyTimeoutSec", start_timeout, "a start timeout for Type=oneshot or Type=forking", SM},
    {"NotifyAccess", notify_access, "NotifyAccess= other than all", SM},
    {"ConditionPathExists", condition, "ConditionPathExists=", SM},
    {"AssertPathExists", assertion, "AssertPathExists=", SM},
    {"LimitNOFILE", limits, "Limit*=", SP},
    {"UMask", umask_set, "UMask=", SP},
    {"Nice", nice_set, "Nice=", SP},
    {"OOMScoreAdjust", oom_set, "OOMScoreAdjust=", SP},
    {"IgnoreSIGPIPE", sigpipe, "IgnoreSIGPIPE=yes", SP},
    {"RuntimeDirectory", runtime_dir, "RuntimeDirectory=", SP},
    {"StateDirectory", state_dir, "StateDirectory=", SP},
    {"Exec", variables, "$VAR expansion in the command line", SP},
};

/* The line of a Limit*= row: the first Limit key given. */
static unsigned long row_line(const struct unit_parser *p, const struct pending *r,
			      const char **key)
{
	static const char *const limit_keys[] = {
	    "LimitCPU",	     "LimitFSIZE",   "LimitDATA",   "LimitSTACK",
	    "LimitCORE",     "LimitRSS",     "LimitNOFILE", "LimitAS",
	    "LimitNPROC",    "LimitMEMLOCK", "LimitLOCKS",  "LimitSIGPENDING",
	    "LimitMSGQUEUE", "LimitNICE",    "LimitRTPRIO", "LimitRTTIME"};

	*key = r->key;
	if (r->used != limits)
		return unit_key_line(p, r->key);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(limit_keys); i++)
		if (unit_key_line(p, limit_keys[i])) {
			*key = limit_keys[i];
			return unit_key_line(p, limit_keys[i]);
		}
	return 0;
}

void unit_check_pending(struct unit_parser *p)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(pending); i++) {
		const struct pending *r = &pending[i];
		const char *key;
		unsigned long line = row_line(p, r, &key);
		if (unit_key_bad(p, key) || !r->used(p))
			continue;
		unit_problem(p, line, unit_key_spelled(p, key),
			     "not yet supported: %s is parsed, but %s does not act on it yet; "
			     "the unit is not started without it",
			     r->what, r->who);
	}
}
