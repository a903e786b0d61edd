/* The control commands: one handler per command, and the unit status object. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "control/client.h"
#include "core/container.h"
#include "core/effects.h"
#include "core/reload.h"
#include "core/service.h"
#include "core/state.h"
#include "images/unit_image.h"
#include "metrics/stats.h"
#include "machine/machine.h"

/* CPU time and resident memory of the main process, from /proc, read when asked. */
static void proc_stats(pid_t pid, json_t *o)
{
	char path[64], buf[1024];
	unsigned long long ut, st, rss;
	_cleanup_fclose_ FILE *f = NULL;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')')))
		return;
	/* fields after "comm)": state(3) ... utime(14) stime(15) ... rss(24) */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
		   "%*d %*d %*u %*u %llu",
		   &ut, &st, &rss) != 3)
		return;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	json_object_set_new(o, "cpu_usage_usec",
			    json_integer((json_int_t)((ut + st) * 1000000 / tck)));
	json_object_set_new(o, "memory_current_bytes", json_integer((json_int_t)(rss * page)));
}

/* {"code": N} or {"signal": "SIGKILL"}, with "stopped": true when a request ended the run */
static json_t *last_exit_json(const struct unit *u)
{
	const char *sig;
	json_t *o;

	if (!u->last_exit.valid)
		return json_null();
	if (!u->last_exit.signaled)
		o = json_pack("{s:i}", "code", u->last_exit.code);
	else if ((sig = sup_signal_name(u->last_exit.code)))
		o = json_pack("{s:s}", "signal", sig);
	else
		o = json_pack("{s:s+}", "signal", "SIG", "UNKNOWN");
	if (o && u->last_exit.stopped)
		json_object_set_new(o, "stopped", json_true());
	return o;
}

/* systemd's ActiveState for a sub-state: what is-active prints (docs/supctl.md). */
static const char *active_state(const struct unit *u)
{
	switch (u->sub) {
	case SUB_RELOAD:
		return "reloading";
	case SUB_REMAIN: /* RemainAfterExit=yes */
		return "active";
	case SUB_UNHEALTHY_KILL:
		return "deactivating";
	default:
		break;
	}
	switch (u->state) {
	case UNIT_RUNNING:
	case UNIT_UNHEALTHY:
		return "active";
	case UNIT_STARTING:
	case UNIT_RESTARTING:
		return "activating";
	case UNIT_STOPPING:
		return "deactivating";
	case UNIT_FAILED:
	case UNIT_BAD:
		return "failed";
	default: /* inactive; exited without RemainAfterExit= */
		return "inactive";
	}
}

/* usec as seconds rounded to the millisecond */
static double ms_round(uint64_t usec)
{
	return (double)((usec + 500) / 1000) / 1e3;
}

