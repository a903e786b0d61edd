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

static json_t *last_exit_json(const struct unit *u)
{
	const char *sig;

	if (!u->last_exit.valid)
		return json_null();
	if (!u->last_exit.signaled)
		return json_pack("{s:i}", "code", u->last_exit.code);
	sig = sup_signal_name(u->last_exit.code);
	if (sig)
		return json_pack("{s:s}", "signal", sig);
	return json_pack("{s:s+}", "signal", "SIG", "UNKNOWN");
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
	json_object_set_new(o, "state_since_s",
			    json_real((double)(now_mono() - u->state_mono) / 1e6));
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

static json_t *statuses(const struct strv *names)
{
	json_t *a = json_array();
	struct unit *u;

	if (names && names->n) {
		for (size_t i = 0; i < names->n; i++)
			if ((u = unit_find(names->v[i])))
				json_array_append_new(a, sup_unit_status_json(u));
		return a;
	}
	for_each_unit(u) if (!u->removed) json_array_append_new(a, sup_unit_status_json(u));
	return a;
}

static json_t *cmd_status(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL;

	if (!lookup_all(req, &reply))
		return reply;
	reply = sup_reply_ok(statuses(&req->units));
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
	static const char *const names[] = {"stdout", "stderr", "supd"};

	json_array_append_new(ctx,
			      json_pack("{s:f, s:s, s:o}", "ts", (double)l->ts_usec / 1e6, "stream",
					names[l->stream], "text", sup_json_textn(l->text, l->len)));
}

static json_t *cmd_logs(struct client *c, struct sup_request *req)
{
	json_t *reply = NULL, *lines;
	struct unit *u;

	if (!lookup_all(req, &reply))
		return reply;
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
};

/* What may still be asked once shutdown has begun: reading, and poweroff/reboot again. */
static bool during_shutdown(enum sup_cmd cmd)
{
	return cmd == SUP_CMD_STATUS || cmd == SUP_CMD_LOGS || cmd == SUP_CMD_VERSION ||
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
		if (req->cmd == SUP_CMD_STOP ? !unit_is_down(u) : u->job != JOB_NONE)
			return NULL;
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
