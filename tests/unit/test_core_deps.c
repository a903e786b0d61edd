/*
 * core: dependency scheduling with fake effects: start order along Requires=/After=, Wants=,
 * a lost requirement, reverse stop order at shutdown, a requirement's restart, and the cost of
 * a pass: starting 2,000 units chained or fanned out looks at each unit a bounded number of
 * times (the scheduler once rescanned every unit on every change: O(units^2)).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/children.h"
#include "core/deps.h"
#include "core/service.h"
#include "core/state.h"
#include "fake_effects.h"
#include "supd.h"

START_TEST(test_chain_starts_in_order)
{
	LOAD("db", "[Service]\nExec=/bin/db\n", "cache",
	     "[Unit]\nRequires=db\n[Service]\nExec=/c\n", "web",
	     "[Unit]\nRequires=cache\n[Service]\nExec=/w\n");
	fx_start("web");
	ck_assert_uint_eq(fx_count(FX_SPAWN, NULL), 1);
	ck_assert_int_eq(fx_find(FX_SPAWN, "db", 0, 0), 0);
	ck_assert_str_eq(fx_state("web"), "starting"); /* queued */
	ck_assert_str_eq(fx_state("cache"), "starting");
	fx_execd("db");
	ck_assert_int_eq(fx_find(FX_SPAWN, "cache", 0, 0), 1);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "web"), 0);
	fx_execd("cache");
	ck_assert_int_eq(fx_find(FX_SPAWN, "web", 0, 0), 2);
	fx_execd("web");
	ck_assert_str_eq(fx_state("web"), "running");
}
END_TEST

START_TEST(test_after_orders_without_requiring)
{
	LOAD("y", "[Service]\nType=notify\nExec=/y\nRestart=no\n", "x",
	     "[Unit]\nAfter=y\nWants=y\n[Service]\nExec=/x\n");
	fx_start("x");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "x"), 0); /* y is on its way up */
	fx_execd("y");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "x"), 0); /* not ready yet */
	fx_exit("y", 1);
	ck_assert_str_eq(fx_state("y"), "failed");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "x"), 1); /* ordering only: x goes on */
}
END_TEST

START_TEST(test_lost_requirement_fails_the_dependant)
{
	LOAD("a", "[Service]\nExec=/a\nRestart=no\n", "b",
	     "[Unit]\nRequires=a\n[Service]\nExec=/b\n");
	fx_start("b");
	fx_execd("a");
	fx_execd("b");
	fx_exit("a", 1);
	ck_assert_str_eq(fx_state("a"), "failed");
	ck_assert_str_eq(fx_state("b"), "stopping");
	fx_killed("b", SIGTERM);
	ck_assert_str_eq(fx_state("b"), "failed");
	ck_assert_str_eq(fx_unit("b")->error, "required unit 'a' failed");
}
END_TEST

START_TEST(test_shutdown_stops_in_reverse_order)
{
	LOAD("a", "[Service]\nExec=/a\n", "b", "[Unit]\nRequires=a\n[Service]\nExec=/b\n", "c",
	     "[Unit]\nRequires=b\n[Service]\nExec=/c\n");
	fx_start("c");
	fx_execd("a");
	fx_execd("b");
	fx_execd("c");
	sup_shutdown(0);
	fx_pass();
	ck_assert_int_ge(fx_find(FX_KILL, "c", SIGTERM, 0), 0);
	ck_assert_int_eq(fx_find(FX_KILL, "b", SIGTERM, 0), -1);
	fx_killed("c", SIGTERM);
	ck_assert_int_ge(fx_find(FX_KILL, "b", SIGTERM, 0), 0);
	ck_assert_int_eq(fx_find(FX_KILL, "a", SIGTERM, 0), -1);
	fx_killed("b", SIGTERM);
	ck_assert_int_ge(fx_find(FX_KILL, "a", SIGTERM, 0), 0);
	fx_killed("a", SIGTERM);
	ck_assert_uint_eq(deps_active_units(), 0);
	/* nothing starts once shutdown has begun */
	ck_assert_int_eq(unit_start(fx_unit("a"), false, NULL), 0);
	fx_pass();
	ck_assert_uint_eq(fx_count(FX_SPAWN, "a"), 1);
}
END_TEST

START_TEST(test_requirement_restart_takes_dependants_down_and_up)
{
	LOAD("a", "[Service]\nExec=/a\nRestartSec=1s\n", "b",
	     "[Unit]\nRequires=a\n[Service]\nExec=/b\n");
	fx_start("b");
	fx_execd("a");
	fx_execd("b");
	fx_exit("a", 1); /* a restarts by policy */
	ck_assert_str_eq(fx_state("a"), "restarting");
	ck_assert_str_eq(fx_state("b"), "stopping");
	fx_killed("b", SIGTERM);
	ck_assert_str_eq(fx_state("b"), "starting"); /* queued until a is back */
	fx_advance(USEC_PER_SEC);
	fx_execd("a");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "b"), 2);
}
END_TEST

/* The dependant's starts that follow a requirement's restarts are not its own crash loop:
 * they do not count against its start limit (StartLimitBurst=2 here). */
