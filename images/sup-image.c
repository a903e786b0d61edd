/*
 * sup-image: the image helper. supd forks and execs it for every image operation, so that no
 * registry reply, manifest or layer is ever parsed in PID 1; it is also usable on its own.
 * A request comes as argv or as one JSON line on stdin ("request"); progress and the result
 * go out as JSON lines on the events fd (stdout unless --events-fd). Protocol: docs/images.md.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "images.h"

#define DEFAULT_STATE  "/var/lib/sup"
#define DEFAULT_CONFIG "/etc/sup/supd.conf"
#define REQUEST_MAX    (64u << 10)

struct request {
	const char *op;
	struct strv args; /* refs (pull, inspect, rmi, mount: ref then target) */
	struct strv keep;
	const char *tag, *upper, *work;
	int fd; /* load */
	bool read_only;
	bool legacy;	      /* mount: mount(2) with short links instead of the new mount API */
	const char *unit_dir; /* mount: a unit's writable layer (upper/ and work/ in it) */
	const char *digest;   /* prepare: the digest a unit is pinned to */
	const char *source;   /* prepare: the registry's digest of it, when it was converted */
};

struct helper {
	struct img_settings set;
	struct img_store store;
	int events_fd;
	const char *state_dir;
	json_t *owned; /* the parsed JSON request, when there was one */
};

static void emit_line(int fd, json_t *ev)
{
	char *text = json_dumps(ev, JSON_COMPACT);
	size_t n, off = 0;

	json_decref(ev);
	if (!text)
		return;
	n = strlen(text);
	text[n++] = '\n'; /* json_dumps leaves room: the NUL */
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(text);
}

static void on_event(void *ctx, json_t *ev)
{
	struct helper *h = ctx;
	emit_line(h->events_fd, ev);
}

static int op_pull(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		   struct sup_error **err)
{
	if (rq->args.n != 1)
		return sup_error_set(err, 0, "pull: one image reference expected");
	return img_pull(&h->store, rq->args.v[0], ops, res, err);
}

static int op_load(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		   struct sup_error **err)
{
	json_t *images = NULL;

	if (img_load(&h->store, rq->fd, rq->tag, ops, &images, err) < 0)
		return -1;
	*res = json_pack("{s:o}", "images", images);
	return 0;
}

static int op_images(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		     struct sup_error **err)
{
	json_t *list = NULL;

	if (img_store_list(&h->store, &list, err) < 0)
		return -1;
	*res = json_pack("{s:o}", "images", list);
	return 0;
}

static int op_inspect(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		      struct sup_error **err)
{
	struct img_image im;

	if (rq->args.n != 1)
		return sup_error_set(err, 0, "inspect: one image reference expected");
	if (img_image_open(&h->store, rq->args.v[0], &im, err) < 0)
		return -1;
	*res = img_image_json(&h->store, &im);
	img_image_close(&im);
	return 0;
}

static char *canonical(const char *s, struct sup_error **err);

/* The image found in the store, its missing layers unpacked: its JSON, "pulled": false. */
static int prepare_local(struct helper *h, const char *ref, const struct img_ops *ops, json_t **res,
			 struct sup_error **err)
{
	struct img_image im;
	int r;

	if (img_image_open(&h->store, ref, &im, err) < 0)
		return -1;
	r = img_image_unpack(&h->store, &im, ops, err);
	if (r == 0) {
		*res = img_image_json(&h->store, &im);
		json_object_set_new(*res, "pulled", json_false());
	}
	img_image_close(&im);
	return r;
}

/* REF's repository at digest d: what a pinned image is fetched again by. */
static char *at_digest(const char *ref, const char *d, struct sup_error **err)
{
	struct img_ref r;
	char *s;

	if (img_ref_parse(ref, &r, err) < 0)
		return NULL;
	free(r.tag);
	free(r.digest);
	r.tag = NULL;
	r.digest = strdup(d);
	s = r.digest ? img_ref_string(&r) : NULL;
	img_ref_free(&r);
	if (!s)
		sup_error_set(err, ENOMEM, "image reference");
	return s;
}

static int prepare_pull(struct helper *h, const char *ref, const char *want,
			const struct img_ops *ops, json_t **res, struct sup_error **err)
{
	const char *got;

	if (img_pull(&h->store, ref, ops, res, err) < 0)
		return -1;
	got = json_string_value(json_object_get(*res, "digest"));
	if (want && (!got || strcmp(got, want) != 0))
		return sup_error_set(err, 0, "%s is %s now, not the pinned %s", ref,
				     got ? got : "?", want);
	json_object_set_new(*res, "pulled", json_true());
	return 0;
}

