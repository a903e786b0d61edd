/* Between the control server (control.c) and the command handlers (commands.c). */
#ifndef SUP_CONTROL_CLIENT_H
#define SUP_CONTROL_CLIENT_H

#include <ev.h>

#include "sup/list.h"
#include "sup/proto.h"
#include "control/control.h"
#include "logs/logbuf.h"
#include "supd.h"

struct client {
	struct list link;
	int fd;
	ev_io rio, wio;
	ev_timer idle;
	struct sup_frame_reader rd;
	struct sup_outq out;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool privileged;
	bool closing;	  /* flush what is queued, then close */
	bool half_closed; /* it shut its writing side: it reads its answer, sends nothing more */

	/* a start/stop/restart waiting for its units to settle, or a reload for its end */
	struct sup_request wait;
	bool waiting;
	bool reloading;
	struct list wait_link; /* on the list of waiting clients */

	/* supctl exec: the command running for this client (control/exec.c) */
	struct ctl_exec *exec;

	/* logs -f of several units (or all): on the list of such followers; lines it had no room
	 * for are counted and reported as dropped once its queue has drained */
	struct strv follow_units; /* empty: every unit */
	bool follow_many;
	struct list many_link;
	uint64_t many_skipped;
	/* images (control/images.c): the helper at work for it, the unit of its update, and
	 * the fd that came with its request (SCM_RIGHTS: supctl load's file), -1 */
	struct img_job *img;
	struct unit *img_unit;
	int passed_fd;

	/* logs -f */
	struct unit *follow;
	struct list follow_link;
	uint64_t follow_seq; /* the last line it was sent */
	bool behind;	     /* its queue is full: lines wait in the ring until it reads */
};

struct ucred;
/* listen.c: a connection accepted within the budget becomes a client (control.c). */
int sup_client_new(int fd, const struct ucred *cred);
/* A client's connection is gone: its slot in the budget is free again. */
void sup_control_budget_put(uid_t uid);
/* Stop listening and remove the socket file (supd exits). */
void sup_control_close(void);

/* Handle a request. Returns the reply, or NULL when the client now waits or follows. */
json_t *sup_command(struct client *c, struct sup_request *req);
/* For a waiting client: the reply once every unit has settled, else NULL. */
json_t *sup_wait_result(struct client *c);
/* Queue a frame to the client; on overflow the client is closed. Steals obj. */
void sup_client_send(struct client *c, json_t *obj);
void sup_client_follow(struct client *c, struct unit *u);
/* Follow several units' logs (none named: every unit's, those added later too). */
void sup_client_follow_many(struct client *c, const struct strv *units);
/* A log line as the protocol has it: {"ts", "stream", "text"}, and with u, "unit" (and "ident",
 * its SyslogIdentifier=, when set). */
json_t *sup_log_line_json(const struct unit *u, const struct log_line *l);
/* inspect.c: status UNIT's detail (processes, limits, the unit file), and cat */
void sup_status_detail(struct unit *u, json_t *o);
json_t *sup_cat_command(struct client *c, struct sup_request *req);
/* Park the client until its request settles (sup_wait_result) or the reload ends. */
void sup_client_wait(struct client *c);
void sup_client_wait_reload(struct client *c);
/* exec.c: run a command in a unit (NULL: the client waits for its end); the client goes */
json_t *sup_exec_command(struct client *c, struct sup_request *req);
void sup_exec_client_gone(struct client *c);
/* images.c: pull, images, rmi, load, gc, update, drop-layer (NULL: the client waits) */
json_t *sup_image_command(struct client *c, struct sup_request *req);
void sup_image_client_gone(struct client *c);

#endif
