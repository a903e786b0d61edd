/*
 * Looking at one unit closely, for `supctl status UNIT` and `supctl cat UNIT`: the processes of
 * its cgroup, its limits, the file it was read from. Read from /proc and the unit file only
 * when asked; nothing here changes anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "control/client.h"
#include "core/cgroups.h"

#define MAX_PROCS    512	/* listed in a detail view; more are counted */
#define CMDLINE_MAX  1024	/* of each process, shown */
#define CAT_MAX_SIZE (1u << 20) /* a unit file is at most 1 MiB (units/) */

/* /proc/PID/FILE into buf (NUL-terminated); its length, or -1. */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, size - 1)) < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The line of /proc/PID/cgroup that names the unit's cgroup (path ending in /NAME, or below it
 * for a leaf): "0::/sup/web" on v2, "4:memory:/sup/web" on v1. */
static bool unit_cgroup_line(const struct unit *u, char *line, size_t size)
{
	char buf[4096], esc[256], *save = NULL;

	if (u->main.pid <= 0 || read_proc(u->main.pid, "cgroup", buf, sizeof(buf)) < 0)
		return false;
	cg_escape(u->name, esc, sizeof(esc));
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *p = strchr(l, ':') ? strchr(strchr(l, ':') + 1, ':') : NULL;
		char *at = p ? strstr(p, esc) : NULL;
		size_t n = strlen(esc);

		if (!at || at[-1] != '/' || (at[n] != '\0' && at[n] != '/'))
			continue;
		at[n] = '\0'; /* the unit's own cgroup, not a leaf below it */
		snprintf(line, size, "%s", l);
		return true;
	}
	return false;
}

/* Is pid in the cgroup of line (or below it)? */
static bool in_cgroup(pid_t pid, const char *line)
{
	char buf[4096], *save = NULL;
	size_t n = strlen(line);

	if (read_proc(pid, "cgroup", buf, sizeof(buf)) < 0)
		return false;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, line, n) == 0 && (l[n] == '\0' || l[n] == '/'))
			return true;
	return false;
}

static json_t *process_json(pid_t pid)
{
	char buf[CMDLINE_MAX], stat[512], *p;
	ssize_t n = read_proc(pid, "cmdline", buf, sizeof(buf));
	int ppid = 0;

	if (read_proc(pid, "stat", stat, sizeof(stat)) < 0 || !(p = strrchr(stat, ')')) ||
	    sscanf(p + 2, "%*c %d", &ppid) != 1)
		return NULL; /* gone meanwhile */
	for (ssize_t i = 0; i + 1 < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	if (n <= 0) { /* a kernel thread or a zombie: its name, as ps shows it */
		char *open = strchr(stat, '(');
		*p = '\0';
		snprintf(buf, sizeof(buf), "[%s]", open ? open + 1 : "?");
		n = (ssize_t)strlen(buf);
	}
	return json_pack("{s:i, s:i, s:o}", "pid", (int)pid, "ppid", ppid, "cmdline",
			 sup_json_textn(buf, strnlen(buf, (size_t)n)));
}

/* The processes of the unit's cgroup, from /proc; without a cgroup, the main process. */
static void add_processes(struct unit *u, json_t *o)
{
	json_t *procs = json_array();
	char line[512];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	size_t more = 0;

	if (!unit_cgroup_line(u, line, sizeof(line))) {
		json_t *p = u->main.pid > 0 ? process_json(u->main.pid) : NULL;
		if (p)
			json_array_append_new(procs, p);
		json_object_set_new(o, "processes", procs);
		return;
	}
	json_object_set_new(o, "cgroup_path", json_string(strrchr(line, ':') + 1));
	d = opendir("/proc");
	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		json_t *p;

		if (pid <= 0 || !in_cgroup(pid, line))
			continue;
		if (json_array_size(procs) >= MAX_PROCS) {
			more++;
			continue;
		}
		if ((p = process_json(pid)))
			json_array_append_new(procs, p);
	}
	json_object_set_new(o, "processes", procs);
	if (more)
		json_object_set_new(o, "processes_not_listed", json_integer((json_int_t)more));
}

/* A [Resources] figure: null when not set, "infinity", or the number. */
static json_t *limit(uint64_t v)
{
	if (v == UNIT_RES_UNSET)
		return json_null();
	if (v == SIZE_INFINITY)
		return json_string("infinity");
	return json_integer((json_int_t)v);
}

static void add_limits(const struct unit *u, json_t *o)
{
	const struct unit_resources *r;
	struct cg_stats st;

	if (!u->cfg)
		return;
	r = &u->cfg->res;
	json_object_set_new(
	    o, "limits",
	    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "memory_max_bytes", limit(r->memory_max),
		      "memory_high_bytes", limit(r->memory_high), "pids_max", limit(r->pids_max),
		      "cpu_quota_pct",
		      r->cpu_quota_pct ? json_integer(r->cpu_quota_pct) : json_null(), "cpu_weight",
		      r->cpu_weight ? json_integer(r->cpu_weight) : json_null(), "tasks_max",
		      limit(r->pids_max)));
	if (sup_cg_stats((struct unit *)u, &st))
		json_object_set_new(o, "memory_peak_bytes",
				    st.memory_peak == CG_NA
					? json_null()
					: json_integer((json_int_t)st.memory_peak));
}

void sup_status_detail(struct unit *u, json_t *o)
{
	add_processes(u, o);
	add_limits(u, o);
	if (u->cfg && u->cfg->path)
		json_object_set_new(o, "unit_file", sup_json_text(u->cfg->path));
	if (u->cfg && u->cfg->exec.n) {
		_cleanup_free_ char *cmd = strv_join(&u->cfg->exec, " ");
		if (cmd)
			json_object_set_new(o, "exec", sup_json_text(cmd));
	}
	if (u->main.pid > 0 && u->state != UNIT_INACTIVE)
		json_object_set_new(o, "started_ts",
				    json_real((double)(u->start_real / 1000) / 1e3));
}

/* The unit file as it is on disk now (what systemctl cat shows too). A user who is not root
 * nor in the [Control] Group= sees it only if the file is readable to everyone. */
json_t *sup_cat_command(struct client *c, struct sup_request *req)
{
	struct unit *u = unit_find(req->units.v[0]);
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;

	if (!u)
		return sup_reply_error(SUP_EXIT_NO_UNIT, "no such unit: %s", req->units.v[0]);
	if (!u->cfg || !u->cfg->path)
		return sup_reply_error(SUP_EXIT_FAILED, "%s: no unit file loaded (%s)", u->name,
				       u->error ? u->error : "bad unit");
	fd = open(u->cfg->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		return sup_reply_error(SUP_EXIT_FAILED, "%s: %s: %s", u->name, u->cfg->path,
				       strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > CAT_MAX_SIZE)
		return sup_reply_error(SUP_EXIT_FAILED,
				       "%s: %s: not a regular file of at most 1 MiB", u->name,
				       u->cfg->path);
	if (!c->privileged && !(st.st_mode & S_IROTH))
		return sup_reply_error(SUP_EXIT_FAILED,
				       "%s: permission denied (%s is not readable to everyone; uid "
				       "%u is not root nor in the [Control] Group=)",
				       u->name, u->cfg->path, (unsigned)c->uid);
	text = malloc((size_t)st.st_size + 1);
	while (text && len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!text)
		return sup_reply_error(SUP_EXIT_FAILED, "%s: out of memory", u->name);
	return sup_reply_ok(json_pack("{s:o, s:o}", "path", sup_json_text(u->cfg->path), "text",
				      sup_json_textn(text, len)));
}
