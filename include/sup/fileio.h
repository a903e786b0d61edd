/* Small files: the whole of a /proc, /sys or cgroup file in one buffer, one value written in
 * one write(). The one helper for both, used by every module. */
#ifndef SUP_FILEIO_H
#define SUP_FILEIO_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

/* Read dirfd/path (AT_FDCWD for a plain path) into buf, NUL-terminated, until EOF or size - 1
 * bytes. Returns the length, or -1 with errno. */
ssize_t sup_read_at(int dirfd, const char *path, char *buf, size_t size);
/* The same from an open fd, from offset 0 (pread): a file kept open and read again. */
ssize_t sup_pread_all(int fd, char *buf, size_t size);
/* Write s to dirfd/path (opened O_WRONLY, no O_CREAT) in one write(). 0, or -1 with errno. */
int sup_write_at(int dirfd, const char *path, const char *s);
int sup_printf_at(int dirfd, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sup_vprintf_at(int dirfd, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Write a whole file atomically: path.tmp, fsync, rename over path, fsync of the directory.
 * mode for a new file. 0, or -1 with errno. */
int sup_write_file_atomic(int dirfd, const char *path, const void *data, size_t len, unsigned mode);

/* rm -rf dirfd/path, never following a symlink, at most max entries (a bound for PID 1): 0, or
 * -1 with errno (E2BIG: more than max entries, some left). */
int sup_remove_tree(int dirfd, const char *path, unsigned max);
/* mkdir -p: the parents 0755, the last with mode (an existing one is left as it is). */
int sup_mkdir_p(const char *path, unsigned mode);

#endif
