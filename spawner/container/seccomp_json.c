/*
 * OCI and Docker seccomp profiles (JSON): defaultAction, defaultErrnoRet, architectures or
 * archMap, and syscalls with names (or name), action, errnoRet, args, includes and excludes
 * (caps, arches, minKernel). Every mistake is an error naming the file and what is wrong;
 * nothing here can crash on a hostile file (jansson parses, each value's type is checked).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "seccomp_profile.h"

static const struct {
	const char *name;
	uint32_t action; /* ERRNO and TRACE take errnoRet */
} actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

/* Go's names (Docker's includes.arches) of this machine's architecture. */
static bool native_arch(const char *go)
{
	uint32_t a = seccomp_arch_native();

	if (a == SCMP_ARCH_X86_64)
		return !strcmp(go, "amd64") || !strcmp(go, "x86_64") || !strcmp(go, "x32");
	if (a == SCMP_ARCH_AARCH64)
		return !strcmp(go, "arm64") || !strcmp(go, "aarch64");
	return false;
}

static int action_of(const char *path, json_t *o, const char *what, uint32_t *out,
		     struct sup_error **err)
{
	const char *s = json_string_value(json_object_get(o, "action"));
	json_t *ret =
	    json_object_get(o, strcmp(what, "defaultAction") ? "errnoRet" : "defaultErrnoRet");
	json_int_t e = json_is_integer(ret) ? json_integer_value(ret) : EPERM;

	if (!strcmp(what, "defaultAction"))
		s = json_string_value(json_object_get(o, "defaultAction"));
	if (!s)
		return sup_error_set(err, 0, "Seccomp=%s: %s missing or not a string", path, what);
	if (ret && !json_is_integer(ret))
		return sup_error_set(err, 0, "Seccomp=%s: errnoRet of %s is not a number", path,
				     what);
	if (e < 0 || e > 4095)
		return sup_error_set(err, 0, "Seccomp=%s: errnoRet %lld out of range", path,
				     (long long)e);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(actions); i++)
		if (!strcmp(s, actions[i].name)) {
			*out = actions[i].action;
			if (actions[i].action == SCMP_ACT_ERRNO(0))
				*out = SCMP_ACT_ERRNO((uint16_t)e);
			else if (actions[i].action == SCMP_ACT_TRACE(0))
				*out = SCMP_ACT_TRACE((uint16_t)e);
			return 0;
		}
	return sup_error_set(err, 0, "Seccomp=%s: %s: unknown action %s", path, what, s);
}

static int arch_of(const char *path, const char *s, uint32_t *a, struct sup_error **err)
{
	if (!s || strncmp(s, "SCMP_ARCH_", 10) != 0 || !(*a = seccomp_arch_resolve_name(s + 10))) {
		/* libseccomp's names are lower case */
		char low[32];
		size_t n = s ? strlen(s) : 0;
		if (n <= 10 || n - 10 >= sizeof(low))
			return sup_error_set(err, 0, "Seccomp=%s: unknown architecture %s", path,
					     s ? s : "(not a string)");
		for (size_t i = 10; i <= n; i++)
			low[i - 10] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
		*a = seccomp_arch_resolve_name(low);
		if (!*a)
			return sup_error_set(err, 0, "Seccomp=%s: unknown architecture %s", path,
					     s);
	}
	return 0;
}

static int push_arch(const char *path, struct sc_profile *p, json_t *s, struct sup_error **err)
{
	uint32_t a;

	if (arch_of(path, json_string_value(s), &a, err) < 0)
		return -1;
	if (p->n_arches < SUP_ARRAY_SIZE(p->arches))
		p->arches[p->n_arches++] = a;
	return 0;
}

/* architectures: a list; archMap: the native entry and its subArchitectures */
static int arches(const char *path, json_t *root, struct sc_profile *p, struct sup_error **err)
{
	json_t *list = json_object_get(root, "architectures"),
	       *map = json_object_get(root, "archMap");
	json_t *v;
	size_t i;

	if (list && !json_is_array(list))
		return sup_error_set(err, 0, "Seccomp=%s: architectures is not a list", path);
	json_array_foreach(list, i, v) if (push_arch(path, p, v, err) < 0) return -1;
	if (map && !json_is_array(map))
		return sup_error_set(err, 0, "Seccomp=%s: archMap is not a list", path);
	json_array_foreach(map, i, v)
	{
		json_t *sub = json_object_get(v, "subArchitectures"), *s;
		uint32_t a;
		size_t j;

		if (arch_of(path, json_string_value(json_object_get(v, "architecture")), &a, err) <
		    0)
			return -1;
		if (a != seccomp_arch_native())
			continue;
		json_array_foreach(sub, j, s) if (push_arch(path, p, s, err) < 0) return -1;
	}
	return 0;
}

