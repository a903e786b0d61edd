/* libFuzzer target: any bytes as a unit file; must never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sup/unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan catches any read past the end */
	char *text = malloc(size ? size : 1);
	struct unit_config *c = NULL;
	struct unit_problems pl = {0};

	if (!text)
		return 0;
	memcpy(text, data, size);
	if (unit_parse_string("fuzz", "/fuzz/fuzz.unit", text, size, &c, &pl) == 0) {
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
	free(text);
	return 0;
}
