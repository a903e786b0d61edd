/*
 * supd as the init of a machine: PID 1 of the initial pid namespace (or --machine). Mounts what
 * the kernel did not (/proc, /sys, /dev with pts and shm, /run, cgroup2 with its controllers
 * enabled, or the v1 hierarchies of [Cgroup] Mode=v1), logs to /dev/kmsg too, sets the hostname,
 * brings lo up, takes ctrl-alt-del as SIGINT, reads sup.* options from the kernel command line,
 * offers an emergency shell, and on the way down kills what the units left, syncs, unmounts and
 * calls reboot(2). Nothing here is fatal: a failure is logged and supd goes on; PID 1 must never
 * exit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/log.h"
#include "sup/mountinfo.h"
#include "machine.h"
#include "core/reload.h"
#include "core/service.h"
#include "supd.h"

#define INITIAL_PID_NS "pid:[4026531836]"

static struct {
	bool emergency;	 /* sup.emergency: a shell instead of the units (until it exits) */
	bool shell;	 /* sup.shell: a shell next to the units */
	char *units_dir; /* sup.units=DIR */
	char *shell_path;
	char *cgroup_no_v1; /* the kernel's cgroup_no_v1=LIST: controllers v1 may not mount */
	bool halt;	    /* SIGUSR1: halt rather than power off */
	pid_t shell_pid;
	bool units_booted;
	int kmsg_fd;
} m = {.kmsg_fd = -1};

bool machine_detect(enum machine_mode forced)
{
	char buf[64];
	ssize_t n;

	if (getpid() != 1 || forced == MACHINE_MODE_CONTAINER)
		return false;
	if (forced == MACHINE_MODE_MACHINE)
		return true;
	n = readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
	if (n < 0)
		return true; /* no /proc yet: only a machine's init starts like that */
	buf[n] = '\0';
	return strcmp(buf, INITIAL_PID_NS) == 0;
}

/* --- set-up */

static void mount_one(const char *src, const char *path, const char *type, unsigned long flags,
		      const char *data, bool optional)
{
	if (sup_is_mountpoint(path))
		return;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		sup_err(NULL, "machine: mkdir %s: %s", path, strerror(errno));
		return;
	}
	if (mount(src, path, type, flags, data) < 0) {
		if (optional)
			sup_warn(NULL, "machine: mount %s on %s: %s", type, path, strerror(errno));
		else
			sup_err(NULL, "machine: mount %s on %s: %s", type, path, strerror(errno));
		return;
	}
	sup_debug(NULL, "machine: mounted %s on %s", type, path);
}

