/*
 * Error objects, crun style: a function that can fail takes `struct sup_error **err` last,
 * returns a negative value on failure and fills *err; callers may wrap it with context;
 * only the top level prints and frees it.
 */
#ifndef SUP_ERROR_H
#define SUP_ERROR_H

struct sup_error {
	int errnum; /* errno, or 0 for a logical error */
	char *msg;  /* full text, including ": strerror" when errnum != 0 */
};

/* Set *err (if err is non-NULL and *err is NULL) and return -1. */
int sup_error_set(struct sup_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the message of *err with "context: ". Returns -1. */
int sup_error_wrap(struct sup_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sup_error_free(struct sup_error *err);
/* Free *err and set it to NULL. */
void sup_error_clear(struct sup_error **err);

#endif
