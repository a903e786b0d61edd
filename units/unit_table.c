/*
 * The key table: every key of every section with its value type, its field in struct
 * unit_config and what it allows; systemd's spellings as aliases of sup's keys; systemd keys
 * that only warn, that are refused, and the sandboxing keys, each with its reason.
 * unit_dispatch() routes each assignment through it. Which parsed keys are not acted on yet
 * is not here: see unit_pending.c.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "unit_types.h"

static const struct unit_enum type_values[] = {
    {"simple", UNIT_TYPE_SIMPLE},   {"exec", UNIT_TYPE_SIMPLE},	    {"notify", UNIT_TYPE_NOTIFY},
    {"oneshot", UNIT_TYPE_ONESHOT}, {"forking", UNIT_TYPE_FORKING}, {NULL, 0},
};
static const struct unit_enum restart_values[] = {
    {"no", UNIT_RESTART_NO},
    {"on-failure", UNIT_RESTART_ON_FAILURE},
    {"on-abnormal", UNIT_RESTART_ON_ABNORMAL},
    {"always", UNIT_RESTART_ALWAYS},
    {"on-success", UNIT_RESTART_ON_SUCCESS},
    {"on-watchdog", UNIT_RESTART_ON_WATCHDOG},
    {"on-abort", UNIT_RESTART_ON_ABORT},
    {NULL, 0},
};
/* systemd's journal and syslog are supd's log */
static const struct unit_enum output_values[] = {
    {"log", UNIT_OUTPUT_LOG},	  {"null", UNIT_OUTPUT_NULL},  {"inherit", UNIT_OUTPUT_INHERIT},
    {"journal", UNIT_OUTPUT_LOG}, {"syslog", UNIT_OUTPUT_LOG}, {NULL, 0},
};
static const struct unit_enum kill_mode_values[] = {
    {"control-group", UNIT_KILL_CONTROL_GROUP},
    {"mixed", UNIT_KILL_MIXED},
    {"process", UNIT_KILL_PROCESS},
    {NULL, 0},
};
static const struct unit_enum notify_access_values[] = {
    {"all", UNIT_NOTIFY_ALL},
    {"none", UNIT_NOTIFY_NONE},
    {"main", UNIT_NOTIFY_MAIN},
    {"exec", UNIT_NOTIFY_EXEC},
    {NULL, 0},
};

#define FIELD(f) offsetof(struct unit_config, f), sizeof(((struct unit_config *)0)->f)
#define KEY(s, k, t, f, allowed, arg)                                                              \
	{                                                                                          \
		k, s, &t, FIELD(f), allowed, arg, NULL, 0                                          \
	}
#define KEYF(s, k, t, f, allowed, arg, fl)                                                         \
	{                                                                                          \
		k, s, &t, FIELD(f), allowed, arg, NULL, fl                                         \
	}
#define ALIAS(s, k, c, t, f, allowed, fl)                                                          \
	{                                                                                          \
		k, s, &t, FIELD(f), allowed, NULL, c, fl                                           \
	}
#define ALIASA(s, k, c, t, f, allowed, arg)                                                        \
	{                                                                                          \
		k, s, &t, FIELD(f), allowed, arg, c, 0                                             \
	}
#define IGNORED(s, k, why)                                                                         \
	{                                                                                          \
		k, s, &t_ignored, 0, 0, why, NULL, NULL, 0                                         \
	}
#define REFUSED(s, k, why)                                                                         \
	{                                                                                          \
		k, s, &t_refused, 0, 0, why, NULL, NULL, 0                                         \
	}
#define FIXED(s, k, ...)                                                                           \
	{                                                                                          \
		k, s, &t_fixed, 0, 0, NULL, &(const struct fixed){__VA_ARGS__}, NULL, 0            \
	}
#define SANDBOX(k, maps, no_ok, empty_ok)                                                          \
	{                                                                                          \
		k, S_SERVICE, &t_sandbox, 0, 0, NULL,                                              \
		    &(const struct sandbox){maps, no_ok, empty_ok}, NULL, 0                        \
	}
#define LIMIT(k, res, u, allowed)                                                                  \
	{                                                                                          \
		k, S_SERVICE, &t_rlimit, FIELD(limits[res]), allowed,                              \
		    &(const struct rlimit_arg){res, u}, NULL, 0                                    \
	}
#define RANGE(lo, hi) (&(const struct range){lo, hi})

#define U  S_UNIT
#define SV S_SERVICE
#define R  (S_RESOURCES | S_SERVICE) /* resource keys may stand in [Service], as in systemd */
#define I  S_INSTALL
#define C  S_CONTAINER

