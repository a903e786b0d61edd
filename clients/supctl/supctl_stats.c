/* supctl's stats table and the top view (pure formatting plus the top screen loop). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

void supctl_print_stats_header(FILE *out, bool top)
{
	fprintf(out, "%-20s %-10s %9s %9s %9s %8s %8s %6s %8s %8s %4s %9s\n", "UNIT", "STATE",
		top ? "CPU%" : "CPU", "USER", "SYSTEM", "MEMORY", "PEAK", "PIDS", "IO-READ",
		"IO-WRITE", "OOM", "CPU-PSI");
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
	fprintf(out, "%-20s %-10s %9s %9s %9s %8s %8s %6s %8s %8s %4" PRId64 " %9s\n",
		json_string_value(json_object_get(u, "name")) ?: "?",
		json_string_value(json_object_get(u, "state")) ?: "?", cpu, user, sys, mem, peak,
		pids, rd, wr, num(u, "oom_kills") < 0 ? 0 : num(u, "oom_kills"), ps);
}

void supctl_print_stats(FILE *out, const json_t *units)
{
	size_t i;
	const json_t *u;

	supctl_print_stats_header(out, false);
	json_array_foreach(units, i, u) supctl_print_stats_row(out, u, -1);
}
