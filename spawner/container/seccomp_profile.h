/* A seccomp profile before compilation: Docker's default (seccomp.c) or a JSON file
 * (seccomp_json.c). */
#ifndef SUP_SPAWNER_SECCOMP_PROFILE_H
#define SUP_SPAWNER_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

#include "sup/error.h"
#include "sup/spawn.h"

struct sc_rule {
	char name[48];
	int nr;
	uint32_t action;
	unsigned n_args;
	struct scmp_arg_cmp args[6];
};

struct sc_profile {
	uint32_t default_action;
	uint32_t arches[16]; /* besides the native one */
	size_t n_arches;
	struct sc_rule *rules;
	size_t n_rules, cap;
};

/* Add a rule; a name this architecture lacks is skipped. -1 on ENOMEM. */
int sc_add(struct sc_profile *p, const char *name, uint32_t action, const struct scmp_arg_cmp *args,
	   unsigned n_args);
int sc_default(struct sc_profile *p, uint64_t caps);
/* Read and check an OCI/Docker profile file; caps decide its includes/excludes. */
int sc_load_json(const char *path, uint64_t caps, struct sc_profile *p, struct sup_error **err);
int sc_compile(const struct sc_profile *p, struct spawn_bpf *out, struct sup_error **err);
void sc_profile_free(struct sc_profile *p);

#endif
