/*
 * Restart policy: which ends Restart= covers, the backoff between restarts, the start
 * rate limit and the exit status handed to our own parent. Pure: no I/O, no clock reads.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>

#include "policy.h"

#define KIND_BIT(k) (1u << (k))

/*
 * Restart= -> the exit kinds it restarts on. on-abnormal is exactly what the interface
 * spec lists: a signal, a timeout, the watchdog (as systemd's). A failed health check is not
 * among them: with on-abnormal an unhealthy unit keeps running, marked unhealthy. A clean
 * non-zero exit and a failed spawn (systemd's 203/EXEC) are on-failure only.
 */
#define SIGNALS (KIND_BIT(EXIT_KIND_SIGNAL) | KIND_BIT(EXIT_KIND_CLEAN_SIGNAL))

/* on-success, on-watchdog and on-abort are systemd's: a clean exit (0, SuccessExitStatus=, or
 * a clean signal), the watchdog only, an unclean signal only. */
static const unsigned restart_on[] = {
    [UNIT_RESTART_NO] = 0,
    [UNIT_RESTART_ON_FAILURE] = KIND_BIT(EXIT_KIND_CODE) | SIGNALS | KIND_BIT(EXIT_KIND_TIMEOUT) |
				KIND_BIT(EXIT_KIND_WATCHDOG) | KIND_BIT(EXIT_KIND_UNHEALTHY) |
				KIND_BIT(EXIT_KIND_SPAWN),
    [UNIT_RESTART_ON_ABNORMAL] =
	SIGNALS | KIND_BIT(EXIT_KIND_TIMEOUT) | KIND_BIT(EXIT_KIND_WATCHDOG),
    [UNIT_RESTART_ALWAYS] = KIND_BIT(EXIT_KIND_SUCCESS) | KIND_BIT(EXIT_KIND_CODE) | SIGNALS |
			    KIND_BIT(EXIT_KIND_TIMEOUT) | KIND_BIT(EXIT_KIND_WATCHDOG) |
			    KIND_BIT(EXIT_KIND_UNHEALTHY) | KIND_BIT(EXIT_KIND_SPAWN),
    [UNIT_RESTART_ON_SUCCESS] = KIND_BIT(EXIT_KIND_SUCCESS) | KIND_BIT(EXIT_KIND_CLEAN_SIGNAL),
    [UNIT_RESTART_ON_WATCHDOG] = KIND_BIT(EXIT_KIND_WATCHDOG),
    [UNIT_RESTART_ON_ABORT] = KIND_BIT(EXIT_KIND_SIGNAL),
};

bool policy_should_restart(enum unit_restart restart, enum exit_kind kind)
{
	if ((unsigned)restart >= sizeof(restart_on) / sizeof(restart_on[0]) ||
	    (unsigned)kind > EXIT_KIND_STOPPED)
		return false;
	return restart_on[restart] & KIND_BIT(kind);
}

bool policy_is_failure(enum exit_kind kind)
{
	return kind != EXIT_KIND_SUCCESS && kind != EXIT_KIND_STOPPED;
}

enum exit_kind policy_classify(int wstatus, const struct unit_exit_set *success)
{
	if (WIFEXITED(wstatus)) {
		int code = WEXITSTATUS(wstatus);
		return code == 0 || (success && unit_exit_set_has_code(success, code))
			   ? EXIT_KIND_SUCCESS
			   : EXIT_KIND_CODE;
	}
	if (success && unit_exit_set_has_signal(success, WTERMSIG(wstatus)))
		return EXIT_KIND_SUCCESS;
	switch (WTERMSIG(wstatus)) {
	case SIGHUP:
	case SIGINT:
	case SIGTERM:
	case SIGPIPE:
		return EXIT_KIND_CLEAN_SIGNAL;
	default:
		return EXIT_KIND_SIGNAL;
	}
}

bool policy_prevents_restart(int wstatus, const struct unit_exit_set *prevent)
{
	if (!prevent)
		return false;
	return WIFEXITED(wstatus) ? unit_exit_set_has_code(prevent, WEXITSTATUS(wstatus))
				  : unit_exit_set_has_signal(prevent, WTERMSIG(wstatus));
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;

	return m > c ? m : c;
}

/*
 * A RestartMaxSec= below RestartSec= cannot shorten the first delay: the cap is then
 * RestartSec= itself (systemd does the same with RestartMaxDelaySec=). Doubling saturates,
 * so an infinite cap never wraps to a short delay. RestartSec=0 starts from a microsecond
 * (at once, in practice), so that it doubles too, and the cap is never under 10 ms: a crash
 * loop with no start limit (StartLimitBurst=0) backs off instead of burning a CPU.
 */
uint64_t policy_restart_delay(const struct unit_config *c, uint64_t prev_delay, uint64_t run_usec)
{
	uint64_t base = c->restart_usec ? c->restart_usec : POLICY_RESTART_FLOOR_USEC;
	uint64_t cap = max3(c->restart_max_usec, base, POLICY_RESTART_CAP_MIN_USEC);
	uint64_t next;

	if (prev_delay == 0 || run_usec > cap)
		return base;
	next = prev_delay > cap / 2 ? cap : prev_delay * 2;
	if (next < base)
		next = base;
	return next < cap ? next : cap;
}

int start_limit_init(struct start_limit *sl, unsigned burst)
{
	sl->stamps = NULL;
	sl->burst = burst;
	sl->count = 0;
	sl->head = 0;
	if (burst == 0)
		return 0;
	sl->stamps = calloc(burst, sizeof(*sl->stamps));
	if (!sl->stamps) {
		sl->burst = 0;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void start_limit_free(struct start_limit *sl)
{
	free(sl->stamps);
	sl->stamps = NULL;
	sl->burst = 0;
	sl->count = 0;
	sl->head = 0;
}

void start_limit_reset(struct start_limit *sl)
{
	sl->count = 0;
	sl->head = 0;
}

/*
 * With the ring full, stamps[head] is the oldest of the last `burst` starts: if it is still
 * within the interval, this start would be the (burst+1)th. A stamp from the future (cannot
 * happen on a monotonic clock) counts as within.
 */
bool start_limit_allow(struct start_limit *sl, uint64_t interval_usec, uint64_t now)
{
	if (sl->burst == 0 || !sl->stamps)
		return true;
	if (sl->count == sl->burst) {
		uint64_t oldest = sl->stamps[sl->head];

		if (now < oldest || now - oldest < interval_usec)
			return false;
	} else {
		sl->count++;
	}
	sl->stamps[sl->head] = now;
	sl->head = (sl->head + 1) % sl->burst;
	return true;
}

/* As tini (and the shell): the code as is, or 128 + the signal that killed it. */
int policy_exit_status(bool signaled, int code_or_sig)
{
	if (signaled)
		return 128 + (code_or_sig & 0x7f);
	return code_or_sig & 0xff;
}
