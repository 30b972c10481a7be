/* cmd_connector_test.c — `tellonce connector test -c FILE SERVICE
 * [--subject ID]`: calls one service's connector once, as the gateway
 * would (health, or a fetch for the subject's local id), and prints the
 * answer raw and mapped to each dataset. */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mapping.h"
#include "metrics.h"
#include "snapshot.h"

struct cmd_probe {
	struct event_base *base;
	const struct config *cfg;
	const struct config_service *svc;
	int rc;
};

static void
cmd_probe_done(const struct connector_result *res, void *arg)
{
	struct cmd_probe *p = arg;
	json_t *raw;

	printf("status: %s", metrics_connector_name(res->status));
	if (res->http_status)
		printf(" (HTTP %d)", res->http_status);
	printf("\n");
	if (res->detail)
		printf("detail: %s\n", res->detail);
	p->rc = res->status == CONNECTOR_OK ? CMD_OK : CMD_FAIL;
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
			p->rc = CMD_FAIL;
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

/* Calls the connector on its own loop until it answers. */
static void
cmd_probe_run(struct cmd_probe *probe, struct connector_request *req,
    struct config *cfg)
{
	const struct connector_ops *ops;
	struct snapshot *snap;
	char err[256];
	void *inst;

	probe->base = event_base_new();
	if ((snap = snapshot_new(config_ref(cfg), probe->base)) == NULL) {
		fprintf(stderr, "tellonce: out of memory\n");
		event_base_free(probe->base);
		return;
	}
	inst = snapshot_connector(snap, probe->svc, &ops, err, sizeof(err));
	if (inst == NULL) {
		fprintf(stderr, "tellonce: %s: %s\n", probe->svc->id, err);
	} else if (req->local_id != NULL ? ops->fetch == NULL :
	    ops->health == NULL) {
		fprintf(stderr, "tellonce: the %s connector cannot %s\n", ops->name,
		    req->local_id ? "fetch" : "check health");
	} else {
		req->dataset = cfg->ndatasets > 0 ? cfg->datasets[0].name : NULL;
		if (req->local_id != NULL)
			ops->fetch(inst, req, cmd_probe_done, probe);
		else
			ops->health(inst, cmd_probe_done, probe);
		event_base_dispatch(probe->base);
	}
	snapshot_release(snap);
	event_base_free(probe->base);
}

int
cmd_connector_test(int argc, char **argv)
{
	struct connector_request req = { .request_id = "connector-test" };
	struct cmd_probe probe = { .rc = CMD_FAIL };
	const char *path = NULL, *service = NULL;
	struct config *cfg;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--subject") == 0 && i + 1 < argc)
			req.local_id = argv[++i];
		else if (argv[i][0] != '-' && service == NULL)
			service = argv[i];
		else
			return cmd_usage_error("connector test",
			    "unexpected argument");
	}
	if (path == NULL || service == NULL)
		return cmd_usage_error("connector test", "needs -c FILE and SERVICE");
	if ((cfg = cmd_load_config(path)) == NULL)
		return CMD_FAIL;
	probe.cfg = cfg;
	probe.svc = config_find_service(cfg, service);
	if (probe.svc == NULL || probe.svc->connector == NULL) {
		fprintf(stderr, "tellonce: service %s %s\n", service,
		    probe.svc ? "has no connector" : "is not in the configuration");
		config_free(cfg);
		return CMD_FAIL;
	}
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cmd_probe_run(&probe, &req, cfg);
	config_free(cfg);
	curl_global_cleanup();
	return probe.rc;
}
