/* sha256 digests (OpenSSL libcrypto EVP), the one check every blob passes before it is kept. */
#ifndef SUP_IMAGES_DIGEST_H
#define SUP_IMAGES_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "sup/error.h"
#include "sup/image.h"

struct img_hasher {
	void *ctx; /* EVP_MD_CTX */
	uint64_t n;
};

int img_hasher_init(struct img_hasher *h, struct sup_error **err);
void img_hasher_update(struct img_hasher *h, const void *data, size_t len);
/* out: "sha256:<hex>", IMG_DIGEST_LEN + 1 bytes. Resets h for reuse. */
void img_hasher_final(struct img_hasher *h, char out[IMG_DIGEST_LEN + 1]);
void img_hasher_free(struct img_hasher *h);

void img_sha256(const void *data, size_t len, char out[IMG_DIGEST_LEN + 1]);
/* data must have exactly `size` bytes (when size is not UINT64_MAX) and hash to `digest`. */
int img_digest_verify(const void *data, size_t len, const char *digest, uint64_t size,
		      const char *what, struct sup_error **err);
/* Hash a whole file from offset 0 into h (for resuming a partial download). */
int img_hash_fd(int fd, struct img_hasher *h, uint64_t limit, struct sup_error **err);

#endif
