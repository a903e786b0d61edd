/*
 * The machine's way down. The first power request (supctl poweroff/reboot, SIGTERM, SIGINT,
 * SIGUSR1, SIGUSR2) says what happens at the end and starts the shutdown, which has a deadline
 * ([Machine] ShutdownTimeoutSec=): by then the units are down, or supd stops waiting for them.
 * A later request is accepted but changes nothing of what happens (a SIGINT during a poweroff
 * does not make it a reboot); it cuts what is left of the deadline to REPEAT_SEC. Then, bounded
 * at every step: what is left is killed, the disks synced, every mount unmounted or made
 * read-only, and reboot(2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "core/service.h"
#include "core/state.h"
#include "core/unit.h"
#include "machine.h"
#include "machine_private.h"
#include "supd.h"

#define DEFAULT_DEADLINE_SEC 90.0
#define REPEAT_SEC	     5.0   /* what a repeated request leaves of the deadline, at most */
#define TERM_MS		     5000  /* SIGTERM to what is left, then ... */
#define KILL_MS		     2000  /* ... SIGKILL */
#define SYNC_MS		     10000 /* a sync that takes longer: a hung disk */

static const struct {
	const char *name, *doing;
	int cmd;
} powers[] = {
    [MACHINE_POWEROFF] = {"power off", "powering off", RB_POWER_OFF},
    [MACHINE_REBOOT] = {"reboot", "rebooting", RB_AUTOBOOT},
    [MACHINE_HALT] = {"halt", "halting", RB_HALT_SYSTEM},
};

static struct {
	enum machine_power what; /* the first request's (power off if the units ended it) */
	bool forced;		 /* the deadline passed */
	ev_timer deadline;
} sd;

/* --- the requests and the deadline */

static void list_not_down(char *buf, size_t size)
{
	struct unit *u;
	size_t len = 0;

	buf[0] = '\0';
	for_each_unit(u) if (!unit_is_down(u) && len < size)
	{
		int k = snprintf(buf + len, size - len, "%s%s (%s)", len ? ", " : "", u->name,
				 unit_state_name(u->state));
		len += k > 0 ? (size_t)k : 0;
	}
}

/* What the end of the shutdown is: the machine's power request, or (not the machine's init)
 * supd's exit, which the same deadline bounds. */
static const char *doing(void)
{
	return supd->is_pid1 ? powers[sd.what].doing : "exiting";
}

static const char *who(void)
{
	return supd->is_pid1 ? "machine: " : "";
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	char units[512];

	list_not_down(units, sizeof(units));
	sup_err(NULL, "%sshutdown deadline passed; still not down: %s; %s anyway", who(),
		*units ? units : "none", doing());
	sd.forced = true;
	ev_break(loop, EVBREAK_ALL);
}

void machine_shutdown_started(void)
{
	double secs = supd->conf.shutdown_timeout_usec ? supd->conf.shutdown_timeout_usec / 1e6
						       : DEFAULT_DEADLINE_SEC;

	ev_now_update(supd->loop);
	ev_timer_init(&sd.deadline, on_deadline, secs, 0);
	ev_timer_start(supd->loop, &sd.deadline);
	sup_info(NULL,
		 "%s%s: the units stop within %gs ([Machine] ShutdownTimeoutSec=), or what "
		 "is left is killed",
		 who(), doing(), secs);
}

void machine_power(enum machine_power what, const char *by)
{
	double left;

	if (!supd->shutting_down) {
		sd.what = what;
		sup_info(NULL, "machine: %s: %s", by, powers[what].name);
		sup_shutdown(0);
		return;
	}
	left = ev_timer_remaining(supd->loop, &sd.deadline);
	if (ev_is_active(&sd.deadline) && left > REPEAT_SEC) {
		ev_timer_stop(supd->loop, &sd.deadline);
		ev_timer_set(&sd.deadline, REPEAT_SEC, 0);
		ev_timer_start(supd->loop, &sd.deadline);
		left = REPEAT_SEC;
	}
	sup_warn(NULL, "machine: %s: %s again, while %s: still %s, deadline in %.1fs", by,
		 powers[what].name, powers[sd.what].doing, powers[sd.what].name, left);
}