json_t *sup_unit_status_json(struct unit *u)
{
	bool live = u->main.pid && u->state != UNIT_INACTIVE;
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(u->name));
	json_object_set_new(o, "state", json_string(unit_state_name(u->state)));
	json_object_set_new(o, "pid", json_integer(u->main.pid));
	json_object_set_new(o, "restarts", json_integer(u->restarts));
	json_object_set_new(
	    o, "uptime_s",
	    json_integer(live ? (json_int_t)((now_mono() - u->start_mono) / USEC_PER_SEC) : 0));
	json_object_set_new(o, "last_exit", last_exit_json(u));
	json_object_set_new(o, "oom_kills", json_integer((json_int_t)u->oom_kills));
	json_object_set_new(o, "cpu_usage_usec", json_null());
	json_object_set_new(o, "memory_current_bytes", json_null());
	json_object_set_new(o, "pids_current", json_null());
	/* from the unit's cgroup (stats.c); without one, the main process from /proc */
	if (!sup_stats_status(u, o) && live)
		proc_stats(u->main.pid, o);
	/* text from unit files and units: never a field lost to a byte that is not UTF-8 */
	json_object_set_new(o, "error", u->error ? sup_json_text(u->error) : json_null());
	json_object_set_new(o, "reload_error",
			    u->reload_error ? sup_json_text(u->reload_error) : json_null());
	json_object_set_new(
	    o, "description",
	    sup_json_text(u->cfg && u->cfg->description ? u->cfg->description : ""));
	json_object_set_new(o, "type", json_string(u->cfg ? unit_type_name(u->cfg->type) : ""));
	json_object_set_new(o, "status_text",
			    u->status_text ? sup_json_text(u->status_text) : json_null());
	json_object_set_new(o, "health",
			    !u->cfg || !u->cfg->health_cmd.n
				? json_null()
				: json_string(u->state == UNIT_UNHEALTHY || u->health_failures
						  ? "unhealthy"
						  : "healthy"));
	json_object_set_new(o, "active_state", json_string(active_state(u)));
	json_object_set_new(o, "sub", json_string(unit_sub_name(u->sub)));
	/* in whole milliseconds (no float noise), and the wall-clock time of the change */
	json_object_set_new(o, "state_since_s", json_real(ms_round(now_mono() - u->state_mono)));
	json_object_set_new(o, "state_since_ts",
			    json_real(ms_round(now_real() - (now_mono() - u->state_mono))));
	sup_ct_status_json(u, o); /* namespaces, root, init pid; "pid" is the service's */
	sup_img_status_json(u, o);
	return o;
}

/* Look every named unit up; NULL (and *reply) if one does not exist. */
static bool lookup_all(const struct sup_request *req, json_t **reply)
{
	for (size_t i = 0; i < req->units.n; i++)
		if (!unit_find(req->units.v[i])) {
			*reply =
			    sup_reply_error(SUP_EXIT_NO_UNIT, "no such unit: %s", req->units.v[i]);
			return false;
		}
	return true;
}

static json_t *statuses_detail(const struct strv *names, bool detail)
{
	json_t *a = json_array();
	struct unit *u;

	if (names && names->n) {
		for (size_t i = 0; i < names->n; i++) {
			json_t *o;
			if (!(u = unit_find(names->v[i])) || !(o = sup_unit_status_json(u)))
				continue;
			if (detail)
				sup_status_detail(u, o);
			json_array_append_new(a, o);
		}
		return a;
	}
	for_each_unit(u) if (!u->removed) json_array_append_new(a, sup_unit_status_json(u));
	return a;
}

static json_t *statuses(const struct strv *names)
{
	return statuses_detail(names, false);
}

static json_t *cmd_status(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	reply = sup_reply_ok(statuses_detail(&req->units, req->detail && req->units.n == 1));
	/* supd's own trouble (no units directory, nothing but bad units): beside the units */
	if (reply && supd->load_error)
		json_object_set_new(reply, "supd_error", json_string(supd->load_error));
	return reply;
}

/* Park the client until its units settle (or reply now when asked not to wait). */
static json_t *wait_or_reply(struct client *c, struct sup_request *req)
{
	json_t *reply;

	if (!req->wait)
		return sup_reply_ok(statuses(&req->units));
	c->wait = *req;
	memset(req, 0, sizeof(*req)); /* the client owns the names now */
	reply = sup_wait_result(c);
	if (reply)
		sup_request_free(&c->wait);
	else
		sup_client_wait(c);
	return reply;
}

static json_t *cmd_start(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	for (size_t i = 0; i < req->units.n; i++) {
		struct unit *u = unit_find(req->units.v[i]);
		struct sup_error *err = NULL;

		if (u->state == UNIT_BAD)
			return sup_reply_error(SUP_EXIT_FAILED, "%s: bad unit: %s", u->name,
					       u->error);
		if (req->cmd == SUP_CMD_RESTART) {
			if (req->pull) /* restart --pull: its Image= pulled again first */
				sup_img_force_pull(u);
			unit_restart(u);
		} else if (unit_start(u, false, &err) < 0) {
			reply = sup_reply_error(SUP_EXIT_FAILED, "%s", err->msg);
			sup_error_free(err);
			return reply;
		}
	}
	return wait_or_reply(c, req);
}

