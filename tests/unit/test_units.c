/* units: unit file text to struct unit_config, value parsers, directory loading, dependencies. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/unit.h"

#define PATH   "/u/t.unit"
#define MS(x)  ((uint64_t)(x)*USEC_PER_MSEC)
#define SEC(x) ((uint64_t)(x)*USEC_PER_SEC)
#define EXEC   "[Service]\nExec=/bin/true\n"
#define ALLOW_TF                                                                                   \
	"; allowed: a command line: words split at blanks, \"...\" and '...' quote, \\ escapes"
#define ALLOW_EXEC ALLOW_TF "; a '-' before it ignores its failure"
#define TYPES	   "simple, exec, notify, oneshot, forking"
#define RESTARTS   "no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always"
#define OUTPUTS	   "log (or journal, syslog), null, inherit"
#define UNITS                                                                                      \
	"space-separated unit names of 1-64 characters A-Z a-z 0-9 _ . @ - (NAME.service is unit " \
	"NAME)"
#define SECTIONS "[Unit], [Service], [Resources], [Container], [Install]"

/* ---- helpers ---- */

static struct unit_config *parse_ok(const char *text)
{
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};
	int r = unit_parse_string("t", PATH, text, strlen(text), &c, &pl);
	char *all = unit_problems_join(&pl, UNIT_WARNING);

	ck_assert_msg(r == 0, "parse failed: %s\n--- for:\n%s", pl.n ? pl.v[0].text : "?", text);
	ck_assert_msg(pl.n == 0, "unexpected warnings: %s\n--- for:\n%s", all, text);
	ck_assert_ptr_nonnull(c);
	free(all);
	unit_problems_free(&pl);
	return c;
}

/* The errors, joined by newlines, to be freed (warnings must be none). */
static char *parse_err(const char *text)
{
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};
	char *msg;
	int r = unit_parse_string("t", PATH, text, strlen(text), &c, &pl);

	ck_assert_msg(r < 0, "parse succeeded, expected an error, for:\n%s", text);
	ck_assert_ptr_null(c);
	ck_assert_uint_gt(pl.errors, 0);
	ck_assert_msg(pl.errors == pl.n, "warnings too, for:\n%s", text);
	msg = unit_problems_join(&pl, UNIT_ERROR);
	ck_assert_ptr_nonnull(msg);
	unit_problems_free(&pl);
	return msg;
}

static void expect_error(const char *text, const char *expected)
{
	char *msg = parse_err(text);

	ck_assert_msg(strcmp(msg, expected) == 0, "for:\n%s\ngot:      %s\nexpected: %s", text, msg,
		      expected);
	free(msg);
}

static void expect_error_part(const char *text, const char *part)
{
	char *msg = parse_err(text);

	ck_assert_msg(strstr(msg, part), "for:\n%s\ngot: %s\nwanted a part: %s", text, msg, part);
	free(msg);
}

static void drop(struct unit_config *c)
{
	unit_config_free(c);
	free(c);
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

/* ---- defaults and every key ---- */

START_TEST(test_defaults)
{
	struct unit_config *c = parse_ok(EXEC);

	ck_assert_str_eq(c->name, "t");
	ck_assert_str_eq(c->path, PATH);
	ck_assert_ptr_null(c->description);
	ck_assert_uint_eq(c->requires.n + c->wants.n + c->after.n, 0);
	ck_assert_strv(&c->exec, "/bin/true");
	ck_assert_int_eq(c->type, UNIT_TYPE_SIMPLE);
	ck_assert_uint_eq(c->environment.n + c->environment_file.n, 0);
	ck_assert_ptr_null(c->working_directory);
	ck_assert_ptr_null(c->user);
	ck_assert_ptr_null(c->group);
	ck_assert_int_eq(c->restart, UNIT_RESTART_ON_FAILURE);
	ck_assert_uint_eq(c->restart_usec, MS(100));
	ck_assert_uint_eq(c->restart_max_usec, SEC(30));
	ck_assert_uint_eq(c->start_limit_burst, 5);
	ck_assert_uint_eq(c->start_limit_interval_usec, SEC(60));
	ck_assert_int_eq(c->stop_signal, SIGTERM);
	ck_assert_uint_eq(c->stop_timeout_usec, SEC(10));
	ck_assert_uint_eq(c->ready_timeout_usec, SEC(30));
	ck_assert_uint_eq(c->watchdog_usec, 0);
	ck_assert_uint_eq(c->health_cmd.n, 0);
	ck_assert_uint_eq(c->health_interval_usec, SEC(30));
	ck_assert_uint_eq(c->health_timeout_usec, SEC(5));
	ck_assert_uint_eq(c->health_retries, 3);
	ck_assert_int_eq(c->std_output, UNIT_OUTPUT_LOG);
	ck_assert_int_eq(c->std_error, UNIT_OUTPUT_LOG);
	ck_assert(!c->exit_with_unit);
	drop(c);
}
END_TEST

START_TEST(test_unit_section_keys)
{
	struct unit_config *c = parse_ok("[Unit]\n"
					 "Description=API server; the main one\n"
					 "Requires=db cache\n"
					 "Requires=queue db\n"
					 "Wants=metrics-exporter\tlog@1\n"
					 "After=db migrate.v2\n" EXEC);

	ck_assert_str_eq(c->description, "API server; the main one");
	ck_assert_strv(&c->requires, "db|cache|queue"); /* repeats dropped */
	ck_assert_strv(&c->wants, "metrics-exporter|log@1");
	ck_assert_strv(&c->after, "db|migrate.v2");
	drop(c);
}
END_TEST

START_TEST(test_service_keys)
{
	struct unit_config *c = parse_ok("[Service]\n"
					 "Exec=/usr/bin/server --port 80 \"a b\"\n"
					 "Type=notify\n"
					 "Environment=A=1 \"B=two words\" C=\n"
					 "Environment=D='x y' E=a=b\n"
					 "EnvironmentFile=/etc/default/web\n"
					 "EnvironmentFile=-/etc/default/web.local\n"
					 "WorkingDirectory=/srv/web\n"
					 "User=www-data\n"
					 "Group=1000\n"
					 "Restart=always\n"
					 "RestartSec=250ms\n"
					 "RestartMaxSec=1min 30s\n"
					 "StartLimitBurst=0\n"
					 "StartLimitIntervalSec=2h\n"
					 "StopSignal=SIGINT\n"
					 "StopTimeoutSec=infinity\n"
					 "ReadyTimeoutSec=45\n"
					 "WatchdogSec=20s\n"
					 "HealthCmd=/usr/bin/curl -fsS 'http://127.0.0.1/healthz'\n"
					 "HealthIntervalSec=15s\n"
					 "HealthTimeoutSec=1.5s\n"
					 "HealthRetries=10\n"
					 "StandardOutput=null\n"
					 "StandardError=inherit\n"
					 "ExitWithUnit=yes\n");

	ck_assert_strv(&c->exec, "/usr/bin/server|--port|80|a b");
	ck_assert_int_eq(c->type, UNIT_TYPE_NOTIFY);
	ck_assert_strv(&c->environment, "A=1|B=two words|C=|D=x y|E=a=b");
	ck_assert_strv(&c->environment_file, "/etc/default/web|-/etc/default/web.local");
	ck_assert_str_eq(c->working_directory, "/srv/web");
	ck_assert_str_eq(c->user, "www-data");
	ck_assert_str_eq(c->group, "1000");
	ck_assert_int_eq(c->restart, UNIT_RESTART_ALWAYS);
	ck_assert_uint_eq(c->restart_usec, MS(250));
	ck_assert_uint_eq(c->restart_max_usec, SEC(90));
	ck_assert_uint_eq(c->start_limit_burst, 0);
	ck_assert_uint_eq(c->start_limit_interval_usec, SEC(7200));
	ck_assert_int_eq(c->stop_signal, SIGINT);
	ck_assert_uint_eq(c->stop_timeout_usec, USEC_INFINITY);
	ck_assert_uint_eq(c->ready_timeout_usec, SEC(45));
	ck_assert_uint_eq(c->watchdog_usec, SEC(20));
	ck_assert_strv(&c->health_cmd, "/usr/bin/curl|-fsS|http://127.0.0.1/healthz");
	ck_assert_uint_eq(c->health_interval_usec, SEC(15));
	ck_assert_uint_eq(c->health_timeout_usec, MS(1500));
	ck_assert_uint_eq(c->health_retries, 10);
	ck_assert_int_eq(c->std_output, UNIT_OUTPUT_NULL);
	ck_assert_int_eq(c->std_error, UNIT_OUTPUT_INHERIT);
	ck_assert(c->exit_with_unit);
	drop(c);
}
END_TEST

/* Every spelling of every enum key, checked against the enum value it must give. */
START_TEST(test_enum_values)
{
	static const struct {
		const char *line;
		size_t offset;
		int value;
	} cases[] = {
	    {"Type=simple", offsetof(struct unit_config, type), UNIT_TYPE_SIMPLE},
	    {"Type=notify", offsetof(struct unit_config, type), UNIT_TYPE_NOTIFY},
	    {"Type=oneshot", offsetof(struct unit_config, type), UNIT_TYPE_ONESHOT},
	    {"Restart=no", offsetof(struct unit_config, restart), UNIT_RESTART_NO},
	    {"Restart=on-failure", offsetof(struct unit_config, restart), UNIT_RESTART_ON_FAILURE},
	    {"Restart=on-abnormal", offsetof(struct unit_config, restart),
	     UNIT_RESTART_ON_ABNORMAL},
	    {"Restart=always", offsetof(struct unit_config, restart), UNIT_RESTART_ALWAYS},
	    {"StandardOutput=log", offsetof(struct unit_config, std_output), UNIT_OUTPUT_LOG},
	    {"StandardOutput=null", offsetof(struct unit_config, std_output), UNIT_OUTPUT_NULL},
	    {"StandardOutput=inherit", offsetof(struct unit_config, std_output),
	     UNIT_OUTPUT_INHERIT},
	    {"StandardError=log", offsetof(struct unit_config, std_error), UNIT_OUTPUT_LOG},
	    {"StandardError=null", offsetof(struct unit_config, std_error), UNIT_OUTPUT_NULL},
	    {"StandardError=inherit", offsetof(struct unit_config, std_error), UNIT_OUTPUT_INHERIT},
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct unit_config *c;
		int v;
		snprintf(text, sizeof(text), EXEC "%s\n", cases[i].line);
		c = parse_ok(text);
		memcpy(&v, (char *)c + cases[i].offset, sizeof(v));
		ck_assert_msg(v == cases[i].value, "%s: got %d", cases[i].line, v);
		drop(c);
	}
	ck_assert_str_eq(unit_type_name(UNIT_TYPE_ONESHOT), "oneshot");
	ck_assert_str_eq(unit_restart_name(UNIT_RESTART_ON_ABNORMAL), "on-abnormal");
}
END_TEST

START_TEST(test_user_group_values)
{
	static const char *const good[] = {"root",    "0",     "4294967294", "_apt",
					   "sys.adm", "a-b_c", "machine$",   "A1"};
	static const char *const bad[] = {
	    "-x",	   "a b", "4294967295",
	    "99999999999", "a/b", "a:b",
	    "é",	   "$a",  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	char text[256], want[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct unit_config *c;
		snprintf(text, sizeof(text), EXEC "User=%s\nGroup=%s\n", good[i], good[i]);
		c = parse_ok(text);
		ck_assert_str_eq(c->user, good[i]);
		ck_assert_str_eq(c->group, good[i]);
		drop(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), EXEC "User=%s\n", bad[i]);
		snprintf(want, sizeof(want),
			 PATH
			 ":3: User: '%s' is not valid; allowed: a user name (A-Z a-z 0-9 _ . -, "
			 "at most 32) or a number",
			 bad[i]);
		expect_error(text, want);
	}
}
END_TEST

/* ---- bad values: the exact message, file:line, key, what is allowed ---- */

#define DUR "a duration such as 500ms, 10s, 2min, 1h, 1min 30s, or a number of seconds"

START_TEST(test_bad_values)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
	    {"Type=dbus", "Type: 'dbus' is not valid; allowed: " TYPES},
	    {"Type=Simple", "Type: 'Simple' is not valid; allowed: " TYPES},
	    {"Restart=sometimes", "Restart: 'sometimes' is not valid; allowed: " RESTARTS},
	    {"RestartSec=5 parsecs", "RestartSec: '5 parsecs' is not valid; allowed: " DUR},
	    {"RestartSec=-1s", "RestartSec: '-1s' is not valid; allowed: " DUR},
	    {"RestartSec=infinity", "RestartSec: 'infinity' is not allowed here; allowed: " DUR},
	    {"RestartMaxSec=99999999999999999999",
	     "RestartMaxSec: '99999999999999999999' is too large; allowed: " DUR},
	    {"WatchdogSec=1000000000000h",
	     "WatchdogSec: '1000000000000h' is too large; allowed: " DUR "; 0 = off"},
	    {"StopTimeoutSec=soon",
	     "StopTimeoutSec: 'soon' is not valid; allowed: " DUR ", or infinity"},
	    {"StartLimitIntervalSec=1y", "StartLimitIntervalSec: '1y' is not valid; allowed: " DUR},
	    {"StartLimitBurst=-1",
	     "StartLimitBurst: '-1' is not valid; allowed: a number from 0 (no limit) to 10000"},
	    {"StartLimitBurst=10001", "StartLimitBurst: '10001' is out of range; allowed: a number "
				      "from 0 (no limit) to 10000"},
	    {"StartLimitBurst=99999999999999999999999",
	     "StartLimitBurst: '99999999999999999999999' is out of range; allowed: a number from 0 "
	     "(no limit) to 10000"},
	    {"StartLimitBurst=5x",
	     "StartLimitBurst: '5x' is not valid; allowed: a number from 0 (no limit) to 10000"},
	    {"HealthRetries=0",
	     "HealthRetries: '0' is out of range; allowed: a number from 1 to 10000"},
	    {"StopSignal=SIGFOO",
	     "StopSignal: 'SIGFOO' is not valid; allowed: a signal name (SIGTERM "
	     "or TERM) or number"},
	    {"StopSignal=0",
	     "StopSignal: '0' is not valid; allowed: a signal name (SIGTERM or TERM) or number"},
	    {"ExitWithUnit=maybe",
	     "ExitWithUnit: 'maybe' is not valid; allowed: yes, no, true, false, "
	     "on, off, 1, 0"},
	    {"StandardOutput=tty", "StandardOutput: 'tty' is not valid; allowed: " OUTPUTS},
	    {"StandardError=kmsg", "StandardError: 'kmsg' is not valid; allowed: " OUTPUTS},
	    {"WorkingDirectory=srv/web",
	     "WorkingDirectory: 'srv/web' is not an absolute path; allowed: an absolute path"},
	    {"EnvironmentFile=etc/env",
	     "EnvironmentFile: 'etc/env' is not an absolute path; allowed: "
	     "an absolute path, with a leading - if the file is optional"},
	    {"EnvironmentFile=-etc/env",
	     "EnvironmentFile: '-etc/env' is not an absolute path; "
	     "allowed: an absolute path, with a leading - if the file is "
	     "optional"},
	    {"Environment=NOEQUALS",
	     "Environment: 'NOEQUALS' is not a KEY=value assignment; allowed: KEY=value "
	     "assignments "
	     "(KEY of A-Z a-z 0-9 _, not starting with a digit), \"quoted\" when they hold spaces"},
	    {"Environment=A=1 1B=2",
	     "Environment: '1B=2' is not a KEY=value assignment; allowed: KEY=value assignments "
	     "(KEY "
	     "of A-Z a-z 0-9 _, not starting with a digit), \"quoted\" when they hold spaces"},
	    {"Environment==x",
	     "Environment: '=x' is not a KEY=value assignment; allowed: KEY=value "
	     "assignments (KEY of A-Z a-z 0-9 _, not starting with a digit), "
	     "\"quoted\" when they hold spaces"},
	    {"Environment=\"A=1",
	     "Environment: unterminated double quote in '\"A=1'; allowed: "
	     "KEY=value assignments (KEY of A-Z a-z 0-9 _, not starting with a "
	     "digit), \"quoted\" when they hold spaces"},
	    {"Exec=/bin/sh -c \"echo",
	     "Exec: unterminated double quote in '/bin/sh -c \"echo'" ALLOW_EXEC},
	    {"Exec=/bin/sh -c 'echo",
	     "Exec: unterminated single quote in '/bin/sh -c 'echo'" ALLOW_EXEC},
	    {"Exec=\"\" x", "Exec: the program name is empty" ALLOW_EXEC},
	    {"HealthCmd='curl", "HealthCmd: unterminated single quote in ''curl'" ALLOW_TF},
	};
	char text[512], want[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Exec= first so the line is always 3 and Exec= is never missing */
		snprintf(text, sizeof(text), "[Service]\nExec=/bin/true\n%s\n", cases[i].line);
		snprintf(want, sizeof(want), PATH ":3: %s", cases[i].msg);
		expect_error(text, want);
	}
}
END_TEST

