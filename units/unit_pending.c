/*
 * RUNTIME PENDING: keys that are parsed, checked and stored in struct unit_config, but that
 * supd does not act on yet. A unit must never run without what it asked for, so each use
 * below is an error ("not yet supported") until the runtime lands. This table is the one
 * place to flip: when the state machine or the spawner implements a row, delete the row (and
 * its line in docs/units.md's table), and the key works.
 */
#include <string.h>

#include "unit_private.h"

struct pending {
	const char *key; /* canonical key the message points at (its spelling in the file) */
	bool (*used)(const struct unit_parser *p);
	const char *what; /* what is not done yet */
	const char *who;  /* which part of supd will act on it */
};

static bool network_later(const struct unit_parser *p)
{
	return p->c->ct.network == UNIT_NETWORK_BRIDGE ||
	       p->c->ct.network == UNIT_NETWORK_CONTAINER;
}
static bool address(const struct unit_parser *p)
{
	return p->c->ct.address != NULL;
}
static bool publish(const struct unit_parser *p)
{
	return p->c->ct.publish.n > 0;
}

/* overlayfs cannot be id-mapped itself: its layers would have to be (one id-mapped mount each) */
static bool image_userns(const struct unit_parser *p)
{
	return p->c->ct.image && (unit_container_namespaces(p->c) & UNIT_NS_USER);
}

static const struct pending pending[] = {
    {"Image", image_userns, "Image= in a user namespace (UserNamespace=, Namespaces=user)",
     "the images issue (id-mapped layers under the overlay)"},
    {"Network", network_later, "Network=bridge and Network=container:UNIT", "the networking issue"},
    {"Address", address, "Address=", "the networking issue"},
    {"Publish", publish, "Publish=", "the networking issue"},
};

void unit_check_pending(struct unit_parser *p)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(pending); i++) {
		const struct pending *r = &pending[i];
		const char *key = r->key;
		unsigned long line = unit_key_line(p, key);
		if (unit_key_bad(p, key) || !r->used(p))
			continue;
		unit_problem(p, line, unit_key_spelled(p, key),
			     "not yet supported: %s is parsed, but %s does not act on it yet; "
			     "the unit is not started without it",
			     r->what, r->who);
	}
}
