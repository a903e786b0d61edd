/* Checks across keys, once the whole file is read. A key whose value was rejected is skipped. */
#include "unit_private.h"

static bool usable(const struct unit_parser *p, const char *key)
{
	return !unit_key_bad(p, key);
}

static void check_exec(struct unit_parser *p)
{
	unsigned long line = unit_key_line(p, "Exec");
	const char *key = line					  ? unit_key_spelled(p, "Exec")
			  : p->c->dialect == UNIT_DIALECT_SYSTEMD ? "ExecStart"
								  : "Exec";

	/* an image's Entrypoint and Cmd stand in (checked when it is pulled) */
	if (p->c->exec.n > 0 || !usable(p, "Exec") || (p->c->ct.image && !line))
		return;
	if (line)
		unit_problem(p, line, key, "emptied and not set again; allowed: %s",
			     "a command line, e.g. Exec=/usr/bin/server --port 80");
	else
		unit_problem(p, 0, key, "missing; allowed: %s",
			     "a command line in [Service], e.g. Exec=/usr/bin/server --port 80");
}

/* systemd reads PIDFile= for any type; supd's main process is the one it started, except for
 * Type=forking (where it is pending with the type). */
static void check_pid_file(struct unit_parser *p)
{
	if (!p->c->pid_file || p->c->type == UNIT_TYPE_FORKING || !usable(p, "Type"))
		return;
	unit_warning(p, unit_key_line(p, "PIDFile"), "PIDFile",
		     "ignored without Type=forking: the main process is the one supd started");
}

/* As systemd: a oneshot that restarts on success would run forever. */
static void check_oneshot(struct unit_parser *p)
{
	if (p->c->type != UNIT_TYPE_ONESHOT || p->c->restart != UNIT_RESTART_ALWAYS ||
	    !usable(p, "Type") || !usable(p, "Restart"))
		return;
	unit_problem(
	    p, unit_key_line(p, "Restart"), "Restart",
	    "'always' cannot be used with Type=oneshot; allowed: no, on-failure, on-abnormal");
}

/* As in systemd, a oneshot's run has no start timeout unless one is given. */
static void oneshot_timeout(struct unit_parser *p)
{
	if (p->c->type == UNIT_TYPE_ONESHOT && !unit_key_line(p, "ReadyTimeoutSec") &&
	    !unit_key_line(p, "TimeoutSec"))
		p->c->ready_timeout_usec = USEC_INFINITY;
}

static void check_restart_delay(struct unit_parser *p)
{
	const struct unit_config *c = p->c;
	char lo[UNIT_DURATION_TEXT], hi[UNIT_DURATION_TEXT];

	if (c->restart_max_usec >= c->restart_usec || !usable(p, "RestartSec") ||
	    !usable(p, "RestartMaxSec"))
		return;
	unit_format_duration(c->restart_usec, lo);
	unit_format_duration(c->restart_max_usec, hi);
	if (unit_key_line(p, "RestartMaxSec"))
		unit_problem(
		    p, unit_key_line(p, "RestartMaxSec"), "RestartMaxSec",
		    "%s is below RestartSec=%s; allowed: a duration of at least RestartSec", hi,
		    lo);
	else
		unit_problem(p, unit_key_line(p, "RestartSec"), "RestartSec",
			     "%s is above RestartMaxSec=%s (the default); allowed: at most "
			     "RestartMaxSec, or raise RestartMaxSec",
			     lo, hi);
}

static void check_health(struct unit_parser *p)
{
	static const char *const keys[] = {"HealthIntervalSec", "HealthTimeoutSec"};
	const uint64_t values[] = {p->c->health_interval_usec, p->c->health_timeout_usec};

	if (p->c->health_cmd.n == 0)
		return;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++)
		if (values[i] == 0 && usable(p, keys[i]))
			unit_problem(p, unit_key_line(p, keys[i]), keys[i],
				     "0 with HealthCmd= set; allowed: a duration above 0");
}

