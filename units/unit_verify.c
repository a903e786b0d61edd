/*
 * supd --check DIR: the units of DIR loaded as supd would load them, offline, every problem
 * printed (like systemd-analyze verify), for image builds and CI.
 */
#include <stdio.h>
#include <string.h>

#include "unit_private.h"

struct tally {
	size_t errors, warnings, bad;
};

/* "PATH:LINE: error: KEY: what", gcc's shape, so editors and CI annotate the line. */
static void print_problems(FILE *out, const struct unit_problems *pl, struct tally *t)
{
	for (size_t i = 0; i < pl->n; i++) {
		const struct unit_problem *pr = &pl->v[i];
		const char *sev = pr->severity == UNIT_ERROR ? "error" : "warning";
		fprintf(out, "%.*s%s: %s\n", (int)pr->where, pr->text, sev, pr->text + pr->where);
		if (pr->severity == UNIT_ERROR)
			t->errors++;
		else
			t->warnings++;
	}
}

int unit_verify_dir(const char *dir, FILE *out)
{
	struct unit_set set;
	struct sup_error *err = NULL;
	struct tally t = {0};

	if (unit_set_load(dir, &set, &err) < 0) {
		fprintf(out, "%s\n", err->msg);
		sup_error_free(err);
		return 2;
	}
	unit_set_check_deps(&set);
	print_problems(out, &set.problems, &t);
	for (size_t i = 0; i < set.n_templates; i++)
		print_problems(out, &set.templates[i].problems, &t);
	for (size_t i = 0; i < set.n; i++) {
		print_problems(out, &set.v[i].problems, &t);
		t.bad += set.v[i].config == NULL;
	}
	fprintf(out,
		"%s: %zu unit%s and %zu template%s checked: %zu bad; %zu error%s, %zu warning%s\n",
		dir, set.n, set.n == 1 ? "" : "s", set.n_templates, set.n_templates == 1 ? "" : "s",
		t.bad, t.errors, t.errors == 1 ? "" : "s", t.warnings, t.warnings == 1 ? "" : "s");
	unit_set_free(&set);
	return t.errors || t.bad ? 1 : 0;
}
