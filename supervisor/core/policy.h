/* Restart policy: pure functions of the unit's config, the way it ended and a clock. */
#ifndef SUP_POLICY_H
#define SUP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "sup/unit.h"

/* How a run ended. */
enum exit_kind {
	EXIT_KIND_SUCCESS,	/* exited with code 0 */
	EXIT_KIND_CODE,		/* exited with a non-zero code */
	EXIT_KIND_SIGNAL,	/* killed by a signal (not by our own stop) */
	EXIT_KIND_CLEAN_SIGNAL, /* killed by SIGHUP, SIGINT, SIGTERM or SIGPIPE: a failure, as any
				 * signal, but "clean" for Restart=on-success and on-abort */
	EXIT_KIND_TIMEOUT,	/* start (ready) or stop timed out */
	EXIT_KIND_WATCHDOG,	/* watchdog expired */
	EXIT_KIND_UNHEALTHY,	/* health checks failed HealthRetries times */
	EXIT_KIND_SPAWN,	/* could not be spawned at all */
	EXIT_KIND_STOPPED,	/* stopped by request: not a failure, never restarted */
};

/* Restart= applied to how the run ended. */
bool policy_should_restart(enum unit_restart restart, enum exit_kind kind);
/* Whether kind counts as a failure (state failed rather than exited when not restarted). */
bool policy_is_failure(enum exit_kind kind);
/* How a process ended (a wait status), with SuccessExitStatus= counting as success. */
enum exit_kind policy_classify(int wstatus, const struct unit_exit_set *success);
/* RestartPreventExitStatus=: this wait status is never restarted. */
bool policy_prevents_restart(int wstatus, const struct unit_exit_set *prevent);

/*
 * Delay before the next restart. prev_delay is the delay used before the run that just
 * ended (0 if none: the first failure). A run longer than restart_max_usec resets the
 * sequence to restart_usec; otherwise it doubles, capped at restart_max_usec.
 */
uint64_t policy_restart_delay(const struct unit_config *c, uint64_t prev_delay, uint64_t run_usec);
#define POLICY_RESTART_FLOOR_USEC   1ULL     /* RestartSec=0: the first delay, doubling */
#define POLICY_RESTART_CAP_MIN_USEC 10000ULL /* the delay of a crash loop reaches at least this */

/* Start rate limiting: more than burst starts within interval -> refused. */
struct start_limit {
	uint64_t *stamps; /* ring of the last `burst` start times (monotonic usec) */
	unsigned burst;
	unsigned count; /* stamps recorded, <= burst */
	unsigned head;	/* next slot */
};

int start_limit_init(struct start_limit *sl, unsigned burst);
void start_limit_free(struct start_limit *sl);
void start_limit_reset(struct start_limit *sl);
/* Record a start at now; false (nothing recorded) if that start would be the (burst+1)th
 * within interval_usec. burst == 0 means no limit. */
bool start_limit_allow(struct start_limit *sl, uint64_t interval_usec, uint64_t now);

/* tini's exit status: code, or 128 + signal. */
int policy_exit_status(bool signaled, int code_or_sig);

#endif
