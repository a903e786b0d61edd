/*
 * supctl pull, images, rmi, load, gc, update, drop-layer: requests that supd hands to its image
 * helper. pull and load show per-layer progress bars, sizes and speed on a terminal and are
 * quiet otherwise; load opens FILE as the calling user and passes the fd to supd over the
 * socket (SCM_RIGHTS), so that root never opens a path the caller names.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/proto.h"
#include "supctl.h"

#define MAX_LAYERS 128

struct layer {
	char id[13]; /* the first 12 hex digits of its digest */
	char state[24];
	long long done, total;
	double t0, t1; /* when its download began and was last heard of */
	long long done0;
};

struct progress {
	bool tty;
	int drawn; /* the bar lines on the screen, below the messages */
	double last_draw, t0;
	size_t n;
	struct layer layers[MAX_LAYERS];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(long long n, char *buf, size_t size)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t i = 0;

	while (v >= 1024 && i + 1 < SUP_ARRAY_SIZE(u)) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void draw_layer(const struct layer *l)
{
	char done[16], total[16], speed[24] = "", bar[32];
	int width = 24, fill = 0;

	human(l->done, done, sizeof(done));
	human(l->total, total, sizeof(total));
	if (l->total > 0)
		fill = (int)((double)l->done * width / (double)l->total);
	if (fill > width)
		fill = width;
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[width] = '\0';
	if (l->t1 > l->t0 + 0.2 && l->done > l->done0) {
		char s[16];
		human((long long)((double)(l->done - l->done0) / (l->t1 - l->t0)), s, sizeof(s));
		snprintf(speed, sizeof(speed), "  %s/s", s);
	}
	if (!strcmp(l->state, "downloading") || !strcmp(l->state, "resuming"))
		printf("\r\033[K%s: %-12s [%s] %s / %s%s\n", l->id, l->state, bar, done, total,
		       speed);
	else
		printf("\r\033[K%s: %-12s %s\n", l->id, l->state, l->total > 0 ? total : "");
}

static void redraw(struct progress *p, bool force)
{
	double t = now_s();

	if (!p->tty || (!force && t - p->last_draw < 0.1))
		return;
	p->last_draw = t;
	if (p->drawn)
		printf("\033[%dA", p->drawn);
	for (size_t i = 0; i < p->n; i++)
		draw_layer(&p->layers[i]);
	p->drawn = (int)p->n;
	fflush(stdout);
}

static struct layer *layer_of(struct progress *p, const char *digest)
{
	const char *hex = strncmp(digest, "sha256:", 7) ? digest : digest + 7;

	for (size_t i = 0; i < p->n; i++)
		if (!strncmp(p->layers[i].id, hex, 12))
			return &p->layers[i];
	if (p->n == MAX_LAYERS)
		return NULL;
	snprintf(p->layers[p->n].id, sizeof(p->layers[p->n].id), "%.12s", hex);
	return &p->layers[p->n++];
}

static void on_progress(struct progress *p, const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *msg = json_string_value(json_object_get(ev, "message"));
	const char *digest = json_string_value(json_object_get(ev, "digest"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	struct layer *l;

	if (!p->tty || !type)
		return;
	if (!strcmp(type, "status") && msg) {
		if (p->drawn)
			printf("\033[%dA", p->drawn);
		printf("\r\033[K%s\n", msg);
		p->drawn = 0;
		redraw(p, true);
		return;
	}
	if (strcmp(type, "progress") || !digest || !state || !(l = layer_of(p, digest)))
		return;
	if (strcmp(l->state, "downloading") && !strcmp(state, "downloading")) {
		l->t0 = now_s();
		l->done0 = json_integer_value(json_object_get(ev, "done"));
	}
	snprintf(l->state, sizeof(l->state), "%s", state);
	if (json_is_integer(json_object_get(ev, "done")))
		l->done = json_integer_value(json_object_get(ev, "done"));
	if (json_integer_value(json_object_get(ev, "total")) > 0)
		l->total = json_integer_value(json_object_get(ev, "total"));
	l->t1 = now_s();
	redraw(p, strcmp(state, "downloading") != 0);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return errno = ENAMETOOLONG, -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return errno = e, -1;
	}
	return fd;
}

/* The request's frame, with fd (if >= 0) riding along on its first byte. */
static int send_request(int sock, const json_t *obj, int fd, struct sup_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len, off = 0;

	if (fd < 0)
		return sup_send_frame(sock, obj, err);
	if (sup_frame_encode(obj, &buf, &len, err) < 0)
		return -1;
	while (off < len) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u = {0};
		struct iovec iov = {buf + off, len - off};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (off == 0) {
			m.msg_control = u.buf;
			m.msg_controllen = sizeof(u.buf);
			CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
			CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
			CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &fd, sizeof(int));
		}
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return sup_error_set(err, errno, "send");
		off += (size_t)n;
	}
	return 0;
}

