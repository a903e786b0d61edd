/* Scope-bound resources: __attribute__((cleanup)) helpers, as in crun and systemd. */
#ifndef SUP_CLEANUP_H
#define SUP_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void sup_freep(void *p)
{
	free(*(void **)p);
}

static inline void sup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void sup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void sup_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_	   __attribute__((cleanup(sup_freep)))
#define _cleanup_close_	   __attribute__((cleanup(sup_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(sup_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(sup_closedirp)))

/* Hand ownership out of a cleanup variable. */
#define sup_steal_ptr(p)                                                                           \
	({                                                                                         \
		__typeof__(p) _tmp = (p);                                                          \
		(p) = NULL;                                                                        \
		_tmp;                                                                              \
	})
#define sup_steal_fd(fd)                                                                           \
	({                                                                                         \
		int _tmp = (fd);                                                                   \
		(fd) = -1;                                                                         \
		_tmp;                                                                              \
	})

#define SUP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define sup_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
