/* cmd_serve.c — `tellonce serve -c FILE`: runs the gateway in the
 * foreground. Binds as root, drops to gateway.user, opens the audit log
 * and the access index, starts the HTTP server and the delivery worker,
 * then waits for signals: SIGHUP reloads, SIGTERM or SIGINT drains and
 * stops. Each step is told to the service manager (notify.h). */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "access_index.h"
#include "audit.h"
#include "audit_anchor.h"
#include "blockcache.h"
#include "cmd.h"
#include "delivery.h"
#include "fdlimit.h"
#include "gateway.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "privdrop.h"
#include "reload.h"
#include "server.h"
#include "store.h"
#include "store_checkpointer.h"

/* gateway.log, at start and at every reload. */
static void
cmd_serve_log(const struct config *cfg)
{
	int level = log_level_parse(cfg->gateway.log.level);
	int format = log_format_parse(cfg->gateway.log.format);

	if (format >= 0)
		log_set_format((enum log_format)format);
	if (level >= 0)
		log_set_level((enum log_level)level);
	if (cfg->gateway.log_level != NULL)
		log_warn("gateway.log_level is deprecated: write gateway.log: "
		    "{level: %s}", cfg->gateway.log_level);
}

/* Loads the file again for a reload: its errors are log lines, in the
 * log's format, since a log stack reads stderr by now. */
static struct config *
cmd_serve_reload_config(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_load(path, &errs);

	for (size_t i = 0; cfg == NULL && i < errs.n; i++)
		log_error("%s:%d:%d: %s", errs.items[i].file, errs.items[i].line,
		    errs.items[i].col, errs.items[i].message);
	if (cfg == NULL && errs.nomem)
		log_error("out of memory: the configuration was not loaded");
	config_errors_free(&errs);
	return cfg;
}

/* Loads the file again and hands it to the server and the delivery
 * worker. 0, or -1 logged with the old configuration still serving. */
static int
cmd_serve_apply(struct gateway *gw, struct delivery *dl)
{
	struct config *cfg = cmd_serve_reload_config(gw->config_path);
	const char *blocker;
	char err[512];

	if (cfg == NULL) {
		log_error("reload refused: %s is invalid; the old configuration "
		    "keeps serving", gw->config_path);
		metrics_config_loaded(1, 0);
		return -1;
	}
	if ((blocker = reload_blocker(server_config(gw->server), cfg)) != NULL) {
		log_error("reload refused: %s changed, which needs a restart", blocker);
		config_free(cfg);
		metrics_config_loaded(1, 0);
		return -1;
	}
	/* The server and the delivery worker share the one config, read
	 * once: after `gateway.user` drops root, key files cannot be read
	 * again. */
	if (server_swap_config(gw->server, config_ref(cfg), err,
	    sizeof(err)) != 0) {
		log_error("reload refused: %s; the old configuration keeps "
		    "serving", err);
		config_free(cfg);
		metrics_config_loaded(1, 0);
		return -1;
	}
	cmd_serve_log(cfg);
	delivery_swap_config(dl, cfg);
	struct audit_entry e = { .type = AUDIT_CONFIG_RELOAD, .decision = AUDIT_ALLOW };
	audit_append(gw->audit, &e, NULL);
	log_info("configuration reloaded from %s", gw->config_path);
	metrics_config_loaded(1, 1);
	return 0;
}

/* A reload as the service manager sees it: reloading, then ready again
 * whether the new file was taken or refused (the old one still serves). */
static void
cmd_serve_reload(struct gateway *gw, struct delivery *dl)
{
	notify_reloading("reloading the configuration");
	if (cmd_serve_apply(gw, dl) == 0)
		notify_send("READY=1\nSTATUS=serving; configuration reloaded");
	else
		notify_send("READY=1\nSTATUS=serving; the last reload was "
		    "refused (see the log), the previous configuration is in force");
}

/* The watchdog's question (notify.h): every worker loop turns and the
 * audit log takes entries. */
static int
cmd_serve_healthy(void *arg)
{
	struct gateway *gw = arg;

	return server_alive(gw->server) && audit_ready(gw->audit) == 0;
}

/* Waits for signals on the main thread; the workers never see them. */
static void
cmd_serve_signals(struct gateway *gw, struct delivery *dl, const sigset_t *set)
{
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			cmd_serve_reload(gw, dl);
			continue;
		}
		log_info("signal %d: draining and stopping", sig);
		return;
	}
}

/* A node started while its store's server is away (PostgreSQL restarting
 * with the machine) waits for it with its port closed, so that a balancer
 * sees it down, rather than exit into the service manager's restart
 * limit: it then starts on its own (contract §9). 1 once the server
 * answers, 0 when SIGTERM or SIGINT came first. */
