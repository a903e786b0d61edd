/*
 * The last steps before exec, as runc does them (libcap): the bounding set is the unit's
 * capabilities; root keeps them as permitted and effective; another User= gets empty
 * permitted and effective sets but for the ambient capabilities asked for explicitly; the
 * inheritable set holds only those ambient ones (empty by default: CVE-2022-24769). Then
 * no_new_privs and the seccomp filter. Without no_new_privs the filter must go in while we
 * still hold CAP_SYS_ADMIN, so before the switch of user.
 */
#include <errno.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sys/capability.h>

#include "container.h"

static void load_seccomp(int sync, const struct spawn_bpf *b)
{
	struct sock_fprog prog = {.len = b->len, .filter = b->filter};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		ct_fail(sync, errno, "load the seccomp filter");
}

static void drop_bounding(int sync, uint64_t keep)
{
	int last = cap_max_bits() - 1;

	for (int cap = 0; cap <= last; cap++)
		if (cap >= 64 || !(keep & (1ULL << cap)))
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				ct_fail(sync, errno, "drop capability %d from the bounding set",
					cap);
}

static void switch_user(int sync, const struct ct_ids *ids)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		ct_fail(sync, errno, "keep capabilities across setuid");
	if (setgroups((size_t)ids->n_groups, ids->groups) < 0)
		ct_fail(sync, errno, "setgroups");
	if (setresgid(ids->gid, ids->gid, ids->gid) < 0)
		ct_fail(sync, errno, "setgid %u", (unsigned)ids->gid);
	if (setresuid(ids->uid, ids->uid, ids->uid) < 0)
		ct_fail(sync, errno, "setuid %u", (unsigned)ids->uid);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static void add_caps(cap_t c, cap_flag_t which, uint64_t set)
{
	cap_value_t v[64];
	int n = 0;

	for (int cap = 0; cap < 64 && cap < cap_max_bits(); cap++)
		if (set & (1ULL << cap))
			v[n++] = cap;
	if (n)
		cap_set_flag(c, which, n, v, CAP_SET);
}

static void set_caps(int sync, uint64_t perm, uint64_t ambient)
{
	cap_t c = cap_init();

	if (!c)
		ct_fail(sync, errno, "capabilities");
	add_caps(c, CAP_PERMITTED, perm);
	add_caps(c, CAP_EFFECTIVE, perm);
	add_caps(c, CAP_INHERITABLE, ambient);
	if (cap_set_proc(c) < 0)
		ct_fail(sync, errno, "set the capabilities");
	cap_free(c);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int cap = 0; cap < 64; cap++)
		if ((ambient & (1ULL << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			ct_fail(sync, errno, "raise ambient capability %s", cap_to_name(cap));
}

/* As runc: root gets the bounding set as permitted and effective, another user only the
 * ambient capabilities asked for; the inheritable set holds those only (CVE-2022-24769). */
static void user_caps(int sync, const struct spawn_container *c, uid_t uid, uint64_t bound)
{
	uint64_t ambient = c->ambient & bound;

	if (!c->caps_set && uid == 0 && !c->ambient)
		return; /* nothing asked: every capability stays */
	set_caps(sync, uid == 0 ? bound : ambient, ambient);
}

static uint64_t all_caps(void)
{
	return cap_max_bits() >= 64 ? ~0ULL : (1ULL << cap_max_bits()) - 1;
}

void ct_security(int sync, const struct spawn_container *c, const struct ct_ids *ids)
{
	uint64_t bound = c->caps_set ? c->caps : all_caps();
	/* without no_new_privs a filter can be loaded only while we still have CAP_SYS_ADMIN */
	bool early = c->seccomp && !c->no_new_privs;

	if (c->caps_set)
		drop_bounding(sync, bound);
	if (early)
		load_seccomp(sync, c->seccomp);
	if (ids->set)
		switch_user(sync, ids);
	user_caps(sync, c, ids->set ? ids->uid : 0, bound);
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		ct_fail(sync, errno, "set no_new_privs");
	if (c->seccomp && !early)
		load_seccomp(sync, c->seccomp);
}