/* stdin/stdout/stderr on /dev/console if the kernel could not give us one. */
static void console_stdio(void)
{
	int fd;

	if (fcntl(STDIN_FILENO, F_GETFD) >= 0 && fcntl(STDOUT_FILENO, F_GETFD) >= 0 &&
	    fcntl(STDERR_FILENO, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void start_kmsg(void)
{
	char buf[64];
	int console_level = 0;

	/* /dev/kmsg rate-limits writers (10 lines per 5 s) unless printk.devkmsg=on */
	sup_write_at(AT_FDCWD, "/proc/sys/kernel/printk_devkmsg", "on\n");
	m.kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (m.kmsg_fd < 0) {
		sup_warn(NULL, "machine: /dev/kmsg: %s; logging to the console only",
			 strerror(errno));
		return;
	}
	if (sup_read_at(AT_FDCWD, "/proc/sys/kernel/printk", buf, sizeof(buf)) > 0)
		console_level = atoi(buf);
	sup_log_set_kmsg(m.kmsg_fd, console_level);
}

/* sup.emergency, sup.shell[=PATH], sup.units=DIR, sup.log_level=LEVEL */
static void parse_cmdline(void)
{
	char buf[4096], *save = NULL;
	enum sup_log_level level;

	if (sup_read_at(AT_FDCWD, "/proc/cmdline", buf, sizeof(buf)) < 0) {
		sup_warn(NULL, "machine: /proc/cmdline: %s", strerror(errno));
		return;
	}
	for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		if (!strcmp(t, "sup.emergency")) {
			m.emergency = true;
		} else if (!strcmp(t, "sup.shell")) {
			m.shell = true;
		} else if (!strncmp(t, "sup.shell=", 10)) {
			m.shell = true;
			free(m.shell_path);
			m.shell_path = strdup(t + 10);
		} else if (!strncmp(t, "sup.units=", 10)) {
			free(m.units_dir);
			m.units_dir = strdup(t + 10);
		} else if (!strncmp(t, "sup.log_level=", 14)) {
			if (sup_log_parse_level(t + 14, &level) == 0)
				sup_log_set_level(level);
			else
				sup_err(NULL, "machine: %s: not a log level", t);
		} else if (!strncmp(t, "cgroup_no_v1=", 13)) {
			free(m.cgroup_no_v1);
			m.cgroup_no_v1 = strdup(t + 13);
		} else if (!strncmp(t, "sup.", 4)) {
			sup_warn(NULL, "machine: unknown kernel command line option %s", t);
		}
	}
}

/* PID 1 must not die (the kernel panics): keep collecting orphans. Async-signal-safe. */
static void __attribute__((noreturn)) reap_forever(void)
{
	int status;

	for (;;)
		if (waitpid(-1, &status, 0) < 0) {
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
		}
}

static void __attribute__((noreturn)) on_crash(int sig)
{
	static const char msg[] = "<2>supd: error: PID 1 crashed; no more supervision, still "
				  "reaping. Power the machine off.\n";

	if (write(STDERR_FILENO, msg + 3, sizeof(msg) - 4) < 0 ||
	    (m.kmsg_fd >= 0 && write(m.kmsg_fd, msg, sizeof(msg) - 1) < 0)) {
		/* nowhere to say it */
	}
	reap_forever();
}

static void crash_handler(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct sigaction sa = {.sa_handler = on_crash};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void setup_cgroup2(void)
{
	static const char root[] = "/sys/fs/cgroup";
	char avail[512], on[512], *save = NULL;
	struct statfs sfs;

	if (statfs(root, &sfs) == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC &&
	    sup_is_mountpoint(root)) {
		sup_warn(NULL, "machine: %s is not cgroup2; left as it is", root);
		return;
	}
	mount_one("cgroup2", root, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate",
		  false);
	if (sup_read_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.controllers", avail, sizeof(avail)) < 0) {
		sup_err(NULL, "machine: cgroup.controllers: %s", strerror(errno));
		return;
	}
	/* the root cgroup is exempt from the no-internal-process rule: enable them all there */
	for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char req[64];

		snprintf(req, sizeof(req), "+%s", c);
		if (sup_write_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.subtree_control", req) < 0)
			sup_warn(NULL, "machine: enable cgroup controller %s: %s", c,
				 strerror(errno));
	}
	if (sup_read_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.subtree_control", on, sizeof(on)) > 0) {
		on[strcspn(on, "\n")] = '\0';
		sup_info(NULL, "machine: cgroup2 controllers enabled: %s", on);
	}
}

void machine_early(void)
{
	struct statfs sfs;

	if (statfs("/proc", &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		mkdir("/proc", 0555);
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			sup_err(NULL, "machine: mount proc on /proc: %s", strerror(errno));
	}
	mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_STRICTATIME, "mode=0755", false);
	console_stdio();
	start_kmsg();
	parse_cmdline();
	crash_handler();
	mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false);
	mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666",
		  false);
	mount_one("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=1777",
		  false);
	mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=0755",
		  false);
	if (m.units_dir)
		supd->conf.units_dir = m.units_dir;
}

/* Controllers mounted as one hierarchy, as systemd does: /sys/fs/cgroup/cpu,cpuacct with the
 * symlinks cpu and cpuacct. */
static const char *const comounted[][2] = {{"cpu", "cpuacct"}, {"net_cls", "net_prio"}};

