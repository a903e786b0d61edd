/* restart-probe: restart latency of supervised services, measured by the kernel.
 *
 *   restart-probe KILLS GAP_MS SETTLE_MS TIMEOUT_MS NAME=EXEPATH [NAME=EXEPATH...]
 *
 * Listens to the proc connector (netlink NETLINK_CONNECTOR, CN_IDX_PROC,
 * PROC_CN_MCAST_LISTEN; needs root and the initial pid namespace). Each target is a service
 * whose binary is EXEPATH (a path no other process uses); its current pid is found by
 * scanning /proc (readlink /proc/PID/exe) and afterwards from PROC_EVENT_EXEC events.
 *
 * KILLS rounds; in each round every target is killed once (order rotated per round): the
 * probe waits until GAP_MS have passed since that service's last exec (runsv and
 * s6-supervise hold a restart back until 1 s after the previous start: the gap keeps every
 * kill outside that window, for every supervisor alike), sends SIGKILL, then waits for the
 * PROC_EVENT_EXIT of the killed pid and the next PROC_EVENT_EXEC of EXEPATH, and prints
 *
 *   NAME ROUND LATENCY_NS        (exec timestamp_ns - exit timestamp_ns)
 *   NAME ROUND timeout|nopid|noexit
 *
 * then waits SETTLE_MS before the next kill. Every wait is bounded by TIMEOUT_MS.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXT 16

struct target {
	const char *name;
	const char *path;
	pid_t pid;	       /* current service pid, 0 = unknown */
	uint64_t last_exec_ns; /* timestamp of its last exec, 0 = unknown (long ago) */
	pid_t killed;	       /* pid we killed and wait for, 0 = not measuring */
	uint64_t exit_ns;      /* its exit event timestamp, 0 = not seen yet */
	uint64_t exec_ns;      /* the replacement's exec timestamp, 0 = not seen yet */
	int noexit;	       /* replacement exec seen before the exit event */
};

static struct target T[MAXT];
static int nT;
static int nl;
static unsigned long overflows;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int exe_of(pid_t pid, char *buf, size_t len)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/exe", pid);
	ssize_t n = readlink(p, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static void scan_proc(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char exe[4096];
	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (exe_of(pid, exe, sizeof exe) < 0)
			continue;
		for (int i = 0; i < nT; i++)
			if (!T[i].pid && strcmp(exe, T[i].path) == 0)
				T[i].pid = pid;
	}
	closedir(d);
}

static void on_event(const struct proc_event *ev)
{
	if (ev->what == PROC_EVENT_EXEC) {
		char exe[4096];
		pid_t tgid = ev->event_data.exec.process_tgid;
		if (exe_of(tgid, exe, sizeof exe) < 0)
			return;
		for (int i = 0; i < nT; i++) {
			if (strcmp(exe, T[i].path) != 0)
				continue;
			if (T[i].killed && !T[i].exec_ns && tgid != T[i].killed) {
				T[i].exec_ns = ev->timestamp_ns;
				if (!T[i].exit_ns)
					T[i].noexit = 1;
			}
			T[i].pid = tgid;
			T[i].last_exec_ns = ev->timestamp_ns;
		}
	} else if (ev->what == PROC_EVENT_EXIT) {
		pid_t pid = ev->event_data.exit.process_pid;
		if (pid != ev->event_data.exit.process_tgid)
			return; /* a thread, not the process */
		for (int i = 0; i < nT; i++) {
			if (T[i].killed == pid && !T[i].exit_ns)
				T[i].exit_ns = ev->timestamp_ns;
			if (T[i].pid == pid)
				T[i].pid = 0;
		}
	}
}

/* Process events until deadline (CLOCK_MONOTONIC ns) or until done() says so. */
static void pump(uint64_t deadline, int (*done)(int), int arg)
{
	static char buf[1 << 16] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		if (done && done(arg))
			return;
		uint64_t now = now_ns();
		if (now >= deadline)
			return;
		int ms = (int)((deadline - now + 999999) / 1000000);
		struct pollfd pfd = {.fd = nl, .events = POLLIN};
		int r = poll(&pfd, 1, ms);
		if (r < 0 && errno != EINTR) {
			perror("poll");
			exit(1);
		}
		if (r <= 0)
			continue;
		for (;;) {
			ssize_t n = recv(nl, buf, sizeof buf, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == ENOBUFS) {
					overflows++;
					continue;
				}
				if (errno == EAGAIN || errno == EINTR)
					break;
				perror("recv");
				exit(1);
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
			     h = NLMSG_NEXT(h, n)) {
				if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_ERROR)
					continue;
				struct cn_msg *cn = NLMSG_DATA(h);
				if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
					continue;
				on_event((const struct proc_event *)cn->data);
			}
		}
	}
}

