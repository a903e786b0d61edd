/*
 * units, coming from systemd: NAME.service files, systemd's spellings, the keys real units
 * need, warnings apart from errors, the messages for unknown and unsupported keys, templates,
 * $VAR expansion, supd --check.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../units/unit_private.h"
#include "sup/unit.h"

#define SVC    "/u/t.service"
#define UNIT   "/u/t.unit"
#define MS(x)  ((uint64_t)(x)*USEC_PER_MSEC)
#define SEC(x) ((uint64_t)(x)*USEC_PER_SEC)
#define EXEC   "[Service]\nExecStart=/bin/true\n"
#define NO_STOP_TIMEOUT                                                                            \
	"0 means no timeout (as in systemd; write infinity to say so): a service that ignores "   \
	"its stop signal is never SIGKILLed, and supd's own exit waits for it up to [Machine] "    \
	"ShutdownTimeoutSec= of supd.conf"
#define PENDING_SM                                                                                 \
	" is parsed, but the unit state machine does not act on it yet; the unit is not started "  \
	"without it"
#define PENDING_SP                                                                                 \
	" is parsed, but the spawner does not act on it yet; the unit is not started without it"
#define ISOLATION "; a unit must never run with less isolation than it asked for"

/* ---- helpers ---- */

static void drop(struct unit_config *c)
{
	unit_config_free(c);
	free(c);
}

/* Every problem as "error: TEXT" / "warning: TEXT", joined by '\n'; to be freed. */
static char *all_problems(const struct unit_problems *pl)
{
	size_t cap = 1, n = 0;
	char *s;

	for (size_t i = 0; i < pl->n; i++)
		cap += strlen(pl->v[i].text) + 12;
	s = calloc(1, cap);
	for (size_t i = 0; i < pl->n; i++)
		n += (size_t)sprintf(s + n, "%s%s: %s", i ? "\n" : "",
				     pl->v[i].severity == UNIT_ERROR ? "error" : "warning",
				     pl->v[i].text);
	return s;
}

/* Parse text as PATH (pending checks on or off); the problems must be exactly `want`. */
static struct unit_config *parse_as(const char *path, const char *text, bool pending,
				    const char *want)
{
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};
	int r = unit_parse_text("t", path, text, strlen(text), pending, &c, &pl);
	char *got = all_problems(&pl);

	ck_assert_msg(strcmp(got, want) == 0, "for:\n%s\ngot:\n%s\nexpected:\n%s", text, got, want);
	ck_assert_int_eq(r, pl.errors ? -1 : 0);
	ck_assert((c == NULL) == (pl.errors > 0));
	for (size_t i = 0; i < pl.n; i++)
		ck_assert_msg(!strchr(pl.v[i].text, '\n'), "one problem, one line");
	free(got);
	unit_problems_free(&pl);
	return c;
}

/* A .service text that must parse without any problem (pending checks on). */
static struct unit_config *svc_ok(const char *text)
{
	return parse_as(SVC, text, true, "");
}

/* Stored values of keys whose runtime is pending: the pending checks off. */
static struct unit_config *stored(const char *text)
{
	return parse_as(SVC, text, false, "");
}

static void svc_problems(const char *text, const char *want)
{
	drop(parse_as(SVC, text, true, want));
}

static char *joined(const struct strv *sv)
{
	char *s = strv_join(sv, "|");
	ck_assert_ptr_nonnull(s);
	return s;
}

#define ck_assert_strv(sv, expected)                                                               \
	do {                                                                                       \
		char *_j = joined(sv);                                                             \
		ck_assert_str_eq(_j, expected);                                                    \
		free(_j);                                                                          \
	} while (0)

/* ---- systemd's spellings ---- */

START_TEST(test_spellings)
{
	struct unit_config *c = svc_ok("[Unit]\n"
				       "StartLimitIntervalSec=30s\n"
				       "StartLimitBurst=3\n"
				       "[Service]\n"
				       "ExecStart=/usr/bin/server -p 80\n"
				       "Type=exec\n"
				       "KillSignal=SIGINT\n"
				       "TimeoutStopSec=20s\n"
				       "TimeoutStartSec=5s\n"
				       "TasksMax=64\n"
				       "AllowedCPUs=0-1 3\n"
				       "MemoryMax=1G\n"
				       "MemoryHigh=512M\n"
				       "CPUWeight=50\n"
				       "IOWeight=20\n"
				       "StandardOutput=journal\n"
				       "StandardError=syslog\n");

	ck_assert_strv(&c->exec, "/usr/bin/server|-p|80");
	ck_assert_int_eq(c->dialect, UNIT_DIALECT_SYSTEMD);
	ck_assert_int_eq(c->type, UNIT_TYPE_SIMPLE); /* exec: up once exec'd, as sup's simple */
	ck_assert_int_eq(c->stop_signal, SIGINT);
	ck_assert_uint_eq(c->stop_timeout_usec, SEC(20));
	ck_assert_uint_eq(c->ready_timeout_usec, SEC(5));
	ck_assert_uint_eq(c->start_limit_interval_usec, SEC(30));
	ck_assert_uint_eq(c->start_limit_burst, 3);
	ck_assert(c->res.pids_max == 64);
	ck_assert_str_eq(c->res.cpu_set, "0-1,3");
	ck_assert(c->res.memory_max == 1ULL << 30);
	ck_assert(c->res.memory_high == 512ULL << 20);
	ck_assert_uint_eq(c->res.cpu_weight, 50);
	ck_assert_uint_eq(c->res.io_weight, 20);
	ck_assert_int_eq(c->std_output, UNIT_OUTPUT_LOG);
	ck_assert_int_eq(c->std_error, UNIT_OUTPUT_LOG);
	drop(c);

	/* 0 is no timeout for systemd's names (kept as 0, which supd reads as none, with a
	 * warning); TimeoutSec= sets both; old names */
	c = parse_as(SVC, EXEC "TimeoutStopSec=0\nTimeoutStartSec=0\n", true,
		     "warning: " SVC ":3: TimeoutStopSec: " NO_STOP_TIMEOUT);
	ck_assert_uint_eq(c->stop_timeout_usec, 0);
	ck_assert_uint_eq(c->ready_timeout_usec, 0);
	drop(c);
	/* infinity says it explicitly: no warning; a notify unit is warned about its start */
	drop(svc_ok(EXEC "TimeoutStopSec=infinity\nTimeoutStartSec=infinity\n"));
	svc_problems("[Service]\nExecStart=/bin/true\nType=notify\nTimeoutSec=0\n",
		     "warning: " SVC ":4: TimeoutSec: " NO_STOP_TIMEOUT "\nwarning: " SVC
		     ":4: TimeoutSec: 0 means no timeout (as in systemd; write infinity to "
		     "say so): a start that never gets ready stays starting for ever");
	c = svc_ok(EXEC "TimeoutSec=90\nStartLimitInterval=10s\nMemoryLimit=64M\n");
	ck_assert_uint_eq(c->stop_timeout_usec, SEC(90));
	ck_assert_uint_eq(c->ready_timeout_usec, SEC(90));
	ck_assert_uint_eq(c->start_limit_interval_usec, SEC(10));
	ck_assert(c->res.memory_max == 64ULL << 20);
	drop(c);
	c = svc_ok(EXEC "TimeoutSec=0\nTimeoutSec=\n");
	ck_assert_uint_eq(c->stop_timeout_usec, SEC(10));
	ck_assert_uint_eq(c->ready_timeout_usec, SEC(30));
	drop(c);
	/* sup's own StopTimeoutSec=0 stays 0, which also means no timeout (as 0 in systemd) */
	c = parse_as(UNIT, "[Service]\nExec=/bin/true\nStopTimeoutSec=0\n", true,
		     "warning: " UNIT ":3: StopTimeoutSec: " NO_STOP_TIMEOUT);
	ck_assert_uint_eq(c->stop_timeout_usec, 0);
	ck_assert_int_eq(c->dialect, UNIT_DIALECT_SUP);
	drop(c);
	/* a sup key and its systemd spelling are one key: the last one wins */
	c = svc_ok(EXEC "StopSignal=SIGHUP\nKillSignal=SIGQUIT\n");
	ck_assert_int_eq(c->stop_signal, SIGQUIT);
	drop(c);
	/* the problem names the key as written */
	svc_problems(EXEC "TasksMax=10%\n",
		     "error: " SVC ":3: TasksMax: '10%' is not valid; allowed: a number of "
		     "processes from 1, or infinity (not a percentage)");
	svc_problems("[Service]\n", "error: " SVC ": ExecStart: missing; allowed: a command line "
				    "in [Service], e.g. Exec=/usr/bin/server --port 80");
}
END_TEST

