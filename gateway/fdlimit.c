/* fdlimit.c — the descriptor budget (see fdlimit.h). */
#include "fdlimit.h"

#include <stdio.h>
#include <sys/resource.h>

#include "config_model.h"

#define FDLIMIT_PROCESS 32   /* stdio, the audit directory and journals
                              * (the journal, the one it replaced and the
                              * next one), the access index's store,
                              * libevent and OpenSSL's own */
#define FDLIMIT_LOOP 11      /* per loop: its event fds, its store (database,
                              * WAL, shared memory, and the same three of
                              * the access index's file on SQLite), its
                              * listening dup, a tile being served */

long
fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? (long)1 << 30 : (long)rl.rlim_cur;
}

long
fdlimit_hard(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	return rl.rlim_max == RLIM_INFINITY ? (long)1 << 30 : (long)rl.rlim_max;
}

long
fdlimit_needed(const struct config *cfg)
{
	long workers = cfg->gateway.workers > 0 ? cfg->gateway.workers : 1;
	long connectors = 0;

	for (size_t i = 0; i < cfg->nservices; i++)
		connectors += cfg->services[i].connector != NULL;
	/* The workers and the delivery worker each run a loop; a worker has
	 * a listening socket of its own (server_listen) and may hold one
	 * refused connection while it pauses accepting. The admin listener is
	 * a socket, its dup and its own connections. */
	return FDLIMIT_PROCESS + FDLIMIT_AUDIT_RESERVE + 2 * workers +
	    (workers + 1) * (FDLIMIT_LOOP + connectors * CONNECTOR_MAX_FDS) +
	    (cfg->gateway.admin_listen != NULL ? 2 + FDLIMIT_ADMIN_CONNECTIONS : 0);
}

int
fdlimit_check(const struct config *cfg, long limit, char *err,
    size_t errlen)
{
	long conns = cfg->gateway.limits.max_connections;
	long needed = fdlimit_needed(cfg);

	if (conns + needed <= limit)
		return 0;
	snprintf(err, errlen, "gateway.limits.max_connections: %ld client "
	    "connections and the %ld other descriptors this configuration needs "
	    "do not fit in the descriptor limit (RLIMIT_NOFILE, hard) of %ld: "
	    "lower max_connections to %ld or raise the limit (ulimit -n, "
	    "LimitNOFILE=)", conns, needed, limit,
	    limit - needed > 0 ? limit - needed : 0);
	return -1;
}