static json_t *cmd_stop(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	for (size_t i = 0; i < req->units.n; i++)
		unit_stop(unit_find(req->units.v[i]));
	return wait_or_reply(c, req);
}

static json_t *cmd_reset(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	for (size_t i = 0; i < req->units.n; i++)
		unit_reset(unit_find(req->units.v[i]));
	return sup_reply_ok(statuses(&req->units));
}

static json_t *cmd_reload(struct client *c, struct sup_request *req)
{
	if (supd->shutting_down)
		return sup_reply_error(SUP_EXIT_FAILED, "reload: supd is shutting down");
	sup_client_wait_reload(c); /* the reply comes when it is done (maybe at once) */
	sup_reload_request();
	return NULL;
}

static void add_line(const struct log_line *l, void *ctx)
{
	json_array_append_new(ctx, sup_log_line_json(NULL, l));
}

struct merge_ctx {
	struct unit *u;
	struct merged {
		struct unit *u;
		const struct log_line *l;
	} * v;
	size_t n, cap;
};

static void collect_line(const struct log_line *l, void *ctx)
{
	struct merge_ctx *m = ctx;
	struct merged *v;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		if (!(v = reallocarray(m->v, cap, sizeof(*v))))
			return;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct merged){m->u, l};
}

static int by_time(const void *a, const void *b)
{
	const struct merged *x = a, *y = b;

	if (x->l->ts_usec != y->l->ts_usec)
		return x->l->ts_usec < y->l->ts_usec ? -1 : 1;
	return x->l->seq < y->l->seq ? -1 : x->l->seq > y->l->seq; /* one unit's own order */
}

/* Several units (none named: all): their newest lines merged by time, each with its unit. */
static json_t *merged_tail(const struct strv *names, int lines, json_int_t *dropped)
{
	struct merge_ctx m = {0};
	json_t *out = json_array();
	struct unit *u;
	size_t first;

	for_each_unit(u)
	{
		if (u->removed || !u->log || (names->n && !strv_contains(names, u->name)))
			continue;
		m.u = u;
		logbuf_tail(u->log, lines, collect_line, &m);
		*dropped += (json_int_t)logbuf_dropped(u->log);
	}
	qsort(m.v, m.n, sizeof(*m.v), by_time);
	first = lines > 0 && m.n > (size_t)lines ? m.n - (size_t)lines : 0;
	for (size_t i = first; i < m.n; i++)
		json_array_append_new(out, sup_log_line_json(m.v[i].u, m.v[i].l));
	free(m.v);
	return out;
}

static json_t *cmd_logs(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL, *lines;
	json_int_t dropped = 0;
	struct unit *u;

	if (!lookup_all(req, &reply))
		return reply;
	if (req->units.n != 1) {
		lines = merged_tail(&req->units, req->lines, &dropped);
		reply = sup_reply_ok(json_pack("{s:o, s:I}", "lines", lines, "dropped", dropped));
		if (req->follow) {
			sup_client_send(c, reply);
			sup_client_follow_many(c, &req->units);
			return NULL;
		}
		return reply;
	}
	u = unit_find(req->units.v[0]);
	lines = json_array();
	logbuf_tail(u->log, req->lines, add_line, lines);
	reply = sup_reply_ok(
	    json_pack("{s:o, s:I}", "lines", lines, "dropped", (json_int_t)logbuf_dropped(u->log)));
	if (req->follow) {
		sup_client_send(c, reply);
		sup_client_follow(c, u);
		return NULL;
	}
	return reply;
}

/* supctl kill: the main process, or with "all" every process of the unit. */
static json_t *cmd_kill(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;
	struct unit *u;

	if (!lookup_all(req, &reply))
		return reply;
	u = unit_find(req->units.v[0]);
	if (u->main.pid <= 0 || unit_is_down(u))
		return sup_reply_error(SUP_EXIT_FAILED, "%s: not running: no process to signal",
				       u->name);
	unit_note(u, "supctl kill: %s sent to %s (uid %u)",
		  sup_signal_name(req->signal) ?: "a signal",
		  req->all ? "every process of the unit" : "the main process", (unsigned)c->uid);
	unit_kill(u, req->signal, req->all ? KILL_UNIT : KILL_MAIN);
	return sup_reply_ok(statuses(&req->units));
}

