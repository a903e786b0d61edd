/*
 * supctl: the client of supd's control socket. One table of commands; options may come
 * anywhere on the line. Exit status, as systemctl's: 0 ok, 1 the request failed, 2 usage,
 * 3 status/is-active: a named unit is not active (is-failed: not failed), 4 no such unit,
 * 5 supd cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <poll.h>
#include <signal.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/proto.h"
#include "sup/signal.h"
#include "supctl.h"

#define DEFAULT_SOCKET	 "/run/sup/supd.sock"
#define TIMEOUT_DEFAULT	 (-2)
#define TIMEOUT_QUICK_MS 30000 /* a reply that supd gives at once */

/* Options that belong to some commands only. */
enum {
	OPT_NO_WAIT = 1 << 0,
	OPT_LINES = 1 << 1,
	OPT_FOLLOW = 1 << 2,
	OPT_TIMESTAMPS = 1 << 3,
	OPT_QUIET = 1 << 4,
	OPT_SIGNAL = 1 << 5,
	OPT_ALL = 1 << 6,
	OPT_OUTPUT = 1 << 7,
	OPT_NO_TS = 1 << 8,
	OPT_PULL = 1 << 9,
};

static const char *const opt_names[] = {
    "--no-wait",   "-n/--lines", "-f/--follow", "-t/--timestamps", "-q/--quiet",
    "-s/--signal", "--all",	 "-o/--output", "--no-timestamps", "--pull"};

enum args_rule {
	ARGS_NONE,
	ARGS_UNITS_ANY,
	ARGS_UNITS_SOME,
	ARGS_UNIT_ONE,
	ARGS_TOPIC, /* help [COMMAND] */
};

struct opts {
	const char *socket;
	bool json, no_wait, follow, quiet, all, detail, pull;
	enum supctl_ts ts; /* logs: how a line's time is shown */
	bool cat;	   /* logs -o cat: the text alone */
	int signal;	   /* kill */
	int lines;
	int timeout_ms; /* -1: none; TIMEOUT_DEFAULT: the command's own default */
	unsigned given; /* OPT_* seen */
	const char *cmd;
	char **args; /* after the command */
	size_t nargs;
};

struct command {
	const char *name;
	int (*run)(const struct command *c, struct opts *o);
	enum sup_cmd proto;
	enum args_rule args;
	unsigned opts;
	const char *usage;
	const char *summary;
};

static int run_status(const struct command *c, struct opts *o);
static int run_is(const struct command *c, struct opts *o);
static int run_action(const struct command *c, struct opts *o);
static int run_reload(const struct command *c, struct opts *o);
static int run_logs(const struct command *c, struct opts *o);
static int run_version(const struct command *c, struct opts *o);
static int run_help(const struct command *c, struct opts *o);
static int run_stats(const struct command *c, struct opts *o);
static int run_top(const struct command *c, struct opts *o);
static int run_metrics(const struct command *c, struct opts *o);
static int run_kill(const struct command *c, struct opts *o);
static int run_cat(const struct command *c, struct opts *o);
static int run_image(const struct command *c, struct opts *o);

