/* supd as the init of a machine (machine.c): boot-time set-up, the emergency shell, the way down.
 */
#ifndef SUP_MACHINE_H
#define SUP_MACHINE_H

#include <stdbool.h>
#include <sys/types.h>

enum machine_mode {
	MACHINE_MODE_AUTO,	/* PID 1 in the initial pid namespace */
	MACHINE_MODE_MACHINE,	/* --machine: as PID 1, always the machine's init */
	MACHINE_MODE_CONTAINER, /* --container: never */
};

/* Is supd the machine's init? PID 1 in the initial pid namespace, or as forced. */
bool machine_detect(enum machine_mode forced);
/* Before the config and the sockets: console, /proc /sys /dev /run, kmsg logging, the kernel
 * command line (sup.*), the crash handler. Failures are logged; never fatal. */
void machine_early(void);
/* After the config, before sup_cg_setup(): cgroup2 at /sys/fs/cgroup with its controllers, or
 * with [Cgroup] Mode=v1 the legacy layout (a tmpfs, a v1 hierarchy per controller, cgroup2 at
 * unified/). */
void machine_cgroups(void);
/* After the config: hostname, lo, ctrl-alt-del as SIGINT. */
void machine_late(void);
/* The units directory from sup.units=, or NULL. */
const char *machine_units_dir(void);
/* Boot the units, or, with sup.emergency, a shell on the console first (the units boot when it
 * exits); with sup.shell, a shell next to the units. */
void machine_boot(void);
/* reaper.c: true if pid was the emergency shell (handled). */
bool machine_reaped(pid_t pid, int wstatus);
/* SIGUSR1 (halt) and SIGUSR2 (poweroff). */
void machine_signal(int signo);
/* The units are down: kill what is left, sync, unmount, reboot(2). Never returns. */
void __attribute__((noreturn)) machine_final(void);
/* supd could not set itself up: log, give the console a shell, reap forever. */
void __attribute__((noreturn)) machine_fallback(const char *why);

#endif
