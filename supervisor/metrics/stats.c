/*
 * Cgroup figures, read from the kernel only when a client asks (status, stats, metrics): an
 * idle supd reads nothing. The Prometheus text uses the interface spec's metric names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "core/cgroups.h"
#include "core/state.h"
#include "metrics/stats.h"
#include "supd.h"

static json_t *num(uint64_t v)
{
	return v == CG_NA ? json_null() : json_integer((json_int_t)v);
}

bool sup_stats_status(struct unit *u, json_t *o)
{
	struct cg_stats st;

	if (!sup_cg_stats(u, &st))
		return false;
	json_object_set_new(o, "cpu_usage_usec", num(st.cpu_usage_usec));
	json_object_set_new(o, "memory_current_bytes", num(st.memory_current));
	json_object_set_new(o, "pids_current", num(st.pids_current));
	return true;
}

static json_t *unit_stats(struct unit *u)
{
	struct cg_stats st;
	bool have = sup_cg_stats(u, &st);
	json_t *o;

	if (!have)
		memset(&st, 0xff, sizeof(st));
	o = json_object();
	json_object_set_new(o, "name", json_string(u->name));
	json_object_set_new(o, "state", json_string(unit_state_name(u->state)));
	json_object_set_new(o, "pid", json_integer(u->main.pid));
	json_object_set_new(o, "cgroup", json_boolean(have));
	json_object_set_new(o, "cpu_usage_usec", num(st.cpu_usage_usec));
	json_object_set_new(o, "cpu_user_usec", num(st.cpu_user_usec));
	json_object_set_new(o, "cpu_system_usec", num(st.cpu_system_usec));
	json_object_set_new(o, "memory_current_bytes", num(st.memory_current));
	json_object_set_new(o, "memory_peak_bytes", num(st.memory_peak));
	json_object_set_new(o, "pids_current", num(st.pids_current));
	json_object_set_new(o, "io_read_bytes", num(st.io_read_bytes));
	json_object_set_new(o, "io_write_bytes", num(st.io_write_bytes));
	json_object_set_new(o, "io_read_ops", num(st.io_read_ops));
	json_object_set_new(o, "io_write_ops", num(st.io_write_ops));
	json_object_set_new(o, "oom_kills", json_integer((json_int_t)u->oom_kills));
	json_object_set_new(o, "pressure",
			    json_pack("{s:{s:o,s:o}, s:{s:o,s:o}, s:{s:o,s:o}}", "cpu", "some_usec",
				      num(st.cpu_some_usec), "full_usec", num(st.cpu_full_usec),
				      "memory", "some_usec", num(st.memory_some_usec), "full_usec",
				      num(st.memory_full_usec), "io", "some_usec",
				      num(st.io_some_usec), "full_usec", num(st.io_full_usec)));
	return o;
}

json_t *sup_stats_json(const struct strv *names)
{
	json_t *a = json_array();
	struct unit *u;

	if (names && names->n) {
		for (size_t i = 0; i < names->n; i++)
			if ((u = unit_find(names->v[i])))
				json_array_append_new(a, unit_stats(u));
		return a;
	}
	for_each_unit(u) if (!u->removed) json_array_append_new(a, unit_stats(u));
	return a;
}

/* ---- Prometheus text exposition ---- */

/* What a metric's sample is read from: the unit and its cgroup figures (have: there is a
 * cgroup). Returns false when the unit has no sample for it. */
struct sample {
	const struct unit *u;
	const struct cg_stats *st;
	bool have;
};

enum fmt {
	F_INT,	   /* an integer */
	F_USEC_S,  /* microseconds, shown as seconds */
	F_USEC_TS, /* a realtime in microseconds, shown as unix seconds */
};

struct metric {
	const char *name, *type, *help;
	enum fmt fmt;
	bool (*get)(const struct sample *s, uint64_t *v);
};

static bool cgv(const struct sample *s, uint64_t field, uint64_t *v)
{
	*v = field;
	return s->have && field != CG_NA;
}

#define CG_GETTER(fn, field)                                                                       \
	static bool fn(const struct sample *s, uint64_t *v)                                        \
	{                                                                                          \
		return cgv(s, s->st->field, v);                                                    \
	}