/* run == NULL: a command of the interface that a later issue brings. */
static const struct command commands[] = {
    {"status", run_status, SUP_CMD_STATUS, ARGS_UNITS_ANY, 0, "[UNIT...]",
     "show units: state, pid, uptime, restarts, cpu, memory, last exit"},
    {"is-active", run_is, SUP_CMD_STATUS, ARGS_UNITS_SOME, OPT_QUIET, "UNIT... [-q]",
     "print each unit's state; succeed if one is active"},
    {"is-failed", run_is, SUP_CMD_STATUS, ARGS_UNITS_SOME, OPT_QUIET, "UNIT... [-q]",
     "print each unit's state; succeed if one has failed"},
    {"start", run_action, SUP_CMD_START, ARGS_UNITS_SOME, OPT_NO_WAIT, "UNIT... [--no-wait]",
     "start units and wait until they are up"},
    {"stop", run_action, SUP_CMD_STOP, ARGS_UNITS_SOME, OPT_NO_WAIT, "UNIT... [--no-wait]",
     "stop units and wait until they are down"},
    {"restart", run_action, SUP_CMD_RESTART, ARGS_UNITS_SOME, OPT_NO_WAIT | OPT_PULL,
     "UNIT... [--no-wait] [--pull]", "restart units (also clears failed; --pull: Image= anew)"},
    {"reset", run_action, SUP_CMD_RESET, ARGS_UNITS_SOME, 0, "UNIT...",
     "clear failed and the start-limit counters"},
    {"reload", run_reload, SUP_CMD_RELOAD, ARGS_UNITS_ANY, 0, "[UNIT...]",
     "re-read the unit files; with units, run their ExecReload="},
    {"kill", run_kill, SUP_CMD_KILL, ARGS_UNIT_ONE, OPT_SIGNAL | OPT_ALL,
     "UNIT [-s SIGNAL] [--all]", "signal the main process (--all: every process of the unit)"},
    {"cat", run_cat, SUP_CMD_CAT, ARGS_UNIT_ONE, 0, "UNIT",
     "print the unit file a unit was read from"},
    {"logs", run_logs, SUP_CMD_LOGS, ARGS_UNITS_ANY,
     OPT_LINES | OPT_FOLLOW | OPT_TIMESTAMPS | OPT_OUTPUT | OPT_NO_TS,
     "[UNIT...] [-n N] [-f] [-o FMT]", "captured output, newest last; -f follows"},
    {"stats", run_stats, SUP_CMD_STATS, ARGS_UNITS_ANY, 0, "[UNIT...]",
     "cgroup figures: cpu, memory, pids, io, oom kills, pressure"},
    {"top", run_top, SUP_CMD_STATS, ARGS_NONE, 0, "",
     "a live view of stats, sorted by CPU (q quits)"},
    {"metrics", run_metrics, SUP_CMD_METRICS, ARGS_NONE, 0, "",
     "Prometheus text exposition of every unit"},
    {"exec", NULL, SUP_CMD_EXEC, ARGS_NONE, 0, "UNIT [--] CMD...",
     "run a command inside a running unit: its namespaces, root, cgroup, user"},
    {"pull", run_image, SUP_CMD_PULL, ARGS_NONE, 0, "IMAGE [--platform OS/ARCH[/VARIANT]] [-q]",
     "pull an image from its registry (progress on a terminal)"},
    {"images", run_image, SUP_CMD_IMAGES, ARGS_NONE, 0, "",
     "list images: name, tag, digest, size, created"},
    {"rmi", run_image, SUP_CMD_RMI, ARGS_NONE, 0, "IMAGE...",
     "untag images and remove what no image or unit uses"},
    {"load", run_image, SUP_CMD_LOAD, ARGS_NONE, 0, "FILE|- [--tag NAME]",
     "import an OCI layout or docker save tarball"},
    {"gc", run_image, SUP_CMD_GC, ARGS_NONE, 0, "",
     "remove image data that no image name or unit uses"},
    {"update", run_image, SUP_CMD_UPDATE, ARGS_NONE, 0, "UNIT [--no-restart]",
     "pull a unit's Image= again; a new digest is pinned and the unit restarted"},
    {"drop-layer", run_image, SUP_CMD_DROP_LAYER, ARGS_NONE, 0, "UNIT...",
     "throw away the writable layers of stopped Image= units"},
    {"poweroff", run_action, SUP_CMD_POWEROFF, ARGS_NONE, 0, "",
     "stop every unit and power the machine off (supd as PID 1)"},
    {"reboot", run_action, SUP_CMD_REBOOT, ARGS_NONE, 0, "",
     "stop every unit and reboot the machine (supd as PID 1)"},
    {"version", run_version, SUP_CMD_VERSION, ARGS_NONE, 0, "", "versions of supctl and supd"},
    {"help", run_help, 0, ARGS_TOPIC, 0, "[COMMAND]", "this help, or one command's"},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	fputs("Usage: supctl [--socket PATH] COMMAND [ARGS] [--json]\n\n"
	      "Control supd, the sup supervisor.\n\nCommands:\n",
	      out);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];
		char head[64];

		if (!c->run)
			continue;
		snprintf(head, sizeof(head), "%s %s", c->name, c->usage);
		fprintf(out, "  %-36s %s\n", head, c->summary);
	}
	fputs("\nNot in this build yet:", out);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(commands); i++)
		if (!commands[i].run)
			fprintf(out, " %s", commands[i].name);
	fputs(
	    "\n\nOptions:\n"
	    "  --socket PATH     supd's control socket (default: $SUP_SOCKET, else " DEFAULT_SOCKET
	    ")\n"
	    "  --json            print the reply's data as JSON\n"
	    "  --no-wait         start/stop/restart: return without waiting\n"
	    "  -n, --lines N     logs: the newest N lines (default 50, 0 = all kept)\n"
	    "  -f, --follow      logs: keep printing new lines until interrupted\n"
	    "  -t, --timestamps  logs: times as ISO 8601 with milliseconds (-o short-iso-precise)\n"
	    "  -o, --output FMT  logs: short (default: Dec 01 13:15:32), short-precise,\n"
	    "                    short-iso, short-iso-precise, cat (the text alone), json\n"
	    "  --no-timestamps   logs: no times\n"
	    "  -s, --signal SIG  kill: the signal (default SIGTERM): TERM, SIGHUP, 9...\n"
	    "  --all             kill: every process of the unit, not the main one only\n"
	    "  -q, --quiet       is-active/is-failed: print nothing, the exit status answers\n"
	    "  --timeout TIME    give up waiting for supd after TIME (500ms, 10s, 2min; 0 or\n"
	    "                    infinity: never); default 30s, but start/stop/restart wait\n"
	    "                    for their units without limit\n"
	    "  -h, --help        this help\n"
	    "  --version         supctl's version\n\n"
	    "Exit status: 0 ok, 1 the request failed, 2 usage error, 3 status/is-active: a\n"
	    "named unit is not active (is-failed: not failed), 4 no such unit, 5 supd cannot\n"
	    "be reached.\n",
	    out);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("supctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'supctl --help'.\n", stderr);
	return SUP_EXIT_USAGE;
}

/* --- the command line */

