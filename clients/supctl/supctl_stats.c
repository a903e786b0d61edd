/* supctl's stats table and the top view (pure formatting plus the top screen loop). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "supctl.h"

static int64_t num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static int64_t psi(const json_t *o, const char *res)
{
	const json_t *v =
	    json_object_get(json_object_get(json_object_get(o, "pressure"), res), "some_usec");
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* The UNIT column: as wide as the longest name shown (at least "UNIT"'s 20 of old). */
static int name_width = 20;

void supctl_stats_fit(const json_t *units)
{
	const json_t *u;
	size_t i;

	name_width = 20;
	json_array_foreach(units, i, u)
	{
		const char *n = json_string_value(json_object_get(u, "name"));
		if (n && (int)strlen(n) > name_width)
			name_width = (int)strlen(n);
	}
}

void supctl_print_stats_header(FILE *out, bool top)
{
	fprintf(out, "%-*s %-10s %9s %9s %9s %8s %8s %6s %8s %8s %4s %9s\n", name_width, "UNIT",
		"STATE", top ? "CPU%" : "CPU", "USER", "SYSTEM", "MEMORY", "PEAK", "PIDS",
		"IO-READ", "IO-WRITE", "OOM", "CPU-PSI");
}

void supctl_print_stats_row(FILE *out, const json_t *u, double cpu_pct)
{
	char cpu[32], user[32], sys[32], mem[32], peak[32], rd[32], wr[32], ps[32], pids[32];
	int64_t p = num(u, "pids_current");

	if (cpu_pct >= 0)
		snprintf(cpu, sizeof(cpu), "%.1f", cpu_pct);
	else
		supctl_fmt_cpu(num(u, "cpu_usage_usec"), cpu, sizeof(cpu));
	supctl_fmt_cpu(num(u, "cpu_user_usec"), user, sizeof(user));
	supctl_fmt_cpu(num(u, "cpu_system_usec"), sys, sizeof(sys));
	supctl_fmt_bytes(num(u, "memory_current_bytes"), mem, sizeof(mem));
	supctl_fmt_bytes(num(u, "memory_peak_bytes"), peak, sizeof(peak));
	supctl_fmt_bytes(num(u, "io_read_bytes"), rd, sizeof(rd));
	supctl_fmt_bytes(num(u, "io_write_bytes"), wr, sizeof(wr));
	supctl_fmt_cpu(psi(u, "cpu"), ps, sizeof(ps));
	if (p < 0)
		snprintf(pids, sizeof(pids), "-");
	else
		snprintf(pids, sizeof(pids), "%" PRId64, p);
	fprintf(out, "%-*s %-10s %9s %9s %9s %8s %8s %6s %8s %8s %4" PRId64 " %9s\n", name_width,
		json_string_value(json_object_get(u, "name")) ?: "?",
		json_string_value(json_object_get(u, "state")) ?: "?", cpu, user, sys, mem, peak,
		pids, rd, wr, num(u, "oom_kills") < 0 ? 0 : num(u, "oom_kills"), ps);
}

void supctl_print_stats(FILE *out, const json_t *units)
{
	size_t i;
	const json_t *u;

	supctl_stats_fit(units);
	supctl_print_stats_header(out, false);
	json_array_foreach(units, i, u) supctl_print_stats_row(out, u, -1);
}

/* One sample line: NAME{k="v",...} VALUE; false if it is not one. */
static bool parse_sample(const char *line, json_t *out)
{
	const char *p = line + strcspn(line, "{ "), *end;
	json_t *labels = json_object(), *o;
	char *vend;
	double v;

	if (p == line)
		goto bad;
	o = json_pack("{s:s%}", "name", line, (size_t)(p - line));
	if (*p == '{') {
		p++;
		while (*p && *p != '}') {
			const char *eq = strchr(p, '=');
			char val[1024];
			size_t n = 0;

			if (!eq || eq[1] != '"')
				goto bad_o;
			for (end = eq + 2; *end && *end != '"' && n + 1 < sizeof(val); end++) {
				if (*end == '\\' && end[1])
					end++;
				val[n++] = *end == 'n' && end[-1] == '\\' ? '\n' : *end;
			}
			if (*end != '"')
				goto bad_o;
			val[n] = '\0';
			char key[128];
			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			json_object_set_new(labels, key, json_string(val));
			p = end + 1;
			if (*p == ',')
				p++;
		}
		if (*p != '}')
			goto bad_o;
		p++;
	}
	v = strtod(p, &vend);
	if (vend == p)
		goto bad_o;
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "value",
			    v == (double)(json_int_t)v && v < 9e15 && v > -9e15
				? json_integer((json_int_t)v)
				: json_real(v));
	json_array_append_new(out, o);
	return true;
bad_o:
	json_decref(o);
bad:
	json_decref(labels);
	return false;
}

json_t *supctl_metrics_json(const char *text)
{
	json_t *out = json_array();
	_cleanup_free_ char *copy = strdup(text ? text : "");
	char *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (*l != '#')
			parse_sample(l, out);
	return out;
}
