/* The helper's settings: supd.conf's [Images] section, flags, and registry credentials. */
#ifndef SUP_IMAGES_SETTINGS_H
#define SUP_IMAGES_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "sup/error.h"
#include "sup/image.h"
#include "sup/strv.h"

#define IMG_DEFAULT_AUTH_FILE	"/etc/sup/auth.json"
#define IMG_UNPACK_PARALLEL_MAX 8

struct img_settings {
	struct strv mirrors;  /* "REGISTRY URL" pairs, in order */
	struct strv insecure; /* host[:port] reached over plain http */
	char *auth_file;
	char *ca_file; /* extra CA certificates (PEM), added to the system bundle */
	char *proxy, *no_proxy;
	unsigned concurrent;	  /* layers downloaded at once */
	unsigned unpack_parallel; /* layers unpacked at once; 0: one per CPU, at most 4 */
	unsigned retries;	  /* per request, on 429/5xx/broken connections */
	uint64_t connect_timeout_usec, low_speed_usec;
	uint64_t max_layer_size; /* uncompressed bytes per layer */
	uint64_t min_free;	 /* bytes left free on the store's filesystem */
	struct img_platform platform;
	uint64_t retry_base_usec; /* first backoff delay (tests shorten it) */
	uint64_t max_rate;	  /* bytes/s per download, 0 = unlimited */
};

void img_settings_init(struct img_settings *s);
void img_settings_free(struct img_settings *s);
/* Read the [Images] section of a supd.conf (other sections are supd's and ignored). A missing
 * file is not an error. */
int img_settings_load(struct img_settings *s, const char *path, struct sup_error **err);
/* Apply one KEY=VALUE as the file would (flags use it too). */
int img_settings_set(struct img_settings *s, const char *key, const char *value,
		     struct sup_error **err);

/* Does host[:port] speak plain http? Loopback registries and Insecure= ones do. */
bool img_settings_insecure(const struct img_settings *s, const char *hostport);
/* Mirror URLs for a registry, in order (pointers into s). */
size_t img_settings_mirrors(const struct img_settings *s, const char *registry, const char **out,
			    size_t max);

/* user:password for registry from a Docker config.json ("auths" -> base64 "auth", or
 * "username"/"password"); *user stays NULL when there is no entry. */
int img_auth_lookup(const char *auth_file, const char *registry, char **user, char **pass,
		    struct sup_error **err);

#endif
