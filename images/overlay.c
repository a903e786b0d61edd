/*
 * The overlay root of an image: layers as lower directories, an optional upper/work pair.
 * The new mount API takes one "lowerdir+" per layer (Linux 6.8+), so any number of layers
 * fits; older kernels get mount(2) with the options in one page, where the store's short
 * links (l/<16 hex>, relative to the store, which we chdir into) keep 200 layers in reach.
 * No redirects, no metacopy, no index: the lower layers are shared, read-only, and must not
 * steer lookups. redirect_dir=nofollow rather than "off": with the module's default
 * redirect_always_follow=Y, "off" means "follow" (and, without an upper, "on"), so lower
 * layers' redirect xattrs would still be followed; nofollow neither creates nor follows them.
 * (The unpacker also drops every trusted.* xattr a layer carries.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/image.h"

/* overlayfs refuses a single lower layer without an upper: add the store's empty directory */
static const char *extra_lower(const struct img_overlay *ov)
{
	static char path[4096];

	if (ov->upper || ov->lower.n != 1 || !ov->store)
		return NULL;
	snprintf(path, sizeof(path), "%s/empty", ov->store);
	return path;
}

static int fs_set(int fd, const char *key, const char *val, struct sup_error **err)
{
	if (fsconfig(fd, val ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, key, val, 0) < 0)
		return sup_error_set(err, errno, "overlay option %s%s%s", key, val ? "=" : "",
				     val ? val : "");
	return 0;
}

/* "<store>/layers/<hex>/root" -> "l/<16 hex>" */
static const char *short_link(const struct img_overlay *ov, const char *path, char *buf,
			      size_t size)
{
	size_t n = ov->store ? strlen(ov->store) : 0;

	if (n && !strncmp(path, ov->store, n) && !strncmp(path + n, "/layers/", 8) &&
	    strlen(path + n + 8) == 64 + 5 && !strcmp(path + n + 8 + 64, "/root")) {
		snprintf(buf, size, "l/%.16s", path + n + 8);
		return buf;
	}
	return path;
}

static int mount_legacy(const struct img_overlay *ov, const char *target, unsigned long flags,
			struct sup_error **err)
{
	long page = sysconf(_SC_PAGESIZE);
	_cleanup_free_ char *opts = malloc((size_t)page);
	_cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t o = 0;
	int r;

	if (!opts)
		return sup_error_set(err, ENOMEM, "overlay options");
	o += (size_t)snprintf(opts, (size_t)page, "lowerdir=");
	for (size_t i = 0; i < ov->lower.n && o < (size_t)page; i++) {
		char buf[32];
		o += (size_t)snprintf(opts + o, (size_t)page - o, "%s%s", i ? ":" : "",
				      short_link(ov, ov->lower.v[i], buf, sizeof(buf)));
	}
	if (o < (size_t)page && extra_lower(ov))
		o += (size_t)snprintf(opts + o, (size_t)page - o, ":empty");
	if (o < (size_t)page && ov->upper)
		o += (size_t)snprintf(opts + o, (size_t)page - o, ",upperdir=%s,workdir=%s",
				      ov->upper, ov->work);
	if (o < (size_t)page)
		o += (size_t)snprintf(opts + o, (size_t)page - o,
				      ",redirect_dir=nofollow,metacopy=off,index=off");
	if (o >= (size_t)page)
		return sup_error_set(err, E2BIG,
				     "overlay on %s: %zu layers do not fit in one page "
				     "of mount options",
				     target, ov->lower.n);
	if (ov->store && chdir(ov->store) < 0)
		return sup_error_set(err, errno, "chdir %s", ov->store);
	r = mount("overlay", target, "overlay", flags, opts);
	if (r < 0)
		sup_error_set(err, errno, "mount overlay on %s", target);
	if (ov->store && cwd >= 0 && fchdir(cwd) < 0 && r == 0)
		return sup_error_set(err, errno, "fchdir");
	return r;
}

/* Characters that would split a lowerdir list: refused rather than escaped. */
static bool list_safe(const char *p)
{
	return !strpbrk(p, ":,\\");
}

/* "lowerdir" as one string (kernels before 6.8): the store's short links, absolute, so that
 * about 100 layers fit in the page the kernel takes the options in. */
static int set_lower_list(int fs, const struct img_overlay *ov, struct sup_error **err)
{
	long page = sysconf(_SC_PAGESIZE);
	_cleanup_free_ char *list = malloc((size_t)page);
	size_t o = 0;

	if (!list)
		return sup_error_set(err, ENOMEM, "overlay options");
	list[0] = '\0';
	for (size_t i = 0; i <= ov->lower.n; i++) {
		const char *p = i < ov->lower.n ? ov->lower.v[i] : extra_lower(ov);
		char link[4096], rel[32];

		if (!p)
			break;
		if (i < ov->lower.n && short_link(ov, p, rel, sizeof(rel)) == rel) {
			/* absolute: supd has no business changing its directory */
			snprintf(link, sizeof(link), "%s/%s", ov->store, rel);
			p = link;
		}
		if (!list_safe(p))
			return sup_error_set(err, EINVAL,
					     "overlay lower %s: ':', ',' or '\\' in a path", p);
		o += (size_t)snprintf(list + o, o < (size_t)page ? (size_t)page - o : 0, "%s%s",
				      i ? ":" : "", p);
		if (o >= (size_t)page)
			return sup_error_set(err, E2BIG,
					     "%zu layers do not fit in one page of overlay options "
					     "(Linux 6.8 takes any number)",
					     ov->lower.n);
	}
	return fs_set(fs, "lowerdir", list, err);
}

