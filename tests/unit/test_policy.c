/* policy: Restart= coverage, restart backoff, start rate limit, exit status. */
#include <check.h>
#include <signal.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"

#define MS(x)  ((uint64_t)(x)*USEC_PER_MSEC)
#define SEC(x) ((uint64_t)(x)*USEC_PER_SEC)

/* The spec's defaults, set by hand so this suite does not depend on units/. */
static struct unit_config spec_defaults(void)
{
	struct unit_config c;

	memset(&c, 0, sizeof(c));
	c.restart = UNIT_RESTART_ON_FAILURE;
	c.restart_usec = MS(100);
	c.restart_max_usec = SEC(30);
	c.start_limit_burst = 5;
	c.start_limit_interval_usec = SEC(60);
	return c;
}

/* Restart= x exit kind, as the spec's table says (on-abnormal also covers unhealthy); the
 * last three are systemd's. */
#define KINDS (EXIT_KIND_STOPPED + 1)
static const bool expect_restart[UNIT_RESTART_ON_ABORT + 1][KINDS] = {
    [UNIT_RESTART_NO] = {false},
    [UNIT_RESTART_ON_FAILURE] =
	{
	    [EXIT_KIND_CODE] = true,
	    [EXIT_KIND_SIGNAL] = true,
	    [EXIT_KIND_CLEAN_SIGNAL] = true,
	    [EXIT_KIND_TIMEOUT] = true,
	    [EXIT_KIND_WATCHDOG] = true,
	    [EXIT_KIND_UNHEALTHY] = true,
	    [EXIT_KIND_SPAWN] = true,
	},
    [UNIT_RESTART_ON_ABNORMAL] =
	{
	    [EXIT_KIND_SIGNAL] = true,
	    [EXIT_KIND_CLEAN_SIGNAL] = true,
	    [EXIT_KIND_TIMEOUT] = true,
	    [EXIT_KIND_WATCHDOG] = true,
	},
    [UNIT_RESTART_ALWAYS] =
	{
	    [EXIT_KIND_SUCCESS] = true,
	    [EXIT_KIND_CODE] = true,
	    [EXIT_KIND_SIGNAL] = true,
	    [EXIT_KIND_CLEAN_SIGNAL] = true,
	    [EXIT_KIND_TIMEOUT] = true,
	    [EXIT_KIND_WATCHDOG] = true,
	    [EXIT_KIND_UNHEALTHY] = true,
	    [EXIT_KIND_SPAWN] = true,
	},
    [UNIT_RESTART_ON_SUCCESS] = {[EXIT_KIND_SUCCESS] = true, [EXIT_KIND_CLEAN_SIGNAL] = true},
    [UNIT_RESTART_ON_WATCHDOG] = {[EXIT_KIND_WATCHDOG] = true},
    [UNIT_RESTART_ON_ABORT] = {[EXIT_KIND_SIGNAL] = true},
};

static const char *const restart_names[] = {"no",	  "on-failure",	 "on-abnormal", "always",
					    "on-success", "on-watchdog", "on-abort"};

START_TEST(test_should_restart_matrix)
{
	for (int r = UNIT_RESTART_NO; r <= UNIT_RESTART_ON_ABORT; r++)
		for (int k = EXIT_KIND_SUCCESS; k < KINDS; k++)
			ck_assert_msg(policy_should_restart(r, k) == expect_restart[r][k],
				      "Restart=%s kind %d: expected %d", restart_names[r], k,
				      expect_restart[r][k]);
}
END_TEST

START_TEST(test_classify)
{
	struct unit_exit_set ok = {0}, prevent = {0};

	ck_assert_int_eq(policy_classify(W_EXITCODE(0, 0), NULL), EXIT_KIND_SUCCESS);
	ck_assert_int_eq(policy_classify(W_EXITCODE(3, 0), NULL), EXIT_KIND_CODE);
	ck_assert_int_eq(policy_classify(SIGKILL, NULL), EXIT_KIND_SIGNAL);
	ck_assert_int_eq(policy_classify(SIGTERM, NULL), EXIT_KIND_CLEAN_SIGNAL);
	ok.codes[0] = 1u << 3; /* SuccessExitStatus=3 SIGUSR1 */
	ok.signals = 1ULL << (SIGUSR1 - 1);
	ck_assert_int_eq(policy_classify(W_EXITCODE(3, 0), &ok), EXIT_KIND_SUCCESS);
	ck_assert_int_eq(policy_classify(SIGUSR1, &ok), EXIT_KIND_SUCCESS);
	ck_assert_int_eq(policy_classify(W_EXITCODE(4, 0), &ok), EXIT_KIND_CODE);
	prevent.codes[0] = 1u << 5; /* RestartPreventExitStatus=5 */
	ck_assert(policy_prevents_restart(W_EXITCODE(5, 0), &prevent));
	ck_assert(!policy_prevents_restart(W_EXITCODE(6, 0), &prevent));
	ck_assert(!policy_prevents_restart(W_EXITCODE(5, 0), NULL));
}
END_TEST

