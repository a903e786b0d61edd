/*
 * The control commands around a unit's main process, as systemd runs them: ExecStartPre=
 * before it, ExecStartPost= once it is up, ExecReload= on `supctl reload UNIT`, ExecStop= to
 * stop it, ExecStopPost= once the run is over. One command at a time (the unit's control
 * process), each list in order; a command that fails (unless written with '-') ends its phase
 * as a failure. Every phase is a sub-state of the table (start-pre, start-post, reload,
 * stop-cmd, stop-post) with its timeout.
 */
#ifndef SUP_CORE_PHASES_H
#define SUP_CORE_PHASES_H

#include "core/unit.h"

/* Run list in sub-state sub; an empty list ends the phase at once (successfully). */
void unit_phase_begin(struct unit *u, enum unit_sub sub, const struct unit_commands *list);
/* The phase's time is up: the control process is killed, the phase ends failed. */
void unit_phase_timeout(struct unit *u);
/* Forget the phase (the unit is being stopped some other way). */
void unit_phase_abandon(struct unit *u);

/* Called when a phase ends (service.c): ok = every command succeeded (or was '-'). */
void unit_phase_done(struct unit *u, enum unit_sub phase, bool ok, enum exit_kind kind);

#endif
