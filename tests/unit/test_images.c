/* images/: references, platforms, manifests and configs, challenges, digests, settings and
 * credentials, and the layer unpacker (whiteouts, refusals) on tars built here. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "manifest.h"
#include "registry.h"
#include "settings.h"
#include "unpack.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX63 "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DG    "sha256:" HEX64

/* ---- references */

static void ref_is(const char *in, const char *want, const char *api)
{
	struct img_ref r;
	struct sup_error *e = NULL;
	char *s;

	ck_assert_msg(img_ref_parse(in, &r, &e) == 0, "%s: %s", in, e ? e->msg : "");
	s = img_ref_string(&r);
	ck_assert_str_eq(s, want);
	ck_assert_str_eq(img_ref_api_host(&r), api);
	free(s);
	img_ref_free(&r);
}

START_TEST(test_ref_docker_hub)
{
	ref_is("redis", "docker.io/library/redis:latest", "registry-1.docker.io");
	ref_is("redis:7", "docker.io/library/redis:7", "registry-1.docker.io");
	ref_is("bitnami/redis", "docker.io/bitnami/redis:latest", "registry-1.docker.io");
	ref_is("docker.io/redis", "docker.io/library/redis:latest", "registry-1.docker.io");
	ref_is("index.docker.io/library/redis:6", "docker.io/library/redis:6",
	       "registry-1.docker.io");
	ref_is("redis@" DG, "docker.io/library/redis@" DG, "registry-1.docker.io");
	ref_is("redis:7@" DG, "docker.io/library/redis:7@" DG, "registry-1.docker.io");
}
END_TEST

START_TEST(test_ref_registries)
{
	ref_is("ghcr.io/a/b:1.0", "ghcr.io/a/b:1.0", "ghcr.io");
	ref_is("localhost/app", "localhost/app:latest", "localhost");
	ref_is("localhost:5000/app:x", "localhost:5000/app:x", "localhost:5000");
	ref_is("127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000");
	ref_is("[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000");
	ref_is("my-reg.example.com/a__b/c-d.e:tag_1", "my-reg.example.com/a__b/c-d.e:tag_1",
	       "my-reg.example.com");
}
END_TEST

START_TEST(test_ref_invalid)
{
	const char *bad[] = {"",
			     "UPPER",
			     "a//b",
			     "x:",
			     "x@sha256:abc",
			     "x@md5:" HEX64,
			     "-x",
			     "x:-tag",
			     "a/b_/c",
			     "x@sha256:" HEX64 "0",
			     "reg:99999/x",
			     "[::zz]:5000/x",
			     "a..b/x/",
			     "x/.y"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct img_ref r;
		struct sup_error *e = NULL;
		ck_assert_msg(img_ref_parse(bad[i], &r, &e) < 0, "accepted \"%s\"", bad[i]);
		ck_assert_ptr_nonnull(e);
		sup_error_free(e);
	}
}
END_TEST

START_TEST(test_loopback)
{
	ck_assert(img_host_is_loopback("127.0.0.1:5000"));
	ck_assert(img_host_is_loopback("127.8.9.10"));
	ck_assert(img_host_is_loopback("localhost:80"));
	ck_assert(img_host_is_loopback("[::1]:5000"));
	ck_assert(!img_host_is_loopback("128.0.0.1:5000"));
	ck_assert(!img_host_is_loopback("localhost.example.com"));
	ck_assert(!img_host_is_loopback("[::2]:5000"));
}
END_TEST

/* ---- platforms */

static struct img_platform plat(const char *s)
{
	struct img_platform p;
	struct sup_error *e = NULL;

	ck_assert_msg(img_platform_parse(s, &p, &e) == 0, "%s", s);
	return p;
}