static int measured(int i)
{
	return T[i].exec_ns != 0;
}

static void subscribe(void)
{
	nl = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (nl < 0) {
		perror("socket(NETLINK_CONNECTOR)");
		exit(1);
	}
	int sz = 16 << 20;
	if (setsockopt(nl, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(nl, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
	if (bind(nl, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind(CN_IDX_PROC)");
		exit(1);
	}
	struct {
		struct nlmsghdr h;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	memset(&msg, 0, sizeof msg);
	msg.h.nlmsg_len = sizeof msg;
	msg.h.nlmsg_type = NLMSG_DONE;
	msg.h.nlmsg_pid = getpid();
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof(enum proc_cn_mcast_op);
	msg.op = PROC_CN_MCAST_LISTEN;
	if (send(nl, &msg, sizeof msg, 0) < 0) {
		perror("send(PROC_CN_MCAST_LISTEN)");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s KILLS GAP_MS SETTLE_MS TIMEOUT_MS NAME=EXEPATH...\n",
			argv[0]);
		return 2;
	}
	int kills = atoi(argv[1]);
	uint64_t gap = (uint64_t)atoi(argv[2]) * 1000000ull;
	uint64_t settle = (uint64_t)atoi(argv[3]) * 1000000ull;
	uint64_t timeout = (uint64_t)atoi(argv[4]) * 1000000ull;
	for (int a = 5; a < argc && nT < MAXT; a++) {
		char *eq = strchr(argv[a], '=');
		if (!eq) {
			fprintf(stderr, "bad target %s\n", argv[a]);
			return 2;
		}
		*eq = 0;
		T[nT].name = argv[a];
		T[nT].path = eq + 1;
		nT++;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	subscribe();
	scan_proc();
	for (int i = 0; i < nT; i++)
		if (!T[i].pid)
			fprintf(stderr, "restart-probe: %s: no running %s yet\n", T[i].name,
				T[i].path);

	for (int r = 0; r < kills; r++) {
		for (int j = 0; j < nT; j++) {
			struct target *t = &T[(r + j) % nT];
			int i = (int)(t - T);
			if (!t->pid) {
				/* lost track (a timeout before): look again, or wait a little for
				 * an exec */
				scan_proc();
				if (!t->pid)
					pump(now_ns() + timeout, NULL, 0);
				if (!t->pid)
					scan_proc();
				if (!t->pid) {
					printf("%s %d nopid\n", t->name, r);
					continue;
				}
			}
			/* outside the peers' 1 s restart throttle */
			if (t->last_exec_ns)
				pump(t->last_exec_ns + gap, NULL, 0);
			pump(now_ns(), NULL, 0); /* drain what is queued */
			if (!t->pid) {
				printf("%s %d nopid\n", t->name, r);
				continue;
			}
			t->killed = t->pid;
			t->exit_ns = t->exec_ns = 0;
			t->noexit = 0;
			if (kill(t->killed, SIGKILL) < 0) {
				printf("%s %d nopid\n", t->name, r);
				t->killed = 0;
				t->pid = 0;
				continue;
			}
			pump(now_ns() + timeout, measured, i);
			if (!t->exec_ns)
				printf("%s %d timeout\n", t->name, r);
			else if (t->noexit)
				printf("%s %d noexit\n", t->name, r);
			else
				printf("%s %d %llu\n", t->name, r,
				       (unsigned long long)(t->exec_ns - t->exit_ns));
			t->killed = 0;
			pump(now_ns() + settle, NULL, 0);
		}
	}
	if (overflows)
		fprintf(stderr, "restart-probe: netlink receive buffer overflowed %lu times\n",
			overflows);
	return 0;
}