START_TEST(test_requirement_restarts_do_not_count_against_the_dependant)
{
	LOAD("a", "[Service]\nExec=/a\n", "b",
	     "[Unit]\nRequires=a\n[Service]\nExec=/b\nStartLimitBurst=2\n");
	fx_start("b");
	fx_execd("a");
	fx_execd("b");
	for (int i = 0; i < 5; i++) {
		unit_restart(fx_unit("a"));
		fx_pass();
		fx_killed("a", SIGTERM);
		fx_killed("b", SIGTERM);
		fx_execd("a");
		fx_execd("b");
		ck_assert_str_eq(fx_state("b"), "running");
	}
	ck_assert_uint_eq(fx_count(FX_SPAWN, "b"), 6);
	ck_assert_uint_eq(unit_bad_transitions, 0);
}
END_TEST

/* A unit removed and added again while its old instance is still stopping: the new one waits
 * (it would share the old one's cgroup), and starts once the old one is freed. */
START_TEST(test_readded_unit_waits_for_the_removed_one)
{
	static const char text[] = "[Service]\nExec=/x\n";
	struct unit_problems pl = {0};
	struct unit_config *c = NULL;
	struct unit *old, *new;

	LOAD("x", text);
	fx_start("x");
	fx_execd("x");
	old = fx_unit("x");
	unit_stop(old);
	unit_mark_removed(old);
	fx_pass();
	ck_assert_int_eq(unit_parse_string("x", "/u/x.unit", text, strlen(text), &c, &pl), 0);
	unit_problems_free(&pl);
	new = unit_new("x", c, NULL);
	deps_resolve();
	ck_assert_ptr_nonnull(new);
	unit_start(new, false, NULL);
	fx_pass();
	ck_assert_str_eq(unit_state_name(new->state), "starting");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "x"), 1); /* only the old one's */
	ck_assert(sup_child_exited(fx_events[fx_find(FX_SPAWN, "x", 0, 0)].pid, SIGTERM));
	fx_pass();
	ck_assert_uint_eq(fx_count(FX_SPAWN, "x"), 2); /* the old one gone, the new one runs */
}
END_TEST

/* n units: u0 <- u1 <- ... (chain) or u0 <- every other (fan); everything started and up. */
static void boot(int n, bool chain)
{
	static char names[4000][16], texts[4000][96];
	const char **pairs = calloc((size_t)n * 2, sizeof(*pairs));

	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d", i);
		if (i == 0)
			snprintf(texts[i], sizeof(texts[i]), "[Service]\nExec=/u\n");
		else
			snprintf(texts[i], sizeof(texts[i]),
				 "[Unit]\nRequires=u%d\nAfter=u%d\n[Service]\nExec=/u\n",
				 chain ? i - 1 : 0, chain ? i - 1 : 0);
		pairs[2 * i] = names[i];
		pairs[2 * i + 1] = texts[i];
	}
	fx_load(pairs, (size_t)n * 2);
	free(pairs);
	sup_sched_steps = 0;
	for (int i = 0; i < n; i++)
		unit_start(fx_unit(names[i]), false, NULL);
	fx_pass();
	for (int i = 0; i < n; i++) {
		fx_execd(names[i]);
		ck_assert_str_eq(fx_state(names[i]), "running");
	}
}

START_TEST(test_scheduler_cost_is_linear)
{
	const int n = 2000;

	boot(n, true);
	/* each unit is looked at when it and when its neighbours change: a small constant */
	ck_assert_msg(sup_sched_steps < 20UL * n, "chain of %d: %lu steps", n, sup_sched_steps);
	fx_reset();
	boot(n, false);
	ck_assert_msg(sup_sched_steps < 20UL * n, "fan of %d: %lu steps", n, sup_sched_steps);
}
END_TEST

START_TEST(test_removed_unit_is_freed_once_down)
{
	LOAD("gone", "[Service]\nExec=/g\n");
	fx_start("gone");
	fx_execd("gone");
	unit_stop(fx_unit("gone"));
	unit_mark_removed(fx_unit("gone"));
	fx_pass();
	ck_assert_ptr_null(unit_find("gone"));
	ck_assert_uint_eq(supd->n_units, 1); /* still stopping */
	ck_assert_int_ge(fx_find(FX_KILL, "gone", SIGTERM, 0), 0);
	ck_assert(sup_child_exited(fx_events[fx_find(FX_SPAWN, "gone", 0, 0)].pid, SIGTERM));
	fx_pass();
	ck_assert_uint_eq(supd->n_units, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("core_deps");
	TCase *tc = tcase_create("deps");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chain_starts_in_order);
	tcase_add_test(tc, test_after_orders_without_requiring);
	tcase_add_test(tc, test_lost_requirement_fails_the_dependant);
	tcase_add_test(tc, test_shutdown_stops_in_reverse_order);
	tcase_add_test(tc, test_requirement_restart_takes_dependants_down_and_up);
	tcase_add_test(tc, test_requirement_restarts_do_not_count_against_the_dependant);
	tcase_add_test(tc, test_readded_unit_waits_for_the_removed_one);
	tcase_add_test(tc, test_scheduler_cost_is_linear);
	tcase_add_test(tc, test_removed_unit_is_freed_once_down);
	suite_add_tcase(s, tc);
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
