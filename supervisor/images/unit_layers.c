/*
 * The writable layers of Image= units: STATE/units/NAME/layers/<digest hex>/{upper,work}, one
 * per digest the unit ran, kept across restarts. A layer is dropped (supctl drop-layer, or a
 * start of another digest) by a rename to a hidden name, which is instant and atomic, and is
 * then removed by a forked child: a container may have left millions of files, and PID 1 does
 * not walk them. What a crash left half-removed is removed at the next start of supd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/log.h"
#include "core/children.h"
#include "core/service.h"
#include "core/state.h"
#include "images/unit_image.h"
#include "images/unit_image_private.h"
#include "supd.h"

#define TRASH_PREFIX ".del-"

void sup_img_unit_path(const struct unit *u, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/units/%s%s%s", supd->conf.state_dir, u->name, name ? "/" : "",
		 name ? name : "");
}

void sup_img_layer_dir(const struct unit *u, const char *digest, char *buf, size_t size)
{
	snprintf(buf, size, "%s/units/%s/layers/%s", supd->conf.state_dir, u->name,
		 strncmp(digest, "sha256:", 7) ? digest : digest + 7);
}

int sup_img_layers_parent(const struct unit *u, struct sup_error **err)
{
	char dir[PATH_MAX];

	sup_img_unit_path(u, "layers", dir, sizeof(dir));
	if (sup_mkdir_p(dir, 0700) < 0)
		return sup_error_set(err, errno, "create %s", dir);
	return 0;
}

struct remover {
	struct sup_child child;
	char path[];
};

static void removed(struct sup_child *c, int wstatus)
{
	struct remover *r = sup_container_of(c, struct remover, child);

	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus))
		sup_warn(NULL, "remove %s: not whole (it is tried again at supd's next start)",
			 r->path);
	free(r);
}

/* rm -rf path in a child of its own, which holds none of supd's fds. */
static void remove_in_child(const char *path)
{
	struct remover *r = calloc(1, sizeof(*r) + strlen(path) + 1);
	pid_t pid;

	if (!r)
		return;
	strcpy(r->path, path);
	pid = fork();
	if (pid == 0) {
		syscall(SYS_close_range, 3U, ~0U, 0U);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(sup_remove_tree(AT_FDCWD, r->path, UINT_MAX) < 0 ? 1 : 0);
	}
	if (pid < 0) {
		sup_warn(NULL, "remove %s: fork: %s", path, strerror(errno));
		free(r);
		return;
	}
	sup_child_add(&r->child, pid, CHILD_OTHER, removed);
}

/* layers/NAME -> layers/.del-NAME-N, then removed in the background. */
static int drop_one(const char *layers, const char *name)
{
	static unsigned seq;
	char from[PATH_MAX], to[PATH_MAX];

	if (snprintf(from, sizeof(from), "%s/%s", layers, name) >= (int)sizeof(from) ||
	    snprintf(to, sizeof(to), "%s/" TRASH_PREFIX "%s-%d-%u", layers, name, (int)getpid(),
		     seq++) >= (int)sizeof(to))
		return errno = ENAMETOOLONG, -1;
	if (rename(from, to) < 0)
		return -1;
	remove_in_child(to);
	return 0;
}

/* Every layer of the unit but keep's (hex); NULL: all. The number dropped, or -1. */
static int drop_all_but(const struct unit *u, const char *keep)
{
	char layers[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	int n = 0;

	sup_img_unit_path(u, "layers", layers, sizeof(layers));
	d = opendir(layers);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (keep && !strcmp(e->d_name, keep)))
			continue;
		if (drop_one(layers, e->d_name) < 0)
			return -1;
		n++;
	}
	return n;
}

void sup_img_drop_other_layers(struct unit *u, const char *digest)
{
	int n = drop_all_but(u, digest + 7);

	if (n < 0)
		sup_warn(u->name, "drop the writable layers of other digests: %s", strerror(errno));
	else if (n > 0)
		unit_note(u, "image: the writable layer of the previous digest is dropped");
}

int sup_img_drop_layers(struct unit *u, unsigned *dropped, struct sup_error **err)
{
	int n;

	if (!unit_is_down(u))
		return sup_error_set(err, 0,
				     "%s: is %s; its writable layer is dropped once it is down",
				     u->name, unit_state_name(u->state));
	n = drop_all_but(u, NULL);
	if (n < 0)
		return sup_error_set(err, errno, "%s: drop its writable layer", u->name);
	*dropped = (unsigned)n;
	if (n)
		unit_note(u, "image: writable layer dropped (supctl drop-layer)");
	return 0;
}

/* What an earlier supd left renamed but not removed. */
static void sweep_unit(const char *name)
{
	char layers[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	snprintf(layers, sizeof(layers), "%s/units/%s/layers", supd->conf.state_dir, name);
	d = opendir(layers);
	while (d && (e = readdir(d))) {
		char path[PATH_MAX];
		if (strncmp(e->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", layers, e->d_name) < (int)sizeof(path))
			remove_in_child(path);
	}
}

void sup_img_sweep(void)
{
	char units[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	snprintf(units, sizeof(units), "%s/units", supd->conf.state_dir);
	d = opendir(units);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			sweep_unit(e->d_name);
}