#define DURATION "a duration such as 500ms, 10s, 2min, 1h, 1min 30s, or a number of seconds"
#define UNITS                                                                                      \
	"space-separated unit names of 1-64 characters A-Z a-z 0-9 _ . @ - (NAME.service is "      \
	"unit NAME)"
#define ARGV "a command line: words split at blanks, \"...\" and '...' quote, \\ escapes"
#define CMD                                                                                        \
	"command lines (words split at blanks, \"...\" and '...' quote, \\ escapes), ' ; ' "       \
	"between several, a '-' before one to ignore its failure"
#define BOOL	    "yes, no, true, false, on, off, 1, 0"
#define SIZE_OR_INF "a size in bytes (K, M, G, T: powers of 1024, e.g. 512M), or infinity"
#define BANDWIDTH                                                                                  \
	"an absolute device path and a rate in bytes per second (K, M, G), e.g. /dev/vda 10M"
#define EXITS	   "exit codes 0-255 and signal names, e.g. 75 SIGPIPE"
#define LIM_N	   "a number, or SOFT:HARD, or infinity"
#define LIM_SIZE   "a size (K, M, G: powers of 1024), or SOFT:HARD, or infinity"
#define LIM_TIME   "a duration, or SOFT:HARD, or infinity"
#define DIRS	   "blank-separated relative paths without . or .. (under /run or /var/lib)"
#define SHUTDOWN   "supd stops every unit at shutdown"
#define NO_INSTALL "sup has no install step: every unit in the units directory is started"
#define SECCOMP	   "[Container] Seccomp= (a profile file)"
#define BINDS                                                                                      \
	"HOSTPATH[:CONTAINERPATH], absolute paths without . or .. (a - before one: the source "    \
	"may be missing)"

