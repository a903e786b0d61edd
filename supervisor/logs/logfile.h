/*
 * Units' log files, written by a thread of their own: a write to a regular file blocks
 * whatever its flags (a slow or full disk, NFS), and PID 1's loop must not. The loop formats a
 * line and queues it (a bounded queue: when the disk cannot keep up, lines are dropped and
 * counted, and a mark saying how many goes into the file once there is room); the thread
 * opens, appends, rotates by size and closes. Failures come back to the loop, which notes
 * them in the unit's log.
 *
 * The thread never allocates and takes no lock but the queue's: children are created with a
 * raw clone3, so a lock held by the thread at that moment would stay held in the child.
 */
#ifndef SUP_LOGS_LOGFILE_H
#define SUP_LOGS_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct logfile;

/* A file at path, rotated to path.1 .. path.keep when it would exceed max_size (0: never),
 * opened by the thread. NULL only on ENOMEM. */
struct logfile *logfile_open(const char *path, uint64_t max_size, unsigned keep);
/* Queue one whole line (newline included). false if it was dropped (the queue is full, or the
 * file failed). */
bool logfile_write(struct logfile *f, const char *line, size_t len);
/* No more writes: the thread closes it once its queued lines are written, and the handle is
 * freed by the loop after that. */
void logfile_close(struct logfile *f);
/* The file's failure, reported once: true with what ("open", "write", "rotate") and errno. */
bool logfile_failed(struct logfile *f, const char **what, int *err);
const char *logfile_path(const struct logfile *f);

/* The loop's side: an fd that polls readable when the thread has something for the loop (a
 * closed handle to free); call logfile_collect() then. */
int logfile_event_fd(void);
void logfile_collect(void);
/* Wait (at most timeout_ms) until every queued line is written; then collect. Tests and exit. */
bool logfile_sync(unsigned timeout_ms);

#endif