START_TEST(test_platform_parse)
{
	char buf[96];
	struct img_platform p;
	struct sup_error *e = NULL;

	ck_assert_str_eq(img_platform_format(&(struct img_platform){0}, buf, sizeof(buf)), "/");
	p = plat("linux/arm/v7");
	ck_assert_str_eq(img_platform_format(&p, buf, sizeof(buf)), "linux/arm/v7");
	p = plat("arm");
	ck_assert_str_eq(img_platform_format(&p, buf, sizeof(buf)), "linux/arm/v7");
	p = plat("linux/arm64/v8");
	ck_assert_str_eq(img_platform_format(&p, buf, sizeof(buf)), "linux/arm64");
	p = plat("x86_64");
	ck_assert_str_eq(img_platform_format(&p, buf, sizeof(buf)), "linux/amd64");
	p = plat("armhf");
	ck_assert_str_eq(img_platform_format(&p, buf, sizeof(buf)), "linux/arm/v7");
	ck_assert_int_lt(img_platform_parse("a/b/c/d", &p, &e), 0);
	sup_error_clear(&e);
	ck_assert_int_lt(img_platform_parse("linux/AMD64", &p, &e), 0);
	sup_error_clear(&e);
	img_platform_host(&p);
	ck_assert_str_eq(p.os, "linux");
}
END_TEST

static const char index_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:" HEX64 "\",\"size\":1,"
    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:1" HEX63 "\",\"size\":2,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:2" HEX63 "\",\"size\":3,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:3" HEX63 "\",\"size\":4,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}";

START_TEST(test_index_select)
{
	struct img_manifest m;
	struct sup_error *e = NULL;
	struct img_platform p;
	size_t i = 99;
	const char *j = index_json;

	ck_assert_msg(img_manifest_parse(j, strlen(j), NULL, &m, &e) == 0, "%s", e ? e->msg : "");
	ck_assert_int_eq(m.kind, IMG_KIND_INDEX);
	ck_assert_uint_eq(m.n_manifests, 4);
	ck_assert_int_eq(img_index_select(&m, (p = plat("linux/amd64"), &p), &i, &e), 0);
	ck_assert_uint_eq(i, 2);
	ck_assert_int_eq(img_index_select(&m, (p = plat("linux/arm64"), &p), &i, &e), 0);
	ck_assert_uint_eq(i, 3);
	/* an arm/v7 machine runs v6 code when there is no v7 build */
	ck_assert_int_eq(img_index_select(&m, (p = plat("linux/arm/v7"), &p), &i, &e), 0);
	ck_assert_uint_eq(i, 1);
	ck_assert_int_lt(img_index_select(&m, (p = plat("linux/arm/v5"), &p), &i, &e), 0);
	ck_assert_ptr_nonnull(strstr(e->msg, "linux/arm/v5"));
	sup_error_clear(&e);
	/* unknown/unknown (attestations) is never a match, even when asked for */
	ck_assert_int_lt(img_index_select(&m, (p = plat("unknown/unknown"), &p), &i, &e), 0);
	sup_error_clear(&e);
	img_manifest_free(&m);
}
END_TEST

/* ---- manifests and configs */

#define LAYER(mt, d, n) "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":" #n "}"
#define CONFIG_DESC(mt) "\"config\":" LAYER(mt, DG, 10)

static int parse(const char *j, const char *ct, struct img_manifest *m, struct sup_error **e)
{
	return img_manifest_parse(j, strlen(j), ct, m, e);
}

START_TEST(test_manifest_oci_and_docker)
{
	struct img_manifest m;
	struct sup_error *e = NULL;
	const char *oci = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST
			  "\"," CONFIG_DESC(MT_OCI_CONFIG) ",\"layers\":[" LAYER(
			      "application/vnd.oci.image.layer.v1.tar+gzip", DG,
			      5) "," LAYER("application/vnd.oci.image.layer.v1.tar+zstd", DG,
					   6) "," LAYER(MT_OCI_LAYER, DG, 7) "]}";
	const char *docker = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST
			     "\"," CONFIG_DESC(MT_DOCKER_CONFIG) ",\"layers\":[" LAYER(
				 "application/vnd.docker.image.rootfs.diff.tar.gzip", DG, 5) "]}";

	ck_assert_msg(parse(oci, NULL, &m, &e) == 0, "%s", e ? e->msg : "");
	ck_assert_int_eq(m.kind, IMG_KIND_MANIFEST);
	ck_assert_uint_eq(m.n_layers, 3);
	ck_assert_int_eq(m.layers[0].comp, IMG_COMP_GZIP);
	ck_assert_int_eq(m.layers[1].comp, IMG_COMP_ZSTD);
	ck_assert_int_eq(m.layers[2].comp, IMG_COMP_NONE);
	ck_assert_uint_eq(m.config.size, 10);
	img_manifest_free(&m);
	ck_assert_int_eq(parse(docker, NULL, &m, &e), 0);
	ck_assert_str_eq(m.media_type, MT_DOCKER_MANIFEST);
	img_manifest_free(&m);
}
END_TEST