static const struct unit_key keys[] = {
    /* [Unit] */
    KEY(U, "Description", t_text, description, "any text", NULL),
    IGNORED(U, "Documentation", "sup keeps no documentation links"),
    KEY(U, "Requires", t_units, requires, UNITS, NULL),
    KEY(U, "Wants", t_units, wants, UNITS, NULL),
    KEY(U, "After", t_units, after, UNITS, NULL),
    KEY(U, "Before", t_units, before, UNITS, NULL),
    KEY(U, "BindsTo", t_units, binds_to, UNITS, NULL),
    KEY(U, "PartOf", t_units, part_of, UNITS, NULL),
    KEY(U, "Conflicts", t_units, conflicts, UNITS, NULL),
    KEY(U, "ConditionPathExists", t_conditions, condition_path_exists,
	"an absolute path, with a '!' before it for \"does not exist\"", NULL),
    KEY(U, "AssertPathExists", t_conditions, assert_path_exists,
	"an absolute path, with a '!' before it for \"does not exist\"", NULL),
    FIXED(U, "DefaultDependencies", "no", true, true,
	  "sup adds no implicit dependencies (sysinit.target, shutdown.target, ...)"),
    IGNORED(U, "RequiresMountsFor",
	    "sup has no mount units: the paths must be mounted before supd starts the unit"),
    IGNORED(U, "IgnoreOnIsolate", "sup has no isolate"),
    IGNORED(U, "AllowIsolate", "sup has no isolate"),
    IGNORED(U, "CollectMode", "sup keeps every unit of its directory"),
    IGNORED(U, "SourcePath", "the unit is read from its file in the units directory"),
    FIXED(U, "StartLimitAction", "none", false, false, "sup never reboots for a unit"),
    REFUSED(U, "OnFailure", "sup starts no unit when another fails (supctl status shows it)"),
    REFUSED(U, "OnSuccess", "sup starts no unit when another succeeds"),
    REFUSED(U, "Requisite", "use Requires=, which starts the unit"),
    REFUSED(U, "Upholds", "use Wants= and Restart= on the other unit"),
    REFUSED(U, "StopWhenUnneeded", "units stop only when asked to or when a requirement stops"),
    REFUSED(U, "RefuseManualStart", "supctl start is not restricted per unit"),
    REFUSED(U, "RefuseManualStop", "supctl stop is not restricted per unit"),
    REFUSED(U, "ReloadPropagatedFrom", "reloads are not propagated between units"),
    REFUSED(U, "PropagatesReloadTo", "reloads are not propagated between units"),
    REFUSED(U, "JoinsNamespaceOf", "see [Container] Network=container:UNIT"),

    /* [Service] (StartLimit*= also in [Unit], where systemd has them) */
    KEY(SV, "Exec", t_exec, exec, ARGV "; a '-' before it ignores its failure", NULL),
    ALIAS(SV, "ExecStart", "Exec", t_exec, exec, ARGV "; a '-' before it ignores its failure", 0),
    KEY(SV, "ExecStartPre", t_commands, exec_start_pre, CMD, NULL),
    KEY(SV, "ExecStartPost", t_commands, exec_start_post, CMD, NULL),
    KEY(SV, "ExecStop", t_commands, exec_stop, CMD, NULL),
    KEY(SV, "ExecStopPost", t_commands, exec_stop_post, CMD, NULL),
    KEY(SV, "ExecReload", t_commands, exec_reload, CMD, NULL),
    REFUSED(SV, "ExecCondition", "use ConditionPathExists= or a check in ExecStartPre="),
    KEY(SV, "Type", t_enum, type, "simple, exec, notify, oneshot, forking", type_values),
    KEY(SV, "PIDFile", t_path, pid_file, "an absolute path", NULL),
    KEY(SV, "RemainAfterExit", t_bool, remain_after_exit, BOOL, NULL),
    KEY(SV, "Environment", t_env, environment,
	"KEY=value assignments (KEY of A-Z a-z 0-9 _, not starting with a digit), \"quoted\" when "
	"they hold spaces",
	NULL),
    KEY(SV, "EnvironmentFile", t_envfile, environment_file,
	"an absolute path, with a leading - if the file is optional", NULL),
    IGNORED(SV, "PassEnvironment", "a unit gets supd's whole environment"),
    REFUSED(SV, "UnsetEnvironment", "a unit gets supd's whole environment"),
    KEY(SV, "WorkingDirectory", t_path, working_directory, "an absolute path", NULL),
    KEY(SV, "User", t_user, user, "a user name (A-Z a-z 0-9 _ . -, at most 32) or a number", NULL),
    KEY(SV, "Group", t_user, group, "a group name (A-Z a-z 0-9 _ . -, at most 32) or a number",
	NULL),
    REFUSED(SV, "SupplementaryGroups", "the groups come from User= (its group memberships)"),
    REFUSED(SV, "PermissionsStartOnly", "every command runs as User="),
    KEY(SV, "Restart", t_enum, restart,
	"no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always", restart_values),
    KEY(SV, "RestartSec", t_duration, restart_usec, DURATION, NULL),
    KEY(SV, "RestartMaxSec", t_duration, restart_max_usec, DURATION, NULL),
    KEY(SV, "SuccessExitStatus", t_exit_set, success_exit_status, EXITS, NULL),
    KEY(SV, "RestartPreventExitStatus", t_exit_set, restart_prevent_exit_status, EXITS, NULL),
    REFUSED(SV, "RestartForceExitStatus", "Restart= decides"),
    KEY(U | SV, "StartLimitBurst", t_uint, start_limit_burst, "a number from 0 (no limit) to 10000",
	RANGE(0, 10000)),
    KEYF(U | SV, "StartLimitIntervalSec", t_duration, start_limit_interval_usec, DURATION, NULL, 0),
    ALIAS(U | SV, "StartLimitInterval", "StartLimitIntervalSec", t_duration,
	  start_limit_interval_usec, DURATION, 0),
    KEY(SV, "StopSignal", t_signal, stop_signal, "a signal name (SIGTERM or TERM) or number", NULL),
    ALIAS(SV, "KillSignal", "StopSignal", t_signal, stop_signal,
	  "a signal name (SIGTERM or TERM) or number", 0),
    KEY(SV, "KillMode", t_enum, kill_mode, "control-group, mixed, process", kill_mode_values),
    FIXED(SV, "SendSIGKILL", "yes", true, false,
	  "supd always ends a stop with SIGKILL to whatever is left"),
    FIXED(SV, "SendSIGHUP", "no", true, false, "supd sends no SIGHUP after the stop signal"),
    KEYF(SV, "StopTimeoutSec", t_duration, stop_timeout_usec, DURATION ", or infinity", NULL,
	 K_INFINITY),
    ALIAS(SV, "TimeoutStopSec", "StopTimeoutSec", t_duration, stop_timeout_usec,
	  DURATION ", or infinity (or 0: no timeout)", K_ZERO_INFINITY),
    KEYF(SV, "ReadyTimeoutSec", t_duration, ready_timeout_usec, DURATION ", or infinity", NULL,
	 K_INFINITY),
    ALIAS(SV, "TimeoutStartSec", "ReadyTimeoutSec", t_duration, ready_timeout_usec,
	  DURATION ", or infinity (or 0: no timeout)", K_ZERO_INFINITY),
    {"TimeoutSec", SV, &t_timeout_both, 0, sizeof(struct unit_config),
     DURATION ", or infinity (or 0: no timeout)", NULL, NULL, 0},
    KEY(SV, "WatchdogSec", t_duration, watchdog_usec, DURATION "; 0 = off", NULL),
    KEY(SV, "NotifyAccess", t_enum, notify_access, "all, main, exec, none", notify_access_values),
    KEY(SV, "HealthCmd", t_argv, health_cmd, ARGV, NULL),
    KEY(SV, "HealthIntervalSec", t_duration, health_interval_usec, DURATION, NULL),
    KEY(SV, "HealthTimeoutSec", t_duration, health_timeout_usec, DURATION, NULL),
    KEY(SV, "HealthRetries", t_uint, health_retries, "a number from 1 to 10000", RANGE(1, 10000)),
    KEY(SV, "StandardOutput", t_enum, std_output, "log (or journal, syslog), null, inherit",
	output_values),
    KEY(SV, "StandardError", t_enum, std_error, "log (or journal, syslog), null, inherit",
	output_values),
    FIXED(SV, "StandardInput", "null", false, false, "a service's standard input is /dev/null"),
    KEY(SV, "SyslogIdentifier", t_text, syslog_identifier, "any text", NULL),
    IGNORED(SV, "SyslogFacility", "supd's log has no syslog facility"),
    IGNORED(SV, "SyslogLevel", "supd's log has no syslog level"),
    KEY(SV, "ExitWithUnit", t_bool, exit_with_unit, BOOL, NULL),
    KEY(SV, "UMask", t_octal, umask, "an octal mode from 0000 to 0777", RANGE(0, 0777)),
    KEY(SV, "Nice", t_int, nice, "a number from -20 to 19", RANGE(-20, 19)),
    KEY(SV, "OOMScoreAdjust", t_int, oom_score_adjust, "a number from -1000 to 1000",
	RANGE(-1000, 1000)),
    KEY(SV, "IgnoreSIGPIPE", t_bool, ignore_sigpipe, BOOL, NULL),
    KEY(SV, "RuntimeDirectory", t_dirs, runtime_directory, DIRS, NULL),
    KEY(SV, "RuntimeDirectoryMode", t_octal, runtime_directory_mode,
	"an octal mode from 0000 to 7777", RANGE(0, 07777)),
    KEY(SV, "StateDirectory", t_dirs, state_directory, DIRS, NULL),
    KEY(SV, "StateDirectoryMode", t_octal, state_directory_mode, "an octal mode from 0000 to 7777",
	RANGE(0, 07777)),
    REFUSED(SV, "CacheDirectory", "of the directory keys, RuntimeDirectory= and StateDirectory="),
    REFUSED(SV, "LogsDirectory", "of the directory keys, RuntimeDirectory= and StateDirectory="),
    REFUSED(SV, "ConfigurationDirectory",
	    "of the directory keys, RuntimeDirectory= and StateDirectory="),
    LIMIT("LimitCPU", RLIMIT_CPU, RL_SEC, LIM_TIME),
    LIMIT("LimitFSIZE", RLIMIT_FSIZE, RL_SIZE, LIM_SIZE),
    LIMIT("LimitDATA", RLIMIT_DATA, RL_SIZE, LIM_SIZE),
    LIMIT("LimitSTACK", RLIMIT_STACK, RL_SIZE, LIM_SIZE),
    LIMIT("LimitCORE", RLIMIT_CORE, RL_SIZE, LIM_SIZE),
    LIMIT("LimitRSS", RLIMIT_RSS, RL_SIZE, LIM_SIZE),
    LIMIT("LimitNOFILE", RLIMIT_NOFILE, RL_COUNT, LIM_N),
    LIMIT("LimitAS", RLIMIT_AS, RL_SIZE, LIM_SIZE),
    LIMIT("LimitNPROC", RLIMIT_NPROC, RL_COUNT, LIM_N),
    LIMIT("LimitMEMLOCK", RLIMIT_MEMLOCK, RL_SIZE, LIM_SIZE),
    LIMIT("LimitLOCKS", RLIMIT_LOCKS, RL_COUNT, LIM_N),
    LIMIT("LimitSIGPENDING", RLIMIT_SIGPENDING, RL_COUNT, LIM_N),
    LIMIT("LimitMSGQUEUE", RLIMIT_MSGQUEUE, RL_SIZE, LIM_SIZE),
    LIMIT("LimitNICE", RLIMIT_NICE, RL_NICE,
	  "a nice level (-20..19, signed), or 0..40, or "
	  "SOFT:HARD, or infinity"),
    LIMIT("LimitRTPRIO", RLIMIT_RTPRIO, RL_COUNT, LIM_N),
    LIMIT("LimitRTTIME", RLIMIT_RTTIME, RL_USEC, LIM_TIME " (a bare number: microseconds)"),

    /* [Resources], also in [Service] */
    KEY(R, "CPUWeight", t_uint, res.cpu_weight, "a number from 1 to 10000", RANGE(1, 10000)),
    KEY(R, "CPUQuota", t_percent, res.cpu_quota_pct,
	"a percentage of one CPU from 1% to 100000%, e.g. 50% or 200%", RANGE(1, 100000)),
    KEY(R, "CPUSet", t_cpuset, res.cpu_set,
	"CPU numbers and ranges below 4096, comma-separated, e.g. 0-1,3", NULL),
    ALIAS(R, "AllowedCPUs", "CPUSet", t_cpuset, res.cpu_set,
	  "CPU numbers and ranges below 4096, comma- or blank-separated, e.g. 0-1,3", 0),
    KEY(R, "MemoryMax", t_limit_size, res.memory_max, SIZE_OR_INF, NULL),
    ALIAS(R, "MemoryLimit", "MemoryMax", t_limit_size, res.memory_max, SIZE_OR_INF, 0),
    KEY(R, "MemoryHigh", t_limit_size, res.memory_high, SIZE_OR_INF, NULL),
    KEY(R, "MemorySwapMax", t_limit_size, res.memory_swap_max, SIZE_OR_INF, NULL),
    KEY(R, "PidsMax", t_limit_count, res.pids_max, "a number of processes from 1, or infinity",
	NULL),
    ALIAS(R, "TasksMax", "PidsMax", t_limit_count, res.pids_max,
	  "a number of processes from 1, or infinity (not a percentage)", 0),
    KEY(R, "IOWeight", t_uint, res.io_weight, "a number from 1 to 10000", RANGE(1, 10000)),
    KEY(R, "IOReadBandwidthMax", t_bandwidth, res.io_read_bw, BANDWIDTH, NULL),
    KEY(R, "IOWriteBandwidthMax", t_bandwidth, res.io_write_bw, BANDWIDTH, NULL),
    IGNORED(R, "CPUAccounting", "supd always accounts (each unit has a cgroup of its own)"),
    IGNORED(R, "MemoryAccounting", "supd always accounts (each unit has a cgroup of its own)"),
    IGNORED(R, "TasksAccounting", "supd always accounts (each unit has a cgroup of its own)"),
    IGNORED(R, "IOAccounting", "supd always accounts (each unit has a cgroup of its own)"),
    IGNORED(R, "BlockIOAccounting", "supd always accounts (each unit has a cgroup of its own)"),
    REFUSED(R, "Slice", "each unit has a cgroup of its own under supd's"),
    REFUSED(R, "Delegate", "supd does not delegate a unit's cgroup"),

    /* systemd's sandboxing: refused until [Container] maps them (docs/units.md) */
    /* systemd's sandboxing mapped onto [Container]: each adds only what it asks for */
    KEY(SV | C, "NoNewPrivileges", t_nnp, ct.no_new_privs, BOOL, NULL),
    ALIAS(SV, "CapabilityBoundingSet", "Capabilities", t_caps, ct.caps,
	  "capability names (CAP_ optional), ~NAMES for all but those, or all", 0),
    KEY(SV | C, "AmbientCapabilities", t_ambient, ct.ambient, "capability names (CAP_ optional)",
	NULL),
    KEY(SV, "PrivateTmp", t_private_tmp, ct.tmpfs_set, BOOL, NULL),
    KEY(SV, "PrivateNetwork", t_private_network, ct.namespaces, BOOL, NULL),
    KEY(SV, "ReadOnlyPaths", t_ro_paths, ct.bind_ro,
	"absolute paths without . or .. (a - before one: it may be missing)", NULL),
    ALIAS(SV, "ReadOnlyDirectories", "ReadOnlyPaths", t_ro_paths, ct.bind_ro,
	  "absolute paths without . or .. (a - before one: it may be missing)", 0),
    KEY(SV, "ProtectSystem", t_protect_system, ct.read_only_root, "yes, no, full, strict", NULL),
    SANDBOX("ProtectHome", "[Container] Tmpfs= over /home, /root and /run/user", true, false),
    SANDBOX("PrivateDevices", "[Container] Devices= (a private /dev)", true, false),
    SANDBOX("DevicePolicy", "[Container] Devices=", false, true),
    SANDBOX("DeviceAllow", "[Container] Devices=", false, true),
    SANDBOX("ReadWritePaths", "[Container] Bind= (writable paths in a read-only root)", false,
	    true),
    SANDBOX("ReadWriteDirectories", "[Container] Bind= (writable paths in a read-only root)", false,
	    true),
    SANDBOX("InaccessiblePaths", "[Container] Tmpfs= (an empty mount over each)", false, true),
    SANDBOX("InaccessibleDirectories", "[Container] Tmpfs= (an empty mount over each)", false,
	    true),
    SANDBOX("TemporaryFileSystem", "[Container] Tmpfs=", false, true),
    SANDBOX("BindPaths", "[Container] Bind=", false, true),
    SANDBOX("BindReadOnlyPaths", "[Container] BindReadOnly=", false, true),
    SANDBOX("PrivateUsers", "[Container] UserNamespace=", true, false),
    SANDBOX("PrivateIPC", "[Container] Namespaces= ipc", true, false),
    SANDBOX("PrivateMounts", "[Container] Namespaces= mnt", true, false),
    SANDBOX("ProtectHostname", "[Container] Namespaces= uts", true, false),
    SANDBOX("NetworkNamespacePath", "[Container] Network=container:UNIT", false, true),
    SANDBOX("ProtectKernelTunables", "the read-only /proc/sys and /sys of [Container] units", true,
	    false),
    SANDBOX("ProtectKernelModules", "[Container] Capabilities= (no CAP_SYS_MODULE)", true, false),
    SANDBOX("ProtectKernelLogs", "[Container] Capabilities= (no CAP_SYSLOG)", true, false),
    SANDBOX("ProtectControlGroups", "[Container] Namespaces= cgroup (a read-only cgroupfs)", true,
	    false),
    SANDBOX("ProtectClock", "[Container] Capabilities= (no CAP_SYS_TIME)", true, false),
    SANDBOX("SystemCallFilter", SECCOMP, false, true),
    SANDBOX("SystemCallArchitectures", SECCOMP, false, true),
    SANDBOX("SystemCallErrorNumber", SECCOMP, false, true),
    SANDBOX("RestrictAddressFamilies", SECCOMP, false, true),
    SANDBOX("RestrictNamespaces", SECCOMP, true, true),
    SANDBOX("RestrictRealtime", SECCOMP, true, false),
    SANDBOX("RestrictSUIDSGID", SECCOMP, true, false),
    SANDBOX("LockPersonality", SECCOMP, true, false),
    SANDBOX("MemoryDenyWriteExecute", SECCOMP, true, false),
    SANDBOX("ProtectProc", NULL, false, false),
    SANDBOX("ProcSubset", NULL, false, false),
    SANDBOX("ExecPaths", NULL, false, true),
    SANDBOX("NoExecPaths", NULL, false, true),
    SANDBOX("RemoveIPC", NULL, true, false),
    SANDBOX("DynamicUser", NULL, true, false),
    SANDBOX("RootImage", NULL, false, true),
    SANDBOX("IPAddressAllow", NULL, false, true),
    SANDBOX("IPAddressDeny", NULL, false, true),
    SANDBOX("SecureBits", NULL, false, true),
    SANDBOX("KeyringMode", NULL, false, false),

    /* [Container] */
    KEY(C, "Image", t_image, ct.image,
	"an image reference [REGISTRY[:PORT]/]REPO[:TAG][@sha256:DIGEST], e.g. redis:7 or "
	"docker.io/library/redis:7",
	NULL),
    KEY(C, "RootDirectory", t_path, ct.root_directory, "an absolute path", NULL),
    KEY(C, "ReadOnlyRoot", t_bool, ct.read_only_root, BOOL, NULL),
    KEY(C, "Namespaces", t_namespaces, ct.namespaces,
	"space-separated pid net mnt uts ipc user cgroup time", NULL),
    KEY(C, "Hostname", t_hostname, ct.hostname,
	"a host name of at most 64 letters, digits, - and .", NULL),
    KEY(C, "UserNamespace", t_userns, ct.userns,
	"auto, or HOST:CONTAINER:COUNT (numbers; the ranges below 2^32)", NULL),
    KEY(C, "Bind", t_binds, ct.bind, BINDS, NULL),
    KEY(C, "BindReadOnly", t_binds, ct.bind_ro, BINDS, NULL),
    KEY(C, "Tmpfs", t_tmpfs, ct.tmpfs,
	"absolute paths, each with :OPTIONS (size=SIZE, mode=OCTAL, noexec, nosuid, nodev, ro) "
	"if wanted",
	NULL),
    KEY(C, "Capabilities", t_caps, ct.caps, "capability names (CAP_ optional), or all", NULL),
    KEY(C, "Seccomp", t_seccomp, ct.seccomp,
	"default, unconfined, or the absolute path of an OCI/Docker JSON profile", NULL),
    KEY(C, "Network", t_network, ct.network, "none, host, bridge, container:UNIT", NULL),
    KEY(C, "Address", t_text, ct.address, "an IPv4 address with its prefix, e.g. 10.88.0.5/16",
	NULL),
    KEY(C, "Publish", t_words, ct.publish, "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp or /udp]", NULL),
    KEY(C, "TimeOffsetSec", t_offset, ct.time_offset_usec,
	"a duration, with a - before it for the past (e.g. -1h)", NULL),
    KEY(C, "Init", t_bool, ct.init, BOOL, NULL),
    KEY(C, "ShmSize", t_shm, ct.shm_size, "a size of at least 4K (K, M, G), e.g. 64M", NULL),
    KEY(C, "Devices", t_devices, ct.devices, "a device path under /dev and its access: rwm", NULL),

    /* [Install]: no effect under sup */
    IGNORED(I, "WantedBy", NO_INSTALL),
    IGNORED(I, "RequiredBy", NO_INSTALL),
    IGNORED(I, "UpheldBy", NO_INSTALL),
    IGNORED(I, "Alias", NO_INSTALL),
    IGNORED(I, "Also", NO_INSTALL),
    IGNORED(I, "DefaultInstance", NO_INSTALL),
};