struct img_opts {
	const char *socket, *cmd, *platform, *tag;
	bool json, quiet, no_restart;
	char **args;
	int nargs;
};

/* Send the request, show the progress frames, return the reply (0) or an exit status. */
static int call(const struct img_opts *o, struct sup_request *req, int fd, json_t **reply)
{
	struct progress p = {.tty = !o->json && !o->quiet && isatty(STDOUT_FILENO)};
	struct sup_error *err = NULL;
	json_t *obj = sup_request_to_json(req);
	int sock, r;

	*reply = NULL;
	if (!obj) {
		fputs("supctl: out of memory\n", stderr);
		return SUP_EXIT_FAILED;
	}
	sock = connect_to(o->socket);
	if (sock < 0) {
		fprintf(stderr, "supctl: cannot reach supd at %s: %s\n", o->socket,
			strerror(errno));
		json_decref(obj);
		return SUP_EXIT_UNREACHABLE;
	}
	r = send_request(sock, obj, fd, &err);
	json_decref(obj);
	p.t0 = now_s();
	while (r == 0) {
		json_t *f = NULL;
		const char *event;

		r = sup_recv_frame(sock, &f, &err);
		if (r <= 0) {
			r = -1;
			break;
		}
		event = json_string_value(json_object_get(f, "event"));
		if (event && !strcmp(event, "progress")) {
			on_progress(&p, json_object_get(f, "progress"));
			json_decref(f);
			r = 0;
			continue;
		}
		*reply = f;
		r = 0;
		break;
	}
	redraw(&p, true);
	close(sock);
	if (r < 0) {
		fprintf(stderr, "supctl: %s: connection to supd at %s: %s\n", o->cmd, o->socket,
			err ? err->msg : "closed before a reply");
		sup_error_free(err);
		return SUP_EXIT_UNREACHABLE;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *msg = json_string_value(json_object_get(*reply, "error"));
		json_int_t code = json_integer_value(json_object_get(*reply, "code"));

		fprintf(stderr, "supctl: %s: %s\n", o->cmd,
			msg ? msg : "malformed reply from supd");
		json_decref(*reply);
		*reply = NULL;
		return code >= SUP_EXIT_FAILED && code <= SUP_EXIT_NO_UNIT ? (int)code
									   : SUP_EXIT_FAILED;
	}
	if (p.tty && (!strcmp(o->cmd, "pull") || !strcmp(o->cmd, "load"))) {
		double secs = now_s() - p.t0;
		long long bytes = 0;
		char size[16], speed[16];

		for (size_t i = 0; i < p.n; i++)
			if (!strcmp(p.layers[i].state, "done") ||
			    p.layers[i].done0 < p.layers[i].done)
				bytes += p.layers[i].done - p.layers[i].done0;
		human(bytes, size, sizeof(size));
		human(secs > 0 ? (long long)((double)bytes / secs) : 0, speed, sizeof(speed));
		printf("%s downloaded in %.1fs (%s/s)\n", size, secs, speed);
	}
	return 0;
}

static void print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static void print_image(const json_t *im, const char *verb)
{
	printf("%s %s %s\n", verb, str(im, "name"), str(im, "digest"));
}