/* An Image= unit's start: its pinned digest from the store (pulled again by digest if it is
 * gone), or for a first start the image by name from the store, else pulled; the layers
 * unpacked either way. supd gets the config and the layer directories without parsing
 * anything of the image itself. */
static int op_prepare(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		      struct sup_error **err)
{
	_cleanup_free_ char *name = NULL, *again = NULL;
	struct img_desc d;
	int found;

	if (rq->args.n != 1)
		return sup_error_set(err, 0, "prepare: one image reference expected");
	if (img_store_lock(&h->store, false, err) < 0)
		return -1;
	if (rq->digest) {
		if (!img_digest_valid(rq->digest) || (rq->source && !img_digest_valid(rq->source)))
			return sup_error_set(err, 0, "prepare: --digest: not a sha256 digest");
		if (img_store_has_blob(&h->store, rq->digest))
			return prepare_local(h, rq->digest, ops, res, err);
		again = at_digest(rq->args.v[0], rq->source ? rq->source : rq->digest, err);
		return again ? prepare_pull(h, again, rq->digest, ops, res, err) : -1;
	}
	name = canonical(rq->args.v[0], err);
	if (!name)
		return -1;
	found = img_digest_valid(name) ? 0 : img_store_find_ref(&h->store, name, &d, err);
	if (found < 0)
		return -1;
	if (found)
		return prepare_local(h, name, ops, res, err);
	return prepare_pull(h, rq->args.v[0], NULL, ops, res, err);
}

static json_t *gc_json(const struct img_gc_stats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "blobs", (json_int_t)st->blobs, "layers",
			 (json_int_t)st->layers, "partials", (json_int_t)st->partials, "bytes",
			 (json_int_t)st->bytes);
}

static int op_gc(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		 struct sup_error **err)
{
	struct img_gc_stats st;

	if (img_store_gc(&h->store, &rq->keep, &st, err) < 0)
		return -1;
	*res = json_pack("{s:o}", "removed", gc_json(&st));
	return 0;
}

/* The canonical name of a user's spelling ("busybox" -> docker.io/library/busybox:latest);
 * a bare digest stays as it is. */
static char *canonical(const char *s, struct sup_error **err)
{
	struct img_ref r;
	char *n;

	if (img_digest_valid(s))
		return strdup(s);
	if (img_ref_parse(s, &r, err) < 0)
		return NULL;
	n = img_ref_string(&r);
	img_ref_free(&r);
	return n;
}

static int op_rmi(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		  struct sup_error **err)
{
	struct img_gc_stats st;
	json_t *removed = json_array();

	if (rq->args.n == 0)
		return sup_error_set(err, 0, "rmi: image reference expected");
	*res = json_pack("{s:o}", "untagged", removed);
	for (size_t i = 0; i < rq->args.n; i++) {
		_cleanup_free_ char *name = canonical(rq->args.v[i], err);
		int n = name ? img_store_remove_ref(&h->store, name, err) : -1;
		if (n < 0)
			return -1;
		if (n == 0)
			return sup_error_set(err, 0, "rmi: no image %s", name);
		json_array_append_new(removed, json_string(name));
	}
	if (img_store_gc(&h->store, &rq->keep, &st, err) < 0)
		return -1;
	json_object_set_new(*res, "removed", gc_json(&st));
	return 0;
}

static int op_mount(struct helper *h, struct request *rq, const struct img_ops *ops, json_t **res,
		    struct sup_error **err)
{
	struct img_overlay ov = {
	    .upper = rq->upper, .work = rq->work, .store = h->store.path, .legacy = rq->legacy};
	struct img_image im;
	int r;

	if (rq->args.n != 2)
		return sup_error_set(err, 0, "mount: image reference and target expected");
	if (img_store_lock(&h->store, false, err) < 0 ||
	    img_image_open(&h->store, rq->args.v[0], &im, err) < 0)
		return -1;
	r = img_image_unpack(&h->store, &im, ops, err);
	if (r == 0)
		r = img_image_lowers(&h->store, &im, &ov.lower, err);
	if (r == 0 && rq->unit_dir)
		r = img_overlay_prepare(rq->unit_dir, &ov, err);
	if (r == 0)
		r = img_overlay_mount(&ov, rq->args.v[1], rq->read_only ? MS_RDONLY : 0, err);
	if (r == 0)
		*res = json_pack("{s:s, s:s, s:I}", "target", rq->args.v[1], "digest",
				 im.desc.digest, "layers", (json_int_t)ov.lower.n);
	strv_free(&ov.lower);
	if (rq->unit_dir) {
		free((char *)ov.upper);
		free((char *)ov.work);
	}
	img_image_close(&im);
	return r;
}

