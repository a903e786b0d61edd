/* libFuzzer target: any bytes as a manifest, index, image config or WWW-Authenticate header,
 * as a registry or a tarball could send them. Must never crash, leak or read out of bounds,
 * and whatever parses must be self-consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_manifest(const char *text, size_t size, const char *ct)
{
	struct img_manifest m;
	struct sup_error *err = NULL;
	struct img_platform want;
	size_t i;

	if (img_manifest_parse(text, size, ct, &m, &err) < 0) {
		if (!err || !err->msg)
			abort();
		sup_error_free(err);
		return;
	}
	for (i = 0; i < m.n_layers; i++)
		if (!img_digest_valid(m.layers[i].digest) || m.layers[i].kind != IMG_KIND_LAYER)
			abort();
	if (m.kind == IMG_KIND_INDEX) {
		img_platform_host(&want);
		if (img_index_select(&m, &want, &i, &err) == 0) {
			if (i >= m.n_manifests || !m.manifests[i].has_platform)
				abort();
		} else {
			sup_error_free(err);
		}
	}
	img_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes (ASan catches reads past the end), and a NUL-ended one */
	char *text = malloc(size ? size : 1), *str = malloc(size + 1);
	struct img_config c;
	struct img_challenge ch;
	struct sup_error *err = NULL;

	if (!text || !str)
		goto out;
	memcpy(text, data, size);
	memcpy(str, data, size);
	str[size] = '\0';
	check_manifest(text, size, NULL);
	check_manifest(text, size, MT_DOCKER_MANIFEST);
	if (img_config_parse(text, size, &c, &err) == 0) {
		for (size_t i = 0; i < c.diff_ids.n; i++)
			if (!img_digest_valid(c.diff_ids.v[i]))
				abort();
		img_config_free(&c);
	} else {
		sup_error_clear(&err);
	}
	if (img_challenge_parse(str, &ch, &err) == 0)
		img_challenge_free(&ch);
	else
		sup_error_clear(&err);
	img_retry_after_usec(str, 0);
out:
	free(text);
	free(str);
	return 0;
}
