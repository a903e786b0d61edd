/* sha256 through OpenSSL's EVP interface; digests are always "sha256:" + 64 lower-case hex. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "sup/cleanup.h"

#include "digest.h"

int img_hasher_init(struct img_hasher *h, struct sup_error **err)
{
	h->n = 0;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
		return sup_error_set(err, ENOMEM, "sha256 context");
	}
	return 0;
}

void img_hasher_update(struct img_hasher *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
	h->n += len;
}

void img_hasher_final(struct img_hasher *h, char out[IMG_DIGEST_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	out[IMG_DIGEST_LEN] = '\0';
	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
	h->n = 0;
}

void img_hasher_free(struct img_hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void img_sha256(const void *data, size_t len, char out[IMG_DIGEST_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	out[IMG_DIGEST_LEN] = '\0';
}

int img_digest_verify(const void *data, size_t len, const char *digest, uint64_t size,
		      const char *what, struct sup_error **err)
{
	char got[IMG_DIGEST_LEN + 1];

	if (size != UINT64_MAX && (uint64_t)len != size)
		return sup_error_set(err, 0, "%s: %zu bytes where %llu were declared", what, len,
				     (unsigned long long)size);
	img_sha256(data, len, got);
	if (strcmp(got, digest) != 0)
		return sup_error_set(err, 0, "%s: digest mismatch: expected %s, got %s", what,
				     digest, got);
	return 0;
}

int img_hash_fd(int fd, struct img_hasher *h, uint64_t limit, struct sup_error **err)
{
	_cleanup_free_ char *buf = malloc(1 << 16);
	uint64_t off = 0;

	if (!buf)
		return sup_error_set(err, ENOMEM, "hash partial blob");
	while (off < limit) {
		size_t want = limit - off < (1 << 16) ? (size_t)(limit - off) : (1 << 16);
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sup_error_set(err, errno, "read partial blob");
		if (n == 0)
			break;
		img_hasher_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	return 0;
}