CG_GETTER(get_cpu, cpu_usage_usec)
CG_GETTER(get_cpu_user, cpu_user_usec)
CG_GETTER(get_cpu_sys, cpu_system_usec)
CG_GETTER(get_mem, memory_current)
CG_GETTER(get_mem_peak, memory_peak)
CG_GETTER(get_pids, pids_current)
CG_GETTER(get_io_rb, io_read_bytes)
CG_GETTER(get_io_wb, io_write_bytes)
CG_GETTER(get_io_ro, io_read_ops)
CG_GETTER(get_io_wo, io_write_ops)
CG_GETTER(get_cpu_psi, cpu_some_usec)
CG_GETTER(get_cpu_psi_full, cpu_full_usec)
CG_GETTER(get_mem_psi, memory_some_usec)
CG_GETTER(get_mem_psi_full, memory_full_usec)
CG_GETTER(get_io_psi, io_some_usec)
CG_GETTER(get_io_psi_full, io_full_usec)
CG_GETTER(get_thr_periods, cpu_throttled_periods)
CG_GETTER(get_thr_usec, cpu_throttled_usec)

static bool get_restarts(const struct sample *s, uint64_t *v)
{
	*v = s->u->restarts;
	return true;
}

static bool get_oom(const struct sample *s, uint64_t *v)
{
	*v = s->u->oom_kills;
	return true;
}

/* a limit as configured: unset or infinity have no sample */
static bool limit(uint64_t x, uint64_t *v)
{
	*v = x;
	return x != UNIT_RES_UNSET && x != SIZE_INFINITY;
}

static bool get_mem_max(const struct sample *s, uint64_t *v)
{
	return s->u->cfg && limit(s->u->cfg->res.memory_max, v);
}

static bool get_mem_high(const struct sample *s, uint64_t *v)
{
	return s->u->cfg && limit(s->u->cfg->res.memory_high, v);
}

static bool get_pids_max(const struct sample *s, uint64_t *v)
{
	return s->u->cfg && limit(s->u->cfg->res.pids_max, v);
}

/* CPUQuota= as a share of one CPU, in microseconds per second: shown as seconds per second */
static bool get_cpu_quota(const struct sample *s, uint64_t *v)
{
	*v = s->u->cfg ? (uint64_t)s->u->cfg->res.cpu_quota_pct * 10000 : 0;
	return *v != 0;
}

static bool get_start_time(const struct sample *s, uint64_t *v)
{
	*v = s->u->start_real;
	return s->u->main.pid && s->u->start_real;
}

/* as supd's own exit status would be: the code, or 128 + the signal */
static bool get_last_exit(const struct sample *s, uint64_t *v)
{
	const struct last_exit *e = &s->u->last_exit;

	*v = (uint64_t)(e->signaled ? 128 + e->code : e->code);
	return e->valid;
}

static bool get_healthy(const struct sample *s, uint64_t *v)
{
	if (!s->u->cfg || !s->u->cfg->health_cmd.n || !s->u->main.pid)
		return false;
	*v = s->u->state != UNIT_UNHEALTHY && !s->u->health_failures;
	return true;
}

static const struct metric metrics[] = {
    {"sup_unit_restarts_total", "counter", "Automatic restarts of the unit since supd started",
     F_INT, get_restarts},
    {"sup_unit_cpu_usage_seconds_total", "counter",
     "CPU time used by the unit's cgroup (current run)", F_USEC_S, get_cpu},
    {"sup_unit_cpu_user_seconds_total", "counter", "User CPU time of the unit's cgroup", F_USEC_S,
     get_cpu_user},
    {"sup_unit_cpu_system_seconds_total", "counter", "System CPU time of the unit's cgroup",
     F_USEC_S, get_cpu_sys},
    {"sup_unit_cpu_throttled_periods_total", "counter",
     "Periods in which CPUQuota= held the unit back", F_INT, get_thr_periods},
    {"sup_unit_cpu_throttled_seconds_total", "counter", "Time CPUQuota= held the unit back",
     F_USEC_S, get_thr_usec},
    {"sup_unit_cpu_quota_cores", "gauge", "CPUQuota= as a number of CPUs", F_USEC_S, get_cpu_quota},
    {"sup_unit_memory_current_bytes", "gauge", "Memory charged to the unit's cgroup", F_INT,
     get_mem},
    {"sup_unit_memory_peak_bytes", "gauge",
     "Highest memory charged to the unit's cgroup (current run)", F_INT, get_mem_peak},
    {"sup_unit_memory_max_bytes", "gauge", "MemoryMax= of the unit", F_INT, get_mem_max},
    {"sup_unit_memory_high_bytes", "gauge", "MemoryHigh= of the unit", F_INT, get_mem_high},
    {"sup_unit_pids_current", "gauge", "Processes and threads in the unit's cgroup", F_INT,
     get_pids},
    {"sup_unit_pids_max", "gauge", "PidsMax= of the unit", F_INT, get_pids_max},
    {"sup_unit_io_read_bytes_total", "counter",
     "Bytes read from block devices by the unit's cgroup (current run)", F_INT, get_io_rb},
    {"sup_unit_io_write_bytes_total", "counter",
     "Bytes written to block devices by the unit's cgroup (current run)", F_INT, get_io_wb},
    {"sup_unit_io_read_ops_total", "counter", "Read operations of the unit's cgroup", F_INT,
     get_io_ro},
    {"sup_unit_io_write_ops_total", "counter", "Write operations of the unit's cgroup", F_INT,
     get_io_wo},
    {"sup_unit_oom_kills_total", "counter",
     "Processes of the unit killed by the OOM killer since supd started", F_INT, get_oom},
    {"sup_unit_cpu_pressure_some_seconds_total", "counter",
     "Time some task of the unit's cgroup waited for a CPU (PSI)", F_USEC_S, get_cpu_psi},
    {"sup_unit_cpu_pressure_full_seconds_total", "counter",
     "Time every task of the unit's cgroup waited for a CPU (PSI)", F_USEC_S, get_cpu_psi_full},
    {"sup_unit_memory_pressure_some_seconds_total", "counter",
     "Time some task of the unit's cgroup waited for memory (PSI)", F_USEC_S, get_mem_psi},
    {"sup_unit_memory_pressure_full_seconds_total", "counter",
     "Time every task of the unit's cgroup waited for memory (PSI)", F_USEC_S, get_mem_psi_full},
    {"sup_unit_io_pressure_some_seconds_total", "counter",
     "Time some task of the unit's cgroup waited for I/O (PSI)", F_USEC_S, get_io_psi},
    {"sup_unit_io_pressure_full_seconds_total", "counter",
     "Time every task of the unit's cgroup waited for I/O (PSI)", F_USEC_S, get_io_psi_full},
    {"sup_unit_start_time_seconds", "gauge", "When the unit's current run started (unix time)",
     F_USEC_TS, get_start_time},
    {"sup_unit_last_exit_code", "gauge",
     "How the unit's last run ended: its exit code, or 128 + the signal", F_INT, get_last_exit},
    {"sup_unit_healthy", "gauge", "1 while the unit's health checks pass (HealthCmd=)", F_INT,
     get_healthy},
};