static int
cmd_serve_wait_store(const struct config *cfg, const sigset_t *set)
{
	const char *pw = (const char *)cfg->gateway.store_password.data;
	const struct timespec again = { 1, 0 };
	int sig;

	if (store_reachable(cfg->gateway.store, pw))
		return 1;
	log_warn("store: the server does not answer; waiting for it");
	notify_send("STATUS=waiting for the store's server");
	do {
		sig = sigtimedwait(set, NULL, &again);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal %d: stopping before serving", sig);
			notify_send("STOPPING=1");
			return 0;
		}
	} while (!store_reachable(cfg->gateway.store, pw));
	log_info("store: the server answers; starting");
	return 1;
}

/* libevent's own warnings (a failing accept() repeats on every loop turn)
 * go to our log, rate-limited. */
static void
cmd_serve_event_log(int severity, const char *msg)
{
	log_ratelimited(severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERROR :
	    severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG,
	    "libevent: %s", msg);
}

static int
cmd_serve_open_signer(struct gateway *gw, const struct config *cfg)
{
	const char *origin = cfg->gateway.audit.origin;
	char err[256];

	gw->signer = keys_load_private(&cfg->gateway.audit.signing_key, err,
	    sizeof(err));
	if (gw->signer == NULL || keys_public_raw(gw->signer,
	    gw->signer_pub) != 0) {
		log_error("audit signing key: %s", err);
		return -1;
	}
	snprintf(gw->signer_kid, sizeof(gw->signer_kid), "%08x",
	    keys_note_id(origin, gw->signer_pub));
	return 0;
}

/* Signals go to the main thread's sigwait only; set is filled for it. */
static void
cmd_serve_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past a file-size limit (ulimit -f) a write fails with EFBIG, which
	 * the store and the audit log handle like a full disk, instead of
	 * the signal killing the daemon in the middle of a write. */
	signal(SIGXFSZ, SIG_IGN);
}

/* The audit log on stores[0], the sequencer's store connection: the log
 * the nodes sharing that store keep together, which signs and reads
 * through two more connections of its own (stores[1], stores[2]), or
 * this node's directory, anchored in the store and indexing its entries
 * there. 0, or -1 logged. */
static int
cmd_serve_open_audit(struct gateway *gw, const struct config *cfg,
    struct store *stores[3])
{
	const char *pw = (const char *)cfg->gateway.store_password.data;
	char err[512];

	if (!store_audit_shared(stores[0])) {
		if ((gw->audit = audit_anchor_open(&cfg->gateway.audit,
		    stores[0], err, sizeof(err))) != NULL)
			access_index_start(gw->audit, stores[0]);
	} else if ((stores[1] = store_open(cfg->gateway.store, pw, err,
	    sizeof(err))) != NULL && (stores[2] = store_open(cfg->gateway.store,
	    pw, err, sizeof(err))) != NULL) {
		gw->audit = audit_open_shared(&cfg->gateway.audit, stores[0],
		    stores[1], stores[2], err, sizeof(err));
	}
	if (gw->audit == NULL) {
		log_error("audit log: %s", err);
		return -1;
	}
	return 0;
}

/* Binds the listeners as root, drops privileges, then opens what the
 * gateway keeps: the signing key, the audit log's store connections
 * (stores[0] to [2]) and the audit log. Everything opened after the
 * drop is opened as gateway.user, so its files stay usable by it. 0, or
 * -1 logged. */