/* supctl reload UNIT...: their ExecReload= commands, as systemctl reload; the client waits
 * until every one is done. Nothing starts unless every unit can reload. */
static json_t *cmd_reload_units(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	for (size_t i = 0; i < req->units.n; i++) {
		struct unit *u = unit_find(req->units.v[i]);

		if (u->sub == SUB_RELOAD)
			return sup_reply_error(SUP_EXIT_FAILED, "%s: already reloading", u->name);
		if (u->sub != SUB_RUNNING && u->sub != SUB_UNHEALTHY)
			return sup_reply_error(SUP_EXIT_FAILED, "%s: not running (%s)", u->name,
					       unit_state_name(u->state));
		if (!u->cfg->exec_reload.n)
			return sup_reply_error(SUP_EXIT_FAILED,
					       "%s: no ExecReload= to reload it with", u->name);
	}
	for (size_t i = 0; i < req->units.n; i++) {
		struct unit *u = unit_find(req->units.v[i]);
		struct sup_error *err = NULL;

		if (u->sub == SUB_RELOAD)
			continue; /* named twice */
		/* a running unit's error can only be a reload's: this one's outcome */
		free(u->error);
		u->error = NULL;
		if (unit_reload(u, &err) < 0) {
			reply = sup_reply_error(SUP_EXIT_FAILED, "%s", err->msg);
			sup_error_free(err);
			return reply;
		}
	}
	return wait_or_reply(c, req);
}

/* A reload UNIT whose units are done: the first failed one's reason, or NULL. */
static json_t *reload_failure(const struct sup_request *req)
{
	for (size_t i = 0; i < req->units.n; i++) {
		struct unit *u = unit_find(req->units.v[i]);

		if (u && u->error && strncmp(u->error, "ExecReload", 10) == 0)
			return sup_reply_error(SUP_EXIT_FAILED, "%s: %s", u->name, u->error);
		if (u && u->state != UNIT_RUNNING && u->state != UNIT_UNHEALTHY)
			return sup_reply_error(SUP_EXIT_FAILED, "%s: %s during its reload%s%s",
					       u->name, unit_state_name(u->state),
					       u->error ? ": " : "", u->error ? u->error : "");
	}
	return NULL;
}

static json_t *cmd_version(struct client *c, struct sup_request *req)
{
	return sup_reply_ok(
	    json_pack("{s:s, s:i}", "version", SUP_VERSION, "protocol", SUP_PROTO_VERSION));
}

static json_t *cmd_power(struct client *c, struct sup_request *req)
{
	if (!supd->is_pid1)
		return sup_reply_error(SUP_EXIT_FAILED, "%s: supd is not the machine's init",
				       sup_cmd_name(req->cmd));
	/* during a shutdown too: accepted, and it shortens the deadline */
	machine_power(req->cmd == SUP_CMD_REBOOT ? MACHINE_REBOOT : MACHINE_POWEROFF,
		      req->cmd == SUP_CMD_REBOOT ? "supctl reboot" : "supctl poweroff");
	return sup_reply_ok(NULL);
}

static json_t *cmd_stats(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	return sup_reply_ok(sup_stats_json(&req->units));
}

static json_t *cmd_metrics(struct client *c, struct sup_request *req)
{
	return sup_reply_ok(json_pack("{s:o}", "text", sup_metrics_text()));
}

typedef json_t *(*command_fn)(struct client *c, struct sup_request *req);