_Static_assert(SUP_ARRAY_SIZE(keys) <= UNIT_KEYS_MAX, "raise UNIT_KEYS_MAX");

static const struct section {
	const char *name;
	unsigned bit;
} sections[] = {
    {"Unit", S_UNIT},	    {"Service", S_SERVICE},	{"Resources", S_RESOURCES},
    {"Install", S_INSTALL}, {"Container", S_CONTAINER},
};

const char *unit_section_lookup(const char *name)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(sections); i++)
		if (strcmp(name, sections[i].name) == 0)
			return sections[i].name;
	return NULL;
}

static unsigned section_bit(const char *name)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(sections); i++)
		if (strcmp(name, sections[i].name) == 0)
			return sections[i].bit;
	return 0;
}

/* "[Unit]" or "[Resources] or [Service]" for a mask of sections. */
static void section_names(struct unit_buf *b, unsigned mask)
{
	bool first = true;

	for (size_t i = 0; i < SUP_ARRAY_SIZE(sections); i++)
		if (mask & sections[i].bit) {
			unit_buf_printf(b, "%s[%s]", first ? "" : " or ", sections[i].name);
			first = false;
		}
}

static int key_index(const char *key)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* The entry whose line and state an assignment of keys[i] counts for: its canonical key. */
static int canonical(int i)
{
	int c = keys[i].canon ? key_index(keys[i].canon) : i;
	return c < 0 ? i : c;
}

