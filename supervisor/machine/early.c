/*
 * The machine's first steps, before the config and the sockets: /proc and /dev, a console on
 * stdin/stdout/stderr, logging to /dev/kmsg too, the kernel command line, the fault handler,
 * then /sys, /dev/pts, /dev/shm and /run. Every failure is logged and skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "sup/fileio.h"
#include "sup/log.h"
#include "sup/mountinfo.h"
#include "machine.h"
#include "machine_private.h"
#include "supd.h"

int machine_kmsg_fd = -1;

void machine_mount(const char *src, const char *path, const char *type, unsigned long flags,
		   const char *data, bool optional)
{
	if (sup_is_mountpoint(path))
		return;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		sup_err(NULL, "machine: mkdir %s: %s", path, strerror(errno));
		return;
	}
	if (mount(src, path, type, flags, data) < 0) {
		sup_log(optional ? SUP_LOG_WARN : SUP_LOG_ERROR, NULL,
			"machine: mount %s on %s: %s", type, path, strerror(errno));
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

	/* /dev/kmsg rate-limits writers (10 lines per 5 s) unless printk.devkmsg=on; supd has a
	 * limit of its own (lib/log.c) that says what it held back */
	sup_write_at(AT_FDCWD, "/proc/sys/kernel/printk_devkmsg", "on\n");
	machine_kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (machine_kmsg_fd < 0) {
		sup_warn(NULL, "machine: /dev/kmsg: %s; logging to the console only",
			 strerror(errno));
		return;
	}
	if (sup_read_at(AT_FDCWD, "/proc/sys/kernel/printk", buf, sizeof(buf)) > 0)
		console_level = atoi(buf);
	sup_log_set_kmsg(machine_kmsg_fd, console_level);
}

void machine_early(void)
{
	struct statfs sfs;

	if (statfs("/proc", &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		mkdir("/proc", 0555);
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			sup_err(NULL, "machine: mount proc on /proc: %s", strerror(errno));
	}
	machine_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_STRICTATIME, "mode=0755",
		      false);
	console_stdio();
	start_kmsg();
	machine_log_kernel_args();
	machine_parse_cmdline();
	machine_faults_install();
	machine_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false);
	machine_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		      "mode=0620,ptmxmode=0666", false);
	machine_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME,
		      "mode=1777", false);
	machine_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=0755",
		      false);
	if (machine_opts.units_dir)
		supd->conf.units_dir = machine_opts.units_dir;
}