static const command_fn handlers[SUP_CMD__MAX] = {
    [SUP_CMD_STATUS] = cmd_status,
    [SUP_CMD_START] = cmd_start,
    [SUP_CMD_STOP] = cmd_stop,
    [SUP_CMD_RESTART] = cmd_start,
    [SUP_CMD_RESET] = cmd_reset,
    [SUP_CMD_RELOAD] = cmd_reload,
    [SUP_CMD_LOGS] = cmd_logs,
    [SUP_CMD_VERSION] = cmd_version,
    [SUP_CMD_POWEROFF] = cmd_power,
    [SUP_CMD_REBOOT] = cmd_power,
    [SUP_CMD_STATS] = cmd_stats,
    [SUP_CMD_METRICS] = cmd_metrics,
    [SUP_CMD_EXEC] = sup_exec_command,
    [SUP_CMD_PULL] = sup_image_command,
    [SUP_CMD_IMAGES] = sup_image_command,
    [SUP_CMD_RMI] = sup_image_command,
    [SUP_CMD_LOAD] = sup_image_command,
    [SUP_CMD_GC] = sup_image_command,
    [SUP_CMD_UPDATE] = sup_image_command,
    [SUP_CMD_DROP_LAYER] = sup_image_command,
    [SUP_CMD_KILL] = cmd_kill,
    [SUP_CMD_CAT] = sup_cat_command,
    [SUP_CMD_RELOAD_UNITS] = cmd_reload_units,
};

/* What may still be asked once shutdown has begun: reading, and poweroff/reboot again. */
static bool during_shutdown(enum sup_cmd cmd)
{
	return cmd == SUP_CMD_STATUS || cmd == SUP_CMD_LOGS || cmd == SUP_CMD_VERSION ||
	       cmd == SUP_CMD_CAT || cmd == SUP_CMD_STATS || cmd == SUP_CMD_METRICS ||
	       cmd == SUP_CMD_POWEROFF || cmd == SUP_CMD_REBOOT;
}

json_t *sup_command(struct client *c, struct sup_request *req)
{
	if (supd->shutting_down && !during_shutdown(req->cmd)) {
		/* nothing starts once shutdown has begun: no start, restart or reload */
		sup_warn(NULL, "supctl %s refused: supd is shutting down", sup_cmd_name(req->cmd));
		return sup_reply_error(SUP_EXIT_FAILED, "%s: supd is shutting down",
				       sup_cmd_name(req->cmd));
	}
	return handlers[req->cmd](c, req);
}

/* Why a start did not end up running, for the reply. */
static void describe_failure(const struct unit *u, char *buf, size_t n)
{
	if (u->state == UNIT_RESTARTING)
		snprintf(buf, n, "%s: %s; restarting", u->name, u->error ? u->error : "ended");
	else if (u->state == UNIT_INACTIVE)
		snprintf(buf, n, "%s: stopped before it was up", u->name);
	else
		snprintf(buf, n, "%s: %s%s%s", u->name, unit_state_name(u->state),
			 u->error ? ": " : "", u->error ? u->error : "");
}

json_t *sup_wait_result(struct client *c)
{
	const struct sup_request *req = &c->wait;
	char why[1024];

	for (size_t i = 0; i < req->units.n; i++) {
		struct unit *u = unit_find(req->units.v[i]);

		if (!u)
			continue; /* removed meanwhile: nothing to wait for */
		if (req->cmd == SUP_CMD_RELOAD_UNITS ? u->sub == SUB_RELOAD
		    : req->cmd == SUP_CMD_STOP	     ? !unit_is_down(u)
						     : u->job != JOB_NONE)
			return NULL;
	}
	if (req->cmd == SUP_CMD_RELOAD_UNITS) {
		json_t *failed = reload_failure(req);
		return failed ? failed : sup_reply_ok(statuses(&req->units));
	}
	for (size_t i = 0; i < req->units.n && req->cmd != SUP_CMD_STOP; i++) {
		struct unit *u = unit_find(req->units.v[i]);

		if (!u || u->state == UNIT_RUNNING || u->state == UNIT_EXITED ||
		    u->state == UNIT_UNHEALTHY)
			continue;
		describe_failure(u, why, sizeof(why));
		return sup_reply_error(SUP_EXIT_FAILED, "%s", why);
	}
	return sup_reply_ok(statuses(&req->units));
}
