/* start-probe: start latency of a container, from the start request to the service's exec,
 * measured by the kernel.
 *
 *   start-probe ROUNDS COMM SETTLE_MS TIMEOUT_MS START STOP
 *
 * Listens to the proc connector (netlink NETLINK_CONNECTOR, CN_IDX_PROC; root, initial pid
 * namespace). Each round: t0 = CLOCK_MONOTONIC, then START, then the wait for the first
 * PROC_EVENT_EXEC whose process is named COMM (/proc/PID/comm, read at the event: the service
 * pauses, so it is still there); the latency is the event's timestamp (CLOCK_MONOTONIC, the
 * kernel's) minus t0. Then STOP (`sh -c STOP`, not timed; $SVC_PID is the service's pid), the
 * START process reaped, SETTLE_MS of rest. START is either
 *
 *   sock:PATH:UNIT   a start request written by the probe itself on supd's control socket
 *                    (t0 just before the connect)
 *   CMD ARG...       a command line, split on spaces, exec'd directly (no shell), not waited
 *                    for until the round is over (`crun run` stays in the foreground)
 *
 * Prints one line per round: "ROUND LATENCY_NS", or "ROUND timeout".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int nl;
static const char *want_comm;
static uint64_t exec_ns;
static int exec_pid;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_exec(const struct proc_event *ev)
{
	char path[64], name[64] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", ev->event_data.exec.process_tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (n > 0 && name[n - 1] == '\n')
		name[n - 1] = '\0';
	if (strcmp(name, want_comm) == 0 && !exec_ns) {
		exec_ns = ev->timestamp_ns;
		exec_pid = ev->event_data.exec.process_tgid;
	}
}

static void handle(char *buf, ssize_t n)
{
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
	     h = NLMSG_NEXT(h, n)) {
		struct cn_msg *cn;
		const struct proc_event *ev;

		if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_ERROR)
			continue;
		cn = NLMSG_DATA(h);
		if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
			continue;
		ev = (const struct proc_event *)cn->data;
		if (ev->what == PROC_EVENT_EXEC)
			on_exec(ev);
	}
}

/* Events until deadline, or until the service's exec was seen (stop_at_exec). */
static void pump(uint64_t deadline, int stop_at_exec)
{
	static char buf[1 << 16] __attribute__((aligned(NLMSG_ALIGNTO)));

	while (!(stop_at_exec && exec_ns)) {
		uint64_t now = now_ns();
		struct pollfd pfd = {.fd = nl, .events = POLLIN};
		ssize_t n;

		if (now >= deadline)
			return;
		if (poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000)) <= 0)
			continue;
		while ((n = recv(nl, buf, sizeof(buf), MSG_DONTWAIT)) > 0 || errno == ENOBUFS)
			if (n > 0)
				handle(buf, n);
	}
}

static void subscribe(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
	struct {
		struct nlmsghdr h;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	int sz = 16 << 20;

	nl = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (nl < 0 || bind(nl, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("start-probe: proc connector");
		exit(1);
	}
	setsockopt(nl, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	memset(&msg, 0, sizeof(msg));
	msg.h.nlmsg_len = sizeof(msg);
	msg.h.nlmsg_type = NLMSG_DONE;
	msg.h.nlmsg_pid = (uint32_t)getpid();
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof(enum proc_cn_mcast_op);
	msg.op = PROC_CN_MCAST_LISTEN;
	if (send(nl, &msg, sizeof(msg), 0) < 0) {
		perror("start-probe: PROC_CN_MCAST_LISTEN");
		exit(1);
	}
}

/* sock:PATH:UNIT: {"v":1,"cmd":"start","units":[UNIT],"wait":false} on supd's socket */
static int start_request(const char *spec)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *unit = strrchr(spec, ':');
	char frame[512];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;
	uint32_t len;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s", (int)(unit - spec - 5), spec + 5);
	n = snprintf(frame + 4, sizeof(frame) - 4,
		     "{\"v\":1,\"cmd\":\"start\",\"units\":[\"%s\"],\"wait\":false}", unit + 1);
	len = htonl((uint32_t)n);
	memcpy(frame, &len, 4);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, frame, (size_t)n + 4) != n + 4) {
		perror("start-probe: start request");
		exit(1);
	}
	return fd;
}

static pid_t start_command(char *line)
{
	char *argv[64];
	int n = 0;
	pid_t pid;

	for (char *save = NULL, *w = strtok_r(line, " ", &save); w && n < 63;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	int rounds, settle_ms, timeout_ms;

	if (argc != 7) {
		fprintf(stderr, "usage: start-probe ROUNDS COMM SETTLE_MS TIMEOUT_MS START STOP\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	want_comm = argv[2];
	settle_ms = atoi(argv[3]);
	timeout_ms = atoi(argv[4]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	subscribe();
	for (int r = 0; r < rounds; r++) {
		char line[4096];
		int sock = -1;
		pid_t child = -1;
		uint64_t t0;

		snprintf(line, sizeof(line), "%s", argv[5]);
		pump(now_ns(), 0); /* what is queued is not ours */
		exec_ns = 0;
		t0 = now_ns();
		if (strncmp(line, "sock:", 5) == 0)
			sock = start_request(line);
		else
			child = start_command(line);
		pump(t0 + (uint64_t)timeout_ms * 1000000ull, 1);
		if (exec_ns)
			printf("%d %llu\n", r, (unsigned long long)(exec_ns - t0));
		else
			printf("%d timeout\n", r);
		snprintf(line, sizeof(line), "%d", exec_pid);
		setenv("SVC_PID", line, 1);
		if (system(argv[6]) != 0)
			fprintf(stderr, "start-probe: round %d: the stop command failed\n", r);
		if (sock >= 0)
			close(sock);
		if (child > 0)
			waitpid(child, NULL, 0);
		pump(now_ns() + (uint64_t)settle_ms * 1000000ull, 0);
	}
	return 0;
}
