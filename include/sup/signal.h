/* Signal names: our own table, as musl and older glibc lack sigabbrev_np(). */
#ifndef SUP_SIGNAL_H
#define SUP_SIGNAL_H

/* SIGTERM, TERM, 15, RTMIN+3. Returns 0, or -1 (errno EINVAL) if it names no signal. */
int sup_signal_parse(const char *s, int *sig);
/* "SIGKILL"; NULL if unknown. */
const char *sup_signal_name(int sig);

#endif