static int parse_lines(const char *s, int *out)
{
	char *end;
	long v;

	if (strcmp(s, "all") == 0) {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX || *s == '-' || *s == '+')
		return usage_error("-n: '%s' is not a line count (a number >= 0, or all)", s);
	*out = (int)v;
	return 0;
}

/* --timeout: a number of seconds, or with ms/s/min; 0 and infinity are no limit. */
static int parse_timeout(const char *s, int *out)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"min", 60000}};
	char *end;
	double v;

	if (strcmp(s, "infinity") == 0) {
		*out = -1;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	for (size_t i = 0; end != s && !errno && v >= 0 && i < SUP_ARRAY_SIZE(units); i++)
		if (strcmp(end, units[i].unit) == 0 && v * units[i].ms < INT_MAX) {
			*out = v == 0 ? -1 : (int)(v * units[i].ms) + (v * units[i].ms < 1);
			return 0;
		}
	return usage_error("--timeout: '%s' is not a duration (e.g. 500ms, 10s, 2min, or infinity)",
			   s);
}

/* logs -o: journalctl's names for what supctl can show */
static int parse_output(const char *s, struct opts *o)
{
	static const struct {
		const char *name;
		enum supctl_ts ts;
	} formats[] = {
	    {"short", SUPCTL_TS_SHORT},	  {"short-precise", SUPCTL_TS_PRECISE},
	    {"short-iso", SUPCTL_TS_ISO}, {"short-iso-precise", SUPCTL_TS_ISO_PRECISE},
	    {"cat", SUPCTL_TS_NONE},	  {"json", SUPCTL_TS_NONE},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(formats); i++)
		if (strcmp(s, formats[i].name) == 0) {
			o->ts = formats[i].ts;
			o->cat = strcmp(s, "cat") == 0;
			o->json |= strcmp(s, "json") == 0;
			return 0;
		}
	return usage_error("-o: '%s' is not an output format (short, short-precise, short-iso, "
			   "short-iso-precise, cat, json)",
			   s);
}

static int add_arg(struct opts *o, char *arg)
{
	if (!o->cmd)
		o->cmd = arg;
	else
		o->args[o->nargs++] = arg;
	return 0;
}

/* Options anywhere: getopt's in-order mode hands the other words over one by one. */
static int parse_args(int argc, char **argv, struct opts *o, bool *help, bool *version)
{
	enum {
		LONG_SOCKET = 256,
		LONG_JSON,
		LONG_NO_WAIT,
		LONG_VERSION,
		LONG_TIMEOUT,
		LONG_ALL,
		LONG_NO_TS,
		LONG_PULL
	};
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, LONG_SOCKET},
	    {"timeout", required_argument, NULL, LONG_TIMEOUT},
	    {"json", no_argument, NULL, LONG_JSON},
	    {"no-wait", no_argument, NULL, LONG_NO_WAIT},
	    {"pull", no_argument, NULL, LONG_PULL},
	    {"lines", required_argument, NULL, 'n'},
	    {"follow", no_argument, NULL, 'f'},
	    {"timestamps", no_argument, NULL, 't'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"signal", required_argument, NULL, 's'},
	    {"all", no_argument, NULL, LONG_ALL},
	    {"output", required_argument, NULL, 'o'},
	    {"no-timestamps", no_argument, NULL, LONG_NO_TS},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, LONG_VERSION},
	    {0},
	};
	int c;

	o->args = calloc((size_t)argc + 1, sizeof(*o->args));
	if (!o->args)
		return usage_error("out of memory");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:n:ftqs:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 1:
			add_arg(o, optarg);
			break;
		case LONG_SOCKET:
			o->socket = optarg;
			break;
		case LONG_TIMEOUT:
			if (parse_timeout(optarg, &o->timeout_ms))
				return SUP_EXIT_USAGE;
			break;
		case LONG_JSON:
			o->json = true;
			break;
		case LONG_NO_WAIT:
			o->no_wait = true;
			o->given |= OPT_NO_WAIT;
			break;
		case LONG_PULL:
			o->pull = true;
			o->given |= OPT_PULL;
			break;
		case 'n':
			if (parse_lines(optarg, &o->lines))
				return SUP_EXIT_USAGE;
			o->given |= OPT_LINES;
			break;
		case 'f':
			o->follow = true;
			o->given |= OPT_FOLLOW;
			break;
		case 't':
			o->ts = SUPCTL_TS_ISO_PRECISE;
			o->given |= OPT_TIMESTAMPS;
			break;
		case LONG_NO_TS:
			o->ts = SUPCTL_TS_NONE;
			o->given |= OPT_NO_TS;
			break;
		case 'o':
			if (parse_output(optarg, o))
				return SUP_EXIT_USAGE;
			o->given |= OPT_OUTPUT;
			break;
		case 's':
			if (sup_signal_parse(optarg, &o->signal) < 0 || o->signal < 1 ||
			    o->signal > 64)
				return usage_error(
				    "-s: '%s' is not a signal (TERM, SIGHUP, 9, ...)", optarg);
			o->given |= OPT_SIGNAL;
			break;
		case LONG_ALL:
			o->all = true;
			o->given |= OPT_ALL;
			break;
		case 'q':
			o->quiet = true;
			o->given |= OPT_QUIET;
			break;
		case 'h':
			*help = true;
			break;
		case LONG_VERSION:
			*version = true;
			break;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option -%c", optopt);
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) /* the words after "--" */
		add_arg(o, argv[optind]);
	return 0;
}

