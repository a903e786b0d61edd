/* The sd_notify socket: READY=1, STATUS=, WATCHDOG=1 from a unit's processes. */
#ifndef SUP_CORE_NOTIFY_H
#define SUP_CORE_NOTIFY_H

#include "sup/error.h"

int sup_notify_init(struct sup_error **err);

#endif
