/* Cgroup figures for status, stats and metrics, read only when asked (an idle supd reads
 * nothing). */
#ifndef SUP_METRICS_STATS_H
#define SUP_METRICS_STATS_H

#include <stdbool.h>

#include <jansson.h>

#include "sup/strv.h"
#include "core/unit.h"

bool sup_stats_status(struct unit *u, json_t *o); /* false: no cgroup */
json_t *sup_stats_json(const struct strv *names); /* none: every unit */
json_t *sup_metrics_text(void);			  /* a JSON string */

#endif
