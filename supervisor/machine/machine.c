/*
 * supd as the init of a machine: PID 1 of the initial pid namespace (or --machine). The files
 * here, one job each: early.c (the first mounts, the console, kmsg), cmdline.c (the kernel
 * command line), cglayout.c (the cgroup filesystem), fault.c (fault signals), shell.c (the
 * console shell), shutdown.c and unmount.c (the way down). This one: the detection, and the set-up
 * after the config (hostname, lo, ctrl-alt-del). Nothing here is fatal: a failure is logged and
 * supd goes on; PID 1 must never exit.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sup/log.h"
#include "machine.h"
#include "machine_private.h"
#include "supd.h"

#define INITIAL_PID_NS "pid:[4026531836]"

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

	machine_faults_watch();
	if (sethostname(host, strlen(host)) < 0)
		sup_err(NULL, "machine: sethostname %s: %s", host, strerror(errno));
	loopback_up();
	/* ctrl-alt-del: the kernel sends PID 1 SIGINT (reboot) instead of rebooting at once */
	if (reboot(RB_DISABLE_CAD) < 0)
		sup_warn(NULL, "machine: reboot(RB_DISABLE_CAD): %s", strerror(errno));
	sup_info(NULL, "machine: hostname %s, lo up%s%s", host,
		 machine_opts.emergency ? ", emergency shell requested" : "",
		 machine_opts.shell ? ", console shell requested" : "");
}
