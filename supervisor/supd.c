/* supd: the supervisor. Arguments, set-up, the signal path, the loop, and the way out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/log.h"
#include "control/control.h"
#include "core/cgroups.h"
#include "core/children.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/exec.h"
#include "core/health.h"
#include "core/reload.h"
#include "core/service.h"
#include "core/state.h"
#include "sup/strv.h"
#include "logs/logfile.h"
#include "machine/machine.h"
#include "images/unit_image.h"
#include "metrics/metrics_http.h"
#include "supd.h"

static int signal_fd = -1, hup_fd = -1;
static ev_io signal_io, hup_io;
static ev_io logfile_io;
static ev_timer hup_pause;

#define HUP_PAUSE_SECS 0.2 /* SIGHUP is read at most this often */
static ev_prepare sched;
static ev_idle sched_more;

static void usage(FILE *f)
{
	fprintf(f, "usage: supd [--units DIR] [--config FILE] [--state-dir DIR] [--run-dir DIR]\n"
		   "            [--socket PATH] [--log-level error|warning|info|debug]\n"
		   "            [--image-helper PATH]\n"
		   "            [--machine|--container]\n"
		   "       supd --check [DIR]   (load the units offline, print every problem)\n");
}

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Is supd the machine's init? Then its arguments may be the kernel's, and never fatal. */
static bool machine_args(const struct supd_config *c)
{
	return getpid() == 1 && machine_detect(c->machine_mode);
}

/* Arguments supd does not know: the machine's init hands them on (`single`, `3`, what follows
 * `--` on the kernel command line; machine.c says what they mean); anyone else exits. */
static int odd_args(const struct supd_config *c, struct strv *odd)
{
	if (!odd->n)
		return 0;
	if (machine_args(c)) {
		machine_kernel_args(odd);
		strv_free(odd);
		return 0;
	}
	fprintf(stderr, "supd: unexpected argument '%s'\n", odd->v[0]);
	usage(stderr);
	strv_free(odd);
	return -1;
}

/* --log-level: as PID 1 a bad level is kept for odd_args(); otherwise an error. */
static int log_level_arg(const char *arg, struct strv *odd)
{
	enum sup_log_level level;
	char word[40];

	if (sup_log_parse_level(arg, &level) == 0) {
		sup_log_set_level(level);
		return 0;
	}
	if (getpid() == 1) {
		snprintf(word, sizeof(word), "--log-level=%.20s", arg);
		strv_push(odd, word); /* out of memory: ignored all the same */
		return 0;
	}
	fprintf(stderr, "supd: --log-level: '%s' is not one of error, warning, info, debug\n", arg);
	return -1;
}

/* --help, --version, and options getopt_long() refused: the machine's init keeps them for
 * odd_args() (as written); anyone else prints and exits, or fails later in odd_args(). */
static void odd_option(int o, char **argv, const struct supd_config *c, struct strv *odd)
{
	char word[8];

	if ((o == 'h' || o == 'V') && !machine_args(c)) {
		if (o == 'h')
			usage(stdout);
		else
			printf("supd %s\n", SUP_VERSION);
		exit(0);
	}
	if (o == '?' && optopt && optopt != '?') {
		snprintf(word, sizeof(word), "-%c", optopt);
		strv_push(odd, word);
		return;
	}
	strv_push(odd, argv[optind - 1]);
}

