/* supd's daemon-wide state and configuration. Units are in core/unit.h. */
#ifndef SUP_SUPD_H
#define SUP_SUPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "sup/error.h"
#include "sup/list.h"

struct supd_config {
	char *units_dir;
	char *config_file;
	char *state_dir;
	char *run_dir;
	char *socket_path;
	gid_t control_gid; /* (gid_t)-1: root only */
	size_t log_ring_bytes;
	char *log_dir; /* NULL: no log files */
	uint64_t log_file_max;
	unsigned log_file_keep;
	int machine_mode;     /* enum machine_mode (machine.h): --machine / --container, or auto */
	char *hostname;	      /* [Machine] Hostname=: set when the machine's init (default "sup") */
	int cgroup_mode;      /* enum cg_mode: [Cgroup] Mode= (default auto) */
	int cgroup_favor;     /* [Cgroup] FavorDynMods=: 1, 0, or -1 = only as the machine's init */
	char *metrics_listen; /* [Metrics] Listen=ADDR:PORT; NULL: off */

	/* [Machine] ShutdownTimeoutSec=: how long the machine's shutdown may take; 0: 90 s */
	uint64_t shutdown_timeout_usec;

	char *image_helper; /* --image-helper: sup-image (docs/images.md) */
	/* [Images] HelperTimeoutSec=: the helper silent this long is killed (default 15 min) */
	uint64_t image_helper_timeout_usec;
};

struct supd {
	struct ev_loop *loop;
	struct supd_config conf;
	struct list units; /* every struct unit, in load order (core/registry.c) */
	size_t n_units;
	bool shutting_down;
	int exit_status;   /* supd's own exit status at shutdown */
	bool exit_decided; /* an ExitWithUnit= unit gave it (the first one to end) */
	bool is_pid1;
	char *load_error;	   /* the units directory could not be read */
	unsigned long nofile_soft; /* RLIMIT_NOFILE supd started with, given back to units */
	unsigned long nofile_hard;
};

extern struct supd *supd;

/* config.c: supd.conf */
int sup_config_load(struct supd_config *c, struct sup_error **err);

#endif
