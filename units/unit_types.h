/* The key table's entries and value types (unit_table.c, unit_types*.c). */
#ifndef SUP_UNIT_TYPES_H
#define SUP_UNIT_TYPES_H

#include "unit_private.h"

struct unit_key;

/* One assignment being handled. */
struct unit_ctx {
	struct unit_parser *p;
	const struct unit_key *k;
	const char *key;     /* as written */
	struct unit_buf why; /* what is wrong, when parse returns -1 */
	bool whole;	     /* why is the whole message: no "; allowed: ..." after it */
};

/* A value type: parse into the field, reset it on an empty value. */
struct value_type {
	int (*parse)(struct unit_ctx *x, const char *value, void *field);
	void (*reset)(void *field); /* NULL: copy the default */
	unsigned flags;		    /* VT_* */
};

#define VT_TAKES_EMPTY	 0x1u /* an empty value goes to parse, not to reset */
#define VT_NO_SPECIFIERS 0x2u /* the value is not looked at: '%' stays */

/* Sections a key may stand in. */
#define S_UNIT	    0x1u
#define S_SERVICE   0x2u
#define S_RESOURCES 0x4u
#define S_INSTALL   0x8u
#define S_CONTAINER 0x10u

/* Key flags. */
#define K_INFINITY	0x1u /* durations: "infinity" allowed */
#define K_ZERO_INFINITY 0x2u /* systemd's timeouts: 0 means no timeout */

struct unit_key {
	const char *key;
	unsigned sections;
	const struct value_type *type;
	size_t offset, size;
	const char *allowed; /* for a disposition type: why it is ignored or refused */
	const void *arg;     /* enum names, a range, a resource number, ... */
	const char *canon;   /* an alias: the key it spells; NULL for a key of its own */
	unsigned flags;	     /* K_* */
};

struct range {
	int64_t min, max;
};

/* t_enum's arg: {name, value} pairs, NULL-terminated; several names may give one value. */
struct unit_enum {
	const char *name;
	int value;
};

/* t_rlimit's arg: how a Limit*= value reads. */
enum rlimit_unit { RL_COUNT, RL_SIZE, RL_SEC, RL_USEC, RL_NICE };

struct rlimit_arg {
	int resource; /* RLIMIT_* */
	enum rlimit_unit unit;
};

/* Helpers for value types: "'VALUE' is not valid", set a string, add to a list. */
int unit_invalid(struct unit_ctx *x, const char *value, bool too_large);
int unit_set_string(struct unit_ctx *x, char **field, const char *value);
int unit_push_unique(struct unit_ctx *x, struct strv *sv, const char *s);
int unit_oom(struct unit_ctx *x);

extern const struct value_type t_text, t_path, t_user, t_env, t_envfile, t_enum, t_duration, t_uint,
    t_int, t_octal, t_signal, t_bool, t_percent, t_cpuset, t_limit_size, t_limit_count, t_bandwidth,
    t_image;
/* unit_types_exec.c */
extern const struct value_type t_exec, t_argv, t_commands, t_exit_set, t_rlimit, t_conditions,
    t_dirs, t_timeout_both;
/* unit_types_deps.c */
extern const struct value_type t_units;
/* unit_types_systemd.c: keys that only warn, that are refused, sandboxing, fixed behaviours */
extern const struct value_type t_ignored, t_refused, t_sandbox, t_fixed;
/* unit_types_container.c: [Container], and the systemd sandboxing keys mapped onto it */
extern const struct value_type t_namespaces, t_userns, t_binds, t_tmpfs, t_caps, t_ambient, t_nnp,
    t_seccomp, t_network, t_hostname, t_offset, t_shm, t_devices, t_private_tmp, t_private_network,
    t_ro_paths, t_protect_system, t_words;

/* t_fixed: the one value sup's behaviour matches; another value warns or is refused. */
struct fixed {
	const char *ok;	     /* e.g. "yes"; a boolean matches any spelling of it */
	bool boolean;	     /* compare as a boolean */
	bool other_warns;    /* another value: a warning (else an error) */
	const char *because; /* why another value is not taken */
};

/* t_sandbox: a systemd sandboxing key, refused until [Container] maps it. */
struct sandbox {
	const char *maps_to;   /* the [Container] key(s) it will map onto, or NULL: refused */
	bool no_is_nothing;    /* "no"/false asks for nothing: accepted */
	bool empty_is_nothing; /* an empty value asks for nothing: accepted */
};

#endif