START_TEST(test_exec_start)
{
	struct unit_config *c;

	/* one main command: a second one is an error (systemd runs several for oneshot only) */
	svc_problems("[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n",
		     "error: " SVC ":3: ExecStart: a second command; allowed: one (an empty "
		     "ExecStart= before it replaces the first; several commands, which systemd "
		     "runs in turn for Type=oneshot, are not supported)");
	c = svc_ok("[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=/bin/b x\n");
	ck_assert_strv(&c->exec, "/bin/b|x");
	ck_assert_uint_eq(c->exec_flags, 0);
	drop(c);
	/* prefixes: '-' is stored (the state machine ignores the failure), ':' too; the others
	 * are refused */
	c = stored("[Service]\nExecStart=-:/bin/a\n");
	ck_assert_strv(&c->exec, "/bin/a");
	ck_assert_uint_eq(c->exec_flags, UNIT_CMD_IGNORE_FAILURE | UNIT_CMD_NO_EXPAND);
	drop(c);
	drop(svc_ok("[Service]\nExecStart=-/bin/a\n"));
	c = svc_ok("[Service]\nExecStart=:/bin/a $X\n"); /* no expansion asked: nothing pending */
	ck_assert_strv(&c->exec, "/bin/a|$X");
	drop(c);
	static const struct {
		const char *prefix, *what;
	} refused[] = {
	    {"@", "'@' (argv[0] given apart from the program)"},
	    {"+", "'+' (run with full privileges)"},
	    {"!", "'!' (privileges without ambient capabilities)"},
	    {"!!", "'!' (privileges without ambient capabilities)"},
	    {"-+", "'+' (run with full privileges)"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char text[128], want[512];
		snprintf(text, sizeof(text), "[Service]\nExecStart=%s/bin/a\n", refused[i].prefix);
		snprintf(
		    want, sizeof(want),
		    "error: " SVC ":2: ExecStart: the prefix %s is not supported; allowed: a "
		    "command line: words split at blanks, \"...\" and '...' quote, \\ escapes; "
		    "a '-' before it ignores its failure",
		    refused[i].what);
		svc_problems(text, want);
	}
	svc_problems("[Service]\nExecStart=- x\n",
		     "error: " SVC ":2: ExecStart: the program name is empty; allowed: a command "
		     "line: words split at blanks, \"...\" and '...' quote, \\ escapes; a '-' "
		     "before it ignores its failure");
}
END_TEST

/* ---- keys real units need: stored as systemd means them ---- */

START_TEST(test_command_lists)
{
	struct unit_config *c =
	    stored("[Service]\n"
		   "ExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'\n"
		   "ExecStartPre=-/bin/rm -f /run/x ; /bin/mkdir -p /run/x\n"
		   "ExecStart=/usr/sbin/nginx\n"
		   "ExecStartPost=/bin/echo started\n"
		   "ExecReload=/bin/kill -HUP $MAINPID\n"
		   "ExecStop=-/sbin/start-stop-daemon --stop --retry QUIT/5\n"
		   "ExecStopPost=/bin/rm -f /run/x/pid \\; ';'\n");

	ck_assert_uint_eq(c->exec_start_pre.n, 3);
	ck_assert_strv(&c->exec_start_pre.v[0].argv,
		       "/usr/sbin/nginx|-t|-q|-g|daemon on; master_process on;");
	ck_assert_uint_eq(c->exec_start_pre.v[0].flags, 0);
	ck_assert_strv(&c->exec_start_pre.v[1].argv, "/bin/rm|-f|/run/x");
	ck_assert_uint_eq(c->exec_start_pre.v[1].flags, UNIT_CMD_IGNORE_FAILURE);
	ck_assert_strv(&c->exec_start_pre.v[2].argv, "/bin/mkdir|-p|/run/x");
	ck_assert_uint_eq(c->exec_start_pre.v[2].flags, 0);
	ck_assert_uint_eq(c->exec_start_post.n, 1);
	ck_assert_strv(&c->exec_reload.v[0].argv, "/bin/kill|-HUP|$MAINPID"); /* raw words */
	ck_assert_strv(&c->exec_stop.v[0].argv, "/sbin/start-stop-daemon|--stop|--retry|QUIT/5");
	ck_assert_uint_eq(c->exec_stop.v[0].flags, UNIT_CMD_IGNORE_FAILURE);
	/* an escaped or quoted ';' is a word, not a separator */
	ck_assert_uint_eq(c->exec_stop_post.n, 1);
	ck_assert_strv(&c->exec_stop_post.v[0].argv, "/bin/rm|-f|/run/x/pid|;|;");
	drop(c);

	/* an empty assignment empties the list */
	c = stored(EXEC "ExecStartPre=/bin/a\nExecStartPre=\nExecStartPre=/bin/b\n");
	ck_assert_uint_eq(c->exec_start_pre.n, 1);
	ck_assert_strv(&c->exec_start_pre.v[0].argv, "/bin/b");
	drop(c);
	/* a bad command in a list: nothing of that line is added */
	svc_problems(EXEC "ExecStop=/bin/a ; +/bin/b\n",
		     "error: " SVC ":3: ExecStop: the prefix '+' (run with full privileges) is not "
		     "supported; allowed: command lines (words split at blanks, \"...\" and '...' "
		     "quote, \\ escapes), ' ; ' between several, a '-' before one to ignore its "
		     "failure");
	svc_problems(EXEC "ExecReload=/bin/a 'b\n",
		     "error: " SVC ":3: ExecReload: unterminated single quote in '/bin/a 'b'; "
		     "allowed: command lines (words split at blanks, \"...\" and '...' quote, \\ "
		     "escapes), ' ; ' between several, a '-' before one to ignore its failure");
}
END_TEST

START_TEST(test_state_machine_keys)
{
	struct unit_config *c = stored("[Unit]\n"
				       "Before=a.service b\n"
				       "BindsTo=db.service\n"
				       "PartOf=group\n"
				       "Conflicts=other\n"
				       "ConditionPathExists=/etc/x\n"
				       "ConditionPathExists=!/run/y\n"
				       "AssertPathExists=/etc/z\n"
				       "[Service]\n"
				       "Type=forking\n"
				       "PIDFile=/run/x.pid\n"
				       "ExecStart=/usr/sbin/x\n"
				       "RemainAfterExit=yes\n"
				       "SuccessExitStatus=75 SIGPIPE\n"
				       "SuccessExitStatus=255 TERM\n"
				       "RestartPreventExitStatus=1 SIGKILL\n"
				       "Restart=on-abort\n"
				       "KillMode=process\n"
				       "NotifyAccess=main\n");

	ck_assert_strv(&c->before, "a|b");
	ck_assert_strv(&c->binds_to, "db");
	ck_assert_strv(&c->part_of, "group");
	ck_assert_strv(&c->conflicts, "other");
	ck_assert_strv(&c->condition_path_exists, "/etc/x|!/run/y");
	ck_assert_strv(&c->assert_path_exists, "/etc/z");
	ck_assert_int_eq(c->type, UNIT_TYPE_FORKING);
	ck_assert_str_eq(c->pid_file, "/run/x.pid");
	ck_assert(c->remain_after_exit);
	ck_assert(unit_exit_set_has_code(&c->success_exit_status, 75));
	ck_assert(unit_exit_set_has_code(&c->success_exit_status, 255));
	ck_assert(!unit_exit_set_has_code(&c->success_exit_status, 0));
	ck_assert(!unit_exit_set_has_code(&c->success_exit_status, 256));
	ck_assert(unit_exit_set_has_signal(&c->success_exit_status, SIGPIPE));
	ck_assert(unit_exit_set_has_signal(&c->success_exit_status, SIGTERM));
	ck_assert(!unit_exit_set_has_signal(&c->success_exit_status, SIGKILL));
	ck_assert(unit_exit_set_has_code(&c->restart_prevent_exit_status, 1));
	ck_assert(unit_exit_set_has_signal(&c->restart_prevent_exit_status, SIGKILL));
	ck_assert_int_eq(c->restart, UNIT_RESTART_ON_ABORT);
	ck_assert_int_eq(c->kill_mode, UNIT_KILL_PROCESS);
	ck_assert_int_eq(c->notify_access, UNIT_NOTIFY_MAIN);
	drop(c);

	static const struct {
		const char *line;
		size_t offset;
		int value;
	} enums[] = {
	    {"Restart=on-success", offsetof(struct unit_config, restart), UNIT_RESTART_ON_SUCCESS},
	    {"Restart=on-watchdog", offsetof(struct unit_config, restart),
	     UNIT_RESTART_ON_WATCHDOG},
	    {"Restart=on-abort", offsetof(struct unit_config, restart), UNIT_RESTART_ON_ABORT},
	    {"KillMode=control-group", offsetof(struct unit_config, kill_mode),
	     UNIT_KILL_CONTROL_GROUP},
	    {"KillMode=mixed", offsetof(struct unit_config, kill_mode), UNIT_KILL_MIXED},
	    {"NotifyAccess=all", offsetof(struct unit_config, notify_access), UNIT_NOTIFY_ALL},
	    {"NotifyAccess=none", offsetof(struct unit_config, notify_access), UNIT_NOTIFY_NONE},
	    {"NotifyAccess=exec", offsetof(struct unit_config, notify_access), UNIT_NOTIFY_EXEC},
	    {"Type=forking", offsetof(struct unit_config, type), UNIT_TYPE_FORKING},
	};
	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		char text[128];
		int v;
		snprintf(text, sizeof(text), EXEC "%s\n", enums[i].line);
		c = stored(text);
		memcpy(&v, (char *)c + enums[i].offset, sizeof(v));
		ck_assert_msg(v == enums[i].value, "%s: %d", enums[i].line, v);
		drop(c);
	}
	ck_assert_str_eq(unit_restart_name(UNIT_RESTART_ON_WATCHDOG), "on-watchdog");
	ck_assert_str_eq(unit_type_name(UNIT_TYPE_FORKING), "forking");

	svc_problems(EXEC "SuccessExitStatus=256 SIGNOPE\n",
		     "error: " SVC ":3: SuccessExitStatus: '256' is not valid; allowed: exit codes "
		     "0-255 and signal names, e.g. 75 SIGPIPE");
	svc_problems(EXEC "ConditionPathExists=etc/x\n",
		     "error: " SVC ":3: ConditionPathExists: unknown key in [Service] (it belongs "
		     "in [Unit])");
	svc_problems("[Unit]\nConditionPathExists=|/etc/x\n" EXEC,
		     "error: " SVC ":2: ConditionPathExists: the '|' prefix (any of several "
		     "conditions) is not supported; allowed: an absolute path, with a '!' before "
		     "it for \"does not exist\"");
	svc_problems("[Unit]\nAssertPathExists=!etc\n" EXEC,
		     "error: " SVC ":2: AssertPathExists: 'etc' is not an absolute path; allowed: "
		     "an absolute path, with a '!' before it for \"does not exist\"");
	svc_problems("[Unit]\nConditionFileNotEmpty=/etc/x\n" EXEC,
		     "error: " SVC ":2: ConditionFileNotEmpty: not supported: of the conditions, "
		     "sup evaluates ConditionPathExists= and AssertPathExists=");
}
END_TEST

