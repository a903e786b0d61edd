/* supd as the init of a machine (supervisor/machine/): boot-time set-up, the kernel's arguments,
 * fault signals, the console shell, the way down. What the rest of supd calls. */
#ifndef SUP_MACHINE_H
#define SUP_MACHINE_H

#include <stdbool.h>
#include <sys/types.h>

#include "sup/strv.h"

enum machine_mode {
	MACHINE_MODE_AUTO,	/* PID 1 in the initial pid namespace */
	MACHINE_MODE_MACHINE,	/* --machine: as PID 1, always the machine's init */
	MACHINE_MODE_CONTAINER, /* --container: never */
};

enum machine_power {
	MACHINE_POWEROFF,
	MACHINE_REBOOT,
	MACHINE_HALT,
};

/* Is supd the machine's init? PID 1 in the initial pid namespace, or as forced. */
bool machine_detect(enum machine_mode forced);
/* Arguments supd does not know, which as the machine's init are the kernel's (`single`, `3`,
 * what follows `--`): never a reason to exit. `single`, `emergency` and their sysvinit
 * spellings mean the emergency shell; the rest is logged and ignored (in machine_early). */
void machine_kernel_args(const struct strv *words);
/* Before the config and the sockets: console, /proc /sys /dev /run, kmsg logging, the kernel
 * command line (sup.*), the fault handler. Failures are logged; never fatal. */
void machine_early(void);
/* After the config, before sup_cg_setup(): cgroup2 at /sys/fs/cgroup with its controllers, or
 * with [Cgroup] Mode=v1 the legacy layout (a tmpfs, a v1 hierarchy per controller, cgroup2 at
 * unified/). */
void machine_cgroups(void);
/* After the config, with the event loop: hostname, lo, ctrl-alt-del as SIGINT, fault signals
 * sent by processes reported from the loop. */
void machine_late(void);
/* The units directory from sup.units=, or NULL. */
const char *machine_units_dir(void);
/* Boot the units, or, with sup.emergency, a shell on the console first (the units boot when it
 * exits); with sup.shell, a shell next to the units. */
void machine_boot(void);
/* reaper.c: true if pid was the console shell (handled). */
bool machine_reaped(pid_t pid, int wstatus);
/* A power request (supctl, a signal; `by` names it in the log). The first one starts the
 * shutdown and decides what happens at its end; a later one changes nothing of that and cuts
 * what is left of the shutdown deadline to a few seconds. */
void machine_power(enum machine_power what, const char *by);
/* SIGTERM, SIGUSR2: power off; SIGINT: reboot; SIGUSR1: halt (through machine_power). */
void machine_signal(int signo);
/* sup_shutdown() began the shutdown: arm its deadline ([Machine] ShutdownTimeoutSec=). */
void machine_shutdown_started(void);
/* The units are down, or the deadline passed: kill what is left, sync, unmount, reboot(2).
 * Never returns. */
void __attribute__((noreturn)) machine_final(void);
/* supd could not set itself up: log, give the console a shell, reap forever. */
void __attribute__((noreturn)) machine_fallback(const char *why);

#endif