#define V1_MAX	      32
#define CG_TMPFS_OPTS "mode=0755,size=4m,nr_inodes=1k"
#define CG_FLAGS      (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/*
 * [Cgroup] Mode=v1: the legacy layout. A tmpfs at /sys/fs/cgroup, one cgroup v1 hierarchy per
 * controller /proc/cgroups lists as enabled (cpu,cpuacct and net_cls,net_prio co-mounted, with
 * symlinks), cgroup2 at unified/ (hybrid: no controllers there; favordynmods goes on it), then
 * the tmpfs read-only. A controller the kernel keeps off v1 (cgroup_no_v1=) is left on cgroup2.
 * Returns the number of v1 hierarchies mounted.
 */
static int setup_cgroup_v1(void)
{
	static const char root[] = "/sys/fs/cgroup";
	char names[V1_MAX][32], line[256], done[512] = "", skipped[512] = "";
	bool used[V1_MAX] = {0};
	int n = 0, mounted = 0;
	struct statfs sfs;
	FILE *f;

	if (sup_is_mountpoint(root)) {
		if (statfs(root, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
			sup_info(NULL, "machine: %s is mounted already; cgroup v1 left as it is",
				 root);
			return 1;
		}
		sup_warn(NULL,
			 "machine: [Cgroup] Mode=v1: %s is mounted already (not a tmpfs); "
			 "no v1 hierarchies mounted",
			 root);
		return 0;
	}
	f = fopen("/proc/cgroups", "re");
	if (!f) {
		sup_err(NULL, "machine: /proc/cgroups: %s", strerror(errno));
		return 0;
	}
	/* "#subsys_name hierarchy num_cgroups enabled" */
	while (fgets(line, sizeof(line), f) && n < V1_MAX) {
		int hier, num, enabled;

		if (line[0] != '#' &&
		    sscanf(line, "%31s %d %d %d", names[n], &hier, &num, &enabled) == 4 && enabled)
			n++;
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		if (m.cgroup_no_v1 && (sup_list_has(m.cgroup_no_v1, "all") ||
				       sup_list_has(m.cgroup_no_v1, names[i]))) {
			used[i] = true;
			snprintf(skipped + strlen(skipped), sizeof(skipped) - strlen(skipped),
				 " %s", names[i]);
		}
	if (*skipped)
		sup_warn(NULL, "machine: cgroup_no_v1=%s: no v1 hierarchy for%s (left to cgroup2)",
			 m.cgroup_no_v1, skipped);
	mount_one("tmpfs", root, "tmpfs", CG_FLAGS | MS_STRICTATIME, CG_TMPFS_OPTS, false);
	if (!sup_is_mountpoint(root))
		return 0;
	for (int i = 0; i < n; i++) {
		char opts[80], path[128];
		const char *pair = NULL;
		int j = -1;

		if (used[i])
			continue;
		used[i] = true;
		snprintf(opts, sizeof(opts), "%.31s", names[i]);
		/* its co-mount partner, when the kernel has it enabled and v1 may have it */
		for (size_t c = 0; c < sizeof(comounted) / sizeof(comounted[0]); c++)
			if (!strcmp(names[i], comounted[c][0]) ||
			    !strcmp(names[i], comounted[c][1]))
				pair = comounted[c][!strcmp(names[i], comounted[c][0])];
		for (int k = 0; pair && k < n; k++)
			if (!used[k] && !strcmp(names[k], pair))
				j = k;
		if (j >= 0) {
			bool first = strcmp(names[i], pair) < 0;
			/* cpu,cpuacct: the order systemd uses (alphabetical) */
			snprintf(opts, sizeof(opts), "%.31s,%.31s", first ? names[i] : pair,
				 first ? pair : names[i]);
			used[j] = true;
		}
		snprintf(path, sizeof(path), "%s/%s", root, opts);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			sup_err(NULL, "machine: mkdir %s: %s", path, strerror(errno));
			continue;
		}
		if (mount("cgroup", path, "cgroup", CG_FLAGS, opts) < 0) {
			/* EBUSY: in use on cgroup2 already; EINVAL: disabled for v1 */
			sup_warn(NULL, "machine: mount cgroup v1 %s: %s", opts, strerror(errno));
			rmdir(path);
			continue;
		}
		mounted++;
		snprintf(done + strlen(done), sizeof(done) - strlen(done), " %s", opts);
		if (j >= 0) {
			char link[128];

			for (int k = 0; k < 2; k++) {
				snprintf(link, sizeof(link), "%s/%.31s", root,
					 k ? names[j] : names[i]);
				if (symlink(opts, link) < 0 && errno != EEXIST)
					sup_warn(NULL, "machine: symlink %s: %s", link,
						 strerror(errno));
			}
		}
	}
	/* hybrid: cgroup2 next to them, without controllers (and where favordynmods goes) */
	mount_one("cgroup2", "/sys/fs/cgroup/unified", "cgroup2", CG_FLAGS, "nsdelegate", true);
	if (mount("tmpfs", root, "tmpfs", MS_REMOUNT | MS_RDONLY | CG_FLAGS | MS_STRICTATIME,
		  CG_TMPFS_OPTS) < 0)
		sup_warn(NULL, "machine: remount %s read-only: %s", root, strerror(errno));
	if (!mounted) { /* take the empty layout down again: cgroup2 goes there instead */
		umount2("/sys/fs/cgroup/unified", 0);
		umount2(root, 0);
		return 0;
	}
	sup_info(NULL, "machine: cgroup v1 hierarchies mounted:%s%s", done,
		 sup_is_mountpoint("/sys/fs/cgroup/unified") ? " (and cgroup2 at unified)" : "");
	return mounted;
}

void machine_cgroups(void)
{
	if (supd->conf.cgroup_mode != CG_MODE_V1) {
		setup_cgroup2();
		return;
	}
	if (setup_cgroup_v1() > 0)
		return;
	/* nothing of v1 could be mounted (cgroup_no_v1=all, ...): cgroup2 rather than none */
	sup_err(NULL, "machine: [Cgroup] Mode=v1 but no v1 hierarchy could be mounted; cgroup2 "
		      "instead, and the units use it");
	supd->conf.cgroup_mode = CG_MODE_AUTO;
	setup_cgroup2();
}

static void loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		sup_err(NULL, "machine: lo: socket: %s", strerror(errno));
		return;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		sup_err(NULL, "machine: lo: %s", strerror(errno));
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			sup_err(NULL, "machine: lo up: %s", strerror(errno));
	}
	close(fd);
}

