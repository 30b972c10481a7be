/* main.c — the tellonce command line: serve, check, keygen, audit verify,
 * connector test. Exit codes: 0 ok, 1 invalid input or failed check,
 * 2 usage error. */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "delivery.h"
#include "jsonutil.h"
#include "keys.h"
#include "log.h"
#include "mapping.h"
#include "privdrop.h"
#include "server.h"
#include "store.h"

#define EXIT_USAGE 2

static const char main_usage[] =
    "usage: tellonce <command> [options]\n"
    "\n"
    "  serve -c FILE                      run the gateway in the foreground\n"
    "  check -c FILE                      validate a configuration\n"
    "  keygen -o FILE                     write a new Ed25519 audit signing key\n"
    "  audit verify DIR [--key VKEY]      verify an audit log offline\n"
    "  connector test -c FILE SERVICE [--subject ID]\n"
    "                                     call one service's connector once\n"
    "  --help, --version\n"
    "\n"
    "Signals to serve: SIGHUP reloads the configuration (a bad one is refused\n"
    "and the old one keeps serving); SIGTERM or SIGINT drains and stops.\n"
    "Documentation: docs/ and README.md.\n";

static int
main_usage_error(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "tellonce: %s\n", msg);
	fputs(main_usage, stderr);
	return EXIT_USAGE;
}

/* Parses "-c FILE" (or --config FILE) from argv; NULL if absent. */
static const char *
main_config_arg(int argc, char **argv, int *consumed)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			*consumed = i;
			return argv[i + 1];
		}
	return NULL;
}

static struct config *
main_load(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_load(path, &errs);

	if (cfg == NULL)
		config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	return cfg;
}

/* ---- check ------------------------------------------------------------ */

static int
main_check(int argc, char **argv)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	const char *path;
	int at;

	if ((path = main_config_arg(argc, argv, &at)) == NULL || argc != 2)
		return main_usage_error("check needs -c FILE");
	cfg = config_load(path, &errs);
	if (cfg == NULL) {
		config_errors_print(&errs, stdout);
		config_errors_free(&errs);
		return 1;
	}
	config_errors_free(&errs);
	config_free(cfg);
	printf("%s: ok\n", path);
	return 0;
}

/* ---- serve ------------------------------------------------------------ */

static void
main_index_hook(const char *const *subjects, const uint64_t *indexes, size_t n,
    void *arg)
{
	if (store_access_put(arg, subjects, indexes, n) != STORE_OK)
		log_error("access index: entries %llu..%llu not indexed",
		    (unsigned long long)indexes[0],
		    (unsigned long long)indexes[n - 1]);
}

/* Indexes audit entries written after the last indexed one (a crash can
 * come between an entry's fsync and its index row). */
static int
main_catch_up_index(struct audit *a, struct store *st)
{
	uint64_t last, size = audit_size(a);
	uint64_t next = store_access_last(st, &last) == STORE_OK ? last + 1 : 0;
	size_t added = 0;

	for (; next < size; next++) {
		json_t *entry;
		char *text;
		size_t len;

		if (audit_read_entry(a, next, &text, &len) != 0)
			return -1;
		entry = json_loadb(text, len, 0, NULL);
		free(text);
		const char *subject = jsonutil_string(entry, "subject");

		if (subject != NULL) {
			if (store_access_put(st, &subject, &next, 1) != STORE_OK) {
				json_decref(entry);
				return -1;
			}
			added++;
		}
		json_decref(entry);
	}
	if (added > 0)
		log_info("access index: caught up %zu entries", added);
	return 0;
}

static int
main_secret_equal(const struct secret *a, const struct secret *b)
{
	return a->len == b->len && CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}

static int
main_string_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What a reload cannot change without a restart; NULL if nothing. TLS
 * certificates and keys can change: that is how they are renewed. */
static const char *
main_reload_blocker(const struct config *old, const struct config *new)
{
	const struct config_gateway *o = &old->gateway, *n = &new->gateway;

	if (!main_string_equal(o->user, n->user))
		return "gateway.user";
	if (strcmp(o->listen, n->listen) != 0)
		return "gateway.listen";
	if (o->workers != n->workers)
		return "gateway.workers";
	if (strcmp(o->store, n->store) != 0)
		return "gateway.store";
	if (!main_secret_equal(&o->pseudonym_key, &n->pseudonym_key))
		return "gateway.pseudonym_key";
	if (strcmp(o->audit.dir, n->audit.dir) != 0 ||
	    strcmp(o->audit.origin, n->audit.origin) != 0 ||
	    !main_secret_equal(&o->audit.signing_key, &n->audit.signing_key))
		return "gateway.audit";
	return NULL;
}

