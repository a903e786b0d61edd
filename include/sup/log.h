/*
 * One log sink for supd: stderr (and /dev/kmsg when PID 1), runtime level, unit name first.
 * Logging never blocks: stderr lines go through a bounded queue and a writer thread (dropped
 * lines are counted and reported in the stream), kmsg lines are rate-limited (lib/log.c).
 */
#ifndef SUP_LOG_H
#define SUP_LOG_H

#include <stdbool.h>

enum sup_log_level {
	SUP_LOG_ERROR,
	SUP_LOG_WARN,
	SUP_LOG_INFO,
	SUP_LOG_DEBUG,
};

void sup_log_set_level(enum sup_log_level level);
/* Also write every line to fd (/dev/kmsg, "<prio>" prefixed); -1 turns it off. Lines with a
 * priority below console_level are printed on the console by the kernel: not on stderr too. */
void sup_log_set_kmsg(int fd, int console_level);
int sup_log_parse_level(const char *s, enum sup_log_level *level);
/* Wait until the queued stderr lines are written, or timeout_ms passed; true if written. */
bool sup_log_flush(unsigned timeout_ms);
/* unit may be NULL for supd's own messages. */
void sup_log(enum sup_log_level level, const char *unit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sup_err(unit, ...)   sup_log(SUP_LOG_ERROR, unit, __VA_ARGS__)
#define sup_warn(unit, ...)  sup_log(SUP_LOG_WARN, unit, __VA_ARGS__)
#define sup_info(unit, ...)  sup_log(SUP_LOG_INFO, unit, __VA_ARGS__)
#define sup_debug(unit, ...) sup_log(SUP_LOG_DEBUG, unit, __VA_ARGS__)

#endif