const char *unit_table_key(size_t i)
{
	return i < SUP_ARRAY_SIZE(keys) ? keys[i].key : NULL;
}

unsigned long unit_key_line(const struct unit_parser *p, const char *key)
{
	int i = key_index(key);
	return i < 0 ? 0 : p->key_line[canonical(i)];
}

const char *unit_key_spelled(const struct unit_parser *p, const char *key)
{
	int i = key_index(key);
	const char *s = i < 0 ? NULL : p->key_spelled[canonical(i)];

	return s ? s : key;
}

bool unit_key_bad(const struct unit_parser *p, const char *key)
{
	int i = key_index(key);
	return i >= 0 && p->key_bad[canonical(i)];
}

/*
 * A key that is not one of the section's: in another section, a near miss ("did you mean"), an
 * extension (X-...), a condition sup does not evaluate, or just unknown. No list of the allowed
 * keys: man 5 sup.unit has them.
 */
static void unknown_key(struct unit_parser *p, const char *section, const char *key, int i)
{
	struct unit_buf b = {0};
	const char *near;
	int n;

	if (p->n_found >= UNIT_PROBLEMS_MAX) {
		unit_problem(p, p->line, key, "unknown key"); /* only counted: spare the search */
		return;
	}
	near = unit_suggest_key(key);
	n = near ? key_index(near) : -1;
	if (strncmp(key, "X-", 2) == 0 || strcmp(section, "Install") == 0) {
		unit_warning(p, p->line, key, "unknown key in [%s], ignored%s", section,
			     strcmp(section, "Install") == 0 ? " (sup has no install step)"
							     : " (X- keys are for other tools)");
		return;
	}
	if (i >= 0) {
		section_names(&b, keys[i].sections);
		unit_problem(p, p->line, key, "unknown key in [%s] (it belongs in %s)", section,
			     b.failed ? "?" : b.p);
	} else if (!strncmp(key, "Condition", 9) || !strncmp(key, "Assert", 6)) {
		unit_problem(p, p->line, key,
			     "not supported: of the conditions, sup evaluates "
			     "ConditionPathExists= and AssertPathExists=");
	} else if (n >= 0 && (keys[n].sections & section_bit(section))) {
		unit_problem(p, p->line, key, "unknown key in [%s]; did you mean %s=?", section,
			     near);
	} else if (n >= 0) {
		section_names(&b, keys[n].sections);
		unit_problem(p, p->line, key, "unknown key in [%s]; did you mean %s= (in %s)?",
			     section, near, b.failed ? "?" : b.p);
	} else {
		unit_problem(p, p->line, key, "unknown key in [%s]", section);
	}
	unit_buf_free(&b);
}