START_TEST(test_process_keys)
{
	struct unit_config *c = stored(EXEC "LimitNOFILE=32768\n"
					    "LimitNPROC=100:200\n"
					    "LimitCORE=infinity\n"
					    "LimitMEMLOCK=64M:infinity\n"
					    "LimitCPU=1min\n"
					    "LimitRTTIME=500\n"
					    "LimitNICE=-5\n"
					    "LimitMSGQUEUE=0\n"
					    "UMask=0027\n"
					    "Nice=-5\n"
					    "OOMScoreAdjust=-900\n"
					    "IgnoreSIGPIPE=yes\n"
					    "RuntimeDirectory=redis redis/sub\n"
					    "RuntimeDirectoryMode=2755\n"
					    "StateDirectory=app\n"
					    "StateDirectoryMode=0700\n"
					    "SyslogIdentifier=postgresql@%i\n"
					    "StandardInput=null\n");

	ck_assert(c->limits[RLIMIT_NOFILE].soft == 32768 && c->limits[RLIMIT_NOFILE].hard == 32768);
	ck_assert(c->limits[RLIMIT_NPROC].soft == 100 && c->limits[RLIMIT_NPROC].hard == 200);
	ck_assert(c->limits[RLIMIT_CORE].soft == SIZE_INFINITY);
	ck_assert(c->limits[RLIMIT_MEMLOCK].soft == 64ULL << 20);
	ck_assert(c->limits[RLIMIT_MEMLOCK].hard == SIZE_INFINITY);
	ck_assert(c->limits[RLIMIT_CPU].soft == 60);
	ck_assert(c->limits[RLIMIT_RTTIME].soft == 500);
	ck_assert(c->limits[RLIMIT_NICE].soft == 25);
	ck_assert(c->limits[RLIMIT_MSGQUEUE].soft == 0);
	ck_assert(c->limits[RLIMIT_STACK].soft == UNIT_RES_UNSET);
	ck_assert_int_eq(c->umask, 027);
	ck_assert_int_eq(c->nice, -5);
	ck_assert_int_eq(c->oom_score_adjust, -900);
	ck_assert(c->ignore_sigpipe);
	ck_assert_strv(&c->runtime_directory, "redis|redis/sub");
	ck_assert_uint_eq(c->runtime_directory_mode, 02755);
	ck_assert_strv(&c->state_directory, "app");
	ck_assert_uint_eq(c->state_directory_mode, 0700);
	ck_assert_str_eq(c->syslog_identifier, "postgresql@"); /* %i of a plain unit is empty */
	drop(c);

	/* the defaults: nothing set, systemd's directory modes */
	c = svc_ok(EXEC);
	for (int i = 0; i < UNIT_RLIMITS; i++)
		ck_assert(c->limits[i].soft == UNIT_RES_UNSET);
	ck_assert_int_eq(c->umask, -1);
	ck_assert_int_eq(c->nice, UNIT_INT_UNSET);
	ck_assert_int_eq(c->oom_score_adjust, UNIT_INT_UNSET);
	ck_assert(!c->ignore_sigpipe);
	ck_assert_uint_eq(c->runtime_directory_mode, 0755);
	ck_assert_int_eq(c->kill_mode, UNIT_KILL_CONTROL_GROUP);
	ck_assert_int_eq(c->notify_access, UNIT_NOTIFY_ALL);
	drop(c);
	/* what matches sup's behaviour is no pending error */
	drop(svc_ok(EXEC "IgnoreSIGPIPE=no\nKillMode=control-group\nNotifyAccess=all\n"
			 "RemainAfterExit=no\nStandardInput=null\nSendSIGKILL=yes\nSendSIGHUP=no\n"
			 "TimeoutStartSec=infinity\nType=oneshot\n"));

	static const struct {
		const char *line, *msg;
	} bad[] = {
	    {"LimitNOFILE=lots", "LimitNOFILE: 'lots' is not valid; allowed: a number, or "
				 "SOFT:HARD, or infinity"},
	    {"LimitNOFILE=200:100", "LimitNOFILE: the soft limit is above the hard one in "
				    "'200:100'; allowed: a number, or SOFT:HARD, or infinity"},
	    {"LimitNOFILE=-1", "LimitNOFILE: '-1' is not valid; allowed: a number, or SOFT:HARD, "
			       "or infinity"},
	    {"LimitNICE=-21", "LimitNICE: '-21' is not valid; allowed: a nice level (-20..19, "
			      "signed), or 0..40, or SOFT:HARD, or infinity"},
	    {"LimitAS=1Q", "LimitAS: '1Q' is not valid; allowed: a size (K, M, G: powers of "
			   "1024), or SOFT:HARD, or infinity"},
	    {"UMask=0800", "UMask: '0800' is not valid; allowed: an octal mode from 0000 to 0777"},
	    {"UMask=1777", "UMask: '1777' is out of range; allowed: an octal mode from 0000 to "
			   "0777"},
	    {"Nice=20", "Nice: '20' is out of range; allowed: a number from -20 to 19"},
	    {"Nice=-", "Nice: '-' is not valid; allowed: a number from -20 to 19"},
	    {"OOMScoreAdjust=-1001",
	     "OOMScoreAdjust: '-1001' is out of range; allowed: a number from -1000 to 1000"},
	    {"RuntimeDirectory=/run/x",
	     "RuntimeDirectory: '/run/x' is not valid; allowed: blank-separated relative paths "
	     "without . or .. (under /run or /var/lib)"},
	    {"StateDirectory=a/../b",
	     "StateDirectory: 'a/../b' is not valid; allowed: blank-separated relative paths "
	     "without . or .. (under /run or /var/lib)"},
	    {"StateDirectory=a/", "StateDirectory: 'a/' is not valid; allowed: blank-separated "
				  "relative paths without . or .. (under /run or /var/lib)"},
	    {"RuntimeDirectoryMode=8", "RuntimeDirectoryMode: '8' is not valid; allowed: an octal "
				       "mode from 0000 to 7777"},
	    {"StandardInput=tty",
	     "StandardInput: 'tty' is not supported: a service's standard "
	     "input is /dev/null; allowed: null (or no StandardInput= at all)"},
	    {"PIDFile=run/x.pid",
	     "PIDFile: 'run/x.pid' is not an absolute path; allowed: an absolute path"},
	    {"KillMode=none",
	     "KillMode: 'none' is not valid; allowed: control-group, mixed, process"},
	    {"NotifyAccess=some",
	     "NotifyAccess: 'some' is not valid; allowed: all, main, exec, none"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], want[512];
		snprintf(text, sizeof(text), EXEC "%s\n", bad[i].line);
		snprintf(want, sizeof(want), "error: " SVC ":3: %s", bad[i].msg);
		svc_problems(text, want);
	}
}
END_TEST

