/* supd's log sink: stderr, plus /dev/kmsg when supd is the machine's init. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sup/log.h"

static enum sup_log_level max_level = SUP_LOG_INFO;
static int kmsg_fd = -1;
static int kmsg_console_level;
static const int kmsg_prio[] = {
    [SUP_LOG_ERROR] = 3, [SUP_LOG_WARN] = 4, [SUP_LOG_INFO] = 6, [SUP_LOG_DEBUG] = 7};

static const char *const level_names[] = {
    [SUP_LOG_ERROR] = "error",
    [SUP_LOG_WARN] = "warning",
    [SUP_LOG_INFO] = "info",
    [SUP_LOG_DEBUG] = "debug",
};

void sup_log_set_level(enum sup_log_level level)
{
	max_level = level;
}

void sup_log_set_kmsg(int fd, int console_level)
{
	kmsg_fd = fd;
	kmsg_console_level = console_level;
}

/* One record per write: "<prio>supd: [unit: ]level: text". */
static bool log_kmsg(enum sup_log_level level, const char *unit, const char *line, int n)
{
	char rec[2100];
	int k;

	if (kmsg_fd < 0)
		return false;
	k = snprintf(rec, sizeof(rec), "<%d>%s%.*s", kmsg_prio[level], unit ? "supd: " : "", n,
		     line);
	if (k < 0)
		return false;
	if ((size_t)k >= sizeof(rec))
		k = sizeof(rec) - 1;
	return write(kmsg_fd, rec, k) == k && kmsg_prio[level] < kmsg_console_level;
}

int sup_log_parse_level(const char *s, enum sup_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0 ||
		    (i == SUP_LOG_WARN && !strcasecmp(s, "warn"))) {
			*level = (enum sup_log_level)i;
			return 0;
		}
	return -1;
}

void sup_log(enum sup_log_level level, const char *unit, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", unit ? unit : "supd", level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from several writers never interleave. */
	n = strlen(line);
	if ((size_t)n < sizeof(line) - 1)
		line[n++] = '\n';
	else
		line[sizeof(line) - 2] = '\n';
	if (log_kmsg(level, unit, line, n))
		return; /* the kernel prints it on the console */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
}