START_TEST(test_manifest_media_type_from_header)
{
	struct img_manifest m;
	struct sup_error *e = NULL;
	const char *bare = "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_CONFIG) ",\"layers\":[]}";
	const char *bare_index = "{\"schemaVersion\":2,\"manifests\":[]}";

	ck_assert_int_eq(parse(bare, MT_DOCKER_MANIFEST, &m, &e), 0);
	ck_assert_str_eq(m.media_type, MT_DOCKER_MANIFEST);
	img_manifest_free(&m);
	ck_assert_int_eq(parse(bare, NULL, &m, &e), 0);
	ck_assert_int_eq(m.kind, IMG_KIND_MANIFEST);
	img_manifest_free(&m);
	ck_assert_int_eq(parse(bare_index, NULL, &m, &e), 0);
	ck_assert_int_eq(m.kind, IMG_KIND_INDEX);
	img_manifest_free(&m);
}
END_TEST

START_TEST(test_manifest_refused)
{
	const char *bad[] = {
	    "not json",
	    "[]",
	    "{\"schemaVersion\":1,\"fsLayers\":[]}",
	    "{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}",
	    "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_CONFIG) "}",
	    "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_CONFIG) ",\"layers\":[" LAYER(
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", DG, 1) "]}",
	    "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_CONFIG) ",\"layers\":[" LAYER(
		MT_OCI_LAYER, "sha256:abc", 1) "]}",
	    "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_CONFIG) ",\"layers\":[" LAYER(
		MT_OCI_LAYER, "sha512:" HEX64, 1) "]}",
	    "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_CONFIG) ",\"layers\":[" LAYER(MT_OCI_LAYER,
										     DG, -1) "]}",
	    "{\"schemaVersion\":2," CONFIG_DESC(MT_OCI_LAYER) ",\"layers\":[]}",
	    "{\"schemaVersion\":2,\"schemaVersion\":2}",
	    "{\"schemaVersion\":2,\"manifests\":{}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct img_manifest m;
		struct sup_error *e = NULL;
		ck_assert_msg(parse(bad[i], NULL, &m, &e) < 0, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(e);
		sup_error_free(e);
	}
}
END_TEST

START_TEST(test_manifest_too_many_layers)
{
	size_t n = IMG_LAYERS_MAX + 1, cap = 200 + n * 160;
	char *j = malloc(cap), *p = j;
	struct img_manifest m;
	struct sup_error *e = NULL;

	p += sprintf(p, "{\"schemaVersion\":2,%s,\"layers\":[", CONFIG_DESC(MT_OCI_CONFIG));
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", LAYER(MT_OCI_LAYER, DG, 1));
	sprintf(p, "]}");
	ck_assert_int_lt(parse(j, NULL, &m, &e), 0);
	ck_assert_ptr_nonnull(strstr(e->msg, "at most"));
	sup_error_free(e);
	free(j);
}
END_TEST