/* ---- the runtime-pending table: each use is an error until the runtime lands ---- */

START_TEST(test_pending)
{
	/* what is still parsed but not acted on: an error, so that a unit never runs without
	 * what it asked for */
	svc_problems(EXEC "SyslogIdentifier=x\n",
		     "error: " SVC ":3: SyslogIdentifier: not yet supported: SyslogIdentifier= is "
		     "parsed, but the log capture does not act on it yet; the unit is not started "
		     "without it");
	/* everything the runtime does now loads without a word */
	static const char *const now[] = {
	    "ExecStartPre=/bin/a",
	    "ExecStartPost=/bin/a",
	    "ExecStop=/bin/a",
	    "ExecStopPost=/bin/a",
	    "ExecReload=/bin/a",
	    "Type=forking",
	    "RemainAfterExit=yes",
	    "KillMode=mixed",
	    "KillMode=process",
	    "SuccessExitStatus=3",
	    "RestartPreventExitStatus=3",
	    "Restart=on-success",
	    "Restart=on-abort",
	    "NotifyAccess=main",
	    "LimitCORE=0",
	    "UMask=0077",
	    "Nice=5",
	    "OOMScoreAdjust=100",
	    "IgnoreSIGPIPE=yes",
	    "RuntimeDirectory=x",
	    "StateDirectory=x",
	};
	char text[256];

	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++) {
		snprintf(text, sizeof(text), EXEC "%s\n", now[i]);
		drop(svc_ok(text));
	}
	drop(svc_ok("[Service]\nType=oneshot\nTimeoutStartSec=5s\nExecStart=/bin/a\n"));
	drop(svc_ok("[Unit]\nBefore=x\nBindsTo=x\nPartOf=x\nConflicts=x\n"
		    "ConditionPathExists=/x\nAssertPathExists=/y\n" EXEC));
	drop(svc_ok("[Service]\nExecStart=/usr/bin/prometheus $ARGS ${A}\n"));
	/* a .unit file never expands: its '$' is literal, as it always was */
	drop(parse_as(UNIT, "[Service]\nExec=/bin/sh -c 'kill $$; echo ${A}'\n", true, ""));
	/* a lone '$' or one inside a word is literal in systemd too */
	drop(svc_ok("[Service]\nExecStart=/bin/echo $ a$b\n"));
	/* a rejected value is reported once */
	svc_problems(EXEC "Nice=99\n", "error: " SVC ":3: Nice: '99' is out of range; allowed: a "
				       "number from -20 to 19");
}
END_TEST

/* ---- warnings, refusals, sandboxing ---- */