START_TEST(test_should_restart_out_of_range)
{
	ck_assert(!policy_should_restart((enum unit_restart)99, EXIT_KIND_CODE));
	ck_assert(!policy_should_restart(UNIT_RESTART_ALWAYS, (enum exit_kind)99));
}
END_TEST

START_TEST(test_is_failure)
{
	ck_assert(!policy_is_failure(EXIT_KIND_SUCCESS));
	for (int k = EXIT_KIND_CODE; k <= EXIT_KIND_SPAWN; k++)
		ck_assert_msg(policy_is_failure(k), "kind %d", k);
	ck_assert(!policy_is_failure(EXIT_KIND_STOPPED));
}
END_TEST

/* A unit that crashes 1s after each start: delays double from 100ms up to the 30s cap. */
START_TEST(test_backoff_sequence)
{
	struct unit_config c = spec_defaults();
	static const uint64_t want[] = {MS(100),  MS(200),   MS(400),	MS(800), MS(1600), MS(3200),
					MS(6400), MS(12800), MS(25600), SEC(30), SEC(30),  SEC(30)};
	uint64_t clock = 0, delay = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t start = clock + delay;

		clock = start + SEC(1); /* the run */
		delay = policy_restart_delay(&c, delay, clock - start);
		ck_assert_msg(delay == want[i], "restart %zu: %llu usec, want %llu", i + 1,
			      (unsigned long long)delay, (unsigned long long)want[i]);
	}
}
END_TEST

START_TEST(test_backoff_reset_after_long_run)
{
	struct unit_config c = spec_defaults();

	ck_assert_uint_eq(policy_restart_delay(&c, SEC(30), SEC(31)), MS(100));
	ck_assert_uint_eq(policy_restart_delay(&c, MS(3200), SEC(30) + 1), MS(100));
	/* exactly RestartMaxSec is not longer than it: still doubling */
	ck_assert_uint_eq(policy_restart_delay(&c, MS(3200), SEC(30)), MS(6400));
	/* and the sequence starts over from there */
	ck_assert_uint_eq(policy_restart_delay(&c, MS(100), SEC(1)), MS(200));
}
END_TEST

START_TEST(test_backoff_edges)
{
	struct unit_config c = spec_defaults();

	/* RestartSec=0: at once (a microsecond) at first, then doubling like any delay, so a
	 * crash loop without a start limit backs off */
	c.restart_usec = 0;
	ck_assert_uint_eq(policy_restart_delay(&c, 0, SEC(1)), 1);
	ck_assert_uint_eq(policy_restart_delay(&c, 1, SEC(1)), 2);
	ck_assert_uint_eq(policy_restart_delay(&c, MS(500), SEC(1)), SEC(1));
	ck_assert_uint_eq(policy_restart_delay(&c, SEC(20), SEC(1)), SEC(30));
	/* and RestartMaxSec=0 too: the delay still reaches 10 ms (at most 100 restarts/s) */
	c.restart_max_usec = 0;
	ck_assert_uint_eq(policy_restart_delay(&c, MS(8), MS(1)), MS(10));
	ck_assert_uint_eq(policy_restart_delay(&c, MS(10), MS(1)), MS(10));
	ck_assert_uint_eq(policy_restart_delay(&c, MS(10), MS(11)), 1); /* a long run resets */
	c.restart_usec = MS(1);
	c.restart_max_usec = MS(1);
	ck_assert_uint_eq(policy_restart_delay(&c, MS(1), 0), MS(2));

	/* RestartMaxSec=infinity: doubling saturates instead of wrapping */
	c.restart_usec = MS(100);
	c.restart_max_usec = USEC_INFINITY;
	ck_assert_uint_eq(policy_restart_delay(&c, UINT64_MAX / 2 + 1, SEC(1)), UINT64_MAX);
	ck_assert_uint_eq(policy_restart_delay(&c, UINT64_MAX, SEC(1)), UINT64_MAX);
	ck_assert_uint_eq(policy_restart_delay(&c, UINT64_MAX / 2, SEC(1)), UINT64_MAX - 1);

	/* RestartMaxSec below RestartSec: RestartSec every time */
	c.restart_usec = SEC(10);
	c.restart_max_usec = SEC(1);
	ck_assert_uint_eq(policy_restart_delay(&c, 0, MS(10)), SEC(10));
	ck_assert_uint_eq(policy_restart_delay(&c, SEC(10), MS(10)), SEC(10));

	/* a previous delay below RestartSec (config changed): at least RestartSec */
	c = spec_defaults();
	c.restart_usec = SEC(2);
	ck_assert_uint_eq(policy_restart_delay(&c, MS(100), SEC(1)), SEC(2));
	/* cap exactly reached */
	ck_assert_uint_eq(policy_restart_delay(&c, SEC(15), SEC(1)), SEC(30));
	ck_assert_uint_eq(policy_restart_delay(&c, SEC(16), SEC(1)), SEC(30));
}
END_TEST