/* A bad Requires= in [Unit] and a bad value with control characters, shown escaped. */
START_TEST(test_bad_value_shown_escaped)
{
	expect_error("[Unit]\nRequires=a\x01\x02 b\n" EXEC,
		     PATH ":2: Requires: 'a\\x01\\x02' is not a valid unit name; allowed: " UNITS);
	/* long values are cut in the message */
	char text[512];
	snprintf(text, sizeof(text), EXEC "Type=%0100d\n", 7);
	expect_error_part(text,
			  "Type: '000000000000000000000000000000000000000000000000000000000000"
			  "...' is not valid");
	expect_error("[Unit]\nRequires=db bad/name\n" EXEC,
		     PATH ":2: Requires: 'bad/name' is not a valid unit name; allowed: " UNITS);
}
END_TEST

/* ---- lists, repeats, empty assignments ---- */

START_TEST(test_lists_accumulate_and_reset)
{
	struct unit_config *c = parse_ok("[Unit]\n"
					 "Requires=a\nRequires=b c\nRequires=\nRequires=d\n"
					 "Wants=w1\nWants=\n"
					 "After=x\nAfter=y\n"
					 "[Service]\n"
					 "Exec=/bin/true\n"
					 "Environment=A=1\nEnvironment=B=2 A=3\nEnvironment=\n"
					 "Environment=C=4\nEnvironment=C=5 D=6\n"
					 "EnvironmentFile=/a\nEnvironmentFile=/b\n"
					 "EnvironmentFile=\nEnvironmentFile=-/c\n"
					 "HealthCmd=/bin/check\nHealthCmd=\n");

	ck_assert_strv(&c->requires, "d");
	ck_assert_uint_eq(c->wants.n, 0);
	ck_assert_ptr_null(c->wants.v);
	ck_assert_strv(&c->after, "x|y");
	ck_assert_strv(&c->environment, "C=5|D=6"); /* a later KEY= replaces in place */
	ck_assert_strv(&c->environment_file, "-/c");
	ck_assert_uint_eq(c->health_cmd.n, 0);
	drop(c);

	c = parse_ok("[Service]\nEnvironment=A=1 B=2 A=3\nExec=/bin/true\n");
	ck_assert_strv(&c->environment, "A=3|B=2");
	drop(c);
}
END_TEST

START_TEST(test_scalar_last_wins_and_empty_resets)
{
	struct unit_config *c = parse_ok("[Unit]\nDescription=one\nDescription=two\n"
					 "[Service]\n"
					 "Exec=/bin/first\nExec=/bin/second arg\n"
					 "Restart=no\nRestart=always\n"
					 "RestartSec=5s\nRestartSec=\n"
					 "StopSignal=KILL\nStopSignal=\n"
					 "User=nobody\nUser=\n"
					 "Type=notify\nType=\n"
					 "ExitWithUnit=yes\nExitWithUnit=\n"
					 "HealthRetries=7\nHealthRetries=\n"
					 "[Unit]\nDescription=\n");

	ck_assert_ptr_null(c->description);
	ck_assert_strv(&c->exec, "/bin/second|arg");
	ck_assert_int_eq(c->restart, UNIT_RESTART_ALWAYS);
	ck_assert_uint_eq(c->restart_usec, MS(100));
	ck_assert_int_eq(c->stop_signal, SIGTERM);
	ck_assert_ptr_null(c->user);
	ck_assert_int_eq(c->type, UNIT_TYPE_SIMPLE);
	ck_assert(!c->exit_with_unit);
	ck_assert_uint_eq(c->health_retries, 3);
	drop(c);
}
END_TEST

/* ---- value parsers ---- */