static int parse_args(int argc, char **argv, struct supd_config *c)
{
	static const struct option opts[] = {
	    {"units", required_argument, NULL, 'u'},
	    {"config", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"run-dir", required_argument, NULL, 'r'},
	    {"socket", required_argument, NULL, 'S'},
	    {"image-helper", required_argument, NULL, 'I'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"machine", no_argument, NULL, 'M'},
	    {"container", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct strv odd = {0};
	int o;

	opterr = getpid() != 1; /* PID 1: odd_args() decides, once --machine/--container are seen */
	c->units_dir = "/etc/sup/units";
	c->config_file = "/etc/sup/supd.conf";
	c->state_dir = "/var/lib/sup";
	c->run_dir = "/run/sup";
	c->image_helper = SUP_IMAGE_HELPER;
	c->image_helper_timeout_usec = 15 * 60 * USEC_PER_SEC;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			c->units_dir = optarg;
			break;
		case 'c':
			c->config_file = optarg;
			break;
		case 's':
			c->state_dir = optarg;
			break;
		case 'r':
			c->run_dir = optarg;
			break;
		case 'S':
			c->socket_path = optarg;
			break;
		case 'I':
			c->image_helper = optarg;
			break;
		case 'l':
			if (log_level_arg(optarg, &odd) < 0)
				return -1;
			break;
		case 'M':
			c->machine_mode = MACHINE_MODE_MACHINE;
			break;
		case 'C':
			c->machine_mode = MACHINE_MODE_CONTAINER;
			break;
		default: /* --help, --version, what getopt_long() refused */
			odd_option(o, argv, c, &odd);
			break;
		}
	}
	while (optind < argc)
		strv_push(&odd, argv[optind++]);
	if (odd_args(c, &odd) < 0)
		return -1;
	if (!c->socket_path)
		c->socket_path = path_join(c->run_dir, "supd.sock");
	c->control_gid = (gid_t)-1;
	c->log_ring_bytes = 1 << 20;
	c->log_file_max = 10 << 20;
	c->log_file_keep = 3;
	c->cgroup_favor = -1;
	return c->socket_path ? 0 : -1;
}

static bool machine_init(void)
{
	return machine_detect(supd->conf.machine_mode); /* machine.c */
}

/* ExitWithUnit=: the unit has ended and nothing will start it again by itself (or, in a
 * shutdown, it is down). */
static bool ends_for_good(const struct unit *u, const struct unit_change *c)
{
	if (!u->cfg || !u->cfg->exit_with_unit || c->old_state == c->new_state)
		return false;
	return c->new_state == UNIT_EXITED || c->new_state == UNIT_FAILED ||
	       (c->new_state == UNIT_INACTIVE && c->old_sub != SUB_QUEUED);
}

/*
 * supd's exit status for an ExitWithUnit= unit: as tini, its code or 128+signal. The first
 * such unit to end decides it, also when a SIGTERM or SIGINT began the shutdown (the unit's
 * answer to its stop signal is the container's exit status, as with tini and docker).
 */
static void exit_with_unit(struct unit *u, const struct unit_change *c)
{
	int status;

	if (supd->exit_decided || !ends_for_good(u, c))
		return;
	if (u->last_exit.valid)
		status = policy_exit_status(u->last_exit.signaled, u->last_exit.code);
	else
		status = u->state == UNIT_FAILED ? 1 : 0;
	supd->exit_decided = true;
	if (!supd->shutting_down) {
		sup_shutdown(status);
		return;
	}
	sup_info(u->name, "ExitWithUnit=: supd exits with this unit's status, %d", status);
	supd->exit_status = status;
}

/* SIGHUP: a deleted control socket is made again, then the units are reloaded. */
static void reload(void)
{
	sup_control_recover();
	if (sup_reload_request() < 0)
		sup_warn(NULL, "reload (SIGHUP) refused: supd is shutting down");
}

static void on_signal(struct ev_loop *loop, ev_io *w, int revents)
{
	struct signalfd_siginfo si;

	/* a bounded batch: a process that keeps sending (kill -CHLD 1 in a loop) would otherwise
	 * keep supd in here; level-triggered, the rest comes at the next turn of the loop */
	for (int i = 0; i < 16 && read(signal_fd, &si, sizeof(si)) == sizeof(si); i++) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			break; /* reaped below, once for the whole batch */
		case SIGINT:
		case SIGTERM:
		case SIGUSR1:		   /* halt */
		case SIGUSR2:		   /* power off */
			if (supd->is_pid1) /* a repeat never turns a poweroff into a reboot */
				machine_signal(si.ssi_signo);
			else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
				sup_shutdown(0);
			break;
		default:
			break;
		}
	}
	sup_reap();
}