static int one_arg(const char *path, json_t *a, struct scmp_arg_cmp *out, struct sup_error **err)
{
	json_t *idx = json_object_get(a, "index"), *val = json_object_get(a, "value");
	json_t *two = json_object_get(a, "valueTwo");
	const char *op = json_string_value(json_object_get(a, "op"));

	if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5 ||
	    !json_is_integer(val) || (two && !json_is_integer(two)))
		return sup_error_set(err, 0, "Seccomp=%s: an argument needs index (0-5) and value",
				     path);
	for (size_t i = 0; op && i < SUP_ARRAY_SIZE(ops); i++)
		if (!strcmp(op, ops[i].name)) {
			out->arg = (unsigned)json_integer_value(idx);
			out->op = ops[i].op;
			out->datum_a = (scmp_datum_t)json_integer_value(val);
			out->datum_b = two ? (scmp_datum_t)json_integer_value(two) : 0;
			return 0;
		}
	return sup_error_set(err, 0, "Seccomp=%s: unknown operator %s", path, op ? op : "(none)");
}

/* includes / excludes: caps all kept, an arch of this machine */
static bool applies(json_t *inc, json_t *exc, uint64_t caps)
{
	json_t *v;
	size_t i;
	bool arch_ok = !json_array_size(json_object_get(inc, "arches"));

	json_array_foreach(json_object_get(inc, "caps"), i, v)
	{
		int c = json_string_value(v) ? unit_cap_from_name(json_string_value(v)) : -1;
		if (c < 0 || !(caps & (1ULL << c)))
			return false;
	}
	json_array_foreach(json_object_get(inc, "arches"), i, v) arch_ok |=
	    json_string_value(v) && native_arch(json_string_value(v));
	json_array_foreach(json_object_get(exc, "caps"), i, v)
	{
		int c = json_string_value(v) ? unit_cap_from_name(json_string_value(v)) : -1;
		if (c >= 0 && (caps & (1ULL << c)))
			return false;
	}
	json_array_foreach(json_object_get(exc, "arches"), i,
			   v) if (json_string_value(v) &&
				  native_arch(json_string_value(v))) return false;
	return arch_ok;
}

/* "args": at most 6 comparisons */
static int rule_args(const char *path, json_t *args, struct scmp_arg_cmp *a, size_t *n,
		     struct sup_error **err)
{
	json_t *v;
	size_t i;

	*n = 0;
	if (args && (!json_is_array(args) || json_array_size(args) > 6))
		return sup_error_set(err, 0, "Seccomp=%s: args is not a list of at most 6", path);
	json_array_foreach(args, i, v) if (one_arg(path, v, &a[(*n)++], err) < 0) return -1;
	return 0;
}

/* "name", or each of "names" */
static int rule_names(const char *path, const char *one, json_t *names, uint32_t action,
		      const struct scmp_arg_cmp *a, size_t n, struct sc_profile *p,
		      struct sup_error **err)
{
	json_t *v;
	size_t i;

	if (one && sc_add(p, one, action, a, (unsigned)n) < 0)
		return sup_error_set(err, ENOMEM, "Seccomp=%s", path);
	json_array_foreach(names, i, v)
	{
		if (!json_is_string(v))
			return sup_error_set(err, 0, "Seccomp=%s: a syscall name is not a string",
					     path);
		if (sc_add(p, json_string_value(v), action, a, (unsigned)n) < 0)
			return sup_error_set(err, ENOMEM, "Seccomp=%s", path);
	}
	return 0;
}

static int one_rule(const char *path, json_t *r, uint64_t caps, struct sc_profile *p,
		    struct sup_error **err)
{
	json_t *names = json_object_get(r, "names");
	const char *one = json_string_value(json_object_get(r, "name"));
	struct scmp_arg_cmp a[6];
	uint32_t action;
	size_t n;

	if (!json_is_object(r) || (names && !json_is_array(names)) || (!names && !one))
		return sup_error_set(err, 0, "Seccomp=%s: a syscalls entry needs names", path);
	if (action_of(path, r, "action", &action, err) < 0 ||
	    rule_args(path, json_object_get(r, "args"), a, &n, err) < 0)
		return -1;
	if (!applies(json_object_get(r, "includes"), json_object_get(r, "excludes"), caps))
		return 0;
	return rule_names(path, one, names, action, a, n, p, err);
}

int sc_load_json(const char *path, uint64_t caps, struct sc_profile *p, struct sup_error **err)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *list, *r;
	size_t i;
	int rc = -1;

	if (!root)
		return sup_error_set(err, 0, "Seccomp=%s: line %d: %s", path, je.line, je.text);
	if (!json_is_object(root)) {
		sup_error_set(err, 0, "Seccomp=%s: not a JSON object", path);
		goto out;
	}
	if (action_of(path, root, "defaultAction", &p->default_action, err) < 0 ||
	    arches(path, root, p, err) < 0)
		goto out;
	list = json_object_get(root, "syscalls");
	if (list && !json_is_array(list)) {
		sup_error_set(err, 0, "Seccomp=%s: syscalls is not a list", path);
		goto out;
	}
	json_array_foreach(list, i, r) if (one_rule(path, r, caps, p, err) < 0) goto out;
	rc = 0;
out:
	json_decref(root);
	return rc;
}