struct op {
	const char *name;
	int (*fn)(struct helper *, struct request *, const struct img_ops *, json_t **,
		  struct sup_error **);
};

static const struct op ops_table[] = {
    {"pull", op_pull}, {"load", op_load}, {"images", op_images}, {"inspect", op_inspect},
    {"rmi", op_rmi},   {"gc", op_gc},	  {"mount", op_mount},	 {"prepare", op_prepare},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sup-image [--state-dir DIR] [--config FILE] [--auth-file FILE]\n"
		"                 [--platform OS/ARCH[/VARIANT]] [--set KEY=VALUE]... "
		"[--events-fd N]\n"
		"                 COMMAND [ARGS]\n"
		"commands:\n"
		"  pull REF                 fetch, verify and unpack an image\n"
		"  load [--fd N] [--tag NAME]  import an OCI layout or docker-save tarball\n"
		"  images                   list the store\n"
		"  inspect REF              an image's config and layer directories\n"
		"  rmi REF... [--keep DIGEST]...  untag, then collect garbage\n"
		"  gc [--keep DIGEST]...    remove what nothing names (keep: in use)\n"
		"  mount REF TARGET [--unit-dir DIR | --upper DIR --work DIR] [--read-only]\n"
		"                           [--legacy-mount]\n"
		"  prepare REF [--digest D [--source-digest D]]\n"
		"                           a unit's image: pinned digest or name from the store,\n"
		"                           else pulled; layers unpacked\n"
		"  request                  read the request as one JSON line on stdin\n"
		"Events and the result are JSON lines (docs/images.md).\n");
}

static int parse_cmd_args(int argc, char **argv, struct request *rq, struct sup_error **err)
{
	static const struct option lo[] = {
	    {"keep", required_argument, NULL, 'k'},
	    {"tag", required_argument, NULL, 't'},
	    {"fd", required_argument, NULL, 'f'},
	    {"upper", required_argument, NULL, 'u'},
	    {"work", required_argument, NULL, 'w'},
	    {"read-only", no_argument, NULL, 'r'},
	    {"legacy-mount", no_argument, NULL, 'L'},
	    {"unit-dir", required_argument, NULL, 'U'},
	    {"digest", required_argument, NULL, 'd'},
	    {"source-digest", required_argument, NULL, 'D'},
	    {0},
	};
	/* the options that take a string, by their letter */
	const struct {
		int c;
		const char **field;
	} strings[] = {{'t', &rq->tag},	     {'u', &rq->upper},	 {'w', &rq->work},
		       {'U', &rq->unit_dir}, {'d', &rq->digest}, {'D', &rq->source}};
	int c;

	optind = 0; /* glibc: re-initialise, permuting options after the arguments */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		for (size_t i = 0; i < SUP_ARRAY_SIZE(strings); i++)
			if (strings[i].c == c)
				*strings[i].field = optarg;
		if (c == 'k' && strv_push(&rq->keep, optarg) < 0)
			return sup_error_set(err, ENOMEM, "args");
		else if (c == 'f')
			rq->fd = atoi(optarg);
		else if (c == 'r')
			rq->read_only = true;
		else if (c == 'L')
			rq->legacy = true;
		else if (c == '?')
			return sup_error_set(err, 0, "%s: bad option", rq->op);
	}
	for (int i = optind; i < argc; i++)
		if (strv_push(&rq->args, argv[i]) < 0)
			return sup_error_set(err, ENOMEM, "args");
	return 0;
}

static int json_strv(json_t *a, struct strv *sv)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) if (!json_is_string(v) ||
					strv_push(sv, json_string_value(v)) < 0) return -1;
	return 0;
}

/* {"op":"pull","ref":"redis","platform":"linux/arm64","keep":[...],"fd":3,"tag":...} */
static int read_request(struct helper *h, struct request *rq, struct sup_error **err)
{
	_cleanup_free_ char *line = malloc(REQUEST_MAX);
	json_t *o, *ref, *plat;

	if (!line || !fgets(line, REQUEST_MAX, stdin))
		return sup_error_set(err, 0, "request: no line on stdin");
	o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "op"))) {
		json_decref(o);
		return sup_error_set(err, 0, "request: not a JSON object with an \"op\"");
	}
	h->owned = o;
	rq->op = json_string_value(json_object_get(o, "op"));
	ref = json_object_get(o, "ref");
	if ((json_is_string(ref) && strv_push(&rq->args, json_string_value(ref)) < 0) ||
	    (json_is_array(ref) && json_strv(ref, &rq->args) < 0) ||
	    json_strv(json_object_get(o, "keep"), &rq->keep) < 0)
		return sup_error_set(err, 0, "request: bad ref or keep");
	if (json_is_string(json_object_get(o, "target")))
		strv_push(&rq->args, json_string_value(json_object_get(o, "target")));
	rq->tag = json_string_value(json_object_get(o, "tag"));
	rq->upper = json_string_value(json_object_get(o, "upper"));
	rq->work = json_string_value(json_object_get(o, "work"));
	rq->unit_dir = json_string_value(json_object_get(o, "unit_dir"));
	rq->digest = json_string_value(json_object_get(o, "digest"));
	rq->source = json_string_value(json_object_get(o, "source_digest"));
	rq->read_only = json_is_true(json_object_get(o, "read_only"));
	if (json_is_integer(json_object_get(o, "fd")))
		rq->fd = (int)json_integer_value(json_object_get(o, "fd"));
	plat = json_object_get(o, "platform");
	if (json_is_string(plat) &&
	    img_platform_parse(json_string_value(plat), &h->set.platform, err) < 0)
		return -1;
	return 0;
}

