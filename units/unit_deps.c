/*
 * Dependency checks over a loaded set: Requires= of a missing or bad unit, and ordering
 * cycles (edges Requires= and After=; Wants= orders nothing). Repeated until nothing changes,
 * so a unit requiring one that just became bad becomes bad in turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

static bool set_bad(struct unit_entry *e, char *msg)
{
	if (!msg)
		return false; /* out of memory: leave the unit as it was */
	unit_config_free(e->config);
	free(e->config);
	e->config = NULL;
	free(e->error);
	e->error = msg;
	return true;
}

static bool check_requires(struct unit_set *set)
{
	bool changed = false;

	for (size_t i = 0; i < set->n; i++) {
		struct unit_entry *e = &set->v[i];
		for (size_t j = 0; e->config && j < e->config->requires.n; j++) {
			const char *r = e->config->requires.v[j];
			struct unit_entry *t = unit_set_find(set, r);
			char *msg = NULL;
			if (t && t->config)
				continue;
			if (asprintf(&msg, "requires '%s', which %s", r,
				     t ? "is a bad unit" : "does not exist") < 0)
				msg = NULL;
			changed |= set_bad(e, msg);
		}
	}
	return changed;
}

/* Index of the good unit named name, or -1 (missing or bad units order nothing). */
static long node(struct unit_set *set, const char *name)
{
	struct unit_entry *t = unit_set_find(set, name);
	return t && t->config ? (long)(t - set->v) : -1;
}

struct scratch {
	long *parent; /* breadth-first tree; -2 = not reached */
	long *queue;
	long *path;
};

/* "ordering cycle: u -> a -> b -> u", closing at x -> u, from the tree of the search. */
static char *cycle_text(struct unit_set *set, size_t u, long x, struct scratch *s)
{
	struct unit_buf b = {0};
	size_t m = 0;

	for (long k = x; k != (long)u; k = s->parent[k])
		s->path[m++] = k;
	unit_buf_printf(&b, "ordering cycle: %s", set->v[u].name);
	while (m > 0)
		unit_buf_printf(&b, " -> %s", set->v[s->path[--m]].name);
	unit_buf_printf(&b, " -> %s", set->v[u].name);
	if (b.failed)
		unit_buf_free(&b);
	return b.p;
}

/* The shortest ordering cycle through u, as text, or NULL when u is on none. */
static char *cycle_through(struct unit_set *set, size_t u, struct scratch *s)
{
	size_t head = 0, tail = 0;

	for (size_t i = 0; i < set->n; i++)
		s->parent[i] = -2;
	s->queue[tail++] = (long)u;
	while (head < tail) {
		long x = s->queue[head++];
		const struct unit_config *c = set->v[x].config;
		const struct strv *edges[] = {&c->requires, &c->after};
		for (size_t l = 0; l < SUP_ARRAY_SIZE(edges); l++)
			for (size_t j = 0; j < edges[l]->n; j++) {
				long y = node(set, edges[l]->v[j]);
				if (y == (long)u)
					return cycle_text(set, u, x, s);
				if (y >= 0 && s->parent[y] == -2) {
					s->parent[y] = x;
					s->queue[tail++] = y;
				}
			}
	}
	return NULL;
}

/* Every unit on a cycle becomes bad; found first, marked after, so each pass sees one graph. */
static bool check_cycles(struct unit_set *set)
{
	struct scratch s = {calloc(set->n, sizeof(long)), calloc(set->n, sizeof(long)),
			    calloc(set->n, sizeof(long))};
	char **msgs = calloc(set->n, sizeof(char *));
	bool changed = false;

	if (s.parent && s.queue && s.path && msgs) {
		for (size_t u = 0; u < set->n; u++)
			if (set->v[u].config)
				msgs[u] = cycle_through(set, u, &s);
		for (size_t u = 0; u < set->n; u++)
			if (msgs[u])
				changed |= set_bad(&set->v[u], msgs[u]);
	}
	free(s.parent);
	free(s.queue);
	free(s.path);
	free(msgs);
	return changed;
}

void unit_set_check_deps(struct unit_set *set)
{
	bool changed;

	do {
		changed = check_requires(set);
		changed |= check_cycles(set);
	} while (changed);
}