START_TEST(test_warnings)
{
	struct unit_config *c = parse_as(
	    SVC,
	    "[Unit]\n"
	    "Description=d\n"
	    "Documentation=man:x(1) https://x\n"
	    "After=network.target network-online.target db.service\n"
	    "Wants=network-online.target\n"
	    "Requires=local-fs.target\n"
	    "After=var-lib.mount\n"
	    "DefaultDependencies=yes\n"
	    "RequiresMountsFor=/var/lib/x\n"
	    "X-Tool-Setting=1\n"
	    "[Service]\n"
	    "ExecStart=/bin/x\n"
	    "CPUAccounting=yes\n"
	    "PIDFile=/run/x.pid\n"
	    "[X-Other]\n"
	    "Anything=goes\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n"
	    "Alias=y.service\n"
	    "Bogus=1\n",
	    true,
	    "warning: " SVC ":3: Documentation: ignored: sup keeps no documentation links\n"
	    "warning: " SVC
	    ":4: After: 'network.target' ignored: sup has no targets (a unit starts "
	    "once its own dependencies are up)\n"
	    "warning: " SVC
	    ":4: After: 'network-online.target' ignored: sup has no targets (a unit "
	    "starts once its own dependencies are up)\n"
	    "warning: " SVC
	    ":5: Wants: 'network-online.target' ignored: sup has no targets (a unit "
	    "starts once its own dependencies are up)\n"
	    "warning: " SVC ":6: Requires: 'local-fs.target' ignored: sup has no targets (a unit "
	    "starts once its own dependencies are up)\n"
	    "warning: " SVC ":7: After: 'var-lib.mount' ignored: sup has no mount units (mount it "
	    "before supd starts the unit)\n"
	    "warning: " SVC ":8: DefaultDependencies: 'yes' ignored: sup adds no implicit "
	    "dependencies (sysinit.target, shutdown.target, ...)\n"
	    "warning: " SVC
	    ":9: RequiresMountsFor: ignored: sup has no mount units: the paths must "
	    "be mounted before supd starts the unit\n"
	    "warning: " SVC ":10: X-Tool-Setting: unknown key in [Unit], ignored (X- keys are for "
	    "other tools)\n"
	    "warning: " SVC ":13: CPUAccounting: ignored: supd always accounts (each unit has a "
	    "cgroup of its own)\n"
	    "warning: " SVC ":14: PIDFile: ignored without Type=forking: the main process is the "
	    "one supd started\n"
	    "warning: " SVC ":15: [X-Other]: section ignored, with its keys (X- sections are "
	    "extensions for other tools)\n"
	    "warning: " SVC ":18: WantedBy: ignored: sup has no install step: every unit in the "
	    "units directory is started\n"
	    "warning: " SVC ":19: Alias: ignored: sup has no install step: every unit in the units "
	    "directory is started\n"
	    "warning: " SVC ":20: Bogus: unknown key in [Install], ignored (sup has no install "
	    "step)");

	ck_assert_strv(&c->after, "db");
	ck_assert_uint_eq(c->wants.n + c->requires.n, 0);
	ck_assert_str_eq(c->description, "d");
	drop(c);
	/* DefaultDependencies=no is what sup does anyway */
	drop(svc_ok("[Unit]\nDefaultDependencies=no\n" EXEC));
}
END_TEST

START_TEST(test_refused)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
	    {"[Unit]\nOnFailure=alert.service",
	     "OnFailure: not supported: sup starts no unit when another fails (supctl status shows "
	     "it); the unit is not started without it"},
	    {"[Unit]\nReloadPropagatedFrom=postgresql.service",
	     "ReloadPropagatedFrom: not supported: reloads are not propagated between units; the "
	     "unit is not started without it"},
	    {"[Unit]\nRequires=dbus.socket",
	     "Requires: 'dbus.socket': sup has no socket units (no socket activation)"},
	    {"[Unit]\nBindsTo=dev-x.device", "BindsTo: 'dev-x.device': sup has no device units"},
	    {"[Unit]\nWants=getty@.service",
	     "Wants: 'getty@' is a template; name an instance of it (NAME@INSTANCE); allowed: "
	     "space-separated unit names of 1-64 characters A-Z a-z 0-9 _ . @ - (NAME.service is "
	     "unit NAME)"},
	    {"[Unit]\nStartLimitAction=reboot",
	     "StartLimitAction: 'reboot' is not supported: sup never reboots for a unit; allowed: "
	     "none (or no StartLimitAction= at all)"},
	    {"[Service]\nSendSIGKILL=no",
	     "SendSIGKILL: 'no' is not supported: supd always ends a stop with SIGKILL to "
	     "whatever is left; allowed: yes (or no SendSIGKILL= at all)"},
	    {"[Service]\nSendSIGHUP=yes",
	     "SendSIGHUP: 'yes' is not supported: supd sends no SIGHUP after the stop signal; "
	     "allowed: no (or no SendSIGHUP= at all)"},
	    {"[Service]\nSendSIGKILL=maybe",
	     "SendSIGKILL: 'maybe' is not valid; allowed: yes (yes or no)"},
	    {"[Service]\nSupplementaryGroups=adm",
	     "SupplementaryGroups: not supported: the groups come from User= (its group "
	     "memberships); the unit is not started without it"},
	    {"[Service]\nSlice=system.slice",
	     "Slice: not supported: each unit has a cgroup of its own under supd's; the unit is "
	     "not started without it"},
	    {"[Service]\nCacheDirectory=x",
	     "CacheDirectory: not supported: of the directory keys, RuntimeDirectory= and "
	     "StateDirectory=; the unit is not started without it"},
	};
	char text[256], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s\n" EXEC, cases[i].line);
		snprintf(want, sizeof(want), "error: " SVC ":2: %s", cases[i].msg);
		svc_problems(text, want);
	}
}
END_TEST

START_TEST(test_sandboxing)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
	    {"ReadWritePaths=-/var/lib/redis",
	     "ReadWritePaths: not supported yet: it will map onto [Container] Bind= (writable "
	     "paths in a read-only root)" ISOLATION},
	    {"RestrictAddressFamilies=AF_UNIX", "RestrictAddressFamilies: not supported yet: it "
						"will map onto [Container] Seccomp= (a profile "
						"file)" ISOLATION},
	    {"ProtectProc=invisible", "ProtectProc: not supported" ISOLATION},
	    {"DynamicUser=yes", "DynamicUser: not supported" ISOLATION},
	};
	char text[256], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), EXEC "%s\n", cases[i].line);
		snprintf(want, sizeof(want), "error: " SVC ":3: %s", cases[i].msg);
		svc_problems(text, want);
	}
	/* mapped onto [Container]: each key adds only what it asks for */
	{
		struct unit_config *c = svc_ok(EXEC "PrivateTmp=yes\nNoNewPrivileges=true\n"
						    "CapabilityBoundingSet=~CAP_SYS_ADMIN\n"
						    "ProtectSystem=full\nReadOnlyPaths=-/srv\n");
		ck_assert(!c->ct.enabled);
		ck_assert_int_eq(c->ct.no_new_privs, 1);
		ck_assert_uint_eq(unit_container_namespaces(c), UNIT_NS_MNT);
		ck_assert(c->ct.caps_set && !(c->ct.caps & (1ULL << 21)) && (c->ct.caps & 1));
		ck_assert(strv_contains(&c->ct.tmpfs, "/tmp"));
		ck_assert(strv_contains(&c->ct.bind_ro, "/usr:/usr"));
		ck_assert(strv_contains(&c->ct.bind_ro, "/etc:/etc"));
		ck_assert(strv_contains(&c->ct.bind_ro, "-/srv:/srv"));
		ck_assert(c->ct.seccomp == UNIT_SECCOMP_DEFAULT && !c->ct.read_only_root);
		drop(c);
		c = svc_ok(EXEC "PrivateNetwork=yes\nProtectSystem=strict\n");
		ck_assert_uint_eq(unit_container_namespaces(c), UNIT_NS_MNT | UNIT_NS_NET);
		ck_assert(c->ct.read_only_root);
		drop(c);
	}
	/* asking for nothing is fine: "no", or an empty list */
	drop(svc_ok(EXEC "PrivateTmp=no\nNoNewPrivileges=false\nProtectSystem=no\nProtectHome=no\n"
			 "AmbientCapabilities=\nReadWritePaths=\nPrivateNetwork=0\n"));
}
END_TEST

