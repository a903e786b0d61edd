/* Error objects: built where the failure happens, wrapped on the way up, printed at the top. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/error.h"

/* Handed out when even the error cannot be allocated; never freed. */
static char oom_msg[] = "out of memory";
static struct sup_error oom_error = {ENOMEM, oom_msg};

int sup_error_set(struct sup_error **err, int errnum, const char *fmt, ...)
{
	int saved = errno;
	struct sup_error *e;
	char *msg = NULL;
	va_list ap;
	int r;

	if (!err || *err)
		goto out;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	e = malloc(sizeof(*e));
	if (r < 0 || !e) {
		free(r < 0 ? NULL : msg);
		free(e);
		*err = &oom_error;
		goto out;
	}
	if (errnum) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", msg, strerror(errnum)) >= 0) {
			free(msg);
			msg = full;
		}
	}
	e->errnum = errnum;
	e->msg = msg;
	*err = e;
out:
	errno = saved;
	return -1;
}

int sup_error_wrap(struct sup_error **err, const char *fmt, ...)
{
	int saved = errno;
	char *ctx = NULL, *msg = NULL;
	va_list ap;
	int r;

	if (!err || !*err)
		goto out;
	va_start(ap, fmt);
	r = vasprintf(&ctx, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	r = asprintf(&msg, "%s: %s", ctx, (*err)->msg);
	free(ctx);
	if (r < 0)
		goto out;
	if (*err == &oom_error) {
		struct sup_error *e = malloc(sizeof(*e));
		if (!e) {
			free(msg);
			goto out;
		}
		e->errnum = ENOMEM;
		*err = e;
	} else {
		free((*err)->msg);
	}
	(*err)->msg = msg;
out:
	errno = saved;
	return -1;
}

void sup_error_free(struct sup_error *err)
{
	if (!err || err == &oom_error)
		return;
	free(err->msg);
	free(err);
}

void sup_error_clear(struct sup_error **err)
{
	if (err) {
		sup_error_free(*err);
		*err = NULL;
	}
}
