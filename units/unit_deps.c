/*
 * Dependency checks over a loaded set: Requires=/BindsTo= of a missing or bad unit, and
 * ordering cycles (edges Requires=, BindsTo=, After=, and Before= reversed; Wants= orders
 * nothing). Repeated until nothing changes, so a unit requiring one that just became bad
 * becomes bad in turn. Each message names the file and line of the dependency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

/* "PATH:LINE: KEY: 'NAME' WHAT" for a dependency of c, as an error of e (to become bad). */
static bool dep_error(struct unit_entry *e, const struct unit_config *c, const char *key,
		      const char *name, const char *what)
{
	unsigned long line = unit_dep_line(c, key, name);
	struct unit_buf b = {0};
	size_t where;

	unit_buf_printf(&b, "%s", c->path ? c->path : e->name);
	if (line)
		unit_buf_printf(&b, ":%lu", line);
	unit_buf_printf(&b, ": ");
	where = b.len;
	unit_buf_printf(&b, "%s: '%s' %s", key, name, what);
	if (b.failed) {
		unit_buf_free(&b);
		return false; /* out of memory: leave the unit as it was */
	}
	unit_entry_add_error(e, b.p, where);
	unit_buf_free(&b);
	return true;
}

/* Requires= and BindsTo= of units that are missing or bad. */
static bool check_requires(struct unit_set *set)
{
	static const char *const keys[] = {"Requires", "BindsTo"};
	bool changed = false;

	for (size_t i = 0; i < set->n; i++) {
		struct unit_entry *e = &set->v[i];
		struct unit_config *c = e->config;
		bool bad = false;
		for (size_t k = 0; c && k < SUP_ARRAY_SIZE(keys); k++) {
			const struct strv *l = k == 0 ? &c->requires : &c->binds_to;
			for (size_t j = 0; j < l->n; j++) {
				struct unit_entry *t = unit_set_find(set, l->v[j]);
				if (t && (t->config || t->kept))
					continue;
				bad |= dep_error(e, c, keys[k], l->v[j],
						 t ? "is a bad unit" : "does not exist");
			}
		}
		if (bad) {
			unit_entry_set_bad(e);
			e->dep_bad = true;
			changed = true;
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

/* The ordering graph of the good units: for each, the units it starts after. */
struct graph {
	size_t *start; /* edges of x: adj[start[x] .. start[x + 1]) */
	long *adj;
	long *parent; /* breadth-first tree; -2 = not reached */
	long *queue;
	long *path;
	long *comp;    /* strongly connected component of x */
	size_t *csize; /* units in a component */
	bool *self;    /* x starts after itself */
};

/* Calls add(g, x, y) for every edge x -> y ("x starts after y"); returns the count. */
static size_t edges(struct unit_set *set, struct graph *g, void (*add)(struct graph *, long, long))
{
	size_t n = 0;

	for (size_t x = 0; x < set->n; x++) {
		const struct unit_config *c = set->v[x].config;
		const struct strv *after[] = {c ? &c->requires : NULL, c ? &c->binds_to : NULL,
					      c ? &c->after : NULL};
		for (size_t l = 0; c && l < SUP_ARRAY_SIZE(after); l++)
			for (size_t j = 0; j < after[l]->n; j++) {
				long y = node(set, after[l]->v[j]);
				if (y >= 0 && add)
					add(g, (long)x, y);
				n += y >= 0;
			}
		for (size_t j = 0; c && j < c->before.n; j++) {
			long y = node(set, c->before.v[j]); /* x Before= y: y after x */
			if (y >= 0 && add)
				add(g, y, (long)x);
			n += y >= 0;
		}
	}
	return n;
}

static void count_edge(struct graph *g, long x, long y)
{
	g->start[x + 1]++;
}

static void fill_edge(struct graph *g, long x, long y)
{
	g->adj[g->parent[x]++] = y; /* parent[] holds the fill position while building */
}

static bool graph_build(struct unit_set *set, struct graph *g)
{
	size_t n = edges(set, g, NULL);

	g->start = calloc(set->n + 1, sizeof(size_t));
	g->adj = calloc(n + 1, sizeof(long));
	g->parent = calloc(set->n + 1, sizeof(long));
	g->queue = calloc(set->n + 1, sizeof(long));
	g->path = calloc(set->n + 1, sizeof(long));
	if (!g->start || !g->adj || !g->parent || !g->queue || !g->path)
		return false;
	edges(set, g, count_edge);
	for (size_t x = 0; x < set->n; x++) {
		g->start[x + 1] += g->start[x];
		g->parent[x] = (long)g->start[x];
	}
	edges(set, g, fill_edge);
	return true;
}

/* Tarjan's algorithm, without recursion (a chain of thousands of units must not exhaust the
 * stack): a unit is on a cycle exactly when its component has more than one unit, or it
 * orders itself after itself. O(units + edges). */
struct tarjan {
	long *index, *low, *stack, *call;
	size_t *edge;
	bool *on;
	long next, sp, ncomp;
};

static void tarjan_visit(struct graph *g, struct tarjan *t, long v)
{
	t->index[v] = t->low[v] = t->next++;
	t->stack[t->sp++] = v;
	t->on[v] = true;
}

static void tarjan_pop(struct graph *g, struct tarjan *t, long v)
{
	long x;

	do {
		x = t->stack[--t->sp];
		t->on[x] = false;
		g->comp[x] = t->ncomp;
		g->csize[t->ncomp]++;
	} while (x != v);
	t->ncomp++;
}

static void strongconnect(struct graph *g, struct tarjan *t, long root)
{
	long cp = 0;

	tarjan_visit(g, t, root);
	t->call[cp] = root;
	t->edge[cp++] = g->start[root];
	while (cp > 0) {
		long v = t->call[cp - 1];

		if (t->edge[cp - 1] < g->start[v + 1]) {
			long w = g->adj[t->edge[cp - 1]++];
			if (t->index[w] < 0) {
				tarjan_visit(g, t, w);
				t->call[cp] = w;
				t->edge[cp++] = g->start[w];
			} else if (t->on[w] && t->index[w] < t->low[v]) {
				t->low[v] = t->index[w];
			}
			continue;
		}
		if (t->low[v] == t->index[v])
			tarjan_pop(g, t, v);
		if (--cp > 0 && t->low[v] < t->low[t->call[cp - 1]])
			t->low[t->call[cp - 1]] = t->low[v];
	}
}

static bool components(struct unit_set *set, struct graph *g)
{
	size_t n = set->n;
	struct tarjan t = {calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(long)),
			   calloc(n, sizeof(size_t)),
			   calloc(n, sizeof(bool)),
			   0,
			   0,
			   0};
	bool ok = t.index && t.low && t.stack && t.call && t.edge && t.on;

	g->comp = calloc(n, sizeof(long));
	g->csize = calloc(n, sizeof(size_t));
	g->self = calloc(n, sizeof(bool));
	ok = ok && g->comp && g->csize && g->self;
	for (size_t i = 0; ok && i < n; i++) {
		t.index[i] = -1;
		for (size_t j = g->start[i]; j < g->start[i + 1]; j++)
			g->self[i] |= g->adj[j] == (long)i;
	}
	for (size_t i = 0; ok && i < n; i++)
		if (t.index[i] < 0)
			strongconnect(g, &t, (long)i);
	free(t.index);
	free(t.low);
	free(t.stack);
	free(t.call);
	free(t.edge);
	free(t.on);
	return ok;
}

static bool on_cycle(const struct graph *g, size_t u)
{
	return g->csize[g->comp[u]] > 1 || g->self[u];
}

static void graph_free(struct graph *g)
{
	free(g->comp);
	free(g->csize);
	free(g->self);
	free(g->start);
	free(g->adj);
	free(g->parent);
	free(g->queue);
	free(g->path);
}

/* The key and unit that made the edge u -> v: u's own Requires=/BindsTo=/After=, or v's Before=. */
static const char *edge_key(struct unit_set *set, size_t u, long v, size_t *owner)
{
	const struct unit_config *c = set->v[u].config;
	const char *name = set->v[v].name;

	*owner = u;
	if (strv_contains(&c->requires, name))
		return "Requires";
	if (strv_contains(&c->binds_to, name))
		return "BindsTo";
	if (strv_contains(&c->after, name))
		return "After";
	*owner = (size_t)v;
	return "Before";
}

/* "PATH:LINE: KEY: ordering cycle: u -> a -> b -> u", closing at x -> u, from the search tree;
 * the place is that of the first edge, u -> a. */
static char *cycle_text(struct unit_set *set, size_t u, long x, struct graph *g, size_t *where)
{
	struct unit_buf b = {0};
	size_t m = 0, owner;
	long first;
	const char *key, *named;
	const struct unit_config *oc;
	unsigned long line;

	for (long k = x; k != (long)u; k = g->parent[k])
		g->path[m++] = k;
	first = m ? g->path[m - 1] : (long)u;
	key = edge_key(set, u, first, &owner);
	oc = set->v[owner].config;
	named = owner == u ? set->v[first].name : set->v[u].name;
	line = unit_dep_line(oc, key, named);
	unit_buf_printf(&b, "%s", oc->path ? oc->path : set->v[owner].name);
	if (line)
		unit_buf_printf(&b, ":%lu", line);
	unit_buf_printf(&b, ": ");
	*where = b.len;
	unit_buf_printf(&b, "%s: ordering cycle: %s", key, set->v[u].name);
	while (m > 0)
		unit_buf_printf(&b, " -> %s", set->v[g->path[--m]].name);
	unit_buf_printf(&b, " -> %s", set->v[u].name);
	if (b.failed)
		unit_buf_free(&b);
	return b.p;
}

/* The shortest ordering cycle through u, as text, or NULL when u is on none. */
static char *cycle_through(struct unit_set *set, size_t u, struct graph *g, size_t *where)
{
	size_t head = 0, tail = 0;

	for (size_t i = 0; i < set->n; i++)
		g->parent[i] = -2;
	g->queue[tail++] = (long)u;
	while (head < tail) {
		long x = g->queue[head++];
		for (size_t j = g->start[x]; j < g->start[x + 1]; j++) {
			long y = g->adj[j];
			if (y == (long)u)
				return cycle_text(set, u, x, g, where);
			if (g->parent[y] == -2 && g->comp[y] == g->comp[u]) {
				g->parent[y] = x;
				g->queue[tail++] = y;
			}
		}
	}
	return NULL;
}

/* Every unit on a cycle becomes bad; found first, marked after, so each pass sees one graph.
 * The components say who is on a cycle; only those get a search for the cycle's text. */
static bool check_cycles(struct unit_set *set)
{
	struct graph g = {0};
	char **msgs = calloc(set->n + 1, sizeof(char *));
	size_t *where = calloc(set->n + 1, sizeof(size_t));
	bool changed = false;

	if (msgs && where && graph_build(set, &g) && components(set, &g)) {
		for (size_t u = 0; u < set->n; u++)
			if (set->v[u].config && on_cycle(&g, u))
				msgs[u] = cycle_through(set, u, &g, &where[u]);
		for (size_t u = 0; u < set->n; u++)
			if (msgs[u]) {
				unit_entry_add_error(&set->v[u], msgs[u], where[u]);
				unit_entry_set_bad(&set->v[u]);
				set->v[u].dep_bad = true;
				free(msgs[u]);
				changed = true;
			}
	}
	graph_free(&g);
	free(msgs);
	free(where);
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
