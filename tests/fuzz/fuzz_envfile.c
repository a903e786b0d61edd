/*
 * EnvironmentFile= lines as the spawned child reads them (spawner/envfile.c): every line of
 * the input, NUL and all, through the line parser. An assignment must have a key of letters,
 * digits and _ (not starting with a digit) and a value; nothing may be read past the line.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envfile.h"

static void check_key(const char *k)
{
	if (!*k || isdigit((unsigned char)k[0]))
		abort();
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t len = nl ? (size_t)(nl - (data + i)) : size - i;
		char *line = malloc(len + 1), *key = NULL, *value = NULL;
		int r;

		if (!line)
			return 0;
		memcpy(line, data + i, len);
		line[len] = '\0'; /* getline's line, as apply_file() gives it */
		r = envfile_parse_line(line, &key, &value);
		if (r < -1 || r > 1 || (r == 1 && (!key || !value)))
			abort();
		if (r == 1) {
			check_key(key);
			if (strlen(value) > len)
				abort();
		}
		free(key);
		free(value);
		free(line);
		i += len + 1;
	}
	return 0;
}
