/*
 * An intrusive hash table (chained, power-of-two buckets, grows at load 1): the node is
 * embedded in the owner's struct and recovered with sup_container_of, as procd embeds its
 * watchers. The table stores hashes, not keys: a lookup walks the nodes of one hash and the
 * caller compares keys. Used for units by name and for child processes by pid.
 */
#ifndef SUP_HASH_H
#define SUP_HASH_H

#include <stddef.h>
#include <stdint.h>

struct sup_hnode {
	struct sup_hnode *next;
	uint64_t hash;
};

struct sup_hash {
	struct sup_hnode **b;
	size_t nb; /* buckets: 0 or a power of two */
	size_t n;  /* nodes */
};

/* Insert n under hash. When growing is impossible the chains just get longer; -1 (ENOMEM)
 * only if not even the first bucket array could be allocated. */
int sup_hash_add(struct sup_hash *h, struct sup_hnode *n, uint64_t hash);
void sup_hash_del(struct sup_hash *h, struct sup_hnode *n);
/* The first node with this hash, then the next ones: compare the keys yourself. */
struct sup_hnode *sup_hash_first(const struct sup_hash *h, uint64_t hash);
struct sup_hnode *sup_hash_next(const struct sup_hnode *n);
/* Free the bucket array (the nodes belong to their owners). */
void sup_hash_free(struct sup_hash *h);

uint64_t sup_hash_str(const char *s);
uint64_t sup_hash_u64(uint64_t v);

#endif