static void
main_reload(struct gateway *gw, struct delivery *dl)
{
	struct config *cfg = main_load(gw->config_path);
	const char *blocker;
	char err[512];

	if (cfg == NULL) {
		log_error("reload refused: %s is invalid; the old configuration "
		    "keeps serving", gw->config_path);
		return;
	}
	if ((blocker = main_reload_blocker(server_config(gw->server), cfg)) != NULL) {
		log_error("reload refused: %s changed, which needs a restart", blocker);
		config_free(cfg);
		return;
	}
	/* The server and the delivery worker share the one config, read
	 * once: after `gateway.user` drops root, key files cannot be read
	 * again. */
	if (server_swap_config(gw->server, config_ref(cfg), err,
	    sizeof(err)) != 0) {
		log_error("reload refused: %s; the old configuration keeps "
		    "serving", err);
		config_free(cfg);
		return;
	}
	delivery_swap_config(dl, cfg);
	struct audit_entry e = { .type = AUDIT_CONFIG_RELOAD, .decision = AUDIT_ALLOW };
	audit_append(gw->audit, &e, NULL);
	log_info("configuration reloaded from %s", gw->config_path);
}

/* Waits for signals on the main thread; the workers never see them. */
static void
main_signal_loop(struct gateway *gw, struct delivery *dl, const sigset_t *set)
{
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			main_reload(gw, dl);
			continue;
		}
		log_info("signal %d: draining and stopping", sig);
		return;
	}
}

static int
main_open_signer(struct gateway *gw, const struct config *cfg)
{
	unsigned char pub[32];
	char err[256];

	gw->signer = keys_load_private(&cfg->gateway.audit.signing_key, err,
	    sizeof(err));
	if (gw->signer == NULL || keys_public_raw(gw->signer, pub) != 0) {
		log_error("audit signing key: %s", err);
		return -1;
	}
	snprintf(gw->signer_kid, sizeof(gw->signer_kid), "%08x",
	    keys_note_id(cfg->gateway.audit.origin, pub));
	return 0;
}

