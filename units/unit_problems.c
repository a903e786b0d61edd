/* The problem list of a unit file: errors and warnings, one line each. */
#include <stdlib.h>
#include <string.h>

#include "unit_private.h"

void unit_problems_add(struct unit_problems *pl, enum unit_severity sev, const char *text,
		       size_t where)
{
	struct unit_problem *v;
	char *dup = strdup(text);

	v = dup ? reallocarray(pl->v, pl->n + 1, sizeof(*v)) : NULL;
	if (!v) {
		free(dup);
		pl->oom = true;
		return;
	}
	pl->v = v;
	v[pl->n++] = (struct unit_problem){sev, dup, where <= strlen(dup) ? where : 0};
	if (sev == UNIT_ERROR)
		pl->errors++;
}

char *unit_problems_join(const struct unit_problems *pl, enum unit_severity sev)
{
	struct unit_buf b = {0};

	for (size_t i = 0; i < pl->n; i++)
		if (pl->v[i].severity == sev)
			unit_buf_printf(&b, "%s%s", b.len ? "\n" : "", pl->v[i].text);
	if (b.failed)
		unit_buf_free(&b);
	return b.p;
}

void unit_problems_free(struct unit_problems *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->v[i].text);
	free(pl->v);
	*pl = (struct unit_problems){0};
}
