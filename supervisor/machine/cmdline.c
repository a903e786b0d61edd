/*
 * The kernel command line, as the machine's init sees it. Options with a dot (sup.*) are not
 * passed to init, so they are read from /proc/cmdline. Words the kernel does not know (`single`,
 * `3`, `emergency`) and everything after `--` are passed to init as arguments: supd.c hands
 * those here instead of refusing them, since PID 1 exiting over its arguments panics the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "sup/fileio.h"
#include "sup/log.h"
#include "sup/strv.h"
#include "machine.h"
#include "machine_private.h"

struct machine_opts machine_opts;

/* The kernel's arguments to init, logged once the log reaches kmsg (machine_early). */
static struct strv kernel_args;

/* What sysvinit and systemd take for single-user or emergency mode: supd's emergency shell. */
static const char *const emergency_words[] = {"single", "s", "S", "1", "-s", "emergency", "-b"};

static bool is_emergency_word(const char *w)
{
	for (size_t i = 0; i < sizeof(emergency_words) / sizeof(emergency_words[0]); i++)
		if (!strcmp(w, emergency_words[i]))
			return true;
	return false;
}

void machine_kernel_args(const struct strv *words)
{
	for (size_t i = 0; i < words->n; i++) {
		if (is_emergency_word(words->v[i]))
			machine_opts.emergency = true;
		if (strv_push(&kernel_args, words->v[i]) < 0)
			break; /* out of memory this early: not worth more than silence */
	}
}

void machine_log_kernel_args(void)
{
	for (size_t i = 0; i < kernel_args.n; i++) {
		const char *w = kernel_args.v[i];

		if (is_emergency_word(w))
			sup_info(NULL, "machine: kernel argument '%s': emergency shell first", w);
		else
			sup_warn(NULL, "machine: kernel argument '%s' ignored", w);
	}
	strv_free(&kernel_args);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

/* One word of /proc/cmdline. */
static void cmdline_word(const char *t)
{
	enum sup_log_level level;

	if (!strcmp(t, "sup.emergency")) {
		machine_opts.emergency = true;
	} else if (!strcmp(t, "sup.shell")) {
		machine_opts.shell = true;
	} else if (!strncmp(t, "sup.shell=", 10)) {
		machine_opts.shell = true;
		set_str(&machine_opts.shell_path, t + 10);
	} else if (!strncmp(t, "sup.units=", 10)) {
		set_str(&machine_opts.units_dir, t + 10);
	} else if (!strncmp(t, "sup.log_level=", 14)) {
		if (sup_log_parse_level(t + 14, &level) == 0)
			sup_log_set_level(level);
		else
			sup_err(NULL, "machine: %s: not a log level", t);
	} else if (!strncmp(t, "cgroup_no_v1=", 13)) {
		set_str(&machine_opts.cgroup_no_v1, t + 13);
	} else if (!strncmp(t, "sup.", 4)) {
		sup_warn(NULL, "machine: unknown kernel command line option %s", t);
	}
}

/* sup.emergency, sup.shell[=PATH], sup.units=DIR, sup.log_level=LEVEL, cgroup_no_v1= */
void machine_parse_cmdline(void)
{
	char buf[4096], *save = NULL;

	if (sup_read_at(AT_FDCWD, "/proc/cmdline", buf, sizeof(buf)) < 0) {
		sup_warn(NULL, "machine: /proc/cmdline: %s", strerror(errno));
		return;
	}
	for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		/* `--`: what follows is init's (its arguments), not the kernel's */
		if (!strcmp(t, "--"))
			break;
		cmdline_word(t);
	}
}

const char *machine_units_dir(void)
{
	return machine_opts.units_dir;
}
