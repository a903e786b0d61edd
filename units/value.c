/* Value parsers for durations, sizes and booleans; names of the enums. All overflow-checked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "unit_private.h"

const char *const unit_type_names[] = {"simple", "notify", "oneshot", "forking", NULL};
const char *const unit_restart_names[] = {"no",		"on-failure",  "on-abnormal", "always",
					  "on-success", "on-watchdog", "on-abort",    NULL};
const char *const unit_output_names[] = {"log", "null", "inherit", NULL};

const char *unit_type_name(enum unit_type t)
{
	return (unsigned)t <= UNIT_TYPE_FORKING ? unit_type_names[t] : "unknown";
}

const char *unit_restart_name(enum unit_restart r)
{
	return (unsigned)r <= UNIT_RESTART_ON_ABORT ? unit_restart_names[r] : "unknown";
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Digits only (no sign, no blanks, unlike strtoull). Sets errno ERANGE on overflow. */
static int parse_digits(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v)) {
			errno = ERANGE;
			return -1;
		}
	*s = p;
	*out = v;
	return 0;
}

struct suffix {
	const char *name;
	uint64_t mult;
};

static const struct suffix duration_suffixes[] = {
    {"us", 1},
    {"usec", 1},
    {"ms", USEC_PER_MSEC},
    {"msec", USEC_PER_MSEC},
    {"s", USEC_PER_SEC},
    {"sec", USEC_PER_SEC},
    {"secs", USEC_PER_SEC},
    {"second", USEC_PER_SEC},
    {"seconds", USEC_PER_SEC},
    {"m", 60 * USEC_PER_SEC},
    {"min", 60 * USEC_PER_SEC},
    {"mins", 60 * USEC_PER_SEC},
    {"minute", 60 * USEC_PER_SEC},
    {"minutes", 60 * USEC_PER_SEC},
    {"h", 3600 * USEC_PER_SEC},
    {"hr", 3600 * USEC_PER_SEC},
    {"hour", 3600 * USEC_PER_SEC},
    {"hours", 3600 * USEC_PER_SEC},
    {"d", 86400 * USEC_PER_SEC},
    {"day", 86400 * USEC_PER_SEC},
    {"days", 86400 * USEC_PER_SEC},
    {"w", 604800 * USEC_PER_SEC},
    {"week", 604800 * USEC_PER_SEC},
    {"weeks", 604800 * USEC_PER_SEC},
};

/* The unit after a number: a run of letters, matched whole; none means seconds. */
static int duration_suffix(const char **s, uint64_t *mult)
{
	const char *p = *s;
	size_t n = 0;

	while (is_blank(*p))
		p++;
	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z'))
		n++;
	if (n == 0) {
		*mult = USEC_PER_SEC;
		return 0;
	}
	for (size_t i = 0; i < SUP_ARRAY_SIZE(duration_suffixes); i++)
		if (strlen(duration_suffixes[i].name) == n &&
		    strncmp(duration_suffixes[i].name, p, n) == 0) {
			*mult = duration_suffixes[i].mult;
			*s = p + n;
			return 0;
		}
	return -1;
}

/* One "NUMBER[.FRACTION] [UNIT]" group, added to *total. */
static int duration_group(const char **s, uint64_t *total)
{
	const char *p = *s, *frac = NULL;
	uint64_t whole, mult, v, part = 0;

	if (parse_digits(&p, &whole) < 0)
		return -1;
	if (*p == '.') {
		frac = ++p;
		if (!is_digit(*p))
			return -1;
		while (is_digit(*p))
			p++;
	}
	if (duration_suffix(&p, &mult) < 0)
		return -1;
	/* each fraction digit is worth mult/10^i; digits finer than 1us drop out */
	for (uint64_t scale = mult / 10; frac && is_digit(*frac); frac++, scale /= 10)
		part += (uint64_t)(*frac - '0') * scale;
	if (__builtin_mul_overflow(whole, mult, &v) || __builtin_add_overflow(v, part, &v) ||
	    __builtin_add_overflow(*total, v, total)) {
		errno = ERANGE;
		return -1;
	}
	*s = p;
	return 0;
}

int unit_parse_duration(const char *s, uint64_t *usec)
{
	uint64_t total = 0;

	errno = EINVAL;
	if (strcmp(s, "infinity") == 0) {
		*usec = USEC_INFINITY;
		return 0;
	}
	while (is_blank(*s))
		s++;
	if (!*s)
		return -1;
	while (*s) {
		if (duration_group(&s, &total) < 0)
			return -1;
		while (is_blank(*s))
			s++;
	}
	if (total == USEC_INFINITY) {
		errno = ERANGE;
		return -1;
	}
	*usec = total;
	return 0;
}

int unit_parse_size(const char *s, uint64_t *bytes)
{
	static const char suffixes[] = "KMGTPE";
	uint64_t v, mult = 1;
	const char *p = s, *k;

	errno = EINVAL;
	if (strcmp(s, "infinity") == 0) {
		*bytes = SIZE_INFINITY;
		return 0;
	}
	if (parse_digits(&p, &v) < 0)
		return -1;
	if (*p) {
		k = strchr(suffixes, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		if (!k || p[1])
			return -1;
		for (const char *i = suffixes; i <= k; i++)
			mult *= 1024;
	}
	if (__builtin_mul_overflow(v, mult, &v) || v == SIZE_INFINITY) {
		errno = ERANGE;
		return -1;
	}
	*bytes = v;
	return 0;
}

int unit_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

/* The shortest exact spelling, largest units first: 90s -> "1min 30s", 1500ms -> "1s 500ms". */
const char *unit_format_duration(uint64_t usec, char *buf)
{
	static const struct suffix units[] = {
	    {"d", 86400 * USEC_PER_SEC}, {"h", 3600 * USEC_PER_SEC}, {"min", 60 * USEC_PER_SEC},
	    {"s", USEC_PER_SEC},	 {"ms", USEC_PER_MSEC},	     {"us", 1},
	};
	size_t len = 0;

	if (usec == USEC_INFINITY)
		return strcpy(buf, "infinity");
	if (usec == 0)
		return strcpy(buf, "0");
	for (size_t i = 0; i < SUP_ARRAY_SIZE(units) && usec; i++) {
		if (usec < units[i].mult)
			continue;
		len += (size_t)snprintf(buf + len, UNIT_DURATION_TEXT - len, "%s%llu%s",
					len ? " " : "", (unsigned long long)(usec / units[i].mult),
					units[i].name);
		usec %= units[i].mult;
	}
	return buf;
}
