/* Output capture: a unit's stdout/stderr pipes read into its log ring. */
#ifndef SUP_LOGS_OUTPUT_H
#define SUP_LOGS_OUTPUT_H

#include "sup/error.h"
#include "core/unit.h"
#include "logs/logbuf.h"

/* A pipe for stream s of the unit's next run; *child_fd is the write end for the child. */
int sup_output_pipe(struct unit *u, enum log_stream s, int *child_fd, struct sup_error **err);
/* A pipe into the unit's log for another process of it (a control command): it closes
 * itself at EOF and leaves the main process's pipes alone. */
int sup_output_extra_pipe(struct unit *u, enum log_stream s, int *child_fd, struct sup_error **err);
/* Drop the previous run's pipes, keeping what is already in them. */
void sup_output_detach(struct unit *u);
/* Read what the pipes hold now (the writers are gone or going). */
void sup_output_drain(struct unit *u);

#endif