START_TEST(test_config_parse)
{
	struct img_config c;
	struct sup_error *e = NULL;
	const char *j =
	    "{\"architecture\":\"arm\",\"variant\":\"v7\",\"os\":\"linux\","
	    "\"created\":\"2024-01-01T00:00:00Z\",\"config\":{\"Env\":[\"PATH=/bin\","
	    "\"A=b c\"],\"Entrypoint\":[\"/init\"],\"Cmd\":null,\"WorkingDir\":\"/srv\","
	    "\"User\":\"1000:1000\",\"StopSignal\":\"SIGQUIT\"},"
	    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DG "\",\"" DG "\"]}}";
	const char *bad[] = {
	    "{\"architecture\":\"amd64\",\"os\":\"linux\"}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"x\"}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[\"nope\"]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[]},\"config\":{\"Env\":[1]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[]},\"config\":{\"Env\":[\"A=\\u0000b\"]}}",
	};

	ck_assert_msg(img_config_parse(j, strlen(j), &c, &e) == 0, "%s", e ? e->msg : "");
	ck_assert_str_eq(c.platform.arch, "arm");
	ck_assert_str_eq(c.platform.variant, "v7");
	ck_assert_uint_eq(c.diff_ids.n, 2);
	ck_assert_uint_eq(c.env.n, 2);
	ck_assert_str_eq(c.env.v[1], "A=b c");
	ck_assert(c.has_entrypoint && !c.has_cmd);
	ck_assert_str_eq(c.working_dir, "/srv");
	ck_assert_str_eq(c.user, "1000:1000");
	ck_assert_str_eq(c.stop_signal, "SIGQUIT");
	img_config_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(img_config_parse(bad[i], strlen(bad[i]), &c, &e) < 0, "accepted %s",
			      bad[i]);
		sup_error_clear(&e);
	}
}
END_TEST

/* ---- challenges, Retry-After */

START_TEST(test_challenge)
{
	struct img_challenge c;
	struct sup_error *e = NULL;

	ck_assert_int_eq(img_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
					     "service=\"registry.docker.io\",scope=\"repository:"
					     "library/redis:pull,push\"",
					     &c, &e),
			 0);
	ck_assert_str_eq(c.scheme, "Bearer");
	ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
	ck_assert_str_eq(c.service, "registry.docker.io");
	ck_assert_str_eq(c.scope, "repository:library/redis:pull,push");
	img_challenge_free(&c);
	ck_assert_int_eq(img_challenge_parse("Basic realm=\"a \\\"quoted\\\" realm\"", &c, &e), 0);
	ck_assert_str_eq(c.scheme, "Basic");
	ck_assert_str_eq(c.realm, "a \"quoted\" realm");
	img_challenge_free(&c);
	ck_assert_int_eq(
	    img_challenge_parse("Bearer realm=http://x/t, error=\"invalid_token\"", &c, &e), 0);
	ck_assert_str_eq(c.realm, "http://x/t");
	ck_assert_str_eq(c.error, "invalid_token");
	img_challenge_free(&c);
	ck_assert_int_lt(img_challenge_parse("Bearer service=\"x\"", &c, &e), 0);
	sup_error_clear(&e);
	ck_assert_int_lt(img_challenge_parse("", &c, &e), 0);
	sup_error_clear(&e);
}
END_TEST

