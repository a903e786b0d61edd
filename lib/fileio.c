/* Small files: read whole, written in one write(), or replaced atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"

static ssize_t read_loop(int fd, char *buf, size_t size, bool positioned)
{
	size_t got = 0;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	/* seq_file backed files (/proc, cgroup.procs) hand over a page at a time: read to EOF */
	while (got + 1 < size) {
		ssize_t n = positioned ? pread(fd, buf + got, size - 1 - got, (off_t)got)
				       : read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

ssize_t sup_read_at(int dirfd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	return read_loop(fd, buf, size, false);
}

ssize_t sup_pread_all(int fd, char *buf, size_t size)
{
	return read_loop(fd, buf, size, true);
}

int sup_write_at(int dirfd, const char *path, const char *s)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t n = strlen(s);
	ssize_t w;

	if (fd < 0)
		return -1;
	do
		w = write(fd, s, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w != n) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int sup_vprintf_at(int dirfd, const char *path, const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	return sup_write_at(dirfd, path, buf);
}

int sup_printf_at(int dirfd, const char *path, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = sup_vprintf_at(dirfd, path, fmt, ap);
	va_end(ap);
	return r;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int sup_write_file_atomic(int dirfd, const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096], dir[4096];
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int fd = -1, dfd = -1;
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0 ||
	    renameat(dirfd, tmp, dirfd, path) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	/* the rename itself is durable only once the directory is synced */
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) + (slash == path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

static int remove_in(int dfd, unsigned *budget, unsigned depth);

/* Remove the entry name of dfd (a directory's content first). */
static int remove_entry(int dfd, const char *name, unsigned *budget, unsigned depth)
{
	int fd;

	if (*budget == 0) {
		errno = E2BIG;
		return -1;
	}
	(*budget)--;
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (depth > 64 || remove_in(fd, budget, depth + 1) < 0) {
		int e = depth > 64 ? ELOOP : errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

static int remove_in(int dfd, unsigned *budget, unsigned depth)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int r = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = remove_entry(dfd, de->d_name, budget, depth);
	closedir(d);
	return r;
}

int sup_remove_tree(int dirfd, const char *path, unsigned max)
{
	return remove_entry(dirfd, path, &max, 0);
}

int sup_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}
