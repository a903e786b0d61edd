/*
 * The /metrics listener's request parser as supd runs it: the bytes of a request arrive in
 * pieces and the parser sees each longer prefix (at most 8 KiB are read). It must never read
 * outside them, and once it gives a status, a longer prefix must give the same one: supd
 * answers at the first status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_http.h"

#define REQ_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size < REQ_MAX ? size : REQ_MAX, step = data && size ? data[0] % 16 + 1 : 1;
	char *buf = malloc(n ? n : 1); /* exactly n bytes: ASan catches a read past them */
	int first = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, n);
	for (size_t len = 0;; len = len + step < n ? len + step : n) {
		int minor = -1, code;
		bool head = false, index = false;

		code = sup_metrics_http_parse(buf, len, &minor, &head, &index);
		if (code && code != 200 && code != 400 && code != 404 && code != 405 &&
		    code != 431 && code != 505)
			abort();
		if (code == 200 && minor != 0 && minor != 1)
			abort();
		if (first && code != first)
			abort();
		first = code ? code : first;
		if (len == n)
			break;
	}
	free(buf);
	return 0;
}