START_TEST(test_argv_quoting)
{
	static const struct {
		const char *in, *out; /* words joined by '|'; out NULL: error why */
		const char *why;
	} cases[] = {
	    {"a b  c", "a|b|c", NULL},
	    {"  a\tb  ", "a|b", NULL},
	    {"\"a b\" c", "a b|c", NULL},
	    {"'a \"b\"' c", "a \"b\"|c", NULL},
	    {"\"it's\"", "it's", NULL},
	    {"a\\ b", "a b", NULL},
	    {"\\'x\\'", "'x'", NULL},
	    {"\"a\\\"b\"", "a\"b", NULL},
	    {"\"a\\\\b\"", "a\\b", NULL},
	    {"\"a\\nb\"", "a\\nb", NULL},
	    {"'a\\b'", "a\\b", NULL},
	    {"a\"b c\"d", "ab cd", NULL},
	    {"\"\" x", "|x", NULL},
	    {"''", "", NULL},
	    {"$HOME * ~ >out", "$HOME|*|~|>out", NULL},
	    {"sh -c 'exec myd --port \"$PORT\"'", "sh|-c|exec myd --port \"$PORT\"", NULL},
	    {"\"", NULL, "unterminated double quote"},
	    {"a \"b c", NULL, "unterminated double quote"},
	    {"'abc", NULL, "unterminated single quote"},
	    {"\"a'\" 'b", NULL, "unterminated single quote"},
	    {"abc\\", NULL, "ends with a lone backslash"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strv argv = {0};
		const char *why = NULL;
		int r = unit_parse_argv(cases[i].in, &argv, &why);
		if (cases[i].out) {
			ck_assert_msg(r == 0, "%s: %s", cases[i].in, why);
			ck_assert_strv(&argv, cases[i].out);
			ck_assert_ptr_null(argv.v[argv.n]);
		} else {
			ck_assert_msg(r < 0, "%s parsed", cases[i].in);
			ck_assert_str_eq(why, cases[i].why);
			ck_assert_uint_eq(argv.n, 0);
		}
		strv_free(&argv);
	}
}
END_TEST

START_TEST(test_argv_empty_and_append)
{
	struct strv argv = {0};
	const char *why;

	ck_assert_int_eq(unit_parse_argv("", &argv, &why), 0);
	ck_assert_int_eq(unit_parse_argv("   \t ", &argv, &why), 0);
	ck_assert_uint_eq(argv.n, 0);
	ck_assert_int_eq(unit_parse_argv("a b", &argv, &why), 0);
	ck_assert_int_eq(unit_parse_argv("c", &argv, &why), 0);
	ck_assert_int_eq(unit_parse_argv("d 'e", &argv, &why), -1); /* argv untouched */
	ck_assert_strv(&argv, "a|b|c");
	strv_free(&argv);
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char *in;
		uint64_t usec;
	} good[] = {
	    {"0", 0},
	    {"30", SEC(30)},
	    {"500ms", MS(500)},
	    {"10s", SEC(10)},
	    {"2min", SEC(120)},
	    {"1h", SEC(3600)},
	    {"1d", SEC(86400)},
	    {"1w", SEC(604800)},
	    {"7us", 7},
	    {"3usec 2msec", 2003},
	    {"1min 30s", SEC(90)},
	    {"1min30s", SEC(90)},
	    {"1h 1min 1s 1ms", SEC(3661) + MS(1)},
	    {"5 s", SEC(5)},
	    {"2 minutes", SEC(120)},
	    {"1.5s", MS(1500)},
	    {"0.25h", SEC(900)},
	    {"1.0000001s", SEC(1)},
	    {"1.5", MS(1500)},
	    {"infinity", USEC_INFINITY},
	    {"18446744073709551614us", UINT64_MAX - 1},
	    {"18446744073709s", 18446744073709ULL * USEC_PER_SEC},
	};
	static const struct {
		const char *in;
		int err;
	} bad[] = {
	    {"", EINVAL},
	    {" ", EINVAL},
	    {"s", EINVAL},
	    {"-1s", EINVAL},
	    {"+1s", EINVAL},
	    {"1x", EINVAL},
	    {"1 sec 2", 0}, /* fine: the bare 2 is seconds */
	    {"1.s", EINVAL},
	    {".5s", EINVAL},
	    {"1ss", EINVAL},
	    {"1y", EINVAL},
	    {"Infinity", EINVAL},
	    {"infinity 1s", EINVAL},
	    {"1min infinity", EINVAL},
	    {"0x10", EINVAL},
	    {"18446744073709551615us", ERANGE}, /* that is infinity's value */
	    {"18446744073709551616us", ERANGE},
	    {"18446744073710s", ERANGE},
	    {"99999999999999999999999999", ERANGE},
	    {"213503982d 213503982d", ERANGE},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		ck_assert_msg(unit_parse_duration(good[i].in, &v) == 0, "%s rejected", good[i].in);
		ck_assert_msg(v == good[i].usec, "%s: %llu", good[i].in, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;
		errno = 0;
		r = unit_parse_duration(bad[i].in, &v);
		if (bad[i].err == 0) {
			ck_assert_msg(r == 0 && v == SEC(3), "%s", bad[i].in);
			continue;
		}
		ck_assert_msg(r == -1, "%s accepted", bad[i].in);
		ck_assert_msg(errno == bad[i].err, "%s: errno %d", bad[i].in, errno);
	}
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *in;
		uint64_t bytes;
	} good[] = {
	    {"0", 0},
	    {"4096", 4096},
	    {"512K", 512 * 1024},
	    {"512k", 512 * 1024},
	    {"64M", 64ULL << 20},
	    {"2G", 2ULL << 30},
	    {"3T", 3ULL << 40},
	    {"1P", 1ULL << 50},
	    {"15E", 15ULL << 60},
	    {"infinity", SIZE_INFINITY},
	    {"18446744073709551614", UINT64_MAX - 1},
	};
	static const struct {
		const char *in;
		int err;
	} bad[] = {
	    {"", EINVAL},
	    {"K", EINVAL},
	    {"-1", EINVAL},
	    {"+1", EINVAL},
	    {" 1", EINVAL},
	    {"1 K", EINVAL},
	    {"1KB", EINVAL},
	    {"1.5G", EINVAL},
	    {"1X", EINVAL},
	    {"16E", ERANGE},
	    {"18446744073709551615", ERANGE},
	    {"18446744073709551616", ERANGE},
	    {"17179869184G", ERANGE},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(unit_parse_size(good[i].in, &v) == 0, "%s rejected", good[i].in);
		ck_assert_msg(v == good[i].bytes, "%s: %llu", good[i].in, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(unit_parse_size(bad[i].in, &v) == -1, "%s accepted", bad[i].in);
		ck_assert_msg(errno == bad[i].err, "%s: errno %d", bad[i].in, errno);
	}
}
END_TEST

START_TEST(test_signals)
{
	static const struct {
		const char *in;
		int sig;
	} good[] = {
	    {"SIGTERM", SIGTERM}, {"TERM", SIGTERM},   {"term", SIGTERM},    {"sigterm", SIGTERM},
	    {"15", SIGTERM},	  {"9", SIGKILL},      {"SIGKILL", SIGKILL}, {"HUP", SIGHUP},
	    {"SIGUSR2", SIGUSR2}, {"SIGIOT", SIGABRT}, {"WINCH", SIGWINCH},  {"SIGCLD", SIGCHLD},
	};
	static const char *const bad[] = {
	    "",	   "SIG",   "SIGFOO",	  "0",	    "-15",	   "1000",    "15x",	"+15",
	    " 15", "TERM ", "SIGSIGTERM", "RTMIN+", "SIGRTMIN+99", "RTMAX+1", "RTMIN-1"};
	int sig;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(sup_signal_parse(good[i].in, &sig) == 0, "%s rejected", good[i].in);
		ck_assert_int_eq(sig, good[i].sig);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(sup_signal_parse(bad[i], &sig) == -1, "%s accepted", bad[i]);
	ck_assert_int_eq(sup_signal_parse("SIGRTMIN", &sig), 0);
	ck_assert_int_eq(sig, SIGRTMIN);
	ck_assert_int_eq(sup_signal_parse("SIGRTMIN+2", &sig), 0);
	ck_assert_int_eq(sig, SIGRTMIN + 2);
	ck_assert_int_eq(sup_signal_parse("RTMAX-1", &sig), 0);
	ck_assert_int_eq(sig, SIGRTMAX - 1);
	ck_assert_int_eq(sup_signal_parse("64", &sig), SIGRTMAX >= 64 ? 0 : -1);
	ck_assert_int_eq(sup_signal_parse("65", &sig), -1);

	ck_assert_str_eq(sup_signal_name(SIGKILL), "SIGKILL");
	ck_assert_str_eq(sup_signal_name(SIGTERM), "SIGTERM");
	ck_assert_str_eq(sup_signal_name(SIGABRT), "SIGABRT");
	ck_assert_str_eq(sup_signal_name(SIGCHLD), "SIGCHLD");
	ck_assert_ptr_null(sup_signal_name(0));
	ck_assert_ptr_null(sup_signal_name(-1));
	ck_assert_ptr_null(sup_signal_name(1000));
	/* every named signal parses back from its name */
	for (int s = 1; s < SIGRTMIN; s++) {
		const char *n = sup_signal_name(s);
		if (!n)
			continue;
		ck_assert_int_eq(sup_signal_parse(n, &sig), 0);
		ck_assert_int_eq(sig, s);
	}
}
END_TEST

START_TEST(test_booleans)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
	static const char *const no[] = {"no", "false", "off", "0", "No", "OFF"};
	static const char *const bad[] = {"", "y", "2", "yess", "enabled", " yes"};
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		ck_assert_int_eq(unit_parse_bool(yes[i], &b), 0);
		ck_assert(b);
		ck_assert_int_eq(unit_parse_bool(no[i], &b), 0);
		ck_assert(!b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(unit_parse_bool(bad[i], &b) == -1, "%s accepted", bad[i]);
}
END_TEST

/* ---- syntax: sections, keys, lines ---- */

START_TEST(test_unknown_section)
{
	/* its keys are not reported one by one */
	expect_error(EXEC "[Contianer]\nImage=x\nBogus=1\n",
		     PATH ":3: [Contianer]: unknown section; allowed: " SECTIONS);
	expect_error(EXEC "[service]\nExec=/bin/x\n",
		     PATH ":3: [service]: unknown section; allowed: " SECTIONS);
	expect_error(EXEC "[]\n", PATH ":3: []: unknown section; allowed: " SECTIONS);
	expect_error(EXEC "[Service\nRestart=bogus\n", PATH
		     ":3: [Service: no ']' at the end of the section header; allowed: " SECTIONS);
	expect_error(EXEC "[Service] x\n",
		     PATH ":3: [Service] x: text after the section header; allowed: " SECTIONS);
	/* a comment after the header is fine; the section can come back */
	drop(parse_ok("[Service] ; main\nExec=/bin/true\n[Unit] # deps\nWants=a\n[Service]\nType="
		      "oneshot\n"));
	/* a long section name is not cut (inih would cut it at 50 bytes) */
	char text[256];
	snprintf(text, sizeof(text), EXEC "[%080d]\n", 0);
	expect_error_part(text,
			  PATH ":3: [00000000000000000000000000000000000000000000000000000000000"
			       "...: unknown section");
}
END_TEST

START_TEST(test_container)
{
	struct unit_config *c = parse_ok(EXEC "[Container]\n");

	/* an empty section: a container with the spec's defaults */
	ck_assert(c->ct.enabled && c->ct.init && c->ct.no_new_privs == -1);
	ck_assert_uint_eq(unit_container_namespaces(c), UNIT_NS_DEFAULT);
	ck_assert_uint_eq(c->ct.caps, UNIT_CAPS_DOCKER);
	ck_assert(c->ct.seccomp == UNIT_SECCOMP_DEFAULT && c->ct.shm_size == 64ULL << 20);
	drop(c);
	c = parse_ok(
	    EXEC "[Container]\nRootDirectory=/srv/root\nNamespaces=pid uts time\n"
		 "Network=host\nBind=/a -/b:/c\nBindReadOnly=/d:/e\nTmpfs=/tmp:size=1M,mode=1777\n"
		 "Capabilities=net_admin CAP_CHOWN\nSeccomp=/etc/p.json\nTimeOffsetSec=-1h\n"
		 "Devices=/dev/fuse rw\nUserNamespace=100000:0:65536\nInit=no\nShmSize=1M\n");
	ck_assert_uint_eq(unit_container_namespaces(c),
			  UNIT_NS_PID | UNIT_NS_UTS | UNIT_NS_TIME | UNIT_NS_MNT | UNIT_NS_USER);
	ck_assert(strv_contains(&c->ct.bind, "/a:/a") && strv_contains(&c->ct.bind, "-/b:/c"));
	ck_assert(strv_contains(&c->ct.bind_ro, "/d:/e"));
	ck_assert_uint_eq(c->ct.caps, (1ULL << 12) | 1);
	ck_assert_str_eq(c->ct.seccomp_profile, "/etc/p.json");
	ck_assert(c->ct.time_offset_usec == -3600 * (int64_t)USEC_PER_SEC);
	ck_assert(c->ct.userns == UNIT_USERNS_MAP && c->ct.userns_host == 100000 &&
		  c->ct.userns_count == 65536 && !c->ct.init);
	drop(c);
	/* user in Namespaces=: an automatic range */
	c = parse_ok(EXEC "[Container]\nNamespaces=user pid\n");
	ck_assert(c->ct.userns == UNIT_USERNS_AUTO);
	drop(c);
	expect_error(EXEC "[Container]\nBind=/a/../etc:/x\n",
		     PATH ":4: Bind: '/a/../etc:/x' is not valid (absolute paths without . or .. "
			  "components); allowed: "
			  "HOSTPATH[:CONTAINERPATH], absolute paths without . "
			  "or .. (a - before one: the source may be missing)");
	expect_error_part(EXEC "[Container]\nNamespaces=pid bogus\n",
			  PATH ":4: Namespaces: 'bogus' is not valid; allowed: space-separated");
	expect_error_part(EXEC "[Container]\nCapabilities=CAP_NOPE\n",
			  PATH ":4: Capabilities: 'CAP_NOPE' is not valid");
	expect_error_part(
	    EXEC "[Container]\nSeccomp=relative.json\n",
	    PATH ":4: Seccomp: 'relative.json' is not valid; allowed: default, unconfined");
	expect_error_part(EXEC "[Container]\nNamespaces=pid\nTimeOffsetSec=5s\n",
			  PATH ":5: TimeOffsetSec: needs the time namespace");
	/* Image=: a reference as Docker reads it; Exec= may then be left to the image */
	c = parse_ok("[Service]\nStopSignal=SIGQUIT\n[Container]\nImage=127.0.0.1:5000/app:1\n");
	ck_assert_str_eq(c->ct.image, "127.0.0.1:5000/app:1");
	ck_assert(c->exec.n == 0 && c->stop_signal_set && c->ct.enabled);
	drop(c);
	c = parse_ok(EXEC "[Container]\nImage=redis\n");
	ck_assert(!c->stop_signal_set);
	drop(c);
	expect_error_part(EXEC "[Container]\nImage=Redis/UPPER\n",
			  PATH ":4: Image: image reference \"Redis/UPPER\": ");
	expect_error_part(EXEC "[Container]\nImage=redis@sha256:abc\n",
			  PATH ":4: Image: \"redis@sha256:abc\": a pinned digest must be sha256:");
	expect_error_part(EXEC "[Container]\nImage=redis\nUserNamespace=auto\n",
			  PATH ":4: Image: not yet supported: Image= in a user namespace");
	expect_error_part(EXEC "[Container]\nImage=redis\nRootDirectory=/srv\n",
			  PATH ":5: RootDirectory: cannot be used with Image=");
	expect_error_part("[Service]\nExec=\n[Container]\nImage=redis\n",
			  PATH ":2: Exec: emptied and not set again");
	expect_error_part(EXEC "[Container]\nUserNamespace=1:2\n",
			  PATH ":4: UserNamespace: '1:2' is not valid");
	/* Tmpfs= options: size=, mode= (octal, at most 4 digits), the flags */
	c = parse_ok(EXEC "[Container]\nTmpfs=/t:size=1M,mode=0700,noexec,nosuid,nodev,ro\n");
	ck_assert(strv_contains(&c->ct.tmpfs, "/t:size=1M,mode=0700,noexec,nosuid,nodev,ro"));
	drop(c);
	for (const char *const *v = (const char *const[]){"/t:mode=", "/t:mode=19", "/t:mode=17777",
							  "/t:size=lots", "/t:exec", NULL};
	     *v; v++) {
		char text[128];
		snprintf(text, sizeof(text), EXEC "[Container]\nTmpfs=%s\n", *v);
		expect_error_part(text, PATH ":4: Tmpfs: '");
	}
}
END_TEST

START_TEST(test_unknown_key)
{
	/* no list of every allowed key: a "did you mean" for a near miss */
	expect_error(EXEC "Exex=/bin/true\n",
		     PATH ":3: Exex: unknown key in [Service]; did you mean Exec=?");
	expect_error(EXEC "Colour=blue\n", PATH ":3: Colour: unknown key in [Service]");
	expect_error("[Unit]\nExec=/bin/true\n[Service]\nExec=/bin/true\n",
		     PATH ":2: Exec: unknown key in [Unit] (it belongs in [Service])");
	expect_error(EXEC "Requires=db\n",
		     PATH ":3: Requires: unknown key in [Service] (it belongs in [Unit])");
	/* keys are case-sensitive, as in systemd; the right case is suggested */
	expect_error(EXEC "exec=/bin/true\n",
		     PATH ":3: exec: unknown key in [Service]; did you mean Exec=?");
	expect_error("Description=x\n" EXEC,
		     PATH ":1: Description: key before any section; allowed: a [Unit] or [Service] "
			  "header above it");
}
END_TEST

START_TEST(test_line_syntax)
{
	expect_error(EXEC "Restart\n", PATH ":3: Restart: missing '='; allowed: KEY=VALUE");
	expect_error(EXEC "Restart no\n", PATH ":3: Restart no: missing '='; allowed: KEY=VALUE");
	expect_error(EXEC "Description: x\n",
		     PATH ":3: Description: missing '=' (':' does not separate a key from its "
			  "value); allowed: KEY=VALUE");
	/* inih never sees such a key: dispatched as it is, and unknown */
	expect_error(EXEC "Restart ;=no\n",
		     PATH ":3: Restart ;: unknown key in [Service]; did you mean Restart=?");
	expect_error(EXEC "=no\n", PATH ":3: =no: no key before '='; allowed: KEY=VALUE");
	/* a ':' after the '=' is just part of the value */
	struct unit_config *c = parse_ok(EXEC "[Unit]\nDescription=a: b=c\n");
	ck_assert_str_eq(c->description, "a: b=c");
	drop(c);
	/* spaces around '=' and the value are trimmed */
	c = parse_ok("[Service]\n  Exec  =   /bin/true   x  \n");
	ck_assert_strv(&c->exec, "/bin/true|x");
	drop(c);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "[Service]\nExec=/bin/true\nRestart=no\0pe\nType=simple\n";
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};

	ck_assert_int_eq(unit_parse_string("t", PATH, text, sizeof(text) - 1, &c, &pl), -1);
	ck_assert_uint_eq(pl.n, 1);
	ck_assert_str_eq(pl.v[0].text, PATH ":3: the line holds a NUL byte; allowed: text");
	ck_assert_uint_eq(pl.v[0].where, strlen(PATH ":3: "));
	unit_problems_free(&pl);
}
END_TEST