static int
main_serve(int argc, char **argv)
{
	struct gateway gw = { 0 };
	struct store *index_store = NULL;
	struct delivery *dl = NULL;
	struct config *cfg;
	sigset_t set;
	char err[512];
	int at, level, fd = -1, rc = 1;

	if ((gw.config_path = main_config_arg(argc, argv, &at)) == NULL || argc != 2)
		return main_usage_error("serve needs -c FILE");
	if ((cfg = main_load(gw.config_path)) == NULL)
		return 1;
	if ((level = log_level_parse(cfg->gateway.log_level)) >= 0)
		log_set_level((enum log_level)level);

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* Bound as root (ports below 1024); everything opened from here on
	 * is opened as gateway.user, so its files stay usable by it. */
	if ((fd = server_listen(cfg->gateway.listen, err, sizeof(err))) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (cfg->gateway.user != NULL &&
	    privdrop_to(cfg->gateway.user, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (main_open_signer(&gw, cfg) != 0)
		goto out;
	index_store = store_open(cfg->gateway.store, err, sizeof(err));
	if (index_store == NULL) {
		log_error("store: %s", err);
		goto out;
	}
	gw.audit = audit_open(&cfg->gateway.audit, err, sizeof(err));
	if (gw.audit == NULL) {
		log_error("audit log: %s", err);
		goto out;
	}
	if (main_catch_up_index(gw.audit, index_store) != 0) {
		log_error("audit log: cannot rebuild the access index");
		goto out;
	}
	audit_set_index_hook(gw.audit, main_index_hook, index_store);
	if (server_start_on(&gw, config_ref(cfg), fd, err, sizeof(err)) == NULL) {
		fd = -1; /* server_start_on took it, and one config reference */
		log_error("%s", err);
		goto out;
	}
	fd = -1;
	dl = delivery_start(&gw, cfg, err, sizeof(err));
	cfg = NULL; /* delivery_start took the other reference */
	if (dl == NULL) {
		log_error("%s", err);
		server_stop(gw.server);
		goto out;
	}
	log_info("tellonce %s serving (pid %ld)", TELLONCE_VERSION, (long)getpid());
	main_signal_loop(&gw, dl, &set);
	server_stop(gw.server);
	delivery_stop(dl);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (gw.audit != NULL)
		audit_close(gw.audit);
	if (index_store != NULL)
		store_close(index_store);
	EVP_PKEY_free(gw.signer);
	config_free(cfg);
	curl_global_cleanup();
	if (rc == 0)
		log_info("stopped");
	return rc;
}

/* ---- connector test ----------------------------------------------------- */

struct main_probe {
	struct event_base *base;
	const struct config *cfg;
	const struct config_service *svc;
	int rc;
};

static void
main_probe_done(const struct connector_result *res, void *arg)
{
	static const char *const names[] = { "ok", "not_found", "retry", "timeout",
	    "conflict", "permanent" };
	struct main_probe *p = arg;
	json_t *raw;

	printf("status: %s", names[res->status]);
	if (res->http_status)
		printf(" (HTTP %d)", res->http_status);
	printf("\n");
	if (res->detail)
		printf("detail: %s\n", res->detail);
	p->rc = res->status == CONNECTOR_OK ? 0 : 1;
	if (res->body == NULL) {
		event_base_loopbreak(p->base);
		return;
	}
	printf("raw: %.*s\n", (int)res->body_len, res->body);
	raw = json_loadb(res->body, res->body_len, 0, NULL);
	for (size_t i = 0; raw != NULL && i < p->cfg->ndatasets; i++) {
		const struct config_dataset *ds = &p->cfg->datasets[i];
		json_t *mapped = NULL;
		char err[256], *text;

		if (mapping_to_dataset(p->svc->connector, ds, raw, &mapped, err,
		    sizeof(err)) != 0) {
			printf("mapped %s: error: %s\n", ds->name, err);
			p->rc = 1;
			continue;
		}
		if (json_object_size(mapped) > 0) {
			text = json_dumps(mapped, JSON_COMPACT | JSON_SORT_KEYS);
			printf("mapped %s: %s\n", ds->name, text);
			free(text);
		}
		json_decref(mapped);
	}
	json_decref(raw);
	event_base_loopbreak(p->base);
}

static int
main_connector_test(int argc, char **argv)
{
	struct connector_request req = { .request_id = "connector-test" };
	struct main_probe probe = { .rc = 1 };
	const struct connector_ops *ops;
	const char *path = NULL, *service = NULL;
	struct connector_env env;
	struct config *cfg;
	char err[256];
	void *inst = NULL;

	if (argc < 1 || strcmp(argv[0], "test") != 0)
		return main_usage_error("expected: connector test -c FILE SERVICE");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--subject") == 0 && i + 1 < argc)
			req.local_id = argv[++i];
		else if (argv[i][0] != '-' && service == NULL)
			service = argv[i];
		else
			return main_usage_error("unexpected argument to connector test");
	}
	if (path == NULL || service == NULL)
		return main_usage_error("connector test needs -c FILE and SERVICE");
	if ((cfg = main_load(path)) == NULL)
		return 1;
	probe.cfg = cfg;
	probe.svc = config_find_service(cfg, service);
	if (probe.svc == NULL || probe.svc->connector == NULL) {
		fprintf(stderr, "tellonce: service %s %s\n", service,
		    probe.svc ? "has no connector" : "is not in the configuration");
		config_free(cfg);
		return 1;
	}
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ops = probe.svc->connector->ops;
	probe.base = event_base_new();
	env.base = probe.base;
	env.service = service;
	env.log = log_printf;
	if (ops->init(&inst, probe.svc->connector->settings, &env, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "tellonce: %s: %s\n", service, err);
	} else if (req.local_id != NULL ? ops->fetch == NULL : ops->health == NULL) {
		fprintf(stderr, "tellonce: the %s connector cannot %s\n", ops->name,
		    req.local_id ? "fetch" : "check health");
	} else {
		req.dataset = cfg->ndatasets > 0 ? cfg->datasets[0].name : NULL;
		if (req.local_id != NULL)
			ops->fetch(inst, &req, main_probe_done, &probe);
		else
			ops->health(inst, main_probe_done, &probe);
		event_base_dispatch(probe.base);
	}
	if (inst != NULL)
		ops->destroy(inst);
	event_base_free(probe.base);
	config_free(cfg);
	curl_global_cleanup();
	return probe.rc;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return main_usage_error(NULL);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("tellonce %s\n", TELLONCE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return main_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "check") == 0)
		return main_check(argc - 2, argv + 2);
	if (strcmp(cmd, "keygen") == 0)
		return keys_keygen_main(argc - 2, argv + 2);
	if (strcmp(cmd, "audit") == 0 && argc >= 3 && strcmp(argv[2], "verify") == 0)
		return audit_verify_main(argc - 3, argv + 3);
	if (strcmp(cmd, "connector") == 0)
		return main_connector_test(argc - 2, argv + 2);
	return main_usage_error("unknown command");
}
