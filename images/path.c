/* Paths named by untrusted archives, cleaned by name only (no filesystem access). */
#include <string.h>

#include "unpack.h"

int img_path_normalise(const char *in, char *out, size_t size, bool resolve_dotdot)
{
	size_t o = 0;
	const char *p = in;

	if (!in || in[0] == '/')
		return IMG_PATH_ABSOLUTE;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (!resolve_dotdot || o == 0)
				return IMG_PATH_DOTDOT;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (n > 255) {
			return IMG_PATH_TOO_LONG;
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > size)
				return IMG_PATH_TOO_LONG;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n + strspn(p + n, "/");
	}
	out[o] = '\0';
	return 0;
}
