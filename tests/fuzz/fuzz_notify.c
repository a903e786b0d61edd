/*
 * sd_notify datagrams as supd reads them (supervisor/core/notify.c): up to 4 KiB of any
 * bytes, split into KEY=VALUE lines. STATUS= must point inside the datagram and hold no
 * newline; a line with a NUL byte counts for nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size < 4096 ? size : 4096;
	char *buf = malloc(n ? n : 1);
	struct sup_notify_msg m;

	if (!buf)
		return 0;
	memcpy(buf, data, n);
	sup_notify_parse(buf, n, &m);
	if (m.status) {
		if (m.status < buf || m.status + m.status_len > buf + n)
			abort();
		if (memchr(m.status, '\n', m.status_len) || memchr(m.status, '\0', m.status_len))
			abort();
	}
	if (m.ready && !memmem(buf, n, "READY=1", 7))
		abort();
	free(buf);
	return 0;
}
