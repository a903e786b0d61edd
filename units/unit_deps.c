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

/* The ordering graph (Requires= and After=) of the good units, as index lists. */
struct graph {
	size_t n;
	long **adj; /* adj[x]: targets of x, -1 terminated; NULL for a bad unit */
	long *comp; /* strongly connected component of x (Tarjan), -1 for a bad unit */
	long *comp_size;
	bool *self; /* x orders itself after itself */
};

static long *edges_of(struct unit_set *set, size_t x, bool *self)
{
	const struct unit_config *c = set->v[x].config;
	long *a = malloc((c->requires.n + c->after.n + 1) * sizeof(*a));
	size_t k = 0;

	if (!a)
		return NULL;
	for (size_t l = 0; l < 2; l++) {
		const struct strv *e = l ? &c->after : &c->requires;
		for (size_t j = 0; j < e->n; j++) {
			long y = node(set, e->v[j]);
			if (y >= 0)
				a[k++] = y;
			*self |= y == (long)x;
		}
	}
	a[k] = -1;
	return a;
}

/* Tarjan's algorithm without recursion (a chain of thousands of units must not exhaust the
 * stack): index, lowlink and an explicit call stack of (node, next edge). */
struct tarjan {
	long *index, *low, *stack, *call, *edge;
	bool *on;
	long next_index, sp, ncomp;
};

static void strongconnect(struct graph *g, struct tarjan *t, long root)
{
	long cp = 0;

	t->call[cp] = root;
	t->edge[cp++] = 0;
	t->index[root] = t->low[root] = t->next_index++;
	t->stack[t->sp++] = root;
	t->on[root] = true;
	while (cp > 0) {
		long v = t->call[cp - 1], w = g->adj[v][t->edge[cp - 1]];

		if (w >= 0) {
			t->edge[cp - 1]++;
			if (t->index[w] < 0) {
				t->index[w] = t->low[w] = t->next_index++;
				t->stack[t->sp++] = w;
				t->on[w] = true;
				t->call[cp] = w;
				t->edge[cp++] = 0;
			} else if (t->on[w] && t->index[w] < t->low[v]) {
				t->low[v] = t->index[w];
			}
			continue;
		}
		if (t->low[v] == t->index[v]) { /* v roots a component: pop it */
			long x;
			do {
				x = t->stack[--t->sp];
				t->on[x] = false;
				g->comp[x] = t->ncomp;
				g->comp_size[t->ncomp]++;
			} while (x != v);
			t->ncomp++;
		}
		if (--cp > 0 && t->low[v] < t->low[t->call[cp - 1]])
			t->low[t->call[cp - 1]] = t->low[v];
	}
}

static bool components(struct graph *g)
{
	size_t n = g->n;
	struct tarjan t = {calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(bool)),
			   0,
			   0,
			   0};
	bool ok = t.index && t.low && t.stack && t.call && t.edge && t.on;

	for (size_t i = 0; ok && i < n; i++)
		t.index[i] = -1;
	for (size_t i = 0; ok && i < n; i++)
		if (g->adj[i] && t.index[i] < 0)
			strongconnect(g, &t, (long)i);
	free(t.index);
	free(t.low);
	free(t.stack);
	free(t.call);
	free(t.edge);
	free(t.on);
	return ok;
}

/* "ordering cycle: u -> a -> b -> u": the shortest cycle through u, found by a breadth-first
 * search that stays inside u's component. */
static char *cycle_text(struct unit_set *set, struct graph *g, size_t u, long *parent, long *queue)
{
	size_t head = 0, tail = 0, m = 0;
	struct unit_buf b = {0};
	long last = -1;

	for (size_t i = 0; i < g->n; i++)
		parent[i] = -2;
	queue[tail++] = (long)u;
	while (head < tail && last < 0) {
		long x = queue[head++];
		for (long *w = g->adj[x]; *w >= 0 && last < 0; w++) {
			if (*w == (long)u)
				last = x;
			else if (g->comp[*w] == g->comp[u] && parent[*w] == -2) {
				parent[*w] = x;
				queue[tail++] = *w;
			}
		}
	}
	for (long k = last; k >= 0 && k != (long)u; k = parent[k])
		queue[m++] = k; /* the path, backwards (the queue is free again) */
	unit_buf_printf(&b, "ordering cycle: %s", set->v[u].name);
	while (m > 0)
		unit_buf_printf(&b, " -> %s", set->v[queue[--m]].name);
	unit_buf_printf(&b, " -> %s", set->v[u].name);
	if (b.failed)
		unit_buf_free(&b);
	return b.p;
}

static void graph_free(struct graph *g)
{
	for (size_t i = 0; g->adj && i < g->n; i++)
		free(g->adj[i]);
	free(g->adj);
	free(g->comp);
	free(g->comp_size);
	free(g->self);
}

static bool graph_build(struct unit_set *set, struct graph *g)
{
	g->n = set->n;
	g->adj = calloc(set->n, sizeof(*g->adj));
	g->comp = malloc(set->n * sizeof(*g->comp));
	g->comp_size = calloc(set->n, sizeof(*g->comp_size));
	g->self = calloc(set->n, sizeof(*g->self));
	if (!g->adj || !g->comp || !g->comp_size || !g->self)
		return false;
	for (size_t i = 0; i < set->n; i++) {
		g->comp[i] = -1;
		if (set->v[i].config && !(g->adj[i] = edges_of(set, i, &g->self[i])))
			return false;
	}
	return components(g);
}

/* Every unit on a cycle becomes bad; found first, marked after, so each pass sees one graph.
 * O(units + edges), plus a search per unit that is on a cycle. */
static bool check_cycles(struct unit_set *set)
{
	struct graph g = {0};
	long *parent = calloc(set->n, sizeof(long)), *queue = calloc(set->n, sizeof(long));
	char **msgs = calloc(set->n, sizeof(char *));
	bool changed = false;

	if (set->n && parent && queue && msgs && graph_build(set, &g)) {
		for (size_t u = 0; u < set->n; u++)
			if (g.adj[u] && (g.comp_size[g.comp[u]] > 1 || g.self[u]))
				msgs[u] = cycle_text(set, &g, u, parent, queue);
		for (size_t u = 0; u < set->n; u++)
			if (msgs[u])
				changed |= set_bad(&set->v[u], msgs[u]);
	}
	graph_free(&g);
	free(parent);
	free(queue);
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