START_TEST(test_every_problem_in_line_order)
{
	expect_error(
	    "[Unit]\n"
	    "Requires=ok bad!\n"
	    "Colour=blue\n"
	    "[Service]\n"
	    "Type=oneshot\n"
	    "Restart=always\n"
	    "RestartSec=forever\n"
	    "[Resources]\n"
	    "MemoryMax=1Q\n"
	    "[Service]\n"
	    "StopSignal=SIGNOPE\n",
	    PATH
	    ": Exec: missing; allowed: a command line in [Service], e.g. "
	    "Exec=/usr/bin/server --port 80\n" PATH
	    ":2: Requires: 'bad!' is not a valid unit name; allowed: space-separated "
	    "unit names of 1-64 characters A-Z a-z 0-9 _ . @ - (NAME.service is unit NAME)\n" PATH
	    ":3: Colour: unknown key in [Unit]\n" PATH
	    ":6: Restart: 'always' cannot be used with Type=oneshot; allowed: no, "
	    "on-failure, on-abnormal\n" PATH ":7: RestartSec: 'forever' is not valid; allowed: " DUR
	    "\n" PATH ":9: MemoryMax: '1Q' is not valid; allowed: a size in bytes (K, M, G, T: "
	    "powers of 1024, e.g. 512M), or infinity\n" PATH
	    ":11: StopSignal: 'SIGNOPE' is not valid; allowed: a signal name (SIGTERM "
	    "or TERM) or number");
}
END_TEST