/* ---- unknown keys: one line each, a "did you mean" ---- */

START_TEST(test_did_you_mean)
{
	static const struct {
		const char *section, *line, *msg;
	} cases[] = {
	    {"Service", "ExecStrat=/bin/x",
	     "ExecStrat: unknown key in [Service]; did you mean "
	     "ExecStart=?"},
	    {"Service", "execstart=/bin/x",
	     "execstart: unknown key in [Service]; did you mean "
	     "ExecStart=?"},
	    {"Service", "Restrat=no", "Restrat: unknown key in [Service]; did you mean Restart=?"},
	    {"Service", "TimeoutStopSecs=1",
	     "TimeoutStopSecs: unknown key in [Service]; did you "
	     "mean TimeoutStopSec=?"},
	    {"Service", "MemoryMx=1G",
	     "MemoryMx: unknown key in [Service]; did you mean "
	     "MemoryMax=?"},
	    {"Service", "Wnats=x",
	     "Wnats: unknown key in [Service]; did you mean Wants= (in "
	     "[Unit])?"},
	    {"Service", "Requires=x", "Requires: unknown key in [Service] (it belongs in [Unit])"},
	    {"Unit", "MemoryMax=1G",
	     "MemoryMax: unknown key in [Unit] (it belongs in [Service] or "
	     "[Resources])"},
	    {"Resources", "ExecStart=/bin/x",
	     "ExecStart: unknown key in [Resources] (it belongs "
	     "in [Service])"},
	    {"Service", "Frobnicate=1", "Frobnicate: unknown key in [Service]"},
	    {"Service", "X=1", "X: unknown key in [Service]"},
	};
	char text[256], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), EXEC "[%s]\n%s\n", cases[i].section, cases[i].line);
		snprintf(want, sizeof(want), "error: " SVC ":4: %s", cases[i].msg);
		svc_problems(text, want);
	}
	ck_assert_ptr_null(unit_suggest_key(""));
	ck_assert_str_eq(unit_suggest_key("Typ"), "Type");
	ck_assert_ptr_null(unit_suggest_key("Tp"));
}
END_TEST

/* ---- specifiers and templates ---- */

START_TEST(test_specifiers)
{
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};
	static const char text[] = "[Unit]\nDescription=%n %N %p %i %I 100%%\n"
				   "[Service]\nExecStart=/bin/x %i\nPIDFile=/run/%I.pid\n";

	/* an instance of a template, as a .service */
	ck_assert_int_eq(
	    unit_parse_text("pg@15-main", "/u/pg@.service", text, strlen(text), false, &c, &pl), 0);
	ck_assert_str_eq(c->description, "pg@15-main.service pg@15-main pg 15-main 15/main 100%");
	ck_assert_strv(&c->exec, "/bin/x|15-main");
	ck_assert_str_eq(c->pid_file, "/run/15/main.pid");
	drop(c);
	/* the same as a sup template: %n has no suffix */
	ck_assert_int_eq(
	    unit_parse_text("pg@15-main", "/u/pg@.unit", text, strlen(text), false, &c, &pl), 0);
	ck_assert_str_eq(c->description, "pg@15-main pg@15-main pg 15-main 15/main 100%");
	drop(c);
	unit_problems_free(&pl);
	/* a plain .service: no instance; a plain .unit: '%' is literal (as it always was) */
	c = svc_ok("[Unit]\nDescription=%n %p [%i]\n" EXEC);
	ck_assert_str_eq(c->description, "t.service t []");
	drop(c);
	c = parse_as(UNIT, "[Unit]\nDescription=%n %x 100%\n[Service]\nExec=/bin/date +%s\n", true,
		     "");
	ck_assert_str_eq(c->description, "%n %x 100%");
	ck_assert_strv(&c->exec, "/bin/date|+%s");
	drop(c);
	svc_problems("[Service]\nExecStart=/bin/date +%s\n",
		     "error: " SVC ":2: ExecStart: unknown specifier '%s'; allowed: %i %I %n %N "
		     "%p, and %% for a '%'");
	svc_problems(EXEC "[Unit]\nDescription=100%\n",
		     "error: " SVC ":4: Description: unknown specifier '% '; allowed: %i %I %n %N "
		     "%p, and %% for a '%'");
	/* ignored keys are not looked at */
	drop(parse_as(SVC, "[Unit]\nDocumentation=http://x/%7e\n" EXEC, true,
		      "warning: " SVC ":2: Documentation: ignored: sup keeps no documentation "
		      "links"));
}
END_TEST

/* ---- $VAR expansion (pure, for the spawner) ---- */

static void expect_expand(const char *const *argv, const char *const *env, const char *want)
{
	struct strv a = {0}, e = {0}, out = {0};

	for (size_t i = 0; argv[i]; i++)
		strv_push(&a, argv[i]);
	for (size_t i = 0; env[i]; i++)
		strv_push(&e, env[i]);
	ck_assert_int_eq(unit_expand_argv(&a, &e, &out), 0);
	ck_assert_strv(&out, want);
	strv_free(&a);
	strv_free(&e);
	strv_free(&out);
}

START_TEST(test_expand)
{
	static const char *const env[] = {
	    "ARGS=--web.listen-address=:9090 \"--storage.path=/var/lib/a b\"",
	    "ONE=x y",
	    "MAINPID=4242",
	    "ONE=one word",
	    "EMPTY=",
	    NULL,
	};

	/* $NAME alone: split at blanks, quotes respected; last assignment wins */
	expect_expand((const char *const[]){"/usr/bin/prometheus", "$ARGS", NULL}, env,
		      "/usr/bin/prometheus|--web.listen-address=:9090|--storage.path=/var/lib/a b");
	expect_expand((const char *const[]){"/bin/kill", "-HUP", "$MAINPID", NULL}, env,
		      "/bin/kill|-HUP|4242");
	expect_expand((const char *const[]){"a", "$ONE", NULL}, env, "a|one|word");
	/* unset or empty: no word at all */
	expect_expand((const char *const[]){"a", "$NOPE", "$EMPTY", "b", NULL}, env, "a|b");
	/* ${NAME}: as-is, one word, also inside a word; unset is empty */
	expect_expand((const char *const[]){"a", "${ONE}", "--x=${ONE}!", "${NOPE}", NULL}, env,
		      "a|one word|--x=one word!|");
	/* $$ is a '$'; other '$' stay: inside a word, lone, ${ unclosed, ${bad name} */
	expect_expand((const char *const[]){"$$ONE", "a$ONE", "$", "${ONE", "${A B}", "x$$y", NULL},
		      env, "$ONE|a$ONE|$|${ONE|${A B}|x$y");
	/* $NAME/more is looked up whole, as systemd does: no such variable, no word */
	expect_expand((const char *const[]){"$ONE/x", "end", NULL}, env, "end");

	/* bad quoting in a split value is an error */
	struct strv a = {0}, e = {0}, out = {0};
	strv_push(&a, "$Q");
	strv_push(&e, "Q=\"open");
	ck_assert_int_eq(unit_expand_argv(&a, &e, &out), -1);
	ck_assert_int_eq(errno, EINVAL);
	strv_free(&a);
	strv_free(&e);
	strv_free(&out);

	struct strv w = {0};
	strv_push(&w, "/bin/x");
	strv_push(&w, "plain");
	ck_assert(!unit_argv_has_variables(&w));
	strv_push(&w, "a${B}");
	ck_assert(unit_argv_has_variables(&w));
	strv_free(&w);
	strv_push(&w, "$X");
	ck_assert(unit_argv_has_variables(&w));
	strv_free(&w);
	strv_push(&w, "${open");
	ck_assert(!unit_argv_has_variables(&w));
	strv_free(&w);
}
END_TEST

