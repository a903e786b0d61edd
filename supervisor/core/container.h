/*
 * A unit as a container (container.c): its config turned into the spawner's struct
 * spawn_container, its automatic id range, the compiled seccomp filter, what its init
 * reports (the service exec'd, the service's real wait status), and what status shows.
 */
#ifndef SUP_CORE_CONTAINER_H
#define SUP_CORE_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>

#include "sup/spawn.h"
#include "sup/strv.h"
#include "core/unit.h"

/* What a container spawn needs kept until spawn_process() returns. */
struct ct_spawn {
	struct spawn_container c;
	struct spawn_mount *mounts;
	char **strings; /* the split Bind= values */
	size_t n_strings;
	char root[4096], notify[4096];
};

/* The runtime side of a container unit (u->ct). */
struct unit_ct {
	bool active; /* the current run is a container (or a sandboxed plain unit) */
	bool init;   /* ... with the container init: the sync fd stays open after the exec */
	bool execd;  /* the init said the service exec'd */
	bool have_status;
	int svc_wstatus;
	pid_t svc_pid; /* the service (host pid), when there is an init */
	unsigned ns;
	char *root;
	uint32_t userns_base; /* UserNamespace=auto: the unit's range, once chosen */
	struct spawn_bpf bpf; /* Seccomp=default, for bpf_caps */
	uint64_t bpf_caps;
	bool bpf_valid;
};

/* Before a spawn: fill req->container (and fix the environment) if the unit wants any
 * isolation. 0 also for a plain unit; -1 with *err. */
int sup_ct_prepare(struct unit *u, struct ct_spawn *s, struct spawn_request *req, struct strv *env,
		   struct sup_error **err);
/* After it: drop s; the run is a container (or not). */
void sup_ct_spawned(struct unit *u, struct ct_spawn *s, bool ok);
void sup_ct_spawn_free(struct ct_spawn *s);
/* The sync pipe of a container with an init. */
void sup_ct_on_sync(struct ev_loop *loop, ev_io *w, int revents);
/* The main process (the init) was reaped with wstatus: the service's, when reported. */
int sup_ct_wstatus(struct unit *u, int wstatus);
/* status --json: "container": {...}; "pid" is the service's */
void sup_ct_status_json(struct unit *u, json_t *o);
void sup_ct_free(struct unit *u);
/* A spawn_container to join the running unit (supctl exec, health checks): -1 if the unit
 * is no container or not running. */
int sup_ct_join(struct unit *u, struct ct_spawn *s, struct spawn_request *req, struct strv *env,
		struct sup_error **err);
struct cg_device;
/* The unit's device allow-list for its cgroup (Docker's default and Devices=): none for a
 * unit without [Container]. *out is malloc'ed. 0, or -1 with *err (a Devices= node missing). */
int sup_ct_devices(const struct unit_config *cfg, struct cg_device **out, size_t *n,
		   struct sup_error **err);
/* At load: a Seccomp= profile file that does not compile makes the unit bad. */
void sup_ct_check_set(struct unit_set *set);

#endif
