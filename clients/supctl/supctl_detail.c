/* supctl status UNIT: one unit in detail, as systemctl status shows one (pure formatting). */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup/cleanup.h"
#include "supctl.h"

#define GREEN  "\033[32m"
#define RED    "\033[31m"
#define YELLOW "\033[33m"
#define RESET  "\033[0m"

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* "Label: " right-aligned as systemctl's, then text from supd (control characters escaped) */
static void field(FILE *out, const char *label, const char *text)
{
	fprintf(out, "%11s: ", label);
	supctl_put_escaped(out, text, strlen(text));
	fputc('\n', out);
}

static const char *active_color(const char *a)
{
	if (strcmp(a, "active") == 0 || strcmp(a, "reloading") == 0)
		return GREEN;
	if (strcmp(a, "failed") == 0)
		return RED;
	if (strcmp(a, "inactive") == 0)
		return NULL;
	return YELLOW;
}

/* Active: running (sub) since Tue 2026-12-01 13:15:32 UTC; 3m12s ago */
static void print_active(FILE *out, const json_t *u, bool color)
{
	const char *a = supctl_active_state(u), *c = color ? active_color(a) : NULL;
	const json_t *since = json_object_get(u, "state_since_ts");
	double ago = json_number_value(json_object_get(u, "state_since_s"));
	const char *state = str(u, "state") ?: "?", *sub = str(u, "sub");
	char when[64] = "", rel[32];

	/* sup's state, and its sub-state where it says more: "activating (starting, start-pre)" */
	if (sub && strcmp(sub, state) == 0)
		sub = NULL;
	fprintf(out, "%11s: %s%s%s (%s%s%s)", "Active", c ?: "", a, c ? RESET : "", state,
		sub ? ", " : "", sub ?: "");
	if (json_is_number(since)) {
		time_t t = (time_t)json_number_value(since);
		struct tm tm;

		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%a %Y-%m-%d %H:%M:%S %Z", &tm);
		fprintf(out, " since %s; %s ago", when,
			supctl_fmt_duration(ago > 0 ? (uint64_t)ago : 0, rel, sizeof(rel)));
	}
	fputc('\n', out);
}

/* "12.3M (max: 512M, peak: 20.1M)" */
static void print_memory(FILE *out, const json_t *u, const json_t *limits)
{
	const json_t *max = json_object_get(limits, "memory_max_bytes");
	char cur[32], lim[32], peak[32];

	supctl_fmt_bytes(num(u, "memory_current_bytes"), cur, sizeof(cur));
	fprintf(out, "%11s: %s", "Memory", cur);
	if (json_is_integer(max))
		fprintf(out, " (max: %s",
			supctl_fmt_bytes(json_integer_value(max), lim, sizeof(lim)));
	else
		fprintf(out, " (max: %s", json_is_string(max) ? "infinity" : "-");
	if (num(u, "memory_peak_bytes") >= 0)
		fprintf(out, ", peak: %s",
			supctl_fmt_bytes(num(u, "memory_peak_bytes"), peak, sizeof(peak)));
	fputs(")\n", out);
}

static void print_usage(FILE *out, const json_t *u)
{
	const json_t *limits = json_object_get(u, "limits");
	const json_t *pmax = json_object_get(limits, "pids_max");
	const json_t *quota = json_object_get(limits, "cpu_quota_pct");
	char buf[32];

	if (num(u, "pids_current") >= 0)
		fprintf(out, "%11s: %" PRId64, "Tasks", num(u, "pids_current"));
	else
		fprintf(out, "%11s: -", "Tasks");
	if (json_is_integer(pmax))
		fprintf(out, " (limit: %" JSON_INTEGER_FORMAT ")", json_integer_value(pmax));
	fputc('\n', out);
	print_memory(out, u, limits);
	fprintf(out, "%11s: %s", "CPU", supctl_fmt_cpu(num(u, "cpu_usage_usec"), buf, sizeof(buf)));
	if (json_is_integer(quota))
		fprintf(out, " (quota: %" JSON_INTEGER_FORMAT "%%)", json_integer_value(quota));
	fputc('\n', out);
}

static bool has_parent(const json_t *procs, int64_t ppid)
{
	const json_t *p;
	size_t i;

	json_array_foreach(procs, i, p) if (num(p, "pid") == ppid) return true;
	return false;
}

