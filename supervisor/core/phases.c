/* Control commands: one list at a time, one command at a time (see phases.h). */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "sup/log.h"
#include "core/children.h"
#include "core/effects.h"
#include "core/phases.h"
#include "core/service.h"
#include "core/state.h"
#include "supd.h"

static const char *phase_key(enum unit_sub sub)
{
	switch (sub) {
	case SUB_PRE:
		return "ExecStartPre";
	case SUB_POST:
		return "ExecStartPost";
	case SUB_RELOAD:
		return "ExecReload";
	case SUB_STOP_CMD:
		return "ExecStop";
	case SUB_STOP_POST:
		return "ExecStopPost";
	default:
		return "Exec";
	}
}

static void describe(int wstatus, char *buf, size_t n)
{
	const char *sig = WIFSIGNALED(wstatus) ? sup_signal_name(WTERMSIG(wstatus)) : NULL;

	if (WIFEXITED(wstatus))
		snprintf(buf, n, "exit code %d", WEXITSTATUS(wstatus));
	else if (sig)
		snprintf(buf, n, "killed by %s", sig);
	else
		snprintf(buf, n, "killed by signal %d", WTERMSIG(wstatus));
}

static void end(struct unit *u, bool ok, enum exit_kind kind)
{
	enum unit_sub phase = u->sub;

	u->cmds = NULL;
	u->cmd_next = 0;
	unit_phase_done(u, phase, ok, kind);
}

static void next(struct unit *u);

static void control_reaped(struct sup_child *c, int wstatus)
{
	struct unit *u = sup_container_of(c, struct unit, control);
	const struct unit_command *cmd;
	char why[SPAWN_WHY_MAX], what[64];
	enum exit_kind kind = policy_classify(wstatus, NULL);

	u->control_wstatus = wstatus;
	if (!u->cmds || u->cmd_next == 0) {
		/* abandoned (killed at a timeout or a stop); a phase that began meanwhile waited
		 * for it to be gone */
		unit_control_exec_error(u, NULL, 0);
		if (u->cmds)
			next(u);
		return;
	}
	cmd = &u->cmds->v[u->cmd_next - 1];
	if (unit_control_exec_error(u, why, sizeof(why)))
		kind = EXIT_KIND_SPAWN;
	else
		describe(wstatus, why, sizeof(why));
	if (kind == EXIT_KIND_SUCCESS) {
		next(u);
		return;
	}
	snprintf(what, sizeof(what), "%s=%s", phase_key(u->sub),
		 cmd->flags & UNIT_CMD_IGNORE_FAILURE ? " ('-': ignored)" : "");
	unit_note(u, "%s %s: %s", what, cmd->argv.v[0], why);
	if (cmd->flags & UNIT_CMD_IGNORE_FAILURE) {
		next(u);
		return;
	}
	unit_set_error(u, "%s %s failed: %s", phase_key(u->sub), cmd->argv.v[0], why);
	end(u, false, kind);
}

/* Spawn the next command of the list, or end the phase when there is none. */
static void next(struct unit *u)
{
	struct sup_error *err = NULL;

	if (u->control.pid)
		return; /* the previous phase's command, killed, is not reaped yet */
	while (u->cmds && u->cmd_next < u->cmds->n) {
		const struct unit_command *cmd = &u->cmds->v[u->cmd_next++];

		if (unit_exec_control(u, cmd, &err) == 0) {
			sup_child_add(&u->control, u->control.pid, CHILD_CONTROL, control_reaped);
			sup_debug(u->name, "%s: pid %d", phase_key(u->sub), (int)u->control.pid);
			return;
		}
		unit_note(u, "%s=%s: %s", phase_key(u->sub), cmd->argv.v[0], err->msg);
		if (!(cmd->flags & UNIT_CMD_IGNORE_FAILURE)) {
			unit_set_error(u, "%s %s failed: %s", phase_key(u->sub), cmd->argv.v[0],
				       err->msg);
			sup_error_free(err);
			end(u, false, EXIT_KIND_SPAWN);
			return;
		}
		sup_error_clear(&err);
	}
	end(u, true, EXIT_KIND_SUCCESS);
}

void unit_phase_begin(struct unit *u, enum unit_sub sub, const struct unit_commands *list)
{
	u->cmds = list;
	u->cmd_next = 0;
	unit_set_sub(u, sub);
	next(u);
}

void unit_phase_timeout(struct unit *u)
{
	unit_note(u, "%s= still running at its timeout: SIGKILL", phase_key(u->sub));
	if (u->control.pid)
		unit_kill(u, SIGKILL, KILL_CONTROL);
	unit_set_error(u, "%s timed out", phase_key(u->sub));
	/* its exit comes next; the phase ends here */
	u->cmd_next = 0;
	u->cmds = NULL;
	unit_phase_done(u, u->sub, false, EXIT_KIND_TIMEOUT);
}

void unit_phase_abandon(struct unit *u)
{
	u->cmds = NULL;
	u->cmd_next = 0;
	if (u->control.pid)
		unit_kill(u, SIGKILL, KILL_CONTROL);
}
