/* Signal names: our own table, as musl and older glibc lack sigabbrev_np(). */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "sup/cleanup.h"
#include "sup/signal.h"

struct signame {
	int sig;
	const char *name; /* without "SIG" */
};

/* First entry of a number is its canonical name; aliases follow. */
static const struct signame signals[] = {
    {SIGHUP, "HUP"},	   {SIGINT, "INT"},	  {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"},	   {SIGABRT, "ABRT"},	  {SIGBUS, "BUS"},   {SIGFPE, "FPE"},
    {SIGKILL, "KILL"},	   {SIGUSR1, "USR1"},	  {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"},	   {SIGALRM, "ALRM"},	  {SIGTERM, "TERM"},
#ifdef SIGSTKFLT
    {SIGSTKFLT, "STKFLT"},
#endif
    {SIGCHLD, "CHLD"},	   {SIGCONT, "CONT"},	  {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},
    {SIGTTIN, "TTIN"},	   {SIGTTOU, "TTOU"},	  {SIGURG, "URG"},   {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"},	   {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"},
    {SIGIO, "IO"},
#ifdef SIGPWR
    {SIGPWR, "PWR"},
#endif
    {SIGSYS, "SYS"},	   {SIGIOT, "IOT"},	  {SIGCHLD, "CLD"},
#ifdef SIGPOLL
    {SIGPOLL, "POLL"},
#endif
};

static const char *const sig_names[] = {
#define N(s) [SIG##s] = "SIG" #s
    N(HUP),    N(INT),	N(QUIT), N(ILL),  N(TRAP), N(ABRT),   N(BUS),	N(FPE),	 N(KILL), N(USR1),
    N(SEGV),   N(USR2), N(PIPE), N(ALRM), N(TERM), N(CHLD),   N(CONT),	N(STOP), N(TSTP), N(TTIN),
    N(TTOU),   N(URG),	N(XCPU), N(XFSZ), N(PROF), N(VTALRM), N(WINCH), N(IO),	 N(SYS),
#ifdef SIGSTKFLT
    N(STKFLT),
#endif
#ifdef SIGPWR
    N(PWR),
#endif
#undef N
};

const char *sup_signal_name(int sig)
{
	if (sig <= 0 || (size_t)sig >= SUP_ARRAY_SIZE(sig_names))
		return NULL;
	return sig_names[sig];
}

/* "RTMIN", "RTMIN+3", "RTMAX-1": the real-time range is only known at run time. */
static int parse_rt(const char *s, int *sig)
{
	bool min = strncasecmp(s, "RTMIN", 5) == 0;
	int base = min ? SIGRTMIN : SIGRTMAX, off = 0;

	if (!min && strncasecmp(s, "RTMAX", 5) != 0)
		return -1;
	s += 5;
	if (*s) {
		if (*s != (min ? '+' : '-') || s[1] < '0' || s[1] > '9' || (s[2] && s[3]))
			return -1;
		for (s++; *s; s++) {
			if (*s < '0' || *s > '9')
				return -1;
			off = off * 10 + (*s - '0');
		}
	}
	base = min ? base + off : base - off;
	if (base < SIGRTMIN || base > SIGRTMAX)
		return -1;
	*sig = base;
	return 0;
}

int sup_signal_parse(const char *s, int *sig)
{
	errno = EINVAL;
	if (*s >= '0' && *s <= '9') {
		int v = 0;
		for (const char *p = s; *p; p++) {
			if (*p < '0' || *p > '9' || p - s >= 3)
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > SIGRTMAX)
			return -1;
		*sig = v;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	return parse_rt(s, sig);
}