void machine_signal(int signo)
{
	static const struct {
		int signo;
		enum machine_power what;
	} map[] = {{SIGTERM, MACHINE_POWEROFF},
		   {SIGUSR2, MACHINE_POWEROFF},
		   {SIGINT, MACHINE_REBOOT},
		   {SIGUSR1, MACHINE_HALT}};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(map); i++)
		if (map[i].signo == signo)
			machine_power(map[i].what, strsignal(signo));
}

/* --- after the loop */

static double deadline_left_ms(void)
{
	ev_now_update(supd->loop);
	return ev_is_active(&sd.deadline) ? ev_timer_remaining(supd->loop, &sd.deadline) * 1000 : 0;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Processes left, not counting us, kernel threads and zombies (empty command lines); the
 * first few pids go into some. */
static unsigned count_procs(char *some, size_t size)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;
	size_t len = 0;

	some[0] = '\0';
	while (d && (e = readdir(d))) {
		char path[300], c;
		_cleanup_close_ int fd = -1;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !strcmp(e->d_name, "1"))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, &c, 1) != 1)
			continue;
		if (n++ < 8 && len < size) {
			int k = snprintf(some + len, size - len, " %s", e->d_name);
			len += k > 0 ? (size_t)k : 0;
		}
	}
	return n;
}

/* Signal every process but us; reap until none is left or the time is up. */
static void kill_all(int sig, unsigned timeout_ms)
{
	uint64_t end = ms_now() + timeout_ms;
	char some[64];
	unsigned left = count_procs(some, sizeof(some));

	if (!left)
		return;
	sup_info(NULL, "machine: %u processes left: %s", left, sigabbrev_np(sig));
	kill(-1, sig);
	while (ms_now() < end && count_procs(some, sizeof(some))) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		nanosleep(&ts, NULL);
	}
	left = count_procs(some, sizeof(some));
	if (left && sig == SIGKILL)
		sup_err(
		    NULL,
		    "machine: %u processes outlived SIGKILL (uninterruptible sleep, or a frozen "
		    "cgroup): pids%s",
		    left, some);
}

static atomic_bool synced, sync_stuck;

static void *sync_main(void *arg)
{
	sync();
	atomic_store(&synced, true);
	return NULL;
}

/* sync() in a thread, waited for up to SYNC_MS: a hung disk must not hold the way down. */
static bool sync_bounded(void)
{
	pthread_t t;

	if (atomic_load(&sync_stuck))
		return false;
	atomic_store(&synced, false);
	if (pthread_create(&t, NULL, sync_main, NULL) != 0) {
		sync();
		return true;
	}
	pthread_detach(t);
	for (unsigned ms = 0; ms < SYNC_MS && !atomic_load(&synced); ms += 20) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&synced))
		return true;
	atomic_store(&sync_stuck, true);
	sup_err(NULL, "machine: sync() did not end within %us (a hung disk?); not unmounting",
		SYNC_MS / 1000);
	return false;
}

void machine_final(void)
{
	const char *doing = powers[sd.what].doing;
	double left = deadline_left_ms();

	if (!sd.forced)
		sup_info(NULL, "machine: every unit is down; %s", doing);
	machine_proc_remount(); /* kill-all and unmount read /proc */
	machine_shell_hangup();
	if (!sd.forced)
		kill_all(SIGTERM, left < TERM_MS ? (unsigned)left : TERM_MS);
	kill_all(SIGKILL, KILL_MS);
	if (sync_bounded())
		machine_unmount_all();
	sync_bounded();
	sup_info(NULL, "machine: %s now", doing);
	sup_log_flush(1000);
	reboot(powers[sd.what].cmd);
	sup_err(NULL, "machine: reboot(2): %s", strerror(errno));
	machine_reap_forever();
}