/*
 * SIGHUP has a signalfd of its own, read at most every HUP_PAUSE_SECS: meanwhile the kernel
 * merges every SIGHUP sent into the one pending, at no cost to supd, so a unit that floods
 * supd with SIGHUP gets a reload now and then, not a PID 1 that does nothing but wake up.
 */
static void on_hup(struct ev_loop *loop, ev_io *w, int revents)
{
	struct signalfd_siginfo si;

	/* one read: a loop would never end while a unit keeps sending */
	if (read(hup_fd, &si, sizeof(si)) != sizeof(si))
		return;
	reload();
	ev_io_stop(loop, &hup_io);
	ev_timer_set(&hup_pause, HUP_PAUSE_SECS, 0); /* an expired timer forgot its delay */
	ev_timer_start(loop, &hup_pause);
}

static void on_hup_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_io_start(loop, &hup_io);
}

/* Keeps the loop from blocking while the scheduler has work left over (it stops itself). */
static void on_more(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	if (sup_sched_pending())
		sup_sched_pass();
	if (sup_sched_pending())
		ev_idle_start(loop, &sched_more);
}

/* The log-file writer closed files: their handles are freed here, on the loop. */
static void on_logfile(struct ev_loop *loop, ev_io *w, int revents)
{
	logfile_collect();
}

static void all_down(void)
{
	ev_break(supd->loop, EVBREAK_ALL);
}

/* What follows a change of a unit's state, in this order. */
static void observe(void)
{
	unit_observe(deps_observe);
	unit_observe(unit_health_observe);
	unit_observe(sup_cg_observe);
	unit_observe(sup_exec_observe);
	unit_observe(sup_img_observe);
	unit_observe(sup_control_observe);
	unit_observe(exit_with_unit);
	sup_sched_on_all_down(all_down);
	sup_reload_on_done(sup_control_reload_done);
	/* the deadline of the way down ([Machine] ShutdownTimeoutSec=): the machine's, or supd's
	 * own exit's, so that a unit with StopTimeoutSec=0 cannot hold supd up for ever */
	sup_on_shutdown(machine_shutdown_started);
}

static int setup_signals(struct sup_error **err)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return sup_error_set(err, errno, "block signals");
	sigdelset(&set, SIGHUP);
	signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	hup_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0 || hup_fd < 0)
		return sup_error_set(err, errno, "signalfd");
	ev_io_init(&signal_io, on_signal, signal_fd, EV_READ);
	ev_set_priority(&signal_io, EV_MAXPRI);
	ev_io_start(supd->loop, &signal_io);
	ev_io_init(&hup_io, on_hup, hup_fd, EV_READ);
	ev_io_start(supd->loop, &hup_io);
	ev_init(&hup_pause, on_hup_pause);
	return 0;
}

/* Room for many control clients and capture pipes; units get the limit back (spawn.c). */
/*
 * Room for thousands of units (each holds a few fds: output pipes, an OOM eventfd, a notify
 * socket) and many control clients. As PID 1 the kernel gives supd 1024/4096; with
 * CAP_SYS_RESOURCE the hard limit can go up to fs.nr_open. Units get the limits supd started
 * with back (spawn.c), as systemd gives its services their own.
 */
#define NOFILE_WANT (1UL << 20)

static void raise_nofile(void)
{
	struct rlimit old, rl;
	char buf[32];
	unsigned long want = NOFILE_WANT;

	if (getrlimit(RLIMIT_NOFILE, &old) < 0)
		return;
	if (sup_read_at(AT_FDCWD, "/proc/sys/fs/nr_open", buf, sizeof(buf)) > 0 &&
	    strtoul(buf, NULL, 10) < want)
		want = strtoul(buf, NULL, 10);
	rl.rlim_cur = rl.rlim_max = want > old.rlim_max ? want : old.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) <
	    0) { /* no CAP_SYS_RESOURCE: what the hard limit allows */
		rl.rlim_cur = rl.rlim_max = old.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl = old;
	}
	supd->nofile_soft = old.rlim_cur;
	supd->nofile_hard = old.rlim_max;
	if (rl.rlim_cur != old.rlim_cur || rl.rlim_max != old.rlim_max)
		sup_info(NULL, "open files limit %llu (was %llu, hard %llu); units get %llu/%llu",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)old.rlim_cur,
			 (unsigned long long)old.rlim_max, (unsigned long long)old.rlim_cur,
			 (unsigned long long)old.rlim_max);
}