static int run(struct helper *h, struct request *rq, json_t **res, struct sup_error **err)
{
	struct img_ops ops = {.set = &h->set, .event = on_event, .ctx = h};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(ops_table); i++) {
		if (strcmp(ops_table[i].name, rq->op) != 0)
			continue;
		if (img_store_open(h->state_dir, &h->store, err) < 0)
			return -1;
		return ops_table[i].fn(h, rq, &ops, res, err);
	}
	return sup_error_set(err, 0, "unknown command \"%s\"", rq->op);
}

static int parse_global(int argc, char **argv, struct helper *h, const char **config,
			struct strv *sets, const char **platform)
{
	static const struct option lo[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"auth-file", required_argument, NULL, 'a'},
	    {"platform", required_argument, NULL, 'p'},
	    {"set", required_argument, NULL, 'S'},
	    {"events-fd", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			h->state_dir = optarg;
			break;
		case 'c':
			*config = optarg;
			break;
		case 'a':
			strv_push(sets, "AuthFile");
			strv_push(sets, optarg);
			break;
		case 'p':
			*platform = optarg;
			break;
		case 'S': {
			char *eq = strchr(optarg, '=');
			if (!eq)
				return -1;
			*eq = '\0';
			strv_push(sets, optarg);
			strv_push(sets, eq + 1);
			break;
		}
		case 'e':
			h->events_fd = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return optind;
}

static int setup(struct helper *h, const char *config, struct strv *sets, const char *platform,
		 struct sup_error **err)
{
	if (img_settings_load(&h->set, config, err) < 0)
		return -1;
	for (size_t i = 0; i + 1 < sets->n; i += 2)
		if (img_settings_set(&h->set, sets->v[i], sets->v[i + 1], err) < 0)
			return -1;
	if (platform && img_platform_parse(platform, &h->set.platform, err) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct helper h = {.events_fd = STDOUT_FILENO, .state_dir = DEFAULT_STATE};
	struct request rq = {.fd = STDIN_FILENO};
	const char *config = DEFAULT_CONFIG, *platform = NULL;
	struct strv sets = {0};
	struct sup_error *err = NULL;
	json_t *res = NULL;
	int first;

	h.store.root = h.store.blobs = h.store.tmp = h.store.layers = h.store.links = -1;
	h.store.gc_lock = -1;
	setlocale(LC_ALL, "C.UTF-8"); /* libarchive converts pax UTF-8 names through it */
	signal(SIGPIPE, SIG_IGN);
	img_settings_init(&h.set);
	first = parse_global(argc, argv, &h, &config, &sets, &platform);
	if (first < 0 || first >= argc) {
		usage(stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rq.op = argv[first];
	if (setup(&h, config, &sets, platform, &err) == 0) {
		if (!strcmp(rq.op, "request"))
			read_request(&h, &rq, &err);
		else
			parse_cmd_args(argc - first, argv + first, &rq, &err);
	}
	if (!err)
		run(&h, &rq, &res, &err);
	if (err) {
		emit_line(h.events_fd, json_pack("{s:s, s:s, s:s}", "type", "error", "op", rq.op,
						 "message", err->msg));
		json_decref(res);
	} else {
		json_t *ev = res ? res : json_object();
		json_object_set_new(ev, "type", json_string("result"));
		json_object_set_new(ev, "op", json_string(rq.op));
		emit_line(h.events_fd, ev);
	}
	img_store_close(&h.store);
	img_settings_free(&h.set);
	strv_free(&sets);
	strv_free(&rq.args);
	strv_free(&rq.keep);
	json_decref(h.owned);
	curl_global_cleanup();
	sup_error_free(err);
	return err ? 1 : 0;
}
