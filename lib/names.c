/* Unit names: the one validator. */
#include <string.h>

#include "sup/names.h"

bool unit_name_valid(const char *name)
{
	size_t n =
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-");

	return n > 0 && n <= UNIT_NAME_MAX && name[n] == '\0' && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}