START_TEST(test_start_limit_burst)
{
	struct start_limit sl;
	uint64_t interval = SEC(60);

	ck_assert_int_eq(start_limit_init(&sl, 5), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(start_limit_allow(&sl, interval, SEC(i)), "start %d", i + 1);
	ck_assert(!start_limit_allow(&sl, interval, SEC(5)));
	ck_assert(!start_limit_allow(&sl, interval, SEC(60) - 1));
	/* the window slid past the first start (t=0): one more */
	ck_assert(start_limit_allow(&sl, interval, SEC(60)));
	/* refused attempts recorded nothing: the next oldest is t=1s */
	ck_assert(!start_limit_allow(&sl, interval, SEC(60) + MS(500)));
	ck_assert(start_limit_allow(&sl, interval, SEC(61)));
	ck_assert(start_limit_allow(&sl, interval, SEC(62)));
	ck_assert(!start_limit_allow(&sl, interval, SEC(62)));
	start_limit_free(&sl);
}
END_TEST

/* The supervisor's loop: a unit crashing at once, restarted every 100ms. */
START_TEST(test_start_limit_crash_loop)
{
	struct unit_config c = spec_defaults();
	struct start_limit sl;
	uint64_t clock = SEC(1000);
	int starts = 0;

	ck_assert_int_eq(start_limit_init(&sl, c.start_limit_burst), 0);
	while (start_limit_allow(&sl, c.start_limit_interval_usec, clock) && starts < 100) {
		starts++;
		clock += MS(100);
	}
	ck_assert_int_eq(starts, 5);
	/* `supctl reset`: a full burst again at once */
	start_limit_reset(&sl);
	for (int i = 0; i < 5; i++)
		ck_assert(start_limit_allow(&sl, c.start_limit_interval_usec, clock));
	ck_assert(!start_limit_allow(&sl, c.start_limit_interval_usec, clock));
	start_limit_free(&sl);
}
END_TEST

START_TEST(test_start_limit_unlimited_and_small)
{
	struct start_limit sl;

	ck_assert_int_eq(start_limit_init(&sl, 0), 0);
	for (int i = 0; i < 10000; i++)
		ck_assert(start_limit_allow(&sl, SEC(60), 0));
	start_limit_free(&sl);

	ck_assert_int_eq(start_limit_init(&sl, 1), 0);
	ck_assert(start_limit_allow(&sl, SEC(10), SEC(100)));
	ck_assert(!start_limit_allow(&sl, SEC(10), SEC(109)));
	ck_assert(start_limit_allow(&sl, SEC(10), SEC(110)));
	start_limit_free(&sl);

	/* interval 0: nothing is ever within it */
	ck_assert_int_eq(start_limit_init(&sl, 2), 0);
	for (int i = 0; i < 10; i++)
		ck_assert(start_limit_allow(&sl, 0, SEC(5)));
	/* a free'd limit is a harmless unlimited one, and free twice is fine */
	start_limit_free(&sl);
	ck_assert(start_limit_allow(&sl, SEC(60), 0));
	start_limit_free(&sl);
}
END_TEST

START_TEST(test_exit_status_codes)
{
	for (int code = 0; code <= 255; code++)
		ck_assert_int_eq(policy_exit_status(false, code), code);
}
END_TEST

START_TEST(test_exit_status_signals)
{
	ck_assert_int_eq(policy_exit_status(true, SIGHUP), 129);
	ck_assert_int_eq(policy_exit_status(true, SIGINT), 130);
	ck_assert_int_eq(policy_exit_status(true, SIGKILL), 137);
	ck_assert_int_eq(policy_exit_status(true, SIGSEGV), 139);
	ck_assert_int_eq(policy_exit_status(true, SIGTERM), 143);
	for (int sig = 1; sig <= 64; sig++) {
		int st = policy_exit_status(true, sig);

		ck_assert_int_eq(st, 128 + sig);
		ck_assert(st > 128 && st <= 255);
	}
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("restart");

	tcase_add_test(tc, test_should_restart_matrix);
	tcase_add_test(tc, test_should_restart_out_of_range);
	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_is_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_add_test(tc, test_backoff_sequence);
	tcase_add_test(tc, test_backoff_reset_after_long_run);
	tcase_add_test(tc, test_backoff_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("start_limit");
	tcase_add_test(tc, test_start_limit_burst);
	tcase_add_test(tc, test_start_limit_crash_loop);
	tcase_add_test(tc, test_start_limit_unlimited_and_small);
	suite_add_tcase(s, tc);

	tc = tcase_create("exit_status");
	tcase_add_test(tc, test_exit_status_codes);
	tcase_add_test(tc, test_exit_status_signals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