void machine_late(void)
{
	const char *host = supd->conf.hostname ? supd->conf.hostname : "sup";

	if (sethostname(host, strlen(host)) < 0)
		sup_err(NULL, "machine: sethostname %s: %s", host, strerror(errno));
	loopback_up();
	/* ctrl-alt-del: the kernel sends PID 1 SIGINT (reboot) instead of rebooting at once */
	if (reboot(RB_DISABLE_CAD) < 0)
		sup_warn(NULL, "machine: reboot(RB_DISABLE_CAD): %s", strerror(errno));
	sup_info(NULL, "machine: hostname %s, lo up%s%s", host,
		 m.emergency ? ", emergency shell requested" : "",
		 m.shell ? ", console shell requested" : "");
}

const char *machine_units_dir(void)
{
	return m.units_dir;
}

/* --- the emergency shell */

static pid_t spawn_shell(void)
{
	const char *sh = m.shell_path ? m.shell_path : "/bin/sh";
	pid_t pid = fork();

	if (pid < 0) {
		sup_err(NULL, "machine: fork the shell: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = SIG_DFL};
		sigset_t none;
		int fd;

		for (int s = 1; s < NSIG; s++)
			sigaction(s, &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		fd = open("/dev/console", O_RDWR);
		if (fd >= 0) {
			ioctl(fd, TIOCSCTTY, 1);
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
		setenv("TERM", "vt100", 0);
		setenv("PS1", "sup-emergency# ", 1);
		execl(sh, sh, "-i", (char *)NULL);
		dprintf(2, "supd: exec %s: %s\n", sh, strerror(errno));
		_exit(127);
	}
	sup_info(NULL, "machine: shell %s on the console (pid %d)%s", sh, (int)pid,
		 m.units_booted ? "" : "; the units boot when it exits");
	return pid;
}

void machine_boot(void)
{
	if (m.emergency) {
		m.shell_pid = spawn_shell();
		if (m.shell_pid > 0)
			return;
		sup_err(NULL, "machine: no emergency shell; booting the units");
	}
	m.units_booted = true;
	sup_boot_units();
	if (m.shell)
		m.shell_pid = spawn_shell();
}

bool machine_reaped(pid_t pid, int wstatus)
{
	if (!supd->is_pid1 || pid != m.shell_pid || pid <= 0)
		return false;
	m.shell_pid = 0;
	sup_info(NULL, "machine: the shell ended (%s %d)",
		 WIFSIGNALED(wstatus) ? "signal" : "status",
		 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
	if (!m.units_booted && !supd->shutting_down) {
		m.units_booted = true;
		sup_boot_units();
	}
	return true;
}

void machine_signal(int signo)
{
	if (supd->shutting_down)
		return;
	m.halt = signo == SIGUSR1;
	supd->reboot = false;
	sup_info(NULL, "machine: %s: %s", strsignal(signo), m.halt ? "halt" : "power off");
	sup_shutdown(0);
}

/* --- the way down */

static unsigned count_procs(void)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], c;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !strcmp(e->d_name, "1"))
			continue;
		/* kernel threads have an empty command line */
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, &c, 1) == 1)
			n++;
		if (fd >= 0)
			close(fd);
	}
	return n;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Signal every process but us; reap until none is left or the time is up. */