/* NAME TAG DIGEST SIZE CREATED */
static void print_images(const json_t *list)
{
	const json_t *im;
	size_t i, w = 4;

	json_array_foreach(list, i, im)
	{
		size_t n = strlen(str(im, "name"));
		if (n > w)
			w = n;
	}
	printf("%-*s  %-16s  %-19s  %10s  %s\n", (int)w, "NAME", "TAG", "DIGEST", "SIZE",
	       "CREATED");
	json_array_foreach(list, i, im)
	{
		const char *d = str(im, "digest"), *created = str(im, "created");
		char size[16], when[20];

		human(json_integer_value(json_object_get(im, "size")), size, sizeof(size));
		snprintf(when, sizeof(when), "%.16s", *created ? created : "-");
		if (strlen(when) > 10 && when[10] == 'T')
			when[10] = ' ';
		printf("%-*s  %-16s  sha256:%-12.12s  %10s  %s\n", (int)w, str(im, "name"),
		       *str(im, "tag") ? str(im, "tag") : "<none>",
		       strncmp(d, "sha256:", 7) ? d : d + 7, size, when);
	}
}

static void print_removed(const json_t *r)
{
	char size[16];

	human(json_integer_value(json_object_get(r, "bytes")), size, sizeof(size));
	printf("removed %" JSON_INTEGER_FORMAT " blobs, %" JSON_INTEGER_FORMAT
	       " unpacked layers, %s\n",
	       json_integer_value(json_object_get(r, "blobs")),
	       json_integer_value(json_object_get(r, "layers")), size);
}

static int restart_unit(const struct img_opts *o, const char *unit)
{
	struct sup_request req = {.cmd = SUP_CMD_RESTART, .wait = true};
	json_t *reply;
	int r;

	strv_push(&req.units, unit);
	r = call(o, &req, -1, &reply);
	sup_request_free(&req);
	json_decref(reply);
	return r;
}

static int show(const struct img_opts *o, json_t *reply)
{
	const json_t *data = json_object_get(reply, "data"), *v;
	size_t i;

	if (o->json) {
		print_json(data);
		return 0;
	}
	if (!strcmp(o->cmd, "pull"))
		print_image(data, "pulled");
	else if (!strcmp(o->cmd, "load"))
		json_array_foreach(json_object_get(data, "images"), i, v) print_image(v, "loaded");
	else if (!strcmp(o->cmd, "images"))
		print_images(json_object_get(data, "images"));
	else if (!strcmp(o->cmd, "rmi") || !strcmp(o->cmd, "gc")) {
		json_array_foreach(json_object_get(data, "untagged"), i, v)
		    printf("untagged %s\n", json_string_value(v) ? json_string_value(v) : "");
		print_removed(json_object_get(data, "removed"));
	} else if (!strcmp(o->cmd, "drop-layer")) {
		json_array_foreach(data, i, v) printf(
		    "%s: %s\n", str(v, "unit"),
		    json_integer_value(json_object_get(v, "dropped")) ? "writable layer dropped"
								      : "no writable layer");
	}
	return 0;
}

static int run_update(const struct img_opts *o, struct sup_request *req)
{
	const json_t *data;
	json_t *reply;
	int r = call(o, req, -1, &reply);

	if (r)
		return r;
	data = json_object_get(reply, "data");
	if (o->json)
		print_json(data);
	else if (json_is_true(json_object_get(data, "changed")))
		printf("%s: %s pinned to %s%s%s\n", o->args[0], str(data, "image"),
		       str(data, "digest"), *str(data, "previous") ? ", was " : "",
		       str(data, "previous"));
	else
		printf("%s: %s is up to date (%s)\n", o->args[0], str(data, "image"),
		       str(data, "digest"));
	/* the new digest takes effect now: a unit that runs is restarted on it */
	if (json_is_true(json_object_get(data, "changed")) &&
	    json_is_true(json_object_get(data, "active")) && !o->no_restart) {
		if (!o->json)
			printf("%s: restarting\n", o->args[0]);
		r = restart_unit(o, o->args[0]);
	}
	json_decref(reply);
	return r;
}

static int usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "supctl: %s: %s\nTry 'supctl help %s'.\n", cmd, msg, cmd);
	return SUP_EXIT_USAGE;
}

