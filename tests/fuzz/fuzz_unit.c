/*
 * libFuzzer target: any bytes as a unit file, read as sup's NAME.unit, as a systemd
 * NAME.service, and as an instance of a template (specifiers); must never crash, leak or read
 * out of bounds, and every problem is one line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sup/unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *name, *path;
} as[] = {
    {"fuzz", "/fuzz/fuzz.unit"},
    {"fuzz", "/fuzz/fuzz.service"},
    {"fuzz@a-b", "/fuzz/fuzz@.service"},
};

static void parse_as(const char *text, size_t size, const char *name, const char *path)
{
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};

	if (unit_parse_string(name, path, text, size, &c, &pl) == 0) {
		/* a parsed config is self-consistent, and has no errors */
		if (!c || pl.errors || c->exec.n == 0 || !unit_config_equal(c, c))
			abort();
		unit_config_free(c);
		free(c);
	} else {
		if (c || !pl.errors)
			abort();
	}
	for (size_t i = 0; i < pl.n; i++)
		if (!pl.v[i].text || strchr(pl.v[i].text, '\n'))
			abort(); /* one problem, one line */
	unit_problems_free(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan catches any read past the end */
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	for (size_t i = 0; i < sizeof(as) / sizeof(as[0]); i++)
		parse_as(text, size, as[i].name, as[i].path);
	free(text);
	return 0;
}
