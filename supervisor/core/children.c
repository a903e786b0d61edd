/* The table of processes supd waits for: a hash by pid, so reaping is O(1) per exit. */
#include <errno.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/spawn.h"
#include "core/children.h"

static struct sup_hash by_pid;
static size_t unit_children;

void sup_child_add(struct sup_child *c, pid_t pid, enum child_kind kind,
		   void (*reaped)(struct sup_child *c, int wstatus))
{
	c->pid = pid;
	c->kind = kind;
	c->reaped = reaped;
	/* no bucket array at all: the exit is then reaped as an orphan, and the owner learns
	 * nothing; supd allocated the table long before, so this does not happen in practice */
	if (sup_hash_add(&by_pid, &c->node, sup_hash_u64((uint64_t)pid)) == 0 &&
	    kind != CHILD_OTHER)
		unit_children++;
}

struct sup_child *sup_child_find(pid_t pid)
{
	uint64_t h = sup_hash_u64((uint64_t)pid);

	for (struct sup_hnode *n = sup_hash_first(&by_pid, h); n; n = sup_hash_next(n)) {
		struct sup_child *c = sup_container_of(n, struct sup_child, node);
		if (c->pid == pid)
			return c;
	}
	return NULL;
}

void sup_child_set_pidfd(struct sup_child *c, int pidfd)
{
	if (c->has_pidfd)
		close(c->pidfd);
	c->pidfd = pidfd;
	c->has_pidfd = pidfd >= 0;
}

int sup_child_signal(struct sup_child *c, int sig)
{
	if (!c->pid)
		return errno = ESRCH, -1;
	return spawn_signal(c->has_pidfd ? c->pidfd : -1, c->pid, sig);
}

void sup_child_forget(struct sup_child *c)
{
	sup_child_set_pidfd(c, -1);
	if (!c->pid || sup_child_find(c->pid) != c)
		return;
	sup_hash_del(&by_pid, &c->node);
	if (c->kind != CHILD_OTHER && unit_children > 0)
		unit_children--;
	c->pid = 0;
}

bool sup_child_exited(pid_t pid, int wstatus)
{
	struct sup_child *c = sup_child_find(pid);

	if (!c)
		return false;
	sup_child_forget(c);
	if (c->reaped)
		c->reaped(c, wstatus);
	return true;
}

size_t sup_children_of_units(void)
{
	return unit_children;
}