START_TEST(test_retry_after)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	ck_assert_uint_eq(img_retry_after_usec("5", now), 5000000);
	ck_assert_uint_eq(img_retry_after_usec(" 0", now), 0);
	ck_assert_uint_eq(img_retry_after_usec("99999", now), 600ull * 1000000);
	ck_assert_uint_eq(img_retry_after_usec("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000000);
	ck_assert_uint_eq(img_retry_after_usec("Sun, 06 Nov 1994 08:49:30 GMT", now), 0);
	ck_assert_uint_eq(img_retry_after_usec("soon", now), 0);
	ck_assert_uint_eq(img_retry_after_usec(NULL, now), 0);
}
END_TEST

START_TEST(test_same_origin)
{
	ck_assert(img_same_origin("http://127.0.0.1:5000/v2/x", "http://127.0.0.1:5000"));
	ck_assert(img_same_origin("https://r.io/v2/x", "https://R.io:443"));
	ck_assert(!img_same_origin("http://127.0.0.2:5000/blob", "http://127.0.0.1:5000"));
	ck_assert(!img_same_origin("https://r.io/x", "http://r.io"));
	ck_assert(!img_same_origin("https://r.io:444/x", "https://r.io"));
}
END_TEST

/* ---- digests */

START_TEST(test_digest_verify)
{
	struct sup_error *e = NULL;
	struct img_hasher h;
	char d[IMG_DIGEST_LEN + 1];
	/* sha256("abc") */
	const char *abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

	img_sha256("abc", 3, d);
	ck_assert_str_eq(d, abc);
	ck_assert_int_eq(img_digest_verify("abc", 3, abc, 3, "blob", &e), 0);
	ck_assert_int_eq(img_digest_verify("abc", 3, abc, UINT64_MAX, "blob", &e), 0);
	ck_assert_int_lt(img_digest_verify("abd", 3, abc, 3, "blob", &e), 0);
	ck_assert_ptr_nonnull(strstr(e->msg, "digest mismatch"));
	sup_error_clear(&e);
	ck_assert_int_lt(img_digest_verify("abc", 3, abc, 4, "blob", &e), 0);
	ck_assert_ptr_nonnull(strstr(e->msg, "declared"));
	sup_error_clear(&e);
	ck_assert_int_eq(img_hasher_init(&h, &e), 0);
	img_hasher_update(&h, "a", 1);
	img_hasher_update(&h, "bc", 2);
	img_hasher_final(&h, d);
	img_hasher_free(&h);
	ck_assert_str_eq(d, abc);
	ck_assert(img_digest_valid(abc));
	ck_assert(!img_digest_valid(
	    "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
}
END_TEST

/* ---- settings and credentials */

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/sup-test-images-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_settings)
{
	struct img_settings s;
	struct sup_error *e = NULL;
	const char *m[4];
	char *conf =
	    write_tmp("[Log]\nMaxFiles=3\n[Images]\nMirror=docker.io https://m1.local\n"
		      "Mirror=docker.io http://m2.local:5000/\nInsecure=reg.lan:5000 other\n"
		      "ConcurrentDownloads=5\nMaxLayerSize=1G\nPlatform=linux/arm64\n"
		      "ConnectTimeoutSec=5s\n");
	char *bad = write_tmp("[Images]\nNoSuchKey=1\n");

	img_settings_init(&s);
	ck_assert_msg(img_settings_load(&s, conf, &e) == 0, "%s", e ? e->msg : "");
	ck_assert_uint_eq(img_settings_mirrors(&s, "docker.io", m, 4), 2);
	ck_assert_str_eq(m[0], "https://m1.local");
	ck_assert_str_eq(m[1], "http://m2.local:5000/");
	ck_assert_uint_eq(img_settings_mirrors(&s, "ghcr.io", m, 4), 0);
	ck_assert(img_settings_insecure(&s, "reg.lan:5000"));
	ck_assert(img_settings_insecure(&s, "127.0.0.1:5000"));
	ck_assert(!img_settings_insecure(&s, "reg.lan"));
	ck_assert_uint_eq(s.concurrent, 5);
	ck_assert_uint_eq(s.max_layer_size, 1ull << 30);
	ck_assert_str_eq(s.platform.arch, "arm64");
	ck_assert_uint_eq(s.connect_timeout_usec, 5000000);
	ck_assert_int_lt(img_settings_set(&s, "ConcurrentDownloads", "0", &e), 0);
	sup_error_clear(&e);
	ck_assert_int_lt(img_settings_set(&s, "Mirror", "docker.io ftp://x", &e), 0);
	sup_error_clear(&e);
	img_settings_free(&s);
	img_settings_init(&s);
	ck_assert_int_lt(img_settings_load(&s, bad, &e), 0);
	ck_assert_ptr_nonnull(strstr(e->msg, "NoSuchKey"));
	sup_error_clear(&e);
	ck_assert_int_eq(img_settings_load(&s, "/nonexistent/supd.conf", &e), 0);
	img_settings_free(&s);
	unlink(conf);
	unlink(bad);
	free(conf);
	free(bad);
}
END_TEST

START_TEST(test_auth_lookup)
{
	/* dXNlcjpwYXNz = user:pass, aHViOnNlY3JldDpjb2xvbg== = hub:secret:colon */
	char *path = write_tmp("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":"
			       "\"aHViOnNlY3JldDpjb2xvbg==\"},\"reg.lan:5000\":{\"auth\":"
			       "\"dXNlcjpwYXNz\"},\"http://other.lan\":{\"username\":\"u\","
			       "\"password\":\"p\"},\"bad.lan\":{\"auth\":\"!!!\"}}}");
	struct sup_error *e = NULL;
	char *u, *p;

	ck_assert_int_eq(img_auth_lookup(path, "docker.io", &u, &p, &e), 0);
	ck_assert_str_eq(u, "hub");
	ck_assert_str_eq(p, "secret:colon");
	free(u);
	free(p);
	ck_assert_int_eq(img_auth_lookup(path, "reg.lan:5000", &u, &p, &e), 0);
	ck_assert_str_eq(u, "user");
	ck_assert_str_eq(p, "pass");
	free(u);
	free(p);
	ck_assert_int_eq(img_auth_lookup(path, "other.lan", &u, &p, &e), 0);
	ck_assert_str_eq(u, "u");
	free(u);
	free(p);
	ck_assert_int_eq(img_auth_lookup(path, "none.lan", &u, &p, &e), 0);
	ck_assert_ptr_null(u);
	ck_assert_int_lt(img_auth_lookup(path, "bad.lan", &u, &p, &e), 0);
	sup_error_clear(&e);
	ck_assert_int_eq(img_auth_lookup("/nonexistent.json", "docker.io", &u, &p, &e), 0);
	ck_assert_ptr_null(u);
	unlink(path);
	free(path);
}
END_TEST

/* ---- the unpacker, on tars built here */

struct tarb {
	struct archive *a;
	int fd;
};

static struct tarb tar_new(void)
{
	struct tarb t = {archive_write_new(), memfd_create("layer", MFD_CLOEXEC)};

	archive_write_set_format_pax_restricted(t.a);
	archive_write_add_filter_gzip(t.a);
	ck_assert_int_eq(archive_write_open_fd(t.a, t.fd), ARCHIVE_OK);
	return t;
}

static void tar_add(struct tarb *t, const char *path, mode_t type, const char *data,
		    const char *link, dev_t rdev, const char *xattr)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (link && type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	if (rdev)
		archive_entry_set_rdev(e, rdev);
	if (xattr)
		archive_entry_xattr_add_entry(e, xattr, "v", 1);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	ck_assert_int_eq(archive_write_header(t->a, e), ARCHIVE_OK);
	if (data)
		archive_write_data(t->a, data, strlen(data));
	archive_entry_free(e);
}

static void rm_rf(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Unpack into a fresh directory; returns its fd (and the result) or -1 with *e set. */
static int tar_unpack(struct tarb *t, char *dir, struct img_unpack_result *res,
		      struct sup_error **e)
{
	struct img_unpack_opts o = {.max_size = 1 << 20, .min_free = 0, .no_chown = geteuid() != 0};
	int root;

	archive_write_close(t->a);
	archive_write_free(t->a);
	lseek(t->fd, 0, SEEK_SET);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (img_unpack_layer(t->fd, root, &o, res, e) < 0) {
		close(root);
		root = -1;
	}
	close(t->fd);
	return root;
}

START_TEST(test_unpack_whiteouts)
{
	struct tarb t = tar_new();
	struct img_unpack_result res;
	struct sup_error *e = NULL;
	char dir[] = "/tmp/sup-unpack-XXXXXX";
	struct stat st;
	char v[8], path[96];
	int root;

	if (geteuid() != 0)
		return; /* whiteout devices and trusted.* need root */
	tar_add(&t, "./etc/", AE_IFDIR, NULL, NULL, 0, NULL);
	tar_add(&t, "etc/.wh.passwd", AE_IFREG, NULL, NULL, 0, NULL);
	tar_add(&t, "var/lib/.wh..wh..opq", AE_IFREG, NULL, NULL, 0, NULL);
	tar_add(&t, ".wh..wh.plnk", AE_IFREG, NULL, NULL, 0, NULL);
	tar_add(&t, "dev/null", AE_IFCHR, NULL, NULL, makedev(1, 3), NULL);
	tar_add(&t, "f", AE_IFREG, "data", NULL, 0, "trusted.overlay.redirect");
	tar_add(&t, "g", AE_IFREG, "more", NULL, 0, "user.ok");
	tar_add(&t, "h", AE_IFREG, NULL, "g", 0, NULL);
	root = tar_unpack(&t, dir, &res, &e);
	ck_assert_msg(root >= 0, "%s", e ? e->msg : "");
	ck_assert_int_eq(fstatat(root, "etc/passwd", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	snprintf(path, sizeof(path), "%s/var/lib", dir);
	ck_assert_int_eq(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1);
	ck_assert_int_lt(fstatat(root, "dev/null", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_lt(fstatat(root, ".wh..wh.plnk", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(res.whiteouts, 1);
	ck_assert_uint_eq(res.opaques, 1);
	ck_assert_uint_eq(res.skipped_devices, 1);
	ck_assert_uint_ge(res.dropped_xattrs, 1);
	snprintf(path, sizeof(path), "%s/g", dir);
	ck_assert_int_eq(getxattr(path, "user.ok", v, sizeof(v)), 1);
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_lt(getxattr(path, "trusted.overlay.redirect", v, sizeof(v)), 0);
	ck_assert_int_eq(fstatat(root, "h", &st, 0), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	/* implicit parents are recorded for the chain check */
	ck_assert(strv_contains(&res.implicit, "var") && strv_contains(&res.implicit, "var/lib"));
	ck_assert(!strv_contains(&res.implicit, "etc"));
	ck_assert(img_digest_valid(res.diff_id));
	img_unpack_result_free(&res);
	close(root);
	rm_rf(dir);
}
END_TEST

/* Each trick alone in a layer: refused, with a message naming it, nothing outside. */
START_TEST(test_unpack_refusals)
{
	static const struct {
		const char *what;
		const char *path, *link, *data;
		mode_t type;
		const char *path2, *data2;
		const char *words;
	} tricks[] = {
	    {"dotdot", "../x", NULL, "x", AE_IFREG, NULL, NULL, "\"..\" refused"},
	    {"absolute", "/etc/x", NULL, "x", AE_IFREG, NULL, NULL, "absolute path refused"},
	    {"symlink then write", "l", "/tmp", NULL, AE_IFLNK, "l/sup-unpack-escape", "x",
	     "symlink"},
	    {"hardlink outside", "h", "../../etc/passwd", NULL, AE_IFREG, NULL, NULL,
	     "\"..\" refused"},
	    {"hardlink missing", "h", "nothere", NULL, AE_IFREG, NULL, NULL, "hard link"},
	    {"dotdot after symlink", "s", "a/b", NULL, AE_IFLNK, "s/../x", "x", "\"..\" refused"},
	    {"symlink in the middle", "d/s", "/", NULL, AE_IFLNK, "d/s/tmp/sup-unpack-escape", "x",
	     "symlink"},
	};

	for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		struct tarb t = tar_new();
		struct img_unpack_result res;
		struct sup_error *e = NULL;
		char dir[] = "/tmp/sup-unpack-XXXXXX";
		bool hard = tricks[i].type == AE_IFREG && tricks[i].link;

		tar_add(&t, tricks[i].path, tricks[i].type, tricks[i].data,
			hard ? tricks[i].link : tricks[i].link, 0, NULL);
		if (tricks[i].path2)
			tar_add(&t, tricks[i].path2, AE_IFREG, tricks[i].data2, NULL, 0, NULL);
		ck_assert_msg(tar_unpack(&t, dir, &res, &e) < 0, "%s: accepted", tricks[i].what);
		ck_assert_msg(strstr(e->msg, tricks[i].words), "%s: \"%s\"", tricks[i].what,
			      e->msg);
		sup_error_free(e);
		img_unpack_result_free(&res);
		rm_rf(dir);
	}
	ck_assert_int_ne(access("/tmp/sup-unpack-escape", F_OK), 0);
}
END_TEST

/* A directory emptied of everything but an opaque marker, replaced by a symlink, written
 * through: refused (the parent cache must not hand out the removed directory either). */
START_TEST(test_unpack_replaced_dir)
{
	struct tarb t = tar_new();
	struct img_unpack_result res;
	struct sup_error *e = NULL;
	char dir[] = "/tmp/sup-unpack-XXXXXX";

	if (geteuid() != 0)
		return;
	tar_add(&t, "a/.wh..wh..opq", AE_IFREG, NULL, NULL, 0, NULL);
	tar_add(&t, "a", AE_IFLNK, NULL, "/tmp", 0, NULL);
	tar_add(&t, "a/sup-unpack-escape", AE_IFREG, "x", NULL, 0, NULL);
	ck_assert_int_lt(tar_unpack(&t, dir, &res, &e), 0);
	ck_assert_msg(strstr(e->msg, "symlink"), "%s", e->msg);
	sup_error_free(e);
	img_unpack_result_free(&res);
	rm_rf(dir);
	ck_assert_int_ne(access("/tmp/sup-unpack-escape", F_OK), 0);
}
END_TEST

/* Content before its directory's own entry: the directory is not implicit after all. */
START_TEST(test_unpack_late_dir_entry)
{
	struct tarb t = tar_new();
	struct img_unpack_result res;
	struct sup_error *e = NULL;
	char dir[] = "/tmp/sup-unpack-XXXXXX";
	int root;

	tar_add(&t, "x/y/f", AE_IFREG, "f", NULL, 0, NULL);
	tar_add(&t, "x/y", AE_IFDIR, NULL, NULL, 0, NULL);
	root = tar_unpack(&t, dir, &res, &e);
	ck_assert_msg(root >= 0, "%s", e ? e->msg : "");
	ck_assert(strv_contains(&res.implicit, "x") && !strv_contains(&res.implicit, "x/y"));
	img_unpack_result_free(&res);
	close(root);
	rm_rf(dir);
}
END_TEST

START_TEST(test_unpack_size_cap)
{
	struct tarb t = tar_new();
	struct img_unpack_result res;
	struct sup_error *e = NULL;
	char dir[] = "/tmp/sup-unpack-XXXXXX";
	char *big = malloc((1 << 20) + 2);

	memset(big, 'a', (1 << 20) + 1);
	big[(1 << 20) + 1] = '\0';
	tar_add(&t, "big", AE_IFREG, big, NULL, 0, NULL);
	ck_assert_int_lt(tar_unpack(&t, dir, &res, &e), 0);
	ck_assert_ptr_nonnull(strstr(e->msg, "MaxLayerSize"));
	sup_error_free(e);
	img_unpack_result_free(&res);
	rm_rf(dir);
	free(big);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("images");
	TCase *tc = tcase_create("images");

	tcase_add_test(tc, test_ref_docker_hub);
	tcase_add_test(tc, test_ref_registries);
	tcase_add_test(tc, test_ref_invalid);
	tcase_add_test(tc, test_loopback);
	tcase_add_test(tc, test_platform_parse);
	tcase_add_test(tc, test_index_select);
	tcase_add_test(tc, test_manifest_oci_and_docker);
	tcase_add_test(tc, test_manifest_media_type_from_header);
	tcase_add_test(tc, test_manifest_refused);
	tcase_add_test(tc, test_manifest_too_many_layers);
	tcase_add_test(tc, test_config_parse);
	tcase_add_test(tc, test_challenge);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_same_origin);
	tcase_add_test(tc, test_digest_verify);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_auth_lookup);
	tcase_add_test(tc, test_unpack_whiteouts);
	tcase_add_test(tc, test_unpack_refusals);
	tcase_add_test(tc, test_unpack_replaced_dir);
	tcase_add_test(tc, test_unpack_late_dir_entry);
	tcase_add_test(tc, test_unpack_size_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