static int
cmd_serve_open(struct gateway *gw, const struct config *cfg, int *fds,
    int *admin_fd, struct store *stores[3])
{
	char err[512];

	if (server_listen(cfg->gateway.listen, server_workers(cfg), fds, err,
	    sizeof(err)) != 0 ||
	    (cfg->gateway.admin_listen != NULL && server_listen(
	    cfg->gateway.admin_listen, 1, admin_fd, err, sizeof(err)) != 0)) {
		log_error("%s", err);
		return -1;
	}
	if (cfg->gateway.tls.client_ca.len > 0 &&
	    cfg->gateway.admin_listen == NULL)
		log_warn("mTLS is on and gateway.admin_listen is not set: "
		    "/healthz, /readyz and /metrics need a client certificate");
	if (cfg->gateway.user != NULL &&
	    privdrop_to(cfg->gateway.user, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	if (cmd_serve_open_signer(gw, cfg) != 0)
		return -1;
	stores[0] = store_open(cfg->gateway.store,
	    (const char *)cfg->gateway.store_password.data, err, sizeof(err));
	if (stores[0] == NULL) {
		log_error("%s", err);
		return -1;
	}
	if (cmd_serve_open_audit(gw, cfg, stores) != 0)
		return -1;
	/* The audit keys cannot change on reload (reload.c): this holds for
	 * the life of the process. */
	if ((gw->verifier_keys = audit_verifier_keys(gw->audit)) == NULL) {
		log_error("audit log: out of memory");
		return -1;
	}
	return 0;
}

/* Starts the HTTP workers on fds, one per worker (and admin_fd, or -1),
 * and the delivery worker; takes the fds and cfg (one reference each to
 * the server and the delivery worker), also on failure. The delivery
 * worker, or NULL logged with nothing left running. */
static struct delivery *
cmd_serve_start(struct gateway *gw, struct config *cfg, const int *fds,
    int admin_fd)
{
	struct delivery *dl;
	char err[512];

	if (server_start_on(gw, config_ref(cfg), fds, server_workers(cfg),
	    admin_fd, err, sizeof(err)) == NULL) {
		log_error("%s", err);
		config_free(cfg);
		return NULL;
	}
	if ((dl = delivery_start(gw, cfg, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		server_stop(gw->server);
	}
	return dl;
}

int
cmd_serve(int argc, char **argv)
{
	struct gateway gw = { 0 };
	struct store *stores[3] = { NULL, NULL, NULL };
	struct store_checkpointer *checkpointer = NULL;
	struct delivery *dl;
	struct config *cfg;
	sigset_t set;
	char err[256];
	int *fds = NULL, nfds = 0, admin_fd = -1, rc = CMD_FAIL;

	if ((gw.config_path = cmd_config_arg(argc, argv)) == NULL || argc != 2)
		return cmd_usage_error("serve", "needs -c FILE");
	if ((cfg = cmd_load_config(gw.config_path)) == NULL)
		return CMD_FAIL;
	metrics_config_loaded(0, 1);
	cmd_serve_log(cfg);
	if (fdlimit_check(cfg, fdlimit_raise(), err, sizeof(err)) != 0) {
		log_error("%s", err);
		config_free(cfg);
		return CMD_FAIL;
	}
	if (notify_init(err, sizeof(err)) != 0)
		log_warn("%s; not telling the service manager", err);
	cmd_serve_block_signals(&set);
	blockcache_install();
	evthread_use_pthreads();
	event_set_log_callback(cmd_serve_event_log);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (!cmd_serve_wait_store(cfg, &set)) {
		config_free(cfg);
		rc = CMD_OK;
		goto out;
	}
	if ((fds = malloc((size_t)server_workers(cfg) * sizeof(*fds))) == NULL) {
		log_error("out of memory");
		config_free(cfg);
		goto out;
	}
	for (nfds = 0; nfds < server_workers(cfg); nfds++)
		fds[nfds] = -1;
	if (cmd_serve_open(&gw, cfg, fds, &admin_fd, stores) != 0) {
		config_free(cfg);
		goto out;
	}
	if ((checkpointer = store_checkpointer_start(cfg->gateway.store,
	    (const char *)cfg->gateway.store_password.data, err,
	    sizeof(err))) == NULL) {
		log_error("%s", err);
		config_free(cfg);
		goto out;
	}
	dl = cmd_serve_start(&gw, cfg, fds, admin_fd);
	for (int i = 0; i < nfds; i++)
		fds[i] = -1;
	admin_fd = -1;
	if (dl == NULL)
		goto out;
	log_info("tellonce %s serving (pid %ld)", TELLONCE_VERSION, (long)getpid());
	if (notify_watchdog_start(cmd_serve_healthy, &gw, err, sizeof(err)) != 0)
		log_error("%s; the service manager's watchdog will fire", err);
	notify_send("READY=1\nSTATUS=serving on %s",
	    server_config(gw.server)->gateway.listen);
	cmd_serve_signals(&gw, dl, &set);
	notify_send("STOPPING=1\nSTATUS=draining requests and deliveries");
	notify_watchdog_stop();
	server_stop(gw.server);
	delivery_stop(dl);
	rc = CMD_OK;
out:
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	if (admin_fd >= 0)
		close(admin_fd);
	if (gw.audit != NULL)
		audit_close(gw.audit);
	store_checkpointer_stop(checkpointer);
	for (int i = 0; i < 3; i++)
		store_close(stores[i]);
	EVP_PKEY_free(gw.signer);
	free(gw.verifier_keys);
	curl_global_cleanup();
	if (rc == CMD_OK)
		log_info("stopped");
	return rc;
}