/* The processes as a tree: each under its parent, when the parent is in the unit too. */
static void print_tree(FILE *out, const json_t *procs, int64_t parent, char *prefix, size_t depth)
{
	size_t i, last = (size_t)-1, len = strlen(prefix);
	const json_t *p;

	json_array_foreach(procs, i, p)
	{
		bool root = !has_parent(procs, num(p, "ppid"));
		if (parent < 0 ? root : num(p, "ppid") == parent)
			last = i;
	}
	json_array_foreach(procs, i, p)
	{
		bool root = !has_parent(procs, num(p, "ppid"));
		const char *cmd = str(p, "cmdline") ?: "";

		if (!(parent < 0 ? root : num(p, "ppid") == parent))
			continue;
		fprintf(out, "%13s%s%s%" PRId64 " ", "", prefix, i == last ? "└─" : "├─",
			num(p, "pid"));
		supctl_put_escaped(out, cmd, strlen(cmd));
		fputc('\n', out);
		if (depth < 16 && len + 8 < 128) {
			strcat(prefix, i == last ? "  " : "│ ");
			print_tree(out, procs, num(p, "pid"), prefix, depth + 1);
			prefix[len] = '\0';
		}
	}
}

/* A container's namespaces, root and init; an Image= unit's image and the digest in use. */
static void print_container(FILE *out, const json_t *u)
{
	const json_t *ct = json_object_get(u, "container"), *im = json_object_get(u, "image");
	char buf[PATH_MAX + 256];

	if (json_is_object(ct)) {
		snprintf(buf, sizeof(buf), "%s", str(ct, "namespaces") ?: "-");
		if (str(ct, "root"))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "; root %s",
				 str(ct, "root"));
		if (num(ct, "init_pid") > 0)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
				 "; init pid %" PRId64, num(ct, "init_pid"));
		field(out, "Container", buf);
	}
	if (json_is_object(im) && str(im, "ref")) {
		snprintf(buf, sizeof(buf), "%s%s%s%s", str(im, "ref"), str(im, "digest") ? " " : "",
			 str(im, "digest") ?: "",
			 json_is_true(json_object_get(im, "pulling")) ? " (pulling)" : "");
		field(out, "Image", buf);
	}
}

void supctl_print_detail(FILE *out, const json_t *u, bool color)
{
	const char *desc = str(u, "description"), *name = str(u, "name") ?: "?";
	const char *a = supctl_active_state(u), *c = color ? active_color(a) : NULL;
	const json_t *procs = json_object_get(u, "processes");
	char buf[64], prefix[128] = "";

	fprintf(out, "%s●%s ", c ?: "", c ? RESET : "");
	supctl_put_escaped(out, name, strlen(name));
	if (desc && *desc) {
		fputs(" - ", out);
		supctl_put_escaped(out, desc, strlen(desc));
	}
	fputc('\n', out);
	field(out, "Loaded", str(u, "unit_file") ?: "-");
	print_active(out, u, color);
	if (str(u, "error") && (strcmp(a, "failed") == 0 || strcmp(a, "activating") == 0))
		field(out, "Error", str(u, "error"));
	if (str(u, "reload_error"))
		field(out, "Not loaded", str(u, "reload_error"));
	if (str(u, "status_text"))
		field(out, "Status", str(u, "status_text"));
	if (num(u, "pid") > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, num(u, "pid"));
		field(out, "Main PID", buf);
	}
	if (str(u, "exec"))
		field(out, "Exec", str(u, "exec"));
	print_container(out, u);
	snprintf(buf, sizeof(buf), "%" PRId64, num(u, "restarts") < 0 ? 0 : num(u, "restarts"));
	field(out, "Restarts", buf);
	field(out, "Last exit", supctl_fmt_exit(json_object_get(u, "last_exit"), buf, sizeof(buf)));
	if (str(u, "health"))
		field(out, "Health", str(u, "health"));
	print_usage(out, u);
	if (num(u, "oom_kills") > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, num(u, "oom_kills"));
		field(out, "OOM kills", buf);
	}
	if (json_array_size(procs)) {
		field(out, "CGroup", str(u, "cgroup_path") ?: "-");
		print_tree(out, procs, -1, prefix, 0);
		if (num(u, "processes_not_listed") > 0)
			fprintf(out, "%13s(%" PRId64 " more)\n", "",
				num(u, "processes_not_listed"));
	}
}
