/*
 * Running the image helper (sup-image, docs/images.md): supd forks and execs it for every image
 * operation and reads its JSON lines from a non-blocking pipe in the loop; the helper is reaped
 * through the one reaping path and dies with supd (PR_SET_PDEATHSIG). A crash, a hang or
 * garbage on the pipe is an error for the request, never for supd: a line is at most
 * IMG_LINE_MAX bytes, and a helper silent for [Images] HelperTimeoutSec= is killed.
 */
#ifndef SUP_IMAGES_HELPER_H
#define SUP_IMAGES_HELPER_H

#include <jansson.h>

#include "sup/error.h"

#define IMG_LINE_MAX (1u << 20)

struct img_job;

struct img_job_ops {
	/* A progress or status line (a JSON object, borrowed). */
	void (*event)(void *ctx, json_t *ev);
	/* The end: the result object (borrowed), or why there is none. Called once; the job
	 * is gone after it returns. */
	void (*done)(void *ctx, json_t *result, const char *error);
};

/*
 * Run `sup-image --state-dir STATE --config CONF [global...] COMMAND ARGS...` with in_fd as its
 * stdin (-1: /dev/null; the caller keeps its own fd). args: the command and its arguments,
 * NULL-terminated; global: options before the command (NULL or NULL-terminated).
 */
struct img_job *sup_img_job_start(char *const *global, char *const *args, int in_fd,
				  const struct img_job_ops *ops, void *ctx, struct sup_error **err);
/* Kill the helper; no callback comes any more (the job is freed once it is reaped). */
void sup_img_job_cancel(struct img_job *j);
/* Text from the helper for a message or a log line: control bytes become '?', at most max
 * bytes (then "..."). malloc'd; NULL on ENOMEM. */
char *sup_img_clean_text(const char *s, size_t n, size_t max);
/* Helpers running now (for tests and status). */
unsigned sup_img_jobs_running(void);

#endif