/* ---- directories: .service files, templates, instances, dependencies ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/test_units_systemd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void load(struct unit_set *set)
{
	struct sup_error *err = NULL;

	ck_assert_int_eq(unit_set_load(tmpdir, set, &err), 0);
	unit_set_check_deps(set);
}

START_TEST(test_set_service_files)
{
	struct unit_set set;
	struct unit_entry *e;
	char want[512];

	make_tmpdir();
	write_file("web.service", "[Unit]\nRequires=db.service\nAfter=db.service\n"
				  "[Service]\nExecStart=/bin/web\n");
	write_file("db.unit", "[Service]\nExec=/bin/db\n");
	write_file("both.unit", "[Service]\nExec=/bin/a\n");
	write_file("both.service", "[Service]\nExecStart=/bin/b\n");
	write_file("needs-both.unit", "[Unit]\nRequires=both\n[Service]\nExec=/bin/x\n");
	write_file("lost.service", "[Unit]\nDescription=x\n\nBindsTo=gone.service\n"
				   "[Service]\nExecStart=/bin/x\n");
	write_file("other.socket", "[Socket]\nListenStream=80\n");
	load(&set);

	ck_assert_uint_eq(set.n, 5);
	/* a systemd file of another type is said, not skipped silently */
	ck_assert_uint_eq(set.problems.n, 1);
	ck_assert_int_eq(set.problems.v[0].severity, UNIT_WARNING);
	snprintf(want, sizeof(want),
		 "%s/other.socket: ignored: sup has no socket units (no socket "
		 "activation)",
		 tmpdir);
	ck_assert_str_eq(set.problems.v[0].text, want);
	ck_assert_str_eq(set.problems.v[0].text + set.problems.v[0].where,
			 "ignored: sup has no socket units (no socket activation)");
	e = unit_set_find(&set, "web");
	ck_assert_ptr_nonnull(e->config);
	ck_assert_strv(&e->config->requires, "db");
	ck_assert_int_eq(e->config->dialect, UNIT_DIALECT_SYSTEMD);
	ck_assert_ptr_nonnull(unit_set_find(&set, "db")->config);

	e = unit_set_find(&set, "both");
	ck_assert_ptr_null(e->config);
	snprintf(want, sizeof(want),
		 "%s/both.service: unit 'both' is also defined by %s/both.unit; allowed: one file "
		 "per unit, NAME.unit or NAME.service",
		 tmpdir, tmpdir);
	ck_assert_str_eq(e->error, want);
	snprintf(want, sizeof(want), "%s/needs-both.unit:2: Requires: 'both' is a bad unit",
		 tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "needs-both")->error, want);
	/* BindsTo= of a missing unit, with the file and line of the key */
	e = unit_set_find(&set, "lost");
	ck_assert(strstr(e->error, "lost.service:4: BindsTo:"));
	unit_set_free(&set);
	rm_tmpdir();
}
END_TEST

START_TEST(test_templates)
{
	struct unit_set set;
	struct unit_entry *e;
	char want[512];

	make_tmpdir();
	write_file("getty@.service", "[Unit]\nDescription=Getty on %I\n"
				     "[Service]\nExecStart=/sbin/agetty %i 115200\n");
	write_file("app.unit", "[Unit]\nRequires=getty@tty1.service worker@a\n"
			       "Wants=getty@ttyS0\n[Service]\nExec=/bin/app\n");
	write_file("worker@.unit", "[Unit]\nRequires=getty@%i\n[Service]\nExec=/bin/w %i\n");
	write_file("broken@.unit", "[Service]\nExec=/bin/x\nWorkingDirectory=%I\n");
	write_file("uses-broken.unit", "[Unit]\nRequires=broken@-srv broken@never\n"
				       "[Service]\nExec=/bin/x\n");
	write_file("nobody.unit", "[Unit]\nRequires=none@x\n[Service]\nExec=/bin/x\n");
	write_file("getty@tty9.service", "[Service]\nExecStart=/bin/own-file\n");
	load(&set);

	/* templates are not units; the instances named were created, transitively */
	ck_assert_uint_eq(set.n_templates, 3);
	ck_assert_str_eq(set.templates[0].name, "broken@");
	ck_assert_ptr_null(unit_set_find(&set, "getty@"));
	e = unit_set_find(&set, "getty@tty1");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->config->description, "Getty on tty1");
	ck_assert_strv(&e->config->exec, "/sbin/agetty|tty1|115200");
	ck_assert_ptr_nonnull(unit_set_find(&set, "getty@ttyS0")->config);
	ck_assert_ptr_nonnull(unit_set_find(&set, "worker@a")->config);
	ck_assert_ptr_nonnull(unit_set_find(&set, "getty@a")->config); /* worker@a requires it */
	ck_assert_ptr_nonnull(unit_set_find(&set, "app")->config);
	/* an instance file of its own wins over the template */
	ck_assert_str_eq(unit_set_find(&set, "getty@tty9")->config->exec.v[0], "/bin/own-file");
	/* a template's problems show for its sample instance, and in each bad instance */
	ck_assert_uint_eq(set.templates[0].problems.errors, 1);
	ck_assert(strstr(set.templates[0].problems.v[0].text,
			 "WorkingDirectory: 'instance' is not an absolute path"));
	ck_assert_ptr_nonnull(unit_set_find(&set, "broken@-srv")->config);
	ck_assert_ptr_null(unit_set_find(&set, "broken@never")->config);
	snprintf(want, sizeof(want),
		 "%s/uses-broken.unit:2: Requires: 'broken@never' is a bad unit", tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "uses-broken")->error, want);
	snprintf(want, sizeof(want), "%s/nobody.unit:2: Requires: 'none@x' does not exist", tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "nobody")->error, want);

	/* a start request for an instance nobody named */
	e = unit_set_instantiate(&set, "getty@tty3");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->config->exec.v[1], "tty3");
	ck_assert_ptr_eq(unit_set_instantiate(&set, "getty@tty3"),
			 unit_set_find(&set, "getty@tty3"));
	errno = 0;
	ck_assert_ptr_null(unit_set_instantiate(&set, "nosuch@x"));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(unit_set_instantiate(&set, "getty@"));
	ck_assert_ptr_null(unit_set_instantiate(&set, "plain"));
	unit_set_free(&set);
	rm_tmpdir();
}
END_TEST

