/* fdlimit.h — the descriptor budget. Client connections, the connectors'
 * connections to services, the store and the audit log all draw on one
 * RLIMIT_NOFILE; the audit log failing for want of a descriptor stops
 * every audited exchange. So the limit is raised as far as it goes,
 * limits.max_connections must fit beside what the rest needs, and the
 * last FDLIMIT_AUDIT_RESERVE descriptors are never spent on a client
 * (conn.h). */
#ifndef TELLONCE_FDLIMIT_H
#define TELLONCE_FDLIMIT_H

#include <stddef.h>

struct config;

/* Descriptors only the audit log and the store may take (files they open
 * for a moment: a tile, a checkpoint, a journal being replaced). */
#define FDLIMIT_AUDIT_RESERVE 32
/* Connections the admin listener (gateway.admin_listen) holds at most,
 * budgeted apart from limits.max_connections. */
#define FDLIMIT_ADMIN_CONNECTIONS 64

/* Raises the soft RLIMIT_NOFILE to the hard one; the soft limit in force
 * after. */
long fdlimit_raise(void);
/* The hard RLIMIT_NOFILE: what serve will raise its limit to. */
long fdlimit_hard(void);
/* Descriptors cfg needs besides its client connections: the process, the
 * reserve, and per event loop its store connection and one instance of
 * each connector. */
long fdlimit_needed(const struct config *cfg);
/* 0 when limits.max_connections and fdlimit_needed() fit in `limit`;
 * -1 with err (naming the key and both numbers) otherwise. */
int fdlimit_check(const struct config *cfg, long limit, char *err,
    size_t errlen);

#endif