static void kill_all(int sig, unsigned timeout_ms)
{
	uint64_t end = ms_now() + timeout_ms;
	unsigned left = count_procs();

	if (!left)
		return;
	sup_info(NULL, "machine: %u processes left: %s", left, sigabbrev_np(sig));
	if (kill(-1, sig) < 0 && errno == ESRCH)
		return;
	while (ms_now() < end) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			;
		if (pid < 0 && errno == ECHILD)
			return;
		nanosleep(&ts, NULL);
	}
}

static void unmount_all(void)
{
	struct sup_error *err = NULL;
	unsigned umounted = 0, ro = 0, kept = 0;
	struct sup_mounts mt;

	if (sup_mounts_read(NULL, &mt, &err) < 0) {
		sup_err(NULL, "machine: %s", err->msg);
		sup_error_free(err);
		return;
	}
	/* the last mounted first: children before their parents */
	for (size_t i = mt.n; i-- > 0;) {
		const char *t = mt.v[i].target;

		if (strcmp(t, "/") && umount2(t, 0) == 0) {
			umounted++;
		} else if (mount(NULL, t, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) {
			ro++;
		} else {
			sup_debug(NULL, "machine: %s stays mounted: %s", t, strerror(errno));
			kept++;
		}
	}
	sup_mounts_free(&mt);
	sup_info(NULL, "machine: %u unmounted, %u remounted read-only, %u left", umounted, ro,
		 kept);
}

void machine_final(void)
{
	int cmd = m.halt ? RB_HALT_SYSTEM : supd->reboot ? RB_AUTOBOOT : RB_POWER_OFF;
	const char *what = m.halt ? "halting" : supd->reboot ? "rebooting" : "powering off";

	sup_info(NULL, "machine: every unit is down; %s", what);
	if (m.shell_pid > 0)
		kill(m.shell_pid, SIGHUP);
	kill_all(SIGTERM, 5000);
	kill_all(SIGKILL, 2000);
	sync();
	unmount_all();
	sync();
	sup_info(NULL, "machine: %s now", what);
	reboot(cmd);
	sup_err(NULL, "machine: reboot(2): %s", strerror(errno));
	reap_forever();
}

void machine_fallback(const char *why)
{
	sup_err(NULL, "machine: cannot supervise: %s; a shell on the console, and reaping", why);
	m.shell_pid = spawn_shell();
	reap_forever();
}
