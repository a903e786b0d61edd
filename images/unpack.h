/* Layer unpack: one tar layer (plain, gzip or zstd) into an empty directory, safely. */
#ifndef SUP_IMAGES_UNPACK_H
#define SUP_IMAGES_UNPACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup/error.h"
#include "sup/image.h"
#include "sup/strv.h"

struct img_unpack_opts {
	uint64_t max_size; /* uncompressed bytes, the whole layer */
	uint64_t min_free; /* bytes that must stay free on the target filesystem */
	bool no_chown;	   /* unprivileged runs (fuzzing): keep the caller's ownership */
};

struct img_unpack_result {
	char diff_id[IMG_DIGEST_LEN + 1]; /* sha256 of the uncompressed tar stream */
	uint64_t bytes;			  /* its length */
	unsigned long entries, whiteouts, opaques, skipped_devices, dropped_xattrs;
	struct strv implicit; /* directories created though the layer did not list them */
};

void img_unpack_result_free(struct img_unpack_result *r);

/* Unpack the layer read from blob_fd into root_fd (an empty directory). Every path is opened
 * beneath root_fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a layer can neither
 * name a path outside (absolute, ..) nor write through a symlink, whether it planted it
 * itself or not. OCI whiteouts become overlayfs whiteouts. On error, root_fd holds a partial
 * tree the caller throws away. */
int img_unpack_layer(int blob_fd, int root_fd, const struct img_unpack_opts *o,
		     struct img_unpack_result *res, struct sup_error **err);

/* The same in a sandboxed child process: only the capabilities unpacking needs, no_new_privs,
 * a seccomp allow-list. The result comes back over a pipe. */
int img_unpack_sandboxed(int blob_fd, int root_fd, const struct img_unpack_opts *o,
			 struct img_unpack_result *res, struct sup_error **err);

enum {
	IMG_PATH_ABSOLUTE = -1,
	IMG_PATH_DOTDOT = -2,
	IMG_PATH_TOO_LONG = -3,
};
/* "./a//b/" -> "a/b" ("" is the top). Refused: absolute paths, and ".." unless
 * resolve_dotdot, where it drops the previous component by name and may not climb above the
 * top; components over 255 bytes; out of size. 0 or an IMG_PATH_ value. */
int img_path_normalise(const char *in, char *out, size_t size, bool resolve_dotdot);

/* openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV),
 * O_CLOEXEC added: path must stay beneath dirfd and follow no symlink. */
int img_openat_beneath(int dirfd, const char *path, int flags);

/* The same in two halves, so that several layers unpack at once: spawn returns the child's
 * pid and the fd its result will come on (readable when it is done); collect reads it, reaps
 * the child and closes the fd. */
int img_unpack_spawn(int blob_fd, int root_fd, const struct img_unpack_opts *o, pid_t *pid,
		     int *result_fd, struct sup_error **err);
int img_unpack_collect(pid_t pid, int result_fd, struct img_unpack_result *res,
		       struct sup_error **err);

/* Enter the unpacker's sandbox (used by img_unpack_sandboxed's child). */
int img_sandbox_enter(struct sup_error **err);

#endif
