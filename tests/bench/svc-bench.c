/* svc-bench: the benchmark "service": does nothing, forever, with no arguments needed
 * (so runsv/s6-supervise can exec it directly as ./run). Its unique binary path is how the
 * restart probe recognises the service's exec among all exec events of the machine.
 *
 * With BENCH_READY_FD=N in the environment (set for the s6 trees only, whose service dirs
 * have notification-fd = N) it reports readiness s6-style: a newline on fd N. s6-supervise
 * 2.11 holds a restart back for 1 s after a death unless the service had signalled
 * readiness more than 1 s before; readiness is how s6 is meant to be run fast. */
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	const char *fd = getenv("BENCH_READY_FD");
	if (fd) {
		int n = atoi(fd);
		if (write(n, "\n", 1) == 1)
			close(n);
	}
	for (;;)
		pause();
}