START_TEST(test_problem_cap)
{
	size_t cap = 100 * 16 + 64, n;
	char *text = malloc(cap), *msg, *last;
	int lines = 0;

	n = (size_t)sprintf(text, EXEC);
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(text + n, "Nope%d=1\n", i);
	msg = parse_err(text);
	for (char *p = msg; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_int_eq(lines, 50); /* 50 shown, then the summary */
	last = strrchr(msg, '\n') + 1;
	ck_assert_str_eq(last, PATH ": 50 more problems not shown");
	ck_assert(strstr(msg, PATH ":52: Nope49: unknown key"));
	ck_assert(!strstr(msg, "Nope50"));
	free(msg);
	free(text);
}
END_TEST

/* As in systemd, only a whole line can be a comment: ';' and '#' in a value are part of it
 * (Debian's inih would cut a value at " ;": the reader never lets it see one). */
START_TEST(test_inline_comments)
{
	struct unit_config *c;

	c = parse_ok("[Service]\nExec=/bin/sh -c \"a ; b\" \\; c ;x\nRestart=no\n"
		     "[Unit]\nDescription=x # not a comment ; nor this\n");
	ck_assert_strv(&c->exec, "/bin/sh|-c|a ; b|;|c|;x");
	ck_assert_int_eq(c->restart, UNIT_RESTART_NO);
	ck_assert_str_eq(c->description, "x # not a comment ; nor this");
	drop(c);
	c = parse_ok(EXEC "[Unit]\nDescription= ;not only a comment\n");
	ck_assert_str_eq(c->description, ";not only a comment");
	drop(c);
	/* a ';' word is systemd's separator of commands: one main command only */
	expect_error("[Service]\nExec=/bin/a ; /bin/b\n",
		     PATH ":2: Exec: more than one command (separated by ' ; ')" ALLOW_EXEC);
	expect_error(EXEC "Restart=no ; never\n",
		     PATH ":3: Restart: 'no ; never' is not valid; allowed: " RESTARTS);
	/* the value of a line longer than inih's buffer is whole too */
	char text[600];
	snprintf(text, sizeof(text), EXEC "[Unit]\nDescription=%0300d ; %0200d\n", 1, 2);
	c = parse_ok(text);
	ck_assert_uint_eq(strlen(c->description), 503);
	drop(c);
}
END_TEST

/* Indented lines are lines of their own (inih would make them continuations); '\' continues. */
START_TEST(test_indentation_and_continuation)
{
	struct unit_config *c = parse_ok("[Service]\n"
					 "    Exec=/bin/server \\\n"
					 "        --flag \\\n"
					 "# a comment inside is skipped\n"
					 "        --other=1\n"
					 "    Restart=no\n"
					 "\tType=oneshot\n"
					 "Environment=A=1 \\\n"
					 "  B=2\n"
					 "[Unit]\n"
					 "  Description=\\\n"
					 "\n"
					 "Wants=x\n");

	ck_assert_strv(&c->exec, "/bin/server|--flag|--other=1");
	ck_assert_int_eq(c->restart, UNIT_RESTART_NO);
	ck_assert_int_eq(c->type, UNIT_TYPE_ONESHOT);
	ck_assert_strv(&c->environment, "A=1|B=2");
	ck_assert_ptr_null(c->description);
	ck_assert_strv(&c->wants, "x");
	drop(c);

	/* an even number of trailing backslashes is an escaped backslash, not a continuation */
	c = parse_ok("[Service]\nExec=/bin/echo a\\\\\nRestart=no\n");
	ck_assert_strv(&c->exec, "/bin/echo|a\\");
	ck_assert_int_eq(c->restart, UNIT_RESTART_NO);
	drop(c);

	/* the line of a continued assignment is its first; later lines keep their numbers */
	expect_error("[Service]\nExec=/bin/true\nRestart=\\\n  sometimes\nType=bad\n",
		     PATH ":3: Restart: 'sometimes' is not valid; allowed: " RESTARTS "\n" PATH
			  ":5: Type: 'bad' is not valid; allowed: " TYPES);
	/* a backslash on the last line just ends it */
	c = parse_ok("[Service]\nExec=/bin/true\nRestart=no\\");
	ck_assert_int_eq(c->restart, UNIT_RESTART_NO);
	drop(c);
}
END_TEST

/* inih's buffer is 200 bytes; longer lines are split by the same rules, not cut. */
START_TEST(test_long_lines)
{
	size_t cap = 64 * 1024;
	char *text = malloc(cap), *want = malloc(cap), *got;
	struct unit_config *c;
	size_t n, w = 0;

	n = (size_t)sprintf(text, "[Service]\n  Exec   =  /bin/echo");
	for (int i = 0; i < 2000; i++) {
		n += (size_t)sprintf(text + n, " w%d", i);
		w += (size_t)sprintf(want + w, "%sw%d", i ? "|" : "", i);
	}
	n += (size_t)sprintf(text + n, "   \nRestart=no\n");
	c = parse_ok(text);
	ck_assert_uint_eq(c->exec.n, 2001);
	ck_assert_str_eq(c->exec.v[0], "/bin/echo");
	ck_assert_str_eq(c->exec.v[2000], "w1999");
	got = strv_join(&c->exec, "|");
	ck_assert_str_eq(got + strlen("/bin/echo|"), want);
	free(got);
	ck_assert_int_eq(c->restart, UNIT_RESTART_NO);
	drop(c);

	/* exactly at inih's limit and around it */
	for (size_t len = 190; len < 210; len++) {
		n = (size_t)sprintf(text, "[Unit]\nDescription=");
		memset(text + n, 'd', len - strlen("Description="));
		n += len - strlen("Description=");
		n += (size_t)sprintf(text + n, "\n[Service]\nExec=/bin/true\n");
		c = parse_ok(text);
		ck_assert_uint_eq(strlen(c->description), len - strlen("Description="));
		drop(c);
	}

	/* problems on and after a long line carry the right line */
	n = (size_t)sprintf(text, "[Service]\nExec=/bin/true\nBogusLongKey=");
	memset(text + n, 'x', 500);
	n += 500;
	sprintf(text + n, "\nRestart=sometimes\n");
	got = parse_err(text);
	ck_assert(strstr(got, PATH ":3: BogusLongKey: unknown key in [Service]"));
	ck_assert(strstr(got, PATH ":4: Restart: 'sometimes' is not valid"));
	free(got);
	free(text);
	free(want);
}
END_TEST

START_TEST(test_crlf_bom_and_blank_lines)
{
	struct unit_config *c = parse_ok(
	    "\xEF\xBB\xBF[Unit]\r\nDescription=dos\r\n\r\n   \r\n; c\r\n# c\r\n[Service]\r\n"
	    "Exec=/bin/true\r\nRestart=no\r\n");

	ck_assert_str_eq(c->description, "dos");
	ck_assert_strv(&c->exec, "/bin/true");
	ck_assert_int_eq(c->restart, UNIT_RESTART_NO);
	drop(c);
	/* no newline at the end, and an empty text is just a missing Exec= */
	c = parse_ok("[Service]\nExec=/bin/true");
	drop(c);
	expect_error("", PATH ": Exec: missing; allowed: a command line in [Service], e.g. "
			      "Exec=/usr/bin/server --port 80");
}
END_TEST

/* ---- checks across keys ---- */

START_TEST(test_cross_checks)
{
	struct unit_config *c;

	expect_error("[Unit]\nDescription=no command\n",
		     PATH ": Exec: missing; allowed: a command line in [Service], e.g. "
			  "Exec=/usr/bin/server --port 80");
	expect_error("[Service]\nExec=/bin/true\nExec=\n",
		     PATH ":3: Exec: emptied and not set again; allowed: a command line, e.g. "
			  "Exec=/usr/bin/server --port 80");
	/* a bad Exec= is reported once, not also as missing */
	expect_error("[Service]\nExec='\n",
		     PATH ":2: Exec: unterminated single quote in '''" ALLOW_EXEC);

	expect_error(EXEC "Type=oneshot\nRestart=always\n",
		     PATH ":4: Restart: 'always' cannot be used with Type=oneshot; allowed: no, "
			  "on-failure, on-abnormal");
	expect_error(EXEC "Restart=always\nType=oneshot\n",
		     PATH ":3: Restart: 'always' cannot be used with Type=oneshot; allowed: no, "
			  "on-failure, on-abnormal");
	c = parse_ok(EXEC "Type=oneshot\nRestart=on-failure\n");
	drop(c);

	expect_error(EXEC "RestartSec=2s\nRestartMaxSec=1500ms\n",
		     PATH ":4: RestartMaxSec: 1s 500ms is below RestartSec=2s; allowed: a duration "
			  "of at least RestartSec");
	expect_error(EXEC "RestartSec=90s\n",
		     PATH ":3: RestartSec: 1min 30s is above RestartMaxSec=30s (the default); "
			  "allowed: at most RestartMaxSec, or raise RestartMaxSec");
	c = parse_ok(EXEC "RestartSec=90s\nRestartMaxSec=90s\n");
	drop(c);
	c = parse_ok(EXEC "RestartSec=0\nRestartMaxSec=0\n");
	drop(c);

	expect_error(EXEC "HealthCmd=/bin/check\nHealthIntervalSec=0\nHealthTimeoutSec=0s\n", PATH
		     ":4: HealthIntervalSec: 0 with HealthCmd= set; allowed: a duration above "
		     "0\n" PATH
		     ":5: HealthTimeoutSec: 0 with HealthCmd= set; allowed: a duration above 0");
	/* without HealthCmd= the health timings are not used */
	c = parse_ok(EXEC "HealthIntervalSec=0\nHealthTimeoutSec=0\n");
	drop(c);
	/* a rejected value does not also fail the check that uses it */
	expect_error(EXEC "RestartSec=1h\nRestartMaxSec=1 fortnight\n",
		     PATH ":4: RestartMaxSec: '1 fortnight' is not valid; allowed: " DUR);
}
END_TEST

/* ---- names, equality, files ---- */

START_TEST(test_names)
{
	char name[UNIT_NAME_MAX + 1], long_name[80];

	ck_assert(unit_name_valid("web"));
	ck_assert(unit_name_valid("getty@tty1"));
	ck_assert(unit_name_valid("a.b_c-D9"));
	ck_assert(!unit_name_valid(""));
	ck_assert(!unit_name_valid("a b"));
	ck_assert(!unit_name_valid("a/b"));
	ck_assert(!unit_name_valid("."));
	ck_assert(!unit_name_valid(".."));
	ck_assert(unit_name_valid("..."));
	ck_assert(!unit_name_valid("caf\xc3\xa9"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	ck_assert(unit_name_valid(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	ck_assert(!unit_name_valid(long_name));

	enum unit_dialect d;

	ck_assert(unit_name_from_file("web.unit", name, &d));
	ck_assert_str_eq(name, "web");
	ck_assert_int_eq(d, UNIT_DIALECT_SUP);
	ck_assert(unit_name_from_file("a.b.unit", name, NULL));
	ck_assert_str_eq(name, "a.b");
	ck_assert(!unit_name_from_file(".unit", name, NULL));
	ck_assert(!unit_name_from_file("web.unit~", name, NULL));
	ck_assert(unit_name_from_file("web.service", name, &d));
	ck_assert_str_eq(name, "web");
	ck_assert_int_eq(d, UNIT_DIALECT_SYSTEMD);
	ck_assert(unit_name_from_file("getty@.service", name, NULL));
	ck_assert_str_eq(name, "getty@");
	ck_assert(!unit_name_from_file(".service", name, NULL));
	ck_assert(!unit_name_from_file("web.socket", name, NULL));
	ck_assert(!unit_name_from_file("we b.unit", name, NULL));
	ck_assert(!unit_name_from_file("..unit", name, NULL));
	ck_assert(!unit_name_from_file("..service", name, NULL));
	memcpy(long_name + 65, ".unit", 6);
	ck_assert(!unit_name_from_file(long_name, name, NULL));
	strcpy(long_name + 64, ".unit");
	ck_assert(unit_name_from_file(long_name, name, NULL));
	ck_assert_uint_eq(strlen(name), 64);
	strcpy(long_name + 64, ".service");
	ck_assert(unit_name_from_file(long_name, name, NULL));
	ck_assert_uint_eq(strlen(name), 64);

	ck_assert(unit_name_is_template("getty@"));
	ck_assert(!unit_name_is_template("getty@tty1"));
	ck_assert(!unit_name_is_template("getty"));
	ck_assert(!unit_name_is_template("@"));
	ck_assert(!unit_name_is_template("a@b@"));
	ck_assert_str_eq(unit_name_strip_service("db.service", name), "db");
	ck_assert_str_eq(unit_name_strip_service("db", name), "db");
	ck_assert_str_eq(unit_name_strip_service(".service", name), ".service");
	ck_assert_str_eq(unit_name_strip_service("net.target", name), "net.target");
}
END_TEST

START_TEST(test_equality)
{
	/* each variant changes one field of the base */
	static const char base[] = "[Unit]\nDescription=d\nRequires=r\nWants=w\nAfter=a\n"
				   "[Service]\nExec=/bin/x y\nEnvironment=A=1\nEnvironmentFile=/e\n"
				   "WorkingDirectory=/w\nUser=u\nGroup=g\nHealthCmd=/bin/h\n";
	static const char *const variants[] = {
	    "[Unit]\nDescription=D\n",
	    "[Unit]\nRequires=r2\n",
	    "[Unit]\nWants=w2\n",
	    "[Unit]\nAfter=a2\n",
	    "Exec=/bin/x z\n",
	    "Type=notify\n",
	    "Environment=A=2\n",
	    "EnvironmentFile=/f\n",
	    "WorkingDirectory=/v\n",
	    "User=v\n",
	    "Group=h\n",
	    "Restart=no\n",
	    "RestartSec=1s\n",
	    "RestartMaxSec=1min\n",
	    "StartLimitBurst=6\n",
	    "StartLimitIntervalSec=1s\n",
	    "StopSignal=INT\n",
	    "StopTimeoutSec=1s\n",
	    "ReadyTimeoutSec=1s\n",
	    "WatchdogSec=1s\n",
	    "HealthCmd=/bin/i\n",
	    "HealthIntervalSec=1s\n",
	    "HealthTimeoutSec=1s\n",
	    "HealthRetries=1\n",
	    "StandardOutput=null\n",
	    "StandardError=null\n",
	    "ExitWithUnit=yes\n",
	    "[Unit]\nDescription=\n",
	    "Exec=/bin/x y z\n",
	};
	struct unit_config *a = parse_ok(base), *b = parse_ok(base);
	char text[1024];

	ck_assert(unit_config_equal(a, b));
	ck_assert(unit_config_equal(b, a));
	free(b->path);
	b->path = strdup("/elsewhere/t.unit");
	ck_assert(!unit_config_equal(a, b));
	drop(b);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(text, sizeof(text), "%s%s%s", base,
			 strncmp(variants[i], "[Unit]", 6) ? "[Service]\n" : "", variants[i]);
		b = parse_ok(text);
		ck_assert_msg(!unit_config_equal(a, b), "equal despite %s", variants[i]);
		ck_assert_msg(!unit_config_equal(b, a), "equal despite %s", variants[i]);
		drop(b);
	}
	/* the same settings spelled differently are equal */
	b = parse_ok("[Service]\nHealthCmd=/bin/h\nUser=u\nGroup=g\nWorkingDirectory=/w\n"
		     "EnvironmentFile=/e\nEnvironment=A=0\nEnvironment=A=1\nExec='/bin/x' \"y\"\n"
		     "RestartSec=0.1s\n[Unit]\nAfter=a\nWants=w\nRequires=r r\nDescription=d\n");
	ck_assert(unit_config_equal(a, b));
	drop(b);
	drop(a);
}
END_TEST

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/test_units.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void write_unit(const char *name, const char *text)
{
	char file[128];

	snprintf(file, sizeof(file), "%s.unit", name);
	write_file(file, text, strlen(text));
}

START_TEST(test_parse_file)
{
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};
	char path[256];

	make_tmpdir();
	write_unit("f", "[Service]\nExec=/bin/true\n");
	snprintf(path, sizeof(path), "%s/f.unit", tmpdir);
	ck_assert_int_eq(unit_parse_file("f", path, &c, &pl), 0);
	ck_assert_uint_eq(pl.n, 0);
	ck_assert_str_eq(c->name, "f");
	ck_assert_str_eq(c->path, path);
	ck_assert_int_eq(c->dialect, UNIT_DIALECT_SUP);
	drop(c);
	snprintf(path, sizeof(path), "%s/none.unit", tmpdir);
	ck_assert_int_eq(unit_parse_file("none", path, &c, &pl), -1);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(pl.errors, 1);
	ck_assert(strstr(pl.v[0].text, "open ") && strstr(pl.v[0].text, "none.unit: No such file"));
	unit_problems_free(&pl);
	ck_assert_int_eq(unit_parse_string("bad/name", NULL, "", 0, &c, &pl), -1);
	ck_assert_str_eq(pl.v[0].text, "bad/name: 'bad/name' is not a valid unit name");
	unit_problems_free(&pl);
	ck_assert_int_eq(unit_parse_string("tmpl@", NULL, "", 0, &c, &pl), -1);
	ck_assert_str_eq(pl.v[0].text, "tmpl@: 'tmpl@' is not a valid unit name");
	unit_problems_free(&pl);
	rm_tmpdir();
}
END_TEST

START_TEST(test_set_load)
{
	struct unit_set set;
	struct sup_error *err = NULL;
	char path[256], target[256];
	char *big = malloc(1024 * 1024 + 2);

	make_tmpdir();
	write_unit("web", "[Service]\nExec=/bin/web\n");
	write_unit("db", "[Service]\nExec=/bin/db\nRestart=sometimes\n");
	write_unit("a@1", "[Service]\nExec=/bin/a\n");
	write_file("notes.txt", "x", 1);
	write_file("web.unit.bak", "x", 1);
	write_file("bad name.unit", "x", 1);
	write_file(".unit", "x", 1);
	/* exactly 1 MiB is fine, one more byte is not */
	memset(big, '#', 1024 * 1024 + 1);
	memcpy(big, "[Service]\nExec=/bin/big\n", 24);
	write_file("edge.unit", big, 1024 * 1024);
	write_file("huge.unit", big, 1024 * 1024 + 1);
	snprintf(path, sizeof(path), "%s/dir.unit", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/fifo.unit", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/link.unit", tmpdir);
	snprintf(target, sizeof(target), "%s/web.unit", tmpdir);
	ck_assert_int_eq(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/dangling.unit", tmpdir);
	ck_assert_int_eq(symlink("/nonexistent/x.unit", path), 0);

	ck_assert_int_eq(unit_set_load(tmpdir, &set, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(set.n, 9);
	static const char *const names[] = {"a@1",  "dangling", "db",	"dir", "edge",
					    "fifo", "huge",	"link", "web"};
	for (size_t i = 0; i < set.n; i++) {
		ck_assert_str_eq(set.v[i].name, names[i]);
		ck_assert((set.v[i].config == NULL) == (set.v[i].error != NULL));
	}
	ck_assert_ptr_nonnull(unit_set_find(&set, "web")->config);
	ck_assert_str_eq(unit_set_find(&set, "web")->config->exec.v[0], "/bin/web");
	ck_assert_ptr_nonnull(unit_set_find(&set, "link")->config);
	ck_assert_ptr_nonnull(unit_set_find(&set, "edge")->config);
	ck_assert_ptr_null(unit_set_find(&set, "notes"));
	ck_assert_ptr_null(unit_set_find(&set, "nope"));

	snprintf(path, sizeof(path),
		 "%s/db.unit:3: Restart: 'sometimes' is not valid; allowed: " RESTARTS, tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "db")->error, path);
	snprintf(path, sizeof(path),
		 "%s/huge.unit: 1048577 bytes; allowed: a unit file of at most 1 MiB", tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "huge")->error, path);
	snprintf(path, sizeof(path), "%s/dir.unit: not a regular file; allowed: a unit file",
		 tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "dir")->error, path);
	snprintf(path, sizeof(path), "%s/fifo.unit: not a regular file; allowed: a unit file",
		 tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "fifo")->error, path);
	snprintf(path, sizeof(path), "open %s/dangling.unit: No such file or directory", tmpdir);
	ck_assert_str_eq(unit_set_find(&set, "dangling")->error, path);
	unit_set_free(&set);
	ck_assert_uint_eq(set.n, 0);

	snprintf(path, sizeof(path), "%s/nonexistent", tmpdir);
	ck_assert_int_eq(unit_set_load(path, &set, &err), -1);
	ck_assert_int_eq(err->errnum, ENOENT);
	ck_assert(strstr(err->msg, "open units directory "));
	sup_error_clear(&err);
	ck_assert_uint_eq(set.n, 0);
	rm_tmpdir();
	free(big);
}
END_TEST

START_TEST(test_set_load_empty)
{
	struct unit_set set;
	struct sup_error *err = NULL;

	make_tmpdir();
	ck_assert_int_eq(unit_set_load(tmpdir, &set, &err), 0);
	ck_assert_uint_eq(set.n, 0);
	ck_assert_ptr_null(unit_set_find(&set, "x"));
	unit_set_check_deps(&set);
	unit_set_free(&set);
	rm_tmpdir();
}
END_TEST

/* ---- dependencies ---- */

static void load_units(struct unit_set *set, const char *const *units)
{
	struct sup_error *err = NULL;
	char text[512];

	make_tmpdir();
	for (size_t i = 0; units[i]; i += 2) {
		snprintf(text, sizeof(text), "[Unit]\n%s\n[Service]\nExec=/bin/true\n",
			 units[i + 1]);
		write_unit(units[i], text);
	}
	ck_assert_int_eq(unit_set_load(tmpdir, set, &err), 0);
	unit_set_check_deps(set);
	rm_tmpdir();
}

static void expect_good(struct unit_set *set, const char *name)
{
	struct unit_entry *e = unit_set_find(set, name);

	ck_assert_ptr_nonnull(e);
	ck_assert_msg(e->config && !e->error, "%s: %s", name, e->error);
}

/* error: what follows "DIR/NAME.unit:2: " (every dependency is on line 2 in load_units) */
static void expect_bad(struct unit_set *set, const char *name, const char *error)
{
	struct unit_entry *e = unit_set_find(set, name);
	char want[512];

	ck_assert_ptr_nonnull(e);
	ck_assert_msg(!e->config && e->error, "%s is not bad", name);
	snprintf(want, sizeof(want), "%s/%s.unit:2: %s", tmpdir, name, error);
	ck_assert_str_eq(e->error, want);
	ck_assert_uint_eq(e->problems.n, 1);
	ck_assert_uint_eq(e->problems.v[0].where, strlen(want) - strlen(error));
}

START_TEST(test_deps_missing_and_bad)
{
	static const char *const units[] = {
	    "orphan", "Requires=nosuch",
	    "loose",  "Wants=nosuch-w\nAfter=nosuch-a",
	    "fine",   "",
	    "user",   "Requires=fine",
	    "broken", "Requires=fine bad/name",
	    "needy",  "Requires=fine broken",
	    NULL,
	};
	struct unit_set set;

	load_units(&set, units);
	expect_bad(&set, "orphan", "Requires: 'nosuch' does not exist");
	expect_good(&set, "loose");
	expect_good(&set, "fine");
	expect_good(&set, "user");
	ck_assert(strstr(unit_set_find(&set, "broken")->error,
			 "broken.unit:2: Requires: 'bad/name' is not a valid unit name"));
	expect_bad(&set, "needy", "Requires: 'broken' is a bad unit");
	unit_set_free(&set);
}
END_TEST

START_TEST(test_deps_transitive)
{
	static const char *const units[] = {
	    "a", "Requires=b", "b", "Requires=c", "c",	"Requires=d", "d", "Requires=gone",
	    "e", "After=d",    "f", "Wants=a",	  NULL,
	};
	struct unit_set set;

	load_units(&set, units);
	expect_bad(&set, "d", "Requires: 'gone' does not exist");
	expect_bad(&set, "c", "Requires: 'd' is a bad unit");
	expect_bad(&set, "b", "Requires: 'c' is a bad unit");
	expect_bad(&set, "a", "Requires: 'b' is a bad unit");
	expect_good(&set, "e"); /* After= of a bad unit orders nothing */
	expect_good(&set, "f"); /* Wants= of a bad unit is fine */
	unit_set_free(&set);
}
END_TEST

START_TEST(test_deps_cycles)
{
	static const char *const units[] = {
	    "ring-one", "Requires=ring-two",
	    "ring-two", "Requires=ring-one",
	    "x",	"After=y",
	    "y",	"Requires=z",
	    "z",	"After=x",
	    "self",	"After=self",
	    "tail",	"Requires=ring-one",
	    "later",	"After=x",
	    "w1",	"Wants=w2",
	    "w2",	"Wants=w1",
	    "ok",	"Requires=later\nAfter=w1 w2",
	    NULL,
	};
	struct unit_set set;

	load_units(&set, units);
	expect_bad(&set, "ring-one", "Requires: ordering cycle: ring-one -> ring-two -> ring-one");
	expect_bad(&set, "ring-two", "Requires: ordering cycle: ring-two -> ring-one -> ring-two");
	expect_bad(&set, "x", "After: ordering cycle: x -> y -> z -> x");
	expect_bad(&set, "y", "Requires: ordering cycle: y -> z -> x -> y");
	expect_bad(&set, "z", "After: ordering cycle: z -> x -> y -> z");
	expect_bad(&set, "self", "After: ordering cycle: self -> self");
	expect_bad(&set, "tail", "Requires: 'ring-one' is a bad unit");
	expect_good(&set, "later"); /* only ordered after a cycle member: nothing to wait for */
	expect_good(&set, "w1");    /* Wants= orders nothing, so no cycle */
	expect_good(&set, "w2");
	expect_good(&set, "ok");
	unit_set_free(&set);
}
END_TEST

/* Two cycles sharing a unit: each unit names a shortest cycle through it. */
START_TEST(test_deps_shared_cycles)
{
	static const char *const units[] = {
	    "hub", "After=p q", "p", "Requires=hub", "q", "After=r", "r", "After=hub", NULL,
	};
	struct unit_set set;

	load_units(&set, units);
	expect_bad(&set, "hub", "After: ordering cycle: hub -> p -> hub");
	expect_bad(&set, "p", "Requires: ordering cycle: p -> hub -> p");
	expect_bad(&set, "q", "After: ordering cycle: q -> r -> hub -> q");
	expect_bad(&set, "r", "After: ordering cycle: r -> hub -> q -> r");
	unit_set_free(&set);
}
END_TEST

/* A long chain: no recursion, so no stack to run out of. */
START_TEST(test_deps_long_chain)
{
	struct unit_set set = {0};
	size_t n = 1000;

	set.v = calloc(n, sizeof(*set.v));
	set.n = n;
	for (size_t i = 0; i < n; i++) {
		struct unit_entry *e = &set.v[i];
		snprintf(e->name, sizeof(e->name), "u%05zu", i);
		e->config = calloc(1, sizeof(*e->config));
		unit_config_defaults(e->config);
		if (i + 1 < n) {
			char dep[16];
			snprintf(dep, sizeof(dep), "u%05zu", i + 1);
			strv_push(&e->config->requires, dep);
		} else {
			strv_push(&e->config->after, "u00000"); /* closes one big cycle */
		}
	}
	unit_set_check_deps(&set);
	for (size_t i = 0; i < n; i++)
		ck_assert_ptr_nonnull(set.v[i].error);
	ck_assert(strncmp(set.v[0].error, "u00000: Requires: ordering cycle: u00000 -> u00001 -> ",
			  54) == 0);
	unit_set_free(&set);
}
END_TEST

/* ---- strv and errors ---- */

START_TEST(test_strv)
{
	struct strv a = {0}, b = {0};
	char *s;

	ck_assert_ptr_null(a.v);
	s = strv_join(&a, ",");
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_int_eq(strv_push(&a, "x"), 0);
	ck_assert_int_eq(strv_push_take(&a, strdup("y")), 0);
	ck_assert_int_eq(strv_push(&a, ""), 0);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_ptr_null(a.v[3]);
	ck_assert(strv_contains(&a, "y"));
	ck_assert(strv_contains(&a, ""));
	ck_assert(!strv_contains(&a, "z"));
	s = strv_join(&a, ", ");
	ck_assert_str_eq(s, "x, y, ");
	free(s);
	ck_assert_int_eq(strv_copy(&b, &a), 0);
	ck_assert(strv_equal(&a, &b));
	ck_assert(a.v[0] != b.v[0]);
	strv_push(&b, "w");
	ck_assert(!strv_equal(&a, &b));
	strv_free(&b);
	ck_assert(!strv_equal(&a, &b));
	ck_assert(strv_equal(&b, &(struct strv){0}));
	strv_free(&a);
	ck_assert_ptr_null(a.v);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_int_eq(strv_push_take(&a, NULL), -1);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(test_errors)
{
	struct sup_error *err = NULL;

	errno = EBADF;
	ck_assert_int_eq(sup_error_set(&err, ENOENT, "open %s", "/x"), -1);
	ck_assert_int_eq(errno, EBADF); /* preserved */
	ck_assert_int_eq(err->errnum, ENOENT);
	ck_assert_str_eq(err->msg, "open /x: No such file or directory");
	/* the first error stays */
	ck_assert_int_eq(sup_error_set(&err, 0, "later"), -1);
	ck_assert_str_eq(err->msg, "open /x: No such file or directory");
	ck_assert_int_eq(sup_error_wrap(&err, "load unit %s", "web"), -1);
	ck_assert_str_eq(err->msg, "load unit web: open /x: No such file or directory");
	ck_assert_int_eq(err->errnum, ENOENT);
	sup_error_clear(&err);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(sup_error_set(&err, 0, "plain %d", 7), -1);
	ck_assert_str_eq(err->msg, "plain 7");
	ck_assert_int_eq(err->errnum, 0);
	sup_error_free(err);
	/* no error object wanted, or none to wrap */
	ck_assert_int_eq(sup_error_set(NULL, EIO, "x"), -1);
	err = NULL;
	ck_assert_int_eq(sup_error_wrap(&err, "ctx"), -1);
	ck_assert_ptr_null(err);
	sup_error_free(NULL);
	sup_error_clear(NULL);
}
END_TEST

/* ---- [Resources] ---- */

START_TEST(test_resources_defaults_and_keys)
{
	struct unit_config *c = parse_ok(EXEC);

	ck_assert_uint_eq(c->res.cpu_weight, 0);
	ck_assert_uint_eq(c->res.cpu_quota_pct, 0);
	ck_assert_ptr_null(c->res.cpu_set);
	ck_assert(c->res.memory_max == UNIT_RES_UNSET);
	ck_assert(c->res.memory_high == UNIT_RES_UNSET);
	ck_assert(c->res.memory_swap_max == UNIT_RES_UNSET);
	ck_assert(c->res.pids_max == UNIT_RES_UNSET);
	ck_assert_uint_eq(c->res.io_weight, 0);
	drop(c);

	c = parse_ok(EXEC "[Resources]\nCPUWeight=200\nCPUQuota=250%\nCPUSet=0-1,3\n"
			  "MemoryMax=64M\nMemoryHigh=infinity\nMemorySwapMax=0\nPidsMax=32\n"
			  "IOWeight=10000\nIOReadBandwidthMax=/dev/vda 10M\n"
			  "IOReadBandwidthMax=/dev/vdb 1G\nIOReadBandwidthMax=/dev/vda 5M\n"
			  "IOWriteBandwidthMax=/dev/vda infinity\n");
	ck_assert_uint_eq(c->res.cpu_weight, 200);
	ck_assert_uint_eq(c->res.cpu_quota_pct, 250);
	ck_assert_str_eq(c->res.cpu_set, "0-1,3");
	ck_assert(c->res.memory_max == 64ULL << 20);
	ck_assert(c->res.memory_high == SIZE_INFINITY);
	ck_assert(c->res.memory_swap_max == 0);
	ck_assert(c->res.pids_max == 32);
	ck_assert_uint_eq(c->res.io_weight, 10000);
	/* handed over parsed: a later entry for the same device replaced the earlier one */
	ck_assert_uint_eq(c->res.io_read_bw.n, 2);
	ck_assert_str_eq(c->res.io_read_bw.v[0].path, "/dev/vda");
	ck_assert(c->res.io_read_bw.v[0].bytes == 5ULL << 20);
	ck_assert_str_eq(c->res.io_read_bw.v[1].path, "/dev/vdb");
	ck_assert(c->res.io_read_bw.v[1].bytes == 1ULL << 30);
	ck_assert_uint_eq(c->res.io_write_bw.n, 1);
	ck_assert_str_eq(c->res.io_write_bw.v[0].path, "/dev/vda");
	ck_assert(c->res.io_write_bw.v[0].bytes == SIZE_INFINITY);
	drop(c);

	c = parse_ok(EXEC "[Resources]\nPidsMax=infinity\nMemoryMax=1G\nMemoryMax=\n"
			  "IOReadBandwidthMax=/dev/vda 1M\nIOReadBandwidthMax=\n");
	ck_assert(c->res.pids_max == SIZE_INFINITY);
	ck_assert(c->res.memory_max == UNIT_RES_UNSET);
	ck_assert_uint_eq(c->res.io_read_bw.n, 0);
	drop(c);
}
END_TEST

START_TEST(test_resources_bad_values)
{
#define SIZE_ALLOWED "a size in bytes (K, M, G, T: powers of 1024, e.g. 512M), or infinity"
#define BW_ALLOWED                                                                                 \
	"an absolute device path and a rate in bytes per second (K, M, G), e.g. /dev/vda 10M"
	static const struct {
		const char *line, *msg;
	} cases[] = {
	    {"CPUWeight=0", "CPUWeight: '0' is out of range; allowed: a number from 1 to 10000"},
	    {"CPUWeight=10001",
	     "CPUWeight: '10001' is out of range; allowed: a number from 1 to 10000"},
	    {"CPUWeight=high", "CPUWeight: 'high' is not valid; allowed: a number from 1 to 10000"},
	    {"CPUQuota=50", "CPUQuota: '50' is not valid; allowed: a percentage of one CPU from 1% "
			    "to 100000%, e.g. 50% or 200%"},
	    {"CPUQuota=0%", "CPUQuota: '0%' is out of range; allowed: a percentage of one CPU from "
			    "1% to 100000%, e.g. 50% or 200%"},
	    {"CPUQuota=12.5%", "CPUQuota: '12.5%' is not valid; allowed: a percentage of one CPU "
			       "from 1% to 100000%, e.g. 50% or 200%"},
	    {"CPUSet=1-0", "CPUSet: '1-0' is not valid; allowed: CPU numbers and ranges below "
			   "4096, comma-separated, e.g. 0-1,3"},
	    {"CPUSet=0,,1", "CPUSet: '0,,1' is not valid; allowed: CPU numbers and ranges below "
			    "4096, comma-separated, e.g. 0-1,3"},
	    {"CPUSet=all", "CPUSet: 'all' is not valid; allowed: CPU numbers and ranges below "
			   "4096, comma-separated, e.g. 0-1,3"},
	    {"CPUSet=5000", "CPUSet: '5000' is not valid; allowed: CPU numbers and ranges below "
			    "4096, comma-separated, e.g. 0-1,3"},
	    {"MemoryMax=lots", "MemoryMax: 'lots' is not valid; allowed: " SIZE_ALLOWED},
	    {"MemoryMax=-1", "MemoryMax: '-1' is not valid; allowed: " SIZE_ALLOWED},
	    {"MemoryMax=64MB", "MemoryMax: '64MB' is not valid; allowed: " SIZE_ALLOWED},
	    {"MemoryHigh=99999999999E",
	     "MemoryHigh: '99999999999E' is too large; allowed: " SIZE_ALLOWED},
	    {"MemorySwapMax=1.5G", "MemorySwapMax: '1.5G' is not valid; allowed: " SIZE_ALLOWED},
	    {"PidsMax=0",
	     "PidsMax: '0' is out of range; allowed: a number of processes from 1, or infinity"},
	    {"PidsMax=many",
	     "PidsMax: 'many' is not valid; allowed: a number of processes from 1, or infinity"},
	    {"PidsMax=99999999999999999999999",
	     "PidsMax: '99999999999999999999999' is too large; allowed: a number of processes from "
	     "1, or infinity"},
	    {"IOWeight=0", "IOWeight: '0' is out of range; allowed: a number from 1 to 10000"},
	    {"IOWeight=1e3", "IOWeight: '1e3' is not valid; allowed: a number from 1 to 10000"},
	    {"IOReadBandwidthMax=/dev/vda", "IOReadBandwidthMax: '/dev/vda' is not a device path "
					    "and a rate; allowed: " BW_ALLOWED},
	    {"IOReadBandwidthMax=vda 10M",
	     "IOReadBandwidthMax: 'vda 10M' is not a device path and a rate; allowed: " BW_ALLOWED},
	    {"IOWriteBandwidthMax=/dev/vda fast",
	     "IOWriteBandwidthMax: 'fast' is not a valid rate; allowed: " BW_ALLOWED},
	    {"IOWriteBandwidthMax=/dev/vda 0",
	     "IOWriteBandwidthMax: '0' is not a valid rate; allowed: " BW_ALLOWED},
	};
	char text[512], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), EXEC "[Resources]\n%s\n", cases[i].line);
		snprintf(want, sizeof(want), PATH ":4: %s", cases[i].msg);
		expect_error(text, want);
	}
	/* a [Service] key in [Resources] says where it belongs */
	expect_error_part(EXEC "[Resources]\nUser=x\n",
			  PATH ":4: User: unknown key in [Resources] (it belongs in [Service])");
}
END_TEST