static void reset_field(const struct unit_key *k, void *field)
{
	struct unit_config d = {0};

	if (k->type->reset) {
		k->type->reset(field);
		return;
	}
	unit_config_defaults(&d);
	memcpy(field, (char *)&d + k->offset, k->size);
}

/* VALUE with its specifiers resolved into b; false (reported) on an unknown one. */
static bool resolve(struct unit_parser *p, const char *key, const char *value, struct unit_buf *b)
{
	char bad;

	if (unit_resolve_specifiers(p, value, b, &bad) == 0)
		return true;
	if (b->failed)
		unit_problem(p, p->line, key, "out of memory");
	else
		unit_problem(
		    p, p->line, key,
		    "unknown specifier '%%%c'; allowed: %%i %%I %%n %%N %%p, and %%%% for a "
		    "'%%'",
		    bad ? bad : ' ');
	return false;
}

static void parse_value(struct unit_parser *p, int i, const char *key, const char *value)
{
	struct unit_ctx x = {.p = p, .k = &keys[i], .key = key};
	void *field = (char *)p->c + keys[i].offset;
	int c = canonical(i);

	if (x.k->type->parse(&x, value, field) < 0) {
		p->key_bad[c] = true;
		if (x.whole)
			unit_problem(p, p->line, key, "%s", x.why.failed ? "?" : x.why.p);
		else
			unit_problem(p, p->line, key, "%s; allowed: %s",
				     x.why.failed ? "?" : x.why.p, x.k->allowed);
	}
	unit_buf_free(&x.why);
}

