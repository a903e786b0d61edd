/* The intrusive hash table. */
#include <stdlib.h>

#include "sup/hash.h"

static void grow(struct sup_hash *h)
{
	size_t nb = h->nb ? h->nb * 2 : 64;
	struct sup_hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the old buckets: lookups stay correct, only slower */
	for (size_t i = 0; i < h->nb; i++) {
		struct sup_hnode *n = h->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
}

int sup_hash_add(struct sup_hash *h, struct sup_hnode *n, uint64_t hash)
{
	if (h->n >= h->nb)
		grow(h);
	if (!h->nb)
		return -1;
	n->hash = hash;
	n->next = h->b[hash & (h->nb - 1)];
	h->b[hash & (h->nb - 1)] = n;
	h->n++;
	return 0;
}

void sup_hash_del(struct sup_hash *h, struct sup_hnode *n)
{
	struct sup_hnode **p;

	if (!h->nb)
		return;
	for (p = &h->b[n->hash & (h->nb - 1)]; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			n->next = NULL;
			h->n--;
			return;
		}
}

struct sup_hnode *sup_hash_first(const struct sup_hash *h, uint64_t hash)
{
	struct sup_hnode *n;

	if (!h->nb)
		return NULL;
	for (n = h->b[hash & (h->nb - 1)]; n && n->hash != hash; n = n->next)
		;
	return n;
}

struct sup_hnode *sup_hash_next(const struct sup_hnode *n)
{
	uint64_t hash = n->hash;

	for (n = n->next; n && n->hash != hash; n = n->next)
		;
	return (struct sup_hnode *)n;
}

void sup_hash_free(struct sup_hash *h)
{
	free(h->b);
	*h = (struct sup_hash){0};
}

/* FNV-1a, then a final mix so that the low bits (the bucket) depend on every byte. */
uint64_t sup_hash_str(const char *s)
{
	uint64_t x = 1469598103934665603ULL;

	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ULL;
	return sup_hash_u64(x);
}

/* splitmix64's finalizer */
uint64_t sup_hash_u64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}
