/* privdrop.h — gateway.user: once the listening socket is bound and the
 * keys are read as root, the process becomes that user for good. */
#ifndef TELLONCE_PRIVDROP_H
#define TELLONCE_PRIVDROP_H

#include <stddef.h>

/* Switches every uid and gid (real, effective, saved) and the supplementary
 * groups to user's, then checks root cannot be regained. Must run before
 * any thread starts. Returns 0, or -1 with err: the caller must not go on
 * (fail closed). */
int privdrop_to(const char *user, char *err, size_t errlen);

#endif
