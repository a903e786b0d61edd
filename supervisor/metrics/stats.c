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

struct mbuf {
	char *p;
	size_t len;
	FILE *f;
};

enum metric_id {
	M_STATE,
	M_RESTARTS,
	M_CPU,
	M_MEM,
	M_MEM_PEAK,
	M_PIDS,
	M_IO_READ,
	M_IO_WRITE,
	M_OOM,
	M_CPU_PSI,
	M__MAX,
};

static const struct {
	const char *name, *type, *help;
} metrics[M__MAX] = {
    [M_STATE] = {"sup_unit_state", "gauge", "1 for the unit's current state"},
    [M_RESTARTS] = {"sup_unit_restarts_total", "counter",
		    "Automatic restarts of the unit since supd started"},
    [M_CPU] = {"sup_unit_cpu_usage_seconds_total", "counter",
	       "CPU time used by the unit's cgroup (current run)"},
    [M_MEM] = {"sup_unit_memory_current_bytes", "gauge", "Memory charged to the unit's cgroup"},
    [M_MEM_PEAK] = {"sup_unit_memory_peak_bytes", "gauge",
		    "Highest memory charged to the unit's cgroup (current run)"},
    [M_PIDS] = {"sup_unit_pids_current", "gauge", "Processes and threads in the unit's cgroup"},
    [M_IO_READ] = {"sup_unit_io_read_bytes_total", "counter",
		   "Bytes read from block devices by the unit's cgroup (current run)"},
    [M_IO_WRITE] = {"sup_unit_io_write_bytes_total", "counter",
		    "Bytes written to block devices by the unit's cgroup (current run)"},
    [M_OOM] = {"sup_unit_oom_kills_total", "counter",
	       "Processes of the unit killed by the OOM killer since supd started"},
    [M_CPU_PSI] = {"sup_unit_cpu_pressure_some_seconds_total", "counter",
		   "Time some task of the unit's cgroup waited for a CPU (PSI)"},
};

json_t *sup_metrics_text(void)
{
	struct cg_stats *st;
	bool *have;
	struct unit *u, **units;
	size_t n = 0, i;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *j;

	units = calloc(supd->n_units + 1, sizeof(*units));
	st = calloc(supd->n_units + 1, sizeof(*st));
	have = calloc(supd->n_units + 1, sizeof(*have));
	f = open_memstream(&text, &len);
	if (!units || !st || !have || !f) {
		free(units);
		free(st);
		free(have);
		if (f)
			fclose(f);
		free(text);
		return json_string("");
	}
	for_each_unit(u) if (!u->removed && n < supd->n_units)
	{
		units[n] = u;
		have[n] = sup_cg_stats(u, &st[n]);
		n++;
	}
	for (int m = 0; m < M__MAX; m++) {
		bool any = m == M_STATE || m == M_RESTARTS || m == M_OOM;

		for (i = 0; i < n && !any; i++)
			any = have[i] && (m == M_CPU	    ? st[i].cpu_usage_usec != CG_NA
					  : m == M_MEM	    ? st[i].memory_current != CG_NA
					  : m == M_MEM_PEAK ? st[i].memory_peak != CG_NA
					  : m == M_PIDS	    ? st[i].pids_current != CG_NA
					  : m == M_IO_READ  ? st[i].io_read_bytes != CG_NA
					  : m == M_IO_WRITE ? st[i].io_write_bytes != CG_NA
					  : m == M_CPU_PSI  ? st[i].cpu_some_usec != CG_NA
							    : false);
		if (!any)
			continue;
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", metrics[m].name, metrics[m].help,
			metrics[m].name, metrics[m].type);
		for (i = 0; i < n; i++) {
			const char *name = units[i]->name; /* [A-Za-z0-9_.@-]: no escaping needed */
			const struct cg_stats *s = &st[i];

			switch (m) {
			case M_STATE:
				for (int k = 0; k < UNIT_STATE__MAX; k++)
					fprintf(f, "%s{unit=\"%s\",state=\"%s\"} %d\n",
						metrics[m].name, name,
						unit_state_name((enum unit_state)k),
						units[i]->state == (enum unit_state)k);
				continue;
			case M_RESTARTS:
				fprintf(f, "%s{unit=\"%s\"} %u\n", metrics[m].name, name,
					units[i]->restarts);
				continue;
			case M_OOM:
				fprintf(f, "%s{unit=\"%s\"} %llu\n", metrics[m].name, name,
					(unsigned long long)units[i]->oom_kills);
				continue;
			default:
				break;
			}
			if (!have[i])
				continue;
			uint64_t v = m == M_CPU	       ? s->cpu_usage_usec
				     : m == M_MEM      ? s->memory_current
				     : m == M_MEM_PEAK ? s->memory_peak
				     : m == M_PIDS     ? s->pids_current
				     : m == M_IO_READ  ? s->io_read_bytes
				     : m == M_IO_WRITE ? s->io_write_bytes
						       : s->cpu_some_usec;
			if (v == CG_NA)
				continue;
			if (m == M_CPU || m == M_CPU_PSI)
				fprintf(f, "%s{unit=\"%s\"} %llu.%06llu\n", metrics[m].name, name,
					(unsigned long long)(v / 1000000),
					(unsigned long long)(v % 1000000));
			else
				fprintf(f, "%s{unit=\"%s\"} %llu\n", metrics[m].name, name,
					(unsigned long long)v);
		}
	}
	fclose(f);
	j = json_stringn(text ? text : "", len);
	free(text);
	free(units);
	free(st);
	free(have);
	return j;
}