START_TEST(test_deps_with_lines)
{
	struct unit_set set;
	char want[512];

	make_tmpdir();
	write_file("a.service", "[Unit]\nDescription=a\nBefore=b.service\n"
				"[Service]\nExecStart=/bin/a\nSyslogIdentifier=x\n");
	write_file("b.unit", "[Unit]\nDescription=b\n\nRequires=a\n[Service]\nExec=/bin/b\n");
	write_file("c.unit", "[Unit]\nWants=x\nRequires=y\nRequires=missing z\n"
			     "[Service]\nExec=/bin/c\n");
	load(&set);
	/* a's SyslogIdentifier= is pending: a is bad, and so b, which requires it */
	snprintf(want, sizeof(want), "%s/b.unit:4: Requires: 'a' is a bad unit", tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "b")->error, want);
	snprintf(want, sizeof(want),
		 "%s/c.unit:3: Requires: 'y' does not exist\n%s/c.unit:4: Requires: 'missing' does "
		 "not exist\n%s/c.unit:4: Requires: 'z' does not exist",
		 tmpdir, tmpdir, tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "c")->error, want);
	unit_set_free(&set);
	rm_tmpdir();

	/* Before= orders (once its runtime lands): a Before=b and b Before=a is a cycle, each
	 * reported at the Before= line that makes its first edge */
	set = (struct unit_set){.v = calloc(3, sizeof(struct unit_entry)), .n = 3};
	strcpy(set.v[0].name, "a");
	set.v[0].config = stored("[Unit]\nBefore=b\n[Service]\nExecStart=/bin/a\n");
	strcpy(set.v[1].name, "b");
	set.v[1].config = stored("[Unit]\n\nBefore=a\n[Service]\nExecStart=/bin/b\n");
	strcpy(set.v[2].name, "c");
	set.v[2].config = stored("[Unit]\nBefore=a\n[Service]\nExecStart=/bin/c\n");
	unit_set_check_deps(&set);
	ck_assert_str_eq(set.v[0].error, SVC ":3: Before: ordering cycle: a -> b -> a");
	ck_assert_str_eq(set.v[1].error, SVC ":2: Before: ordering cycle: b -> a -> b");
	ck_assert_ptr_nonnull(set.v[2].config); /* only ordered before a member */
	unit_set_free(&set);
}
END_TEST

/* ---- supd --check ---- */

START_TEST(test_verify)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	char want[2048];

	make_tmpdir();
	write_file("good.service", "[Unit]\nAfter=network.target\n[Service]\nExecStart=/bin/x\n");
	f = open_memstream(&out, &len);
	ck_assert_int_eq(unit_verify_dir(tmpdir, f), 0);
	fclose(f);
	snprintf(want, sizeof(want),
		 "%s/good.service:2: warning: After: 'network.target' ignored: sup has no targets "
		 "(a unit starts once its own dependencies are up)\n"
		 "%s: 1 unit and 0 templates checked: 0 bad; 0 errors, 1 warning\n",
		 tmpdir, tmpdir);
	ck_assert_str_eq(out, want);
	free(out);

	write_file("bad.unit", "[Service]\nExec=/bin/x\nRestart=sometimes\nColour=red\n");
	write_file("good.timer", "[Timer]\nOnCalendar=daily\n");
	write_file("t@.unit", "[Service]\nExec=/bin/x %z\n");
	f = open_memstream(&out, &len);
	ck_assert_int_eq(unit_verify_dir(tmpdir, f), 1);
	fclose(f);
	ck_assert(strstr(out, "/bad.unit:3: error: Restart: 'sometimes' is not valid"));
	ck_assert(strstr(out, "/bad.unit:4: error: Colour: unknown key in [Service]\n"));
	ck_assert(strstr(out, "/t@.unit:2: error: Exec: unknown specifier '%z'"));
	ck_assert(strstr(out, "/good.timer: warning: ignored: sup has no timer units\n"));
	ck_assert(strstr(out, ": 2 units and 1 template checked: 1 bad; 3 errors, 2 warnings\n"));
	free(out);
	rm_tmpdir();

	f = open_memstream(&out, &len);
	ck_assert_int_eq(unit_verify_dir("/nonexistent/units", f), 2);
	fclose(f);
	ck_assert_str_eq(out, "open units directory /nonexistent/units: No such file or "
			      "directory\n");
	free(out);
}
END_TEST

/* ---- equality: every new key is compared (reload restarts a unit whose keys changed) ---- */

START_TEST(test_equality)
{
	static const char base[] = "[Service]\nExecStart=/bin/x\n";
	static const char *const variants[] = {
	    "[Unit]\nBefore=a\n",
	    "[Unit]\nBindsTo=a\n",
	    "[Unit]\nPartOf=a\n",
	    "[Unit]\nConflicts=a\n",
	    "[Unit]\nConditionPathExists=/a\n",
	    "[Unit]\nAssertPathExists=/a\n",
	    "[Service]\nExecStartPre=/a\n",
	    "[Service]\nExecStartPre=-/bin/x\n",
	    "[Service]\nExecStartPost=/a\n",
	    "[Service]\nExecStop=/a\n",
	    "[Service]\nExecStopPost=/a\n",
	    "[Service]\nExecReload=/a\n",
	    "[Service]\nType=forking\n",
	    "[Service]\nType=forking\n",
	    "[Service]\nRemainAfterExit=yes\n",
	    "[Service]\nSuccessExitStatus=3\n",
	    "[Service]\nRestartPreventExitStatus=3\n",
	    "[Service]\nKillMode=mixed\n",
	    "[Service]\nNotifyAccess=main\n",
	    "[Service]\nSyslogIdentifier=a\n",
	    "[Service]\nLimitNOFILE=5\n",
	    "[Service]\nUMask=0077\n",
	    "[Service]\nNice=1\n",
	    "[Service]\nOOMScoreAdjust=1\n",
	    "[Service]\nIgnoreSIGPIPE=yes\n",
	    "[Service]\nRuntimeDirectory=a\n",
	    "[Service]\nRuntimeDirectoryMode=0700\n",
	    "[Service]\nStateDirectory=a\n",
	    "[Service]\nStateDirectoryMode=0700\n",
	};
	struct unit_config *a = stored(base), *b;
	char text[256];

	b = stored(base);
	ck_assert(unit_config_equal(a, b));
	drop(b);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base, variants[i]);
		b = stored(text);
		ck_assert_msg(!unit_config_equal(a, b), "%s: equal", variants[i]);
		ck_assert_msg(!unit_config_equal_but_resources(a, b), "%s", variants[i]);
		drop(b);
	}
	drop(a);
	a = stored("[Service]\nExecStart=/bin/x\nType=forking\n");
	b = stored("[Service]\nExecStart=/bin/x\nType=forking\nPIDFile=/a\n");
	ck_assert(!unit_config_equal(a, b));
	drop(b);
	/* the line a dependency came from is not part of the configuration */
	b = stored("[Unit]\n\n\nAfter=x\n[Service]\nExecStart=/bin/x\n");
	drop(a);
	a = stored("[Unit]\nAfter=x\n[Service]\nExecStart=/bin/x\n");
	ck_assert(unit_config_equal(a, b));
	drop(a);
	drop(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("units_systemd");
	TCase *keys = tcase_create("keys"), *msgs = tcase_create("messages");
	TCase *sets = tcase_create("sets");

	tcase_add_test(keys, test_spellings);
	tcase_add_test(keys, test_exec_start);
	tcase_add_test(keys, test_command_lists);
	tcase_add_test(keys, test_state_machine_keys);
	tcase_add_test(keys, test_process_keys);
	tcase_add_test(keys, test_specifiers);
	tcase_add_test(keys, test_expand);
	tcase_add_test(keys, test_equality);
	suite_add_tcase(s, keys);
	tcase_add_test(msgs, test_pending);
	tcase_add_test(msgs, test_warnings);
	tcase_add_test(msgs, test_refused);
	tcase_add_test(msgs, test_sandboxing);
	tcase_add_test(msgs, test_did_you_mean);
	suite_add_tcase(s, msgs);
	tcase_add_test(sets, test_set_service_files);
	tcase_add_test(sets, test_templates);
	tcase_add_test(sets, test_deps_with_lines);
	tcase_add_test(sets, test_verify);
	suite_add_tcase(s, sets);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
