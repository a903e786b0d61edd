/* The optional HTTP /metrics listener (metrics_http.c). */
#ifndef SUP_METRICS_HTTP_H
#define SUP_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "sup/error.h"

/* [Metrics] Listen=ADDR:PORT set: listen there on supd's loop. A bad address or a failed bind
 * is logged and leaves supd without the listener (supd never refuses to run over its config);
 * nothing to do when unset. */
void sup_metrics_http_init(void);

/* "127.0.0.1:9273", "[::1]:9273", "0.0.0.0:9273", ":9273" (= 0.0.0.0), "localhost:9273"
 * (= 127.0.0.1): numeric addresses only, never a name lookup. 0, or -1 with err set. */
int sup_metrics_parse_listen(const char *s, struct sockaddr_storage *sa, socklen_t *salen,
			     struct sup_error **err);

/* A request's bytes so far (at most 8 KiB are read): 0 while incomplete, else the status of
 * the reply (200 for GET or HEAD of /metrics or of the landing page /, *head set for HEAD,
 * *index for /; *minor: HTTP/1.x). Pure: the fuzz target calls it. */
int sup_metrics_http_parse(const char *buf, size_t len, int *minor, bool *head, bool *index);

#endif