/* libev aborts when its allocator returns NULL: a shortage is waited out a little (the OOM
 * killer makes room, a burst passes) before PID 1 gives up. */
static void *ev_alloc(void *ptr, long size)
{
	struct timespec pause = {0, 10 * 1000 * 1000};

	if (size == 0) {
		free(ptr);
		return NULL;
	}
	for (int i = 0; i < 100; i++) {
		void *p = realloc(ptr, (size_t)size);

		if (p)
			return p;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static int setup(struct sup_error **err)
{
	struct sup_error *cerr = NULL;

	if (sup_config_load(&supd->conf, &cerr) < 0) {
		sup_err(NULL, "%s", cerr->msg); /* defaults stand in */
		sup_error_free(cerr);
	}
	raise_nofile();
	if (mkdir(supd->conf.run_dir, 0755) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "create run directory %s", supd->conf.run_dir);
	if (!supd->is_pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		sup_warn(NULL, "cannot become a subreaper: %s; orphans go to init",
			 strerror(errno));
	ev_set_allocator(ev_alloc);
	supd->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!supd->loop)
		return sup_error_set(err, 0, "create the event loop");
	observe();
	ev_io_init(&logfile_io, on_logfile, logfile_event_fd(), EV_READ);
	if (logfile_event_fd() >= 0)
		ev_io_start(supd->loop, &logfile_io);
	ev_prepare_init(&sched, on_prepare);
	ev_prepare_start(supd->loop, &sched);
	ev_idle_init(&sched_more, on_more);
	if (setup_signals(err) < 0 || sup_control_init(err) < 0)
		return -1;
	if (supd->is_pid1)
		machine_cgroups(); /* after the config: [Cgroup] Mode=v1 mounts the legacy layout */
	sup_cg_setup();
	sup_metrics_http_init(); /* [Metrics] Listen=: off unless set */
	sup_img_sweep();	 /* writable layers a drop left half-removed */
	return 0;
}

int main(int argc, char **argv)
{
	struct unit *u;
	struct sup_error *err = NULL;

	if (argc > 1 && strcmp(argv[1], "--check") == 0 && argc <= 3) /* units/unit_verify.c */
		return unit_verify_dir(argc == 3 ? argv[2] : "/etc/sup/units", stdout);
	if (parse_args(argc, argv, &supd->conf) < 0)
		return 2;
	supd->is_pid1 = machine_init();
	if (supd->is_pid1)
		machine_early();
	if (setup(&err) < 0) {
		sup_err(NULL, "%s", err->msg);
		if (supd->is_pid1)
			machine_fallback(err->msg);
		return 1;
	}
	if (supd->is_pid1)
		machine_late();
	sup_info(NULL, "supd %s starting (pid %d%s)", SUP_VERSION, (int)getpid(),
		 supd->is_pid1 ? ", machine init" : "");
	if (supd->is_pid1)
		machine_boot(); /* the units, or the emergency shell first */
	else
		sup_boot_units();
	ev_run(supd->loop, 0);
	sup_control_shutdown(); /* followers are told the stream ends; the socket goes */
	if (supd->is_pid1)
		machine_final(); /* kill what is left, sync, unmount, reboot(2) */
	sup_reload_flush();
	uint64_t deadline = now_mono() + 2 * USEC_PER_SEC; /* for every unit's cgroup together */
	for_each_unit(u)
	{
		/* down, unless the shutdown deadline passed: then what is left is killed */
		if (u->pgid > 0 && !unit_is_down(u))
			kill(-u->pgid, SIGKILL);
		sup_cg_unit_free_final(u, deadline);
	}
	if (!logfile_sync(2000))
		sup_warn(NULL, "log files: the disk did not take the last lines within 2s");
	sup_cg_fini();
	sup_info(NULL, "exiting with status %d", supd->exit_status);
	return supd->exit_status;
}