/* The filesystem context, created. one_string: "lowerdir" as one list, else one "lowerdir+"
 * per layer; -2 when the kernel does not know "lowerdir+" (before 6.8). */
static int fs_create(const struct img_overlay *ov, bool one_string, int *out,
		     struct sup_error **err)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);

	if (fs < 0)
		return sup_error_set(err, errno, "fsopen overlay");
	if (one_string) {
		if (set_lower_list(fs, ov, err) < 0)
			return -1;
	} else {
		for (size_t i = 0; i <= ov->lower.n; i++) {
			const char *p = i < ov->lower.n ? ov->lower.v[i] : extra_lower(ov);
			if (p && fs_set(fs, "lowerdir+", p, err) < 0)
				return (*err)->errnum == EINVAL && i == 0 ? -2 : -1;
		}
	}
	if ((ov->upper && (fs_set(fs, "upperdir", ov->upper, err) < 0 ||
			   fs_set(fs, "workdir", ov->work, err) < 0)) ||
	    fs_set(fs, "redirect_dir", "nofollow", err) < 0 ||
	    fs_set(fs, "metacopy", "off", err) < 0 || fs_set(fs, "index", "off", err) < 0)
		return -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return sup_error_set(err, errno, "create an overlay of %zu layers", ov->lower.n);
	*out = fs;
	fs = -1;
	return 0;
}

static int check_overlay(const struct img_overlay *ov, struct sup_error **err)
{
	if (ov->lower.n == 0)
		return sup_error_set(err, 0, "overlay: no layers");
	if (ov->upper && !ov->work)
		return sup_error_set(err, 0, "overlay: upperdir without workdir");
	return 0;
}

int img_overlay_fsmount(const struct img_overlay *ov, unsigned attrs, int *mnt,
			struct sup_error **err)
{
	_cleanup_close_ int fs = -1;
	int r;

	if (check_overlay(ov, err) < 0)
		return -1;
	r = fs_create(ov, ov->legacy, &fs, err);
	if (r == -2) {
		sup_error_free(*err);
		*err = NULL;
		r = fs_create(ov, true, &fs, err);
	}
	if (r < 0)
		return -1;
	*mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (*mnt < 0)
		return sup_error_set(err, errno, "fsmount overlay");
	return 0;
}

static unsigned attrs_of(unsigned long flags)
{
	unsigned attrs = 0;

	if (flags & MS_RDONLY)
		attrs |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		attrs |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		attrs |= MOUNT_ATTR_NODEV;
	return attrs;
}

static int mount_new_api(const struct img_overlay *ov, const char *target, unsigned long flags,
			 struct sup_error **err)
{
	_cleanup_close_ int mnt = -1;

	if (img_overlay_fsmount(ov, attrs_of(flags), &mnt, err) < 0)
		return -1;
	if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return sup_error_set(err, errno, "mount overlay on %s", target);
	return 0;
}

int img_overlay_prepare(const char *dir, struct img_overlay *ov, struct sup_error **err)
{
	char *upper = NULL, *work = NULL;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "mkdir %s", dir);
	if (asprintf(&upper, "%s/upper", dir) < 0 || asprintf(&work, "%s/work", dir) < 0) {
		free(upper);
		return sup_error_set(err, ENOMEM, "unit dirs");
	}
	/* the upper directory is the container's root: 0755 like any root */
	if ((mkdir(upper, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(work, 0700) < 0 && errno != EEXIST)) {
		int e = errno;
		free(upper);
		free(work);
		return sup_error_set(err, e, "create the writable layer in %s", dir);
	}
	ov->upper = upper;
	ov->work = work;
	return 0;
}

int img_overlay_mount(const struct img_overlay *ov, const char *target, unsigned long flags,
		      struct sup_error **err)
{
	struct sup_error *e = NULL;

	if (check_overlay(ov, err) < 0)
		return -1;
	if (ov->legacy)
		return mount_legacy(ov, target, flags, err);
	if (mount_new_api(ov, target, flags, &e) == 0)
		return 0;
	/* ENOSYS: a kernel before fsopen (5.2) */
	if (e->errnum != ENOSYS) {
		*err = e;
		return -1;
	}
	sup_error_free(e);
	return mount_legacy(ov, target, flags, err);
}