static void put_value(FILE *f, enum fmt fmt, uint64_t v)
{
	if (fmt == F_INT)
		fprintf(f, "%llu\n", (unsigned long long)v);
	else if (fmt == F_USEC_TS)
		fprintf(f, "%llu.%03llu\n", (unsigned long long)(v / 1000000),
			(unsigned long long)(v % 1000000 / 1000));
	else
		fprintf(f, "%llu.%06llu\n", (unsigned long long)(v / 1000000),
			(unsigned long long)(v % 1000000));
}

/* One metric over every unit; nothing at all (not even HELP) when no unit has a sample. */
static void put_metric(FILE *f, const struct metric *m, const struct sample *s, size_t n)
{
	bool header = false;
	uint64_t v;

	for (size_t i = 0; i < n; i++) {
		if (!m->get(&s[i], &v))
			continue;
		if (!header)
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
				m->type);
		header = true;
		/* unit names are [A-Za-z0-9_.@-]: no escaping needed */
		fprintf(f, "%s{unit=\"%s\"} ", m->name, s[i].u->name);
		put_value(f, m->fmt, v);
	}
}

static void put_states(FILE *f, const struct sample *s, size_t n)
{
	fprintf(f, "# HELP sup_unit_state 1 for the unit's current state\n"
		   "# TYPE sup_unit_state gauge\n");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < UNIT_STATE__MAX; k++)
			fprintf(f, "sup_unit_state{unit=\"%s\",state=\"%s\"} %d\n", s[i].u->name,
				unit_state_name((enum unit_state)k),
				s[i].u->state == (enum unit_state)k);
}

json_t *sup_metrics_text(void)
{
	size_t n = 0, len = 0, cap = supd->n_units + 1;
	struct sample *s = calloc(cap, sizeof(*s));
	struct cg_stats *st = calloc(cap, sizeof(*st));
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);
	struct unit *u;
	json_t *j;

	if (s && st && f) {
		for_each_unit(u) if (!u->removed && n < supd->n_units)
		{
			s[n] = (struct sample){u, &st[n], sup_cg_stats(u, &st[n])};
			n++;
		}
		fprintf(f,
			"# HELP sup_build_info The supd that answers\n# TYPE sup_build_info gauge\n"
			"sup_build_info{version=\"%s\"} 1\n",
			SUP_VERSION);
		put_states(f, s, n);
		for (size_t m = 0; m < SUP_ARRAY_SIZE(metrics); m++)
			put_metric(f, &metrics[m], s, n);
	}
	if (f)
		fclose(f);
	j = json_stringn(text ? text : "", len);
	free(text);
	free(s);
	free(st);
	return j;
}
