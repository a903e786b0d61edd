/* libFuzzer target: any bytes as a layer blob (tar, gzip or zstd), unpacked into a temp
 * directory. Must never crash or leak, and never write outside that directory: a sentinel
 * directory beside it must stay empty. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void sentinel_empty(void)
{
	char p[96];
	DIR *d;
	struct dirent *de;

	snprintf(p, sizeof(p), "%s/sentinel", base);
	d = opendir(p);
	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			abort(); /* the layer wrote outside its directory */
	closedir(d);
}

static void cleanup(void)
{
	nftw(base, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_unpack_opts o = {.max_size = 8 << 20, .min_free = 0, .no_chown = true};
	struct img_unpack_result res;
	struct sup_error *err = NULL;
	char root[96];
	int fd, rfd;

	if (!base[0]) {
		snprintf(base, sizeof(base), "/tmp/sup-fuzz-unpack-XXXXXX");
		if (!mkdtemp(base))
			abort();
		snprintf(root, sizeof(root), "%s/sentinel", base);
		mkdir(root, 0755);
		atexit(cleanup);
	}
	snprintf(root, sizeof(root), "%s/root", base);
	if (mkdir(root, 0755) < 0)
		abort();
	fd = memfd_create("blob", MFD_CLOEXEC);
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || rfd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	if (img_unpack_layer(fd, rfd, &o, &res, &err) < 0) {
		if (!err || !err->msg)
			abort();
		sup_error_free(err);
	} else if (!img_digest_valid(res.diff_id)) {
		abort();
	}
	img_unpack_result_free(&res);
	close(fd);
	close(rfd);
	nftw(root, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
	sentinel_empty();
	return 0;
}