/* 0 means "no timeout", as in systemd (infinity says it explicitly): said at load time, not
 * found out when a stop hangs. */
static void check_no_timeout(struct unit_parser *p)
{
	static const struct {
		const char *key, *what;
	} keys[] = {
	    {"StopTimeoutSec", "a service that ignores its stop signal is never SIGKILLed, and "
			       "supd's own exit waits for it up to [Machine] ShutdownTimeoutSec= "
			       "of supd.conf"},
	    {"ReadyTimeoutSec", "a start that never gets ready stays starting for ever"},
	};
	const uint64_t values[] = {p->c->stop_timeout_usec, p->c->ready_timeout_usec};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++) {
		unsigned long line = unit_key_line(p, keys[i].key);
		const char *spelled = unit_key_spelled(p, keys[i].key);

		if (!line) {
			line = unit_key_line(p, "TimeoutSec");
			spelled = "TimeoutSec";
		}
		if (!line || values[i] != 0 || !usable(p, keys[i].key))
			continue;
		if (i == 1 && p->c->type != UNIT_TYPE_NOTIFY)
			continue; /* only Type=notify waits to be ready */
		unit_warning(p, line, spelled,
			     "0 means no timeout (as in systemd; write infinity to say so): %s",
			     keys[i].what);
	}
}

/* A check every few microseconds is a fork loop: the interval has a floor. */
static void check_health_floor(struct unit_parser *p)
{
	char floor[UNIT_DURATION_TEXT];

	if (!p->c->health_cmd.n || !p->c->health_interval_usec ||
	    p->c->health_interval_usec >= UNIT_HEALTH_INTERVAL_MIN)
		return;
	unit_format_duration(UNIT_HEALTH_INTERVAL_MIN, floor);
	unit_warning(p, unit_key_line(p, "HealthIntervalSec"), "HealthIntervalSec",
		     "below %s: checks run every %s", floor, floor);
}

/* [Container]: the default namespaces, and what only makes sense with another key. */
static void check_container(struct unit_parser *p)
{
	struct unit_container *t = &p->c->ct;
	unsigned ns;

	if (t->enabled && !unit_key_line(p, "Namespaces"))
		t->namespaces |= UNIT_NS_DEFAULT;
	ns = unit_container_namespaces(p->c);
	if (t->image && t->root_directory && usable(p, "Image"))
		unit_problem(p, unit_key_line(p, "RootDirectory"), "RootDirectory",
			     "cannot be used with Image=; allowed: one of the two");
	if (t->time_offset_usec && !(ns & UNIT_NS_TIME) && usable(p, "TimeOffsetSec"))
		unit_problem(p, unit_key_line(p, "TimeOffsetSec"), "TimeOffsetSec",
			     "needs the time namespace; allowed: 0, or time in Namespaces=");
	if (t->hostname && !(ns & UNIT_NS_UTS) && usable(p, "Hostname"))
		unit_problem(p, unit_key_line(p, "Hostname"), "Hostname",
			     "needs the uts namespace; allowed: uts in Namespaces=");
	if (t->userns == UNIT_USERNS_DEFAULT && (ns & UNIT_NS_USER))
		t->userns = UNIT_USERNS_AUTO;
	if (!t->enabled && (t->ambient & ~t->caps) && t->caps_set && usable(p, "Capabilities"))
		unit_problem(
		    p, unit_key_line(p, "AmbientCapabilities"), "AmbientCapabilities",
		    "names capabilities outside the bounding set; allowed: a subset of it");
}

/* With Image=, a StopSignal= not given is the image's (else SIGTERM): remember which. */
static void check_stop_signal(struct unit_parser *p)
{
	p->c->stop_signal_set = unit_key_line(p, "StopSignal") != 0;
}

void unit_check_config(struct unit_parser *p)
{
	check_stop_signal(p);
	check_container(p);
	check_exec(p);
	check_pid_file(p);
	check_oneshot(p);
	oneshot_timeout(p);
	check_restart_delay(p);
	check_health(p);
	check_health_floor(p);
	check_no_timeout(p);
}