/* The words after the command against what the command takes. */
static int check_args(const struct command *c, const struct opts *o)
{
	unsigned extra = o->given & ~c->opts;

	for (size_t i = 0; extra; i++, extra >>= 1)
		if (extra & 1)
			return usage_error("%s: option %s does not apply", c->name, opt_names[i]);
	switch (c->args) {
	case ARGS_NONE:
		if (o->nargs)
			return usage_error("%s takes no arguments ('%s')", c->name, o->args[0]);
		return 0;
	case ARGS_TOPIC:
		if (o->nargs > 1)
			return usage_error("%s takes at most one command name", c->name);
		return 0;
	case ARGS_UNITS_SOME:
		if (!o->nargs)
			return usage_error("%s: which unit? (supctl %s %s)", c->name, c->name,
					   c->usage);
		break;
	case ARGS_UNIT_ONE:
		if (o->nargs != 1)
			return usage_error("%s takes exactly one unit (supctl %s %s)", c->name,
					   c->name, c->usage);
		break;
	case ARGS_UNITS_ANY:
		break;
	}
	for (size_t i = 0; i < o->nargs; i++)
		if (!supctl_valid_unit_name(o->args[i]))
			return usage_error(
			    "'%s' is not a unit name (1 to 64 of A-Z a-z 0-9 _ . @ -)", o->args[i]);
	return 0;
}

/* --- talking to supd */

struct conn {
	const struct command *cmd;
	const struct opts *o;
	int fd;
	bool all_units; /* ask about every unit, whatever the command line names */
};

/* How long to wait for the reply: --timeout, else 30 s, but a start, stop or restart that
 * waits for its units waits as long as they take (their own timeouts bound that). */
static int reply_timeout(const struct conn *x)
{
	enum sup_cmd c = x->cmd->proto;

	if (x->o->timeout_ms != TIMEOUT_DEFAULT)
		return x->o->timeout_ms;
	if ((c == SUP_CMD_START || c == SUP_CMD_STOP || c == SUP_CMD_RESTART) && !x->o->no_wait)
		return -1;
	return TIMEOUT_QUICK_MS;
}

/* Connecting and sending are bounded even with no reply timeout: a wedged supd does not
 * accept, and a full listen backlog makes connect() wait (up to SO_SNDTIMEO). */
static int io_timeout(const struct conn *x)
{
	return x->o->timeout_ms == TIMEOUT_DEFAULT ? TIMEOUT_QUICK_MS : x->o->timeout_ms;
}

static void describe_ms(int ms, char *buf, size_t n)
{
	if (ms % 1000)
		snprintf(buf, n, "%dms", ms);
	else
		snprintf(buf, n, "%ds", ms / 1000);
}

static int connect_supd(struct conn *x)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = x->o->socket;
	int fd, e, ms = io_timeout(x);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	char took[32];

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "supctl: cannot reach supd at %s: %s\n", path,
			strerror(ENAMETOOLONG));
		return SUP_EXIT_UNREACHABLE;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && ms >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		describe_ms(ms, took, sizeof(took));
		if (e == EAGAIN)
			fprintf(stderr,
				"supctl: cannot reach supd at %s: it did not accept the connection "
				"within %s\n",
				path, took);
		else
			fprintf(stderr, "supctl: cannot reach supd at %s: %s\n", path, strerror(e));
		return SUP_EXIT_UNREACHABLE;
	}
	x->fd = fd;
	return 0;
}