static int parse(int argc, char **argv, struct img_opts *o)
{
	enum { O_JSON = 256, O_PLATFORM, O_TAG, O_SOCKET, O_NO_RESTART };
	static const struct option lo[] = {
	    {"json", no_argument, NULL, O_JSON},
	    {"platform", required_argument, NULL, O_PLATFORM},
	    {"tag", required_argument, NULL, O_TAG},
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"quiet", no_argument, NULL, 'q'},
	    {"no-restart", no_argument, NULL, O_NO_RESTART},
	    {0},
	};
	int c;

	o->args = calloc((size_t)argc + 1, sizeof(char *));
	if (!o->args)
		return SUP_EXIT_FAILED;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:q", lo, NULL)) != -1) {
		if (c == 1)
			o->args[o->nargs++] = optarg;
		else if (c == O_JSON)
			o->json = true;
		else if (c == O_PLATFORM && !strcmp(o->cmd, "pull"))
			o->platform = optarg;
		else if (c == O_TAG && !strcmp(o->cmd, "load"))
			o->tag = optarg;
		else if (c == O_SOCKET)
			o->socket = optarg;
		else if (c == 'q')
			o->quiet = true;
		else if (c == O_NO_RESTART && !strcmp(o->cmd, "update"))
			o->no_restart = true;
		else if (c == ':')
			return usage_error(o->cmd, "an option needs a value");
		else
			return usage_error(o->cmd, "unknown option");
	}
	for (; optind < argc; optind++)
		o->args[o->nargs++] = argv[optind];
	return 0;
}

static const struct {
	const char *name;
	enum sup_cmd cmd;
	int min, max; /* words after the command */
	const char *usage;
} cmds[] = {
    {"pull", SUP_CMD_PULL, 1, 1, "IMAGE [--platform OS/ARCH[/VARIANT]] [-q]"},
    {"images", SUP_CMD_IMAGES, 0, 0, "[--json]"},
    {"rmi", SUP_CMD_RMI, 1, 256, "IMAGE..."},
    {"load", SUP_CMD_LOAD, 1, 1, "FILE|- [--tag NAME]"},
    {"gc", SUP_CMD_GC, 0, 0, ""},
    {"update", SUP_CMD_UPDATE, 1, 1, "UNIT [--no-restart]"},
    {"drop-layer", SUP_CMD_DROP_LAYER, 1, 256, "UNIT..."},
};

bool supctl_is_image_command(const char *name)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(cmds); i++)
		if (!strcmp(name, cmds[i].name))
			return true;
	return false;
}

static int open_file(const char *path)
{
	int fd;

	if (!strcmp(path, "-"))
		return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		fprintf(stderr, "supctl: load: %s: %s\n", path, strerror(errno));
	return fd;
}

int supctl_images(const char *socket_path, bool json, int argc, char **argv)
{
	struct img_opts o = {.socket = socket_path, .cmd = argv[0], .json = json};
	struct sup_request req = {.wait = true};
	size_t k = 0;
	json_t *reply;
	int r, fd = -1;

	while (strcmp(cmds[k].name, argv[0]))
		k++;
	req.cmd = cmds[k].cmd;
	r = parse(argc, argv, &o);
	if (r)
		goto out;
	if (o.nargs < cmds[k].min || o.nargs > cmds[k].max) {
		fprintf(stderr, "supctl: usage: supctl %s %s\n", cmds[k].name, cmds[k].usage);
		r = SUP_EXIT_USAGE;
		goto out;
	}
	for (int i = 0; i < o.nargs; i++) {
		bool unit = req.cmd == SUP_CMD_UPDATE || req.cmd == SUP_CMD_DROP_LAYER;
		if (req.cmd == SUP_CMD_LOAD)
			continue;
		if (unit && !supctl_valid_unit_name(o.args[i])) {
			r = usage_error(o.cmd, "not a unit name");
			goto out;
		}
		strv_push(unit ? &req.units : &req.images, o.args[i]);
	}
	req.platform = o.platform ? strdup(o.platform) : NULL;
	req.tag = o.tag ? strdup(o.tag) : NULL;
	if (req.cmd == SUP_CMD_LOAD && (fd = open_file(o.args[0])) < 0) {
		r = SUP_EXIT_FAILED;
		goto out;
	}
	if (req.cmd == SUP_CMD_UPDATE) {
		r = run_update(&o, &req);
		goto out;
	}
	r = call(&o, &req, fd, &reply);
	if (!r)
		r = show(&o, reply);
	json_decref(reply);
out:
	if (fd >= 0)
		close(fd);
	sup_request_free(&req);
	free(o.args);
	return r;
}
