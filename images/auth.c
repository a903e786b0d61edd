/*
 * Registry credentials from a Docker config.json: {"auths": {"KEY": {"auth": base64(user:pass)}}}
 * or {"username", "password"}. KEY may be a host, host:port or a URL ("https://host/v1/");
 * Docker Hub's entry is traditionally "https://index.docker.io/v1/". Credential helpers
 * ("credsStore") are not run: the helper never executes programs named by a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "settings.h"

#define AUTH_FILE_MAX (1u << 20)

/* "https://index.docker.io/v1/" -> "docker.io"; "http://h:5000/x" -> "h:5000" */
static void key_host(const char *key, char *out, size_t size)
{
	const char *p = strstr(key, "://");
	size_t n;

	p = p ? p + 3 : key;
	n = strcspn(p, "/");
	snprintf(out, size, "%.*s", (int)n, p);
	if (!strcmp(out, "index.docker.io") || !strcmp(out, "registry-1.docker.io"))
		snprintf(out, size, "%s", IMG_DOCKER_HUB);
}

static int decode_auth(const char *b64, char **user, char **pass)
{
	size_t len = strlen(b64), pad = 0;
	_cleanup_free_ unsigned char *out = malloc(len / 4 * 3 + 4);
	int n;
	char *colon;

	if (!out || len % 4)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return -1;
	while (pad < 2 && len > pad && b64[len - 1 - pad] == '=')
		pad++;
	n -= (int)pad;
	out[n] = '\0';
	if (memchr(out, '\0', (size_t)n))
		return -1;
	colon = strchr((char *)out, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	*user = strdup((char *)out);
	*pass = strdup(colon + 1);
	return *user && *pass ? 0 : -1;
}

static int entry_creds(json_t *e, char **user, char **pass)
{
	const char *auth = json_string_value(json_object_get(e, "auth"));
	const char *u = json_string_value(json_object_get(e, "username"));
	const char *p = json_string_value(json_object_get(e, "password"));

	if (auth && *auth)
		return decode_auth(auth, user, pass);
	if (u && p) {
		*user = strdup(u);
		*pass = strdup(p);
		return *user && *pass ? 0 : -1;
	}
	return 1; /* no usable credentials in this entry */
}

int img_auth_lookup(const char *auth_file, const char *registry, char **user, char **pass,
		    struct sup_error **err)
{
	json_error_t jerr;
	json_t *root, *auths, *e;
	const char *key;
	char host[256];
	_cleanup_close_ int fd = -1;
	int r = 0;

	*user = *pass = NULL;
	if (!auth_file)
		auth_file = IMG_DEFAULT_AUTH_FILE;
	fd = open(auth_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : sup_error_set(err, errno, "open %s", auth_file);
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return sup_error_set(err, 0, "%s: %s", auth_file, jerr.text);
	auths = json_object_get(root, "auths");
	json_object_foreach(auths, key, e)
	{
		key_host(key, host, sizeof(host));
		if (strcmp(host, registry) != 0)
			continue;
		r = entry_creds(e, user, pass);
		if (r == 0)
			break;
		free(*user);
		free(*pass);
		*user = *pass = NULL;
		if (r < 0) {
			sup_error_set(err, 0, "%s: auths[\"%s\"]: invalid auth entry", auth_file,
				      key);
			break;
		}
		r = 0;
	}
	json_decref(root);
	return r < 0 ? -1 : 0;
}
