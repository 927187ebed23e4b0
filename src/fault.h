/* Test-only fault injection. Compiled in only by `make FAULTS=1` (which
 * builds into build/faults/): the tests use it to show what happens when
 * the kernel refuses part of a batch, a NAT module is missing, a dump is
 * cut short or the send buffer is too small. The production binary has
 * none of it. */
#ifndef FAULT_H
#define FAULT_H

#include <stdbool.h>

#ifdef PORTREDIR_FAULTS
/* True the first time a fault named in $PORTREDIR_FAULTS (a comma list)
 * is asked for: each fault strikes once. */
bool fault_injected(const char *name);
#else
static inline bool fault_injected(const char *name)
{
	(void)name;
	return false;
}
#endif

#endif