START_TEST(test_resources_equal)
{
	struct unit_config *a = parse_ok(EXEC "[Resources]\nMemoryMax=64M\n");
	struct unit_config *b = parse_ok(EXEC "[Resources]\nMemoryMax=128M\n");
	struct unit_config *d =
	    parse_ok("[Service]\nExec=/bin/false\n[Resources]\nMemoryMax=128M\n");

	ck_assert(!unit_config_equal(a, b));
	ck_assert(unit_config_equal_but_resources(a, b));
	ck_assert(!unit_resources_equal(&a->res, &b->res));
	ck_assert(!unit_config_equal_but_resources(b, d));
	ck_assert(unit_resources_equal(&b->res, &d->res));
	drop(a);
	drop(b);
	drop(d);
}
END_TEST

static Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *parse = tcase_create("parse"), *values = tcase_create("values"),
	      *syntax = tcase_create("syntax"), *sets = tcase_create("sets"),
	      *helpers = tcase_create("helpers");

	tcase_add_test(parse, test_defaults);
	tcase_add_test(parse, test_unit_section_keys);
	tcase_add_test(parse, test_service_keys);
	tcase_add_test(parse, test_enum_values);
	tcase_add_test(parse, test_user_group_values);
	tcase_add_test(parse, test_bad_values);
	tcase_add_test(parse, test_resources_defaults_and_keys);
	tcase_add_test(parse, test_resources_bad_values);
	tcase_add_test(parse, test_resources_equal);
	tcase_add_test(parse, test_bad_value_shown_escaped);
	tcase_add_test(parse, test_lists_accumulate_and_reset);
	tcase_add_test(parse, test_scalar_last_wins_and_empty_resets);
	tcase_add_test(parse, test_cross_checks);
	tcase_add_test(parse, test_equality);
	suite_add_tcase(s, parse);

	tcase_add_test(values, test_argv_quoting);
	tcase_add_test(values, test_argv_empty_and_append);
	tcase_add_test(values, test_durations);
	tcase_add_test(values, test_sizes);
	tcase_add_test(values, test_signals);
	tcase_add_test(values, test_booleans);
	tcase_add_test(values, test_names);
	suite_add_tcase(s, values);

	tcase_add_test(syntax, test_unknown_section);
	tcase_add_test(syntax, test_container);
	tcase_add_test(syntax, test_unknown_key);
	tcase_add_test(syntax, test_line_syntax);
	tcase_add_test(syntax, test_nul_byte);
	tcase_add_test(syntax, test_every_problem_in_line_order);
	tcase_add_test(syntax, test_problem_cap);
	tcase_add_test(syntax, test_inline_comments);
	tcase_add_test(syntax, test_indentation_and_continuation);
	tcase_add_test(syntax, test_long_lines);
	tcase_add_test(syntax, test_crlf_bom_and_blank_lines);
	suite_add_tcase(s, syntax);

	tcase_add_test(sets, test_parse_file);
	tcase_add_test(sets, test_set_load);
	tcase_add_test(sets, test_set_load_empty);
	tcase_add_test(sets, test_deps_missing_and_bad);
	tcase_add_test(sets, test_deps_transitive);
	tcase_add_test(sets, test_deps_cycles);
	tcase_add_test(sets, test_deps_shared_cycles);
	tcase_add_test(sets, test_deps_long_chain);
	tcase_set_timeout(sets, 60);
	suite_add_tcase(s, sets);

	tcase_add_test(helpers, test_strv);
	tcase_add_test(helpers, test_errors);
	suite_add_tcase(s, helpers);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(units_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