/* Does msg begin with "UNIT: " for one of the units of the request? */
static const char *names_unit(const struct opts *o, const char *msg)
{
	for (size_t i = 0; i < o->nargs; i++) {
		size_t n = strlen(o->args[i]);

		if (strncmp(msg, o->args[i], n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
			return o->args[i];
	}
	return NULL;
}

/* "supctl: CMD UNIT: message", the unit taken from the message when it starts with one. */
static void print_failure(const struct conn *x, const char *msg)
{
	size_t n = strlen(x->cmd->name);
	const char *unit;

	if (strncmp(msg, x->cmd->name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		msg += n + 2; /* "reload: ..." */
	unit = names_unit(x->o, msg);
	if (unit)
		msg += strlen(unit) + 2;
	else if (x->o->nargs == 1)
		unit = x->o->args[0];
	fprintf(stderr, "supctl: %s%s%s: %s\n", x->cmd->name, unit ? " " : "", unit ?: "", msg);
}

/* A reply frame's verdict: 0, or the exit status its code asks for. */
static int check_reply(const struct conn *x, const json_t *reply)
{
	const json_t *ok = json_object_get(reply, "ok");
	const char *msg = json_string_value(json_object_get(reply, "error"));
	json_int_t code = json_integer_value(json_object_get(reply, "code"));

	if (json_is_true(ok))
		return 0;
	if (!json_is_false(ok)) {
		fprintf(stderr, "supctl: %s: malformed reply from supd\n", x->cmd->name);
		return SUP_EXIT_FAILED;
	}
	print_failure(x, msg ?: "request failed");
	return code >= SUP_EXIT_FAILED && code <= SUP_EXIT_NO_UNIT ? (int)code : SUP_EXIT_FAILED;
}

static int transport_error(const struct conn *x, struct sup_error *err)
{
	char took[32];

	if (err && err->errnum == ETIMEDOUT) {
		describe_ms(reply_timeout(x), took, sizeof(took));
		fprintf(stderr, "supctl: %s: no answer from supd at %s within %s (--timeout)\n",
			x->cmd->name, x->o->socket, took);
	} else {
		fprintf(stderr, "supctl: %s: connection to supd at %s: %s\n", x->cmd->name,
			x->o->socket, err ? err->msg : "closed before a reply");
	}
	sup_error_free(err);
	return SUP_EXIT_UNREACHABLE;
}

/* Receive the reply (its parts joined, if it came in several): 0 with *obj, or an exit
 * status. */
static int receive(const struct conn *x, json_t **obj)
{
	struct sup_error *err = NULL;
	int r = sup_recv_reply(x->fd, obj, reply_timeout(x), &err);

	if (r <= 0)
		return transport_error(x, err);
	return 0;
}

/* Connect, send the command's request, check the reply. 0 with *reply, or an exit status. */
static int call(struct conn *x, json_t **reply)
{
	struct sup_request req = {.cmd = x->cmd->proto,
				  .wait = !x->o->no_wait,
				  .lines = x->o->lines,
				  .follow = x->o->follow,
				  .detail = x->o->detail,
				  .signal = x->o->signal,
				  .all = x->o->all,
				  .pull = x->o->pull};
	struct sup_error *err = NULL;
	json_t *obj;
	int r;

	*reply = NULL;
	for (size_t i = 0; i < x->o->nargs && !x->all_units; i++)
		if (strv_push(&req.units, x->o->args[i]) < 0) {
			sup_request_free(&req);
			fputs("supctl: out of memory\n", stderr);
			return SUP_EXIT_FAILED;
		}
	obj = sup_request_to_json(&req);
	sup_request_free(&req);
	if (!obj) {
		fputs("supctl: out of memory\n", stderr);
		return SUP_EXIT_FAILED;
	}
	r = connect_supd(x);
	if (!r && sup_send_frame_timed(x->fd, obj, io_timeout(x), &err) < 0)
		r = transport_error(x, err);
	json_decref(obj);
	if (r || (r = receive(x, reply)))
		return r;
	r = check_reply(x, *reply);
	if (r) {
		json_decref(*reply);
		*reply = NULL;
	}
	return r;
}

static void print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY | SUP_JSON_REALS);
	putchar('\n');
}

/* --- the commands */

static bool use_color(void)
{
	const char *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
}

static void print_line(const struct opts *o, const json_t *line, bool labels);

/* status UNIT's last log lines, for those allowed to read logs (others get a hint). */
static void detail_logs(struct opts *o)
{
	static const struct command logs = {.name = "logs", .proto = SUP_CMD_LOGS};
	struct opts lo = *o;
	struct conn x = {.cmd = &logs, .o = &lo, .fd = -1};
	const json_t *line;
	json_t *reply = NULL;
	struct sup_error *err = NULL;
	struct sup_request req = {.cmd = SUP_CMD_LOGS, .lines = 10};
	json_t *obj;
	size_t i;

	lo.json = false;
	lo.ts = SUPCTL_TS_SHORT;
	if (strv_push(&req.units, o->args[0]) < 0 || !(obj = sup_request_to_json(&req))) {
		sup_request_free(&req);
		return;
	}
	sup_request_free(&req);
	if (connect_supd(&x) == 0 && sup_send_frame_timed(x.fd, obj, io_timeout(&x), &err) == 0 &&
	    sup_recv_reply(x.fd, &reply, reply_timeout(&x), &err) > 0) {
		if (json_is_true(json_object_get(reply, "ok"))) {
			const json_t *lines =
			    json_object_get(json_object_get(reply, "data"), "lines");
			if (json_array_size(lines))
				putchar('\n');
			json_array_foreach(lines, i, line) print_line(&lo, line, false);
		} else {
			printf(
			    "\nHint: the unit's log is for root and the [Control] Group= only.\n");
		}
	}
	sup_error_free(err);
	json_decref(obj);
	json_decref(reply);
	sup_closep(&x.fd);
}

static int run_status(const struct command *c, struct opts *o)
{
	struct conn x = {.cmd = c, .o = o, .fd = -1};
	json_t *reply;
	int r;

	o->detail = o->nargs == 1 && !o->json; /* one unit: systemctl status's view */
	r = call(&x, &reply);
	if (!r && o->detail) {
		const json_t *u = json_array_get(json_object_get(reply, "data"), 0);

		supctl_print_detail(stdout, u, use_color());
		if (!supctl_unit_active(u))
			r = SUP_EXIT_NOT_ACTIVE;
		json_decref(reply);
		sup_closep(&x.fd);
		detail_logs(o);
		return r;
	}

	if (!r) {
		const json_t *data = json_object_get(reply, "data");
		const char *serr = json_string_value(json_object_get(reply, "supd_error"));

		if (serr)
			fprintf(stderr, "supd: error: %s\n", serr);
		const json_t *u;
		size_t i;

		if (o->json)
			print_json(data);
		else
			supctl_print_status(stdout, data, use_color());
		/* as systemctl status: 3 when a unit named is not active */
		json_array_foreach(data, i, u) if (o->nargs && !supctl_unit_active(u)) r =
		    SUP_EXIT_NOT_ACTIVE;
	}
	json_decref(reply);
	sup_closep(&x.fd);
	return r;
}

static const json_t *find_unit(const json_t *units, const char *name)
{
	const json_t *u;
	size_t i;

	json_array_foreach(units, i, u)
	{
		const char *n = json_string_value(json_object_get(u, "name"));
		if (n && strcmp(n, name) == 0)
			return u;
	}
	return NULL;
}

/*
 * is-active / is-failed: each unit's ActiveState on a line (systemctl's words); success if one
 * of them is active (is-failed: failed), else 4 if one does not exist, else 3.
 */
static int run_is(const struct command *c, struct opts *o)
{
	struct conn x = {.cmd = c, .o = o, .fd = -1, .all_units = true};
	bool failed = strcmp(c->name, "is-failed") == 0, yes = false, missing = false;
	json_t *reply;
	int r = call(&x, &reply);

	for (size_t i = 0; !r && i < o->nargs; i++) {
		const json_t *u = find_unit(json_object_get(reply, "data"), o->args[i]);
		const char *a = u ? supctl_active_state(u) : "inactive";

		if (!u && !o->quiet)
			fprintf(stderr, "supctl: %s %s: no such unit\n", c->name, o->args[i]);
		missing |= !u;
		yes |= u && (failed ? strcmp(a, "failed") == 0 : supctl_unit_active(u));
		if (!o->quiet)
			printf("%s\n", a);
	}
	json_decref(reply);
	sup_closep(&x.fd);
	if (r)
		return r;
	return yes ? 0 : missing ? SUP_EXIT_NO_UNIT : SUP_EXIT_NOT_ACTIVE;
}

/* One request; on success the reply's data as JSON (--json) or through human (if any). */
static int call_and_print(const struct command *c, struct opts *o,
			  void (*human)(FILE *out, const json_t *data))
{
	struct conn x = {.cmd = c, .o = o, .fd = -1};
	json_t *reply, *data;
	int r = call(&x, &reply);

	data = json_object_get(reply, "data");
	if (!r && o->json && !json_is_null(data))
		print_json(data);
	else if (!r && human)
		human(stdout, data);
	json_decref(reply);
	sup_closep(&x.fd);
	return r;
}

/* start, stop, restart, reset, poweroff, reboot: silent on success unless --json. */
static int run_action(const struct command *c, struct opts *o)
{
	return call_and_print(c, o, NULL);
}

/* reload: the configuration; reload UNIT...: their ExecReload= (systemctl's reload) */
static int run_reload(const struct command *c, struct opts *o)
{
	struct command units = *c;

	if (!o->nargs)
		return call_and_print(c, o, supctl_print_reload);
	units.proto = SUP_CMD_RELOAD_UNITS;
	return call_and_print(&units, o, NULL);
}

static int run_kill(const struct command *c, struct opts *o)
{
	return call_and_print(c, o, NULL);
}

/* The unit file, under a "# PATH" line as systemctl cat prints it. */
static void print_cat(FILE *out, const json_t *data)
{
	const json_t *text = json_object_get(data, "text");
	size_t n = json_string_length(text);

	fputs("# ", out);
	fputs(json_string_value(json_object_get(data, "path")) ?: "?", out);
	fputc('\n', out);
	fwrite(json_string_value(text) ?: "", 1, n, out);
	if (n && json_string_value(text)[n - 1] != '\n')
		fputc('\n', out);
}

static int run_cat(const struct command *c, struct opts *o)
{
	return call_and_print(c, o, print_cat);
}

/* labels: several units' lines, each with its unit (or SyslogIdentifier=) */
static void print_line(const struct opts *o, const json_t *line, bool labels)
{
	if (o->json) {
		json_dumpf(line, stdout, JSON_COMPACT | SUP_JSON_REALS);
		putchar('\n');
	} else {
		supctl_print_log_line(stdout, line, o->ts,
				      labels && !o->cat ? supctl_line_label(line) : NULL);
	}
}

/* Which units a logs note is about: "web", or "web db", or "every unit" */
static const char *logs_what(const struct opts *o)
{
	return o->nargs == 1 ? o->args[0] : o->nargs ? "(several units)" : "(every unit)";
}

/* One event of a follow stream: 1 to go on, else the exit status (0: it ended as it may). */
static int follow_event(const struct conn *x, const json_t *frame)
{
	const char *event = json_string_value(json_object_get(frame, "event"));

	if (!event) {
		int r = check_reply(x, frame);
		return r ? r : 1;
	}
	if (strcmp(event, "log") == 0) {
		print_line(x->o, json_object_get(frame, "line"), x->o->nargs != 1);
	} else if (strcmp(event, "dropped") == 0) {
		fflush(stdout);
		fprintf(stderr,
			"supctl: logs %s: %" JSON_INTEGER_FORMAT
			" lines missed (this reader fell behind and supd's buffer moved on)\n",
			logs_what(x->o), json_integer_value(json_object_get(frame, "lines")));
	} else if (strcmp(event, "end") == 0) {
		fflush(stdout);
		fprintf(stderr, "supctl: logs %s: the stream ended: %s\n", logs_what(x->o),
			json_string_value(json_object_get(frame, "reason")) ?: "(no reason)");
		return 0;
	}
	return 1; /* an event this supctl does not know */
}

/* After the tail: one {"event": "log"} frame per new line until supd ends the stream (an
 * "end" event); a connection that closes without one is an error. */
static int follow(const struct conn *x)
{
	for (;;) {
		struct sup_error *err = NULL;
		json_t *frame = NULL;
		int r = sup_recv_frame(x->fd, &frame, &err);

		if (r == 0) {
			fprintf(stderr,
				"supctl: logs %s: supd closed the stream without ending it\n",
				logs_what(x->o));
			return SUP_EXIT_UNREACHABLE;
		}
		if (r < 0)
			return transport_error(x, err);
		r = follow_event(x, frame);
		json_decref(frame);
		fflush(stdout);
		if (r != 1)
			return r;
	}
}

static int run_logs(const struct command *c, struct opts *o)
{
	struct conn x = {.cmd = c, .o = o, .fd = -1};
	const json_t *data, *lines, *line;
	json_int_t dropped;
	json_t *reply;
	size_t i;
	int r;

	if (o->follow)
		setvbuf(stdout, NULL, _IOLBF, 0);
	r = call(&x, &reply);
	if (r)
		goto out;
	data = json_object_get(reply, "data");
	lines = json_object_get(data, "lines");
	json_array_foreach(lines, i, line) print_line(o, line, o->nargs != 1);
	dropped = json_integer_value(json_object_get(data, "dropped"));
	fflush(stdout);
	if (dropped > 0)
		fprintf(stderr,
			"supctl: logs %s: note: %" JSON_INTEGER_FORMAT
			" older lines were dropped from supd's buffer\n",
			logs_what(o), dropped);
	if (o->follow)
		r = follow(&x);
out:
	json_decref(reply);
	sup_closep(&x.fd);
	return r;
}

static int run_version(const struct command *c, struct opts *o)
{
	struct conn x = {.cmd = c, .o = o, .fd = -1};
	const json_t *data;
	json_t *reply;
	int r;

	if (!o->json)
		printf("supctl %s\n", SUP_VERSION);
	fflush(stdout);
	r = call(&x, &reply);
	data = json_object_get(reply, "data");
	if (!r && o->json)
		print_json(data);
	else if (!r)
		printf("supd %s (protocol %" JSON_INTEGER_FORMAT ")\n",
		       json_string_value(json_object_get(data, "version")) ?: "?",
		       json_integer_value(json_object_get(data, "protocol")));
	json_decref(reply);
	sup_closep(&x.fd);
	return r;
}

static int run_stats(const struct command *c, struct opts *o)
{
	return call_and_print(c, o, supctl_print_stats);
}

static int run_metrics(const struct command *c, struct opts *o)
{
	struct conn x = {.cmd = c, .o = o, .fd = -1};
	json_t *reply;
	int r = call(&x, &reply);

	const char *text =
	    json_string_value(json_object_get(json_object_get(reply, "data"), "text"));

	if (!r && o->json) {
		json_t *j = supctl_metrics_json(text);
		print_json(j);
		json_decref(j);
	} else if (!r) {
		fputs(text ?: "", stdout);
	}
	json_decref(reply);
	sup_closep(&x.fd);
	return r;
}

struct top_row {
	const json_t *u;
	double pct;
};

static int by_cpu(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	return x->pct < y->pct ? 1 : x->pct > y->pct ? -1 : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Refresh every second; on a terminal in place (q quits), else plain repeated tables. */
static int run_top(const struct command *c, struct opts *o)
{
	bool tty = isatty(STDOUT_FILENO), keys = tty && isatty(STDIN_FILENO);
	json_t *prev = NULL;
	double prev_t = 0;
	struct termios saved;
	int r = 0;

	if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		keys = false;
	}
	for (;;) {
		struct conn x = {.cmd = c, .o = o, .fd = -1};
		json_t *reply, *data;
		struct top_row *rows;
		double t;
		size_t i, n;
		const json_t *u;

		r = call(&x, &reply);
		sup_closep(&x.fd);
		if (r)
			break;
		t = now_s();
		data = json_incref(json_object_get(reply, "data"));
		json_decref(reply);
		n = json_array_size(data);
		rows = calloc(n + 1, sizeof(*rows));
		json_array_foreach(data, i, u)
		{
			const char *name = json_string_value(json_object_get(u, "name"));
			json_int_t now = json_integer_value(json_object_get(u, "cpu_usage_usec"));
			size_t k;
			const json_t *p;

			rows[i].u = u;
			rows[i].pct = 0;
			json_array_foreach(prev, k, p)
			{
				if (name &&
				    strcmp(name, json_string_value(json_object_get(p, "name"))
						     ?: "") == 0 &&
				    t > prev_t) {
					json_int_t was = json_integer_value(
					    json_object_get(p, "cpu_usage_usec"));
					if (now >= was)
						rows[i].pct =
						    (double)(now - was) / 1e4 / (t - prev_t);
					break;
				}
			}
		}
		qsort(rows, n, sizeof(*rows), by_cpu);
		supctl_stats_fit(data);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		printf("supctl top: %zu units%s\n", n, keys ? "  (q quits)" : "");
		supctl_print_stats_header(stdout, true);
		for (i = 0; i < n; i++)
			supctl_print_stats_row(stdout, rows[i].u, prev ? rows[i].pct : 0);
		if (!tty)
			putchar('\n');
		fflush(stdout);
		free(rows);
		json_decref(prev);
		prev = data;
		prev_t = t;
		/* one second, or a key */
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		if (poll(&pfd, keys ? 1 : 0, 1000) > 0) {
			char ch = 0;
			if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				break;
		}
	}
	json_decref(prev);
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return r;
}

/* Image commands take their own options: main() hands them to supctl_images() first; this is
 * the way in when an option main() does not know came before the command (only the words
 * and --json are left then). */
static int run_image(const struct command *c, struct opts *o)
{
	char **argv = calloc(o->nargs + 2, sizeof(*argv));
	int r;

	if (!argv)
		return SUP_EXIT_FAILED;
	argv[0] = (char *)c->name;
	for (size_t i = 0; i < o->nargs; i++)
		argv[i + 1] = o->args[i];
	r = supctl_images(o->socket, o->json, (int)o->nargs + 1, argv);
	free(argv);
	return r;
}

static int run_help(const struct command *c, struct opts *o)
{
	const struct command *t = o->nargs ? find_command(o->args[0]) : NULL;

	if (o->nargs && !t)
		return usage_error("help: unknown command '%s'", o->args[0]);
	if (!t) {
		usage(stdout);
		return 0;
	}
	printf("Usage: supctl %s%s%s\n  %s%s\n", t->name, *t->usage ? " " : "", t->usage,
	       t->summary, t->run ? "" : " (not supported by this build yet)");
	return 0;
}

static int finish(int r)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "supctl: write to stdout: %s\n", strerror(errno));
		return r ? r : SUP_EXIT_FAILED;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct opts o = {.lines = 50, .timeout_ms = TIMEOUT_DEFAULT, .signal = SIGTERM};
	const struct command *c;
	bool help = false, version = false;
	int r;

	/* exec: everything after UNIT is the command's, options included; image commands parse
	 * their own options */
	for (int i = 1; i < argc; i++) {
		if (supctl_is_image_command(argv[i])) {
			const char *sock = getenv("SUP_SOCKET") && *getenv("SUP_SOCKET")
					       ? getenv("SUP_SOCKET")
					       : DEFAULT_SOCKET;
			bool json = false, help_first = false;
			for (int j = 1; j < i; j++)
				if (strcmp(argv[j], "--socket") == 0 && j + 1 < i)
					sock = argv[++j];
				else if (strncmp(argv[j], "--socket=", 9) == 0)
					sock = argv[j] + 9;
				else if (strcmp(argv[j], "--json") == 0)
					json = true;
				else
					help_first = true; /* -h, --version: the usual path */
			for (int j = i + 1; j < argc; j++)
				if (!strcmp(argv[j], "-h") || !strcmp(argv[j], "--help"))
					help_first = true;
			if (!help_first)
				return finish(supctl_images(sock, json, argc - i, argv + i));
			break;
		}
		if (strcmp(argv[i], "exec") == 0) {
			const char *sock = getenv("SUP_SOCKET") && *getenv("SUP_SOCKET")
					       ? getenv("SUP_SOCKET")
					       : DEFAULT_SOCKET;
			for (int j = 1; j < i; j++)
				if (strcmp(argv[j], "--socket") == 0 && j + 1 < i)
					sock = argv[j + 1];
				else if (strncmp(argv[j], "--socket=", 9) == 0)
					sock = argv[j] + 9;
			return supctl_exec(sock, argc - i - 1, argv + i + 1);
		}
		if (argv[i][0] != '-')
			break;
		if (strcmp(argv[i], "--socket") == 0)
			i++;
	}
	r = parse_args(argc, argv, &o, &help, &version);
	if (r)
		goto out;
	if (!o.socket)
		o.socket = getenv("SUP_SOCKET") && *getenv("SUP_SOCKET") ? getenv("SUP_SOCKET")
									 : DEFAULT_SOCKET;
	if (version && !o.cmd) {
		printf("supctl %s\n", SUP_VERSION);
		goto out;
	}
	if (help && !o.cmd) {
		usage(stdout);
		goto out;
	}
	if (!o.cmd) {
		usage(stderr);
		r = SUP_EXIT_USAGE;
		goto out;
	}
	c = find_command(o.cmd);
	if (!c) {
		r = usage_error("unknown command '%s'", o.cmd);
		goto out;
	}
	if (help) { /* supctl CMD --help */
		o.args[0] = (char *)c->name;
		o.nargs = 1;
		c = find_command("help");
	}
	if (!c->run) {
		fprintf(stderr, "supctl: %s: not supported by this build yet\n", c->name);
		r = SUP_EXIT_USAGE;
		goto out;
	}
	r = check_args(c, &o);
	if (!r)
		r = c->run(c, &o);
out:
	free(o.args);
	return finish(r);
}