void unit_dispatch(struct unit_parser *p, const char *section, const char *key, const char *value)
{
	struct unit_buf b = {0};
	const struct unit_key *k;
	int i, c;

	if (!*key) {
		unit_buf_printf(&b, "=%s", value);
		unit_problem(p, p->line, b.failed ? "=" : b.p,
			     "no key before '='; allowed: KEY=VALUE");
		unit_buf_free(&b);
		return;
	}
	if (!*section) {
		unit_problem(
		    p, p->line, key,
		    "key before any section; allowed: a [Unit] or [Service] header above it");
		return;
	}
	i = key_index(key);
	if (i < 0 || !(keys[i].sections & section_bit(section))) {
		unknown_key(p, section, key, i);
		return;
	}
	k = &keys[i];
	c = canonical(i);
	p->key_line[c] = p->line;
	p->key_spelled[c] = k->key;
	if (!*value && !(k->type->flags & VT_TAKES_EMPTY)) {
		reset_field(k, (char *)p->c + k->offset); /* systemd: an empty value resets */
		return;
	}
	if (p->specifiers && !(k->type->flags & VT_NO_SPECIFIERS) && strchr(value, '%')) {
		if (!resolve(p, key, value, &b)) {
			p->key_bad[c] = true;
			unit_buf_free(&b);
			return;
		}
		value = b.p;
	}
	parse_value(p, i, key, value);
	unit_buf_free(&b);
}
