/*
 * Fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) at the machine's init. The kernel
 * delivers a signal to PID 1 only if it has a handler, and a fault without one panics the
 * kernel, so supd has one. The handler tells the two apart by si_code: a fault of supd's own
 * comes from the kernel (si_code > 0) or, for abort(), from supd itself (SI_TKILL, its own
 * pid); anything else was sent by a process (`kill -SEGV 1`): logged from the event loop and
 * otherwise ignored. A real fault ends supervision: supd says so on kmsg, then reaps forever,
 * still taking the power signals the crude way (everything killed, sync, an emergency
 * read-only remount through sysrq, reboot(2)). Everything on that path is async-signal-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup/log.h"
#include "machine.h"
#include "machine_private.h"
#include "supd.h"

static const int fault_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static const char *const fault_names[] = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"};
#define N_FAULTS (sizeof(fault_sigs) / sizeof(fault_sigs[0]))

/* Sent fault signals not reported yet, per signal: written by the handler, read by the loop. */
static volatile sig_atomic_t sent_count[N_FAULTS], sent_pid[N_FAULTS], sent_uid[N_FAULTS];
static ev_async sent_async;
static volatile sig_atomic_t watching;

/* The handler's own stack: a fault may be a stack overflow. */
static char alt_stack[64 * 1024];

static void say(const char *msg)
{
	/* kmsg first: a console stopped with ^S must not hold the crash path */
	int fd = machine_kmsg_fd >= 0 ? machine_kmsg_fd : STDERR_FILENO;
	const char *text = fd == STDERR_FILENO ? msg + 3 : msg; /* no "<2>" on the console */

	if (write(fd, text, strlen(text)) < 0) {
		/* nowhere to say it */
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void reap_for(long ms)
{
	for (long t = 0; t < ms; t += 20) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		sleep_ms(20);
	}
}

static void __attribute__((noreturn)) crude_reboot(int cmd)
{
	int fd;

	say("<2>supd: error: machine: crashed PID 1: killing every process, syncing, remounting "
	    "read-only, then reboot(2)\n");
	kill(-1, SIGTERM);
	reap_for(3000);
	kill(-1, SIGKILL);
	reap_for(1000);
	sync();
	/* sysrq u: the kernel remounts every filesystem read-only (no allocation in here) */
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "u", 1) < 0) {
			/* not there: sync() above has to do */
		}
		close(fd);
	}
	sleep_ms(1000);
	sync();
	reboot(cmd);
	say("<2>supd: error: machine: reboot(2) failed; reaping forever\n");
	for (;;)
		reap_for(1000);
}

void machine_reap_forever(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == SIGTERM || sig == SIGUSR2)
			crude_reboot(RB_POWER_OFF);
		if (sig == SIGINT)
			crude_reboot(RB_AUTOBOOT);
		if (sig == SIGUSR1)
			crude_reboot(RB_HALT_SYSTEM);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

static bool sent_by_a_process(const siginfo_t *si)
{
	if (si->si_code > 0) /* SEGV_MAPERR, BUS_ADRERR, SI_KERNEL, ...: the kernel, for us */
		return false;
	/* abort() is tgkill() to ourselves; no other process can send SI_TKILL as us */
	return !(si->si_code == SI_TKILL && si->si_pid == getpid());
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	size_t i = 0;

	while (i < N_FAULTS - 1 && fault_sigs[i] != sig)
		i++;
	if (sent_by_a_process(si)) {
		sent_count[i]++;
		sent_pid[i] = si->si_pid;
		sent_uid[i] = (sig_atomic_t)si->si_uid;
		if (watching)
			ev_async_send(supd->loop, &sent_async);
		return;
	}
	say("<2>supd: error: PID 1 crashed; no more supervision, still reaping. SIGTERM or "
	    "SIGUSR2 powers off, SIGINT reboots, SIGUSR1 halts (no unit is stopped in order)\n");
	/* a fault in another thread (the log writer): supervision goes on without it */
	if (syscall(SYS_gettid) != getpid())
		for (;;)
			pause();
	machine_reap_forever();
}

void machine_faults_install(void)
{
	stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof(alt_stack)};
	struct sigaction sa = {.sa_sigaction = on_fault,
			       .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART};

	if (sigaltstack(&ss, NULL) < 0)
		sup_warn(NULL, "machine: sigaltstack: %s", strerror(errno));
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < N_FAULTS; i++)
		if (sigaction(fault_sigs[i], &sa, NULL) < 0)
			sup_err(NULL, "machine: handler for %s: %s", fault_names[i],
				strerror(errno));
}

static void on_sent(struct ev_loop *loop, ev_async *w, int revents)
{
	for (size_t i = 0; i < N_FAULTS; i++) {
		int n = sent_count[i];

		if (!n)
			continue;
		sent_count[i] -= n;
		sup_warn(
		    NULL,
		    "machine: %s from pid %d (uid %d) ignored%s: sent by a process, not a fault "
		    "of supd",
		    fault_names[i], (int)sent_pid[i], (int)sent_uid[i],
		    n > 1 ? " (and earlier ones)" : "");
	}
}

void machine_faults_watch(void)
{
	ev_async_init(&sent_async, on_sent);
	ev_async_start(supd->loop, &sent_async);
	watching = 1;
	ev_async_send(supd->loop, &sent_async); /* any sent before the loop existed */
}
