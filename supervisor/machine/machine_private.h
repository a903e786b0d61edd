/* What the files of supervisor/machine/ share among themselves (not with the rest of supd). */
#ifndef SUP_MACHINE_PRIVATE_H
#define SUP_MACHINE_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

/* Options from the kernel command line (cmdline.c writes them, before the units boot). */
struct machine_opts {
	bool emergency;	    /* sup.emergency, or `single`/`emergency`/...: the shell first */
	bool shell;	    /* sup.shell: a shell next to the units */
	char *units_dir;    /* sup.units=DIR */
	char *shell_path;   /* sup.shell=PATH */
	char *cgroup_no_v1; /* the kernel's cgroup_no_v1=LIST: controllers v1 may not mount */
};
extern struct machine_opts machine_opts;

/* /dev/kmsg, or -1 (early.c opens it). The crash path writes to it directly. */
extern int machine_kmsg_fd;

/* cmdline.c: the sup.* options of /proc/cmdline; the kernel's words given as arguments. */
void machine_parse_cmdline(void);
void machine_log_kernel_args(void);

/* early.c: mount type on path unless something is mounted there; failures logged. */
void machine_mount(const char *src, const char *path, const char *type, unsigned long flags,
		   const char *data, bool optional);

/* fault.c: fault signals (SEGV, BUS, ILL, FPE, ABRT): real faults vs. ones a process sent. */
void machine_faults_install(void);
void machine_faults_watch(void); /* the event loop exists: report sent signals from it */
/* Reap forever; SIGTERM/SIGUSR2 power off, SIGINT reboots, SIGUSR1 halts, the crude way
 * (everything killed, sync, emergency read-only remount, reboot(2)). Async-signal-safe. */
void __attribute__((noreturn)) machine_reap_forever(void);

/* shell.c */
void machine_shell_hangup(void); /* the way down: SIGHUP to the shell, if one runs */

/* unmount.c: /proc back if a unit unmounted it; every mount unmounted or read-only. */
void machine_proc_remount(void);
void machine_unmount_all(void);

#endif
