/* test_subscription.c — who receives what: the subscription checks that
 * push, the delivery worker and the changes feed share, and the filter
 * that gives a subscriber only what its policies grant of a record, over
 * the contract §3 configuration and a real store. */
#include <stdlib.h>
#include <string.h>

#include "domain_config.h"
#include "registry.h"
#include "store.h"
#include "subscription.h"
#include "tmpdir.h"
#include "unit.h"

#define PURPOSE "benefit-eligibility"

static char dir[TMPDIR_PATH_LEN];
static struct store *st;

/* caf subscribes to address from mairie; a second dataset nobody
 * subscribes to. */
struct fixture {
	struct domain_config d;
	struct config_subscription caf_subs[1];
	struct config_dataset income;
};

static void
fixture_init(struct fixture *fx)
{
	domain_config_init(&fx->d);
	fx->caf_subs[0] = (struct config_subscription){
		.dataset = &fx->d.address,
		.from = &fx->d.services[SVC_MAIRIE],
	};
	fx->d.services[SVC_CAF].subscribes = fx->caf_subs;
	fx->d.services[SVC_CAF].nsubscribes = 1;
	fx->income = (struct config_dataset){ .name = "income" };
}

static void
test_subscribes(void)
{
	struct fixture fx;
	const struct config_service *caf, *mairie, *portal;

	fixture_init(&fx);
	caf = &fx.d.services[SVC_CAF];
	mairie = &fx.d.services[SVC_MAIRIE];
	portal = &fx.d.services[SVC_PORTAL];
	CHECK(subscription_subscribes(caf, &fx.d.address, mairie));
	CHECK(!subscription_subscribes(caf, &fx.d.address, portal));
	/* The changes feed asks without a provider. */
	CHECK(subscription_subscribes(caf, &fx.d.address, NULL));
	CHECK(!subscription_subscribes(caf, &fx.income, NULL));
	CHECK(!subscription_subscribes(caf, &fx.income, mairie));
	CHECK(!subscription_subscribes(mairie, &fx.d.address, NULL));
	CHECK(!subscription_subscribes(portal, &fx.d.address, mairie));
}

static void
test_can_push(void)
{
	const struct connector_ops *http = registry_find("http");
	struct connector_ops fetch_only;
	struct config_connector conn = { .type = "http" };
	struct config_service svc = { .id = "caf" };

	CHECK(http != NULL && http->push != NULL);
	if (http == NULL)
		return;
	/* No connector: the service only calls the gateway. */
	CHECK(!subscription_can_push(&svc));
	conn.ops = http;
	svc.connector = &conn;
	CHECK(subscription_can_push(&svc));
	/* A plugin may fetch and not push: its subscriber reads the feed. */
	fetch_only = *http;
	fetch_only.push = NULL;
	conn.ops = &fetch_only;
	CHECK(!subscription_can_push(&svc));
}

static void
test_is_provider(void)
{
	struct fixture fx;
	struct config *cfg = &fx.d.cfg;
	const struct config_service *caf, *mairie, *portal;

	fixture_init(&fx);
	caf = &fx.d.services[SVC_CAF];
	mairie = &fx.d.services[SVC_MAIRIE];
	portal = &fx.d.services[SVC_PORTAL];
	CHECK(subscription_is_provider(cfg, mairie, &fx.d.address));
	CHECK(!subscription_is_provider(cfg, mairie, &fx.income));
	CHECK(!subscription_is_provider(cfg, caf, &fx.d.address));
	CHECK(!subscription_is_provider(cfg, portal, &fx.d.address));
	/* A subscription alone names a provider, and so does a policy alone;
	 * with neither, mairie provides nothing. */
	cfg->npolicies = 0;
	CHECK(subscription_is_provider(cfg, mairie, &fx.d.address));
	fx.d.services[SVC_CAF].nsubscribes = 0;
	CHECK(!subscription_is_provider(cfg, mairie, &fx.d.address));
	cfg->npolicies = 2;
	CHECK(subscription_is_provider(cfg, mairie, &fx.d.address));
}

/* The filter's answer for caf, from mairie, on record (JSON text); *out
 * as text ("" when none). */
static enum policy_reason
filter(struct fixture *fx, int subscriber, const char *subject,
    const char *record, struct policy_decision *d, char **out)
{
	json_t *rec = json_loads(record, 0, NULL), *granted;
	enum policy_reason why;

	why = subscription_filter(st, &fx->d.cfg, &fx->d.services[subscriber],
	    &fx->d.services[SVC_MAIRIE], &fx->d.address, subject, rec, d,
	    &granted);
	*out = granted != NULL ? json_dumps(granted, JSON_COMPACT |
	    JSON_SORT_KEYS) : strdup("");
	json_decref(granted);
	json_decref(rec);
	return why;
}

static void
test_filter_public_task(void)
{
	struct fixture fx;
	struct policy_decision d;
	char subject[STORE_SUBJECT_LEN], *out;

	fixture_init(&fx);
	snprintf(subject, sizeof(subject), "%064d", 1);
	/* Without a consent the public task grants postal_code only. */
	CHECK_INT(filter(&fx, SVC_CAF, subject, "{\"street\":\"1 rue\","
	    "\"postal_code\":\"75001\",\"city\":\"Paris\",\"country\":\"FR\"}",
	    &d, &out), POLICY_ALLOW);
	CHECK_STR(out, "{\"postal_code\":\"75001\"}");
	CHECK_STR(d.policy ? d.policy->id : NULL, "caf-address-public-task");
	free(out);
	policy_decision_clear(&d);

	/* A record without the granted attribute (or with it null) gives
	 * nothing to send. */
	CHECK_INT(filter(&fx, SVC_CAF, subject, "{\"street\":\"1 rue\"}", &d,
	    &out), POLICY_ATTRIBUTE_NOT_PERMITTED);
	CHECK_STR(out, "");
	free(out);
	policy_decision_clear(&d);
	CHECK_INT(filter(&fx, SVC_CAF, subject, "{\"street\":\"1 rue\","
	    "\"postal_code\":null}", &d, &out), POLICY_ATTRIBUTE_NOT_PERMITTED);
	CHECK_STR(out, "");
	free(out);
	policy_decision_clear(&d);

	/* A service without a policy gets nothing, subscribed or not. */
	CHECK_INT(filter(&fx, SVC_PORTAL, subject, "{\"postal_code\":\"75001\"}",
	    &d, &out), POLICY_NO_POLICY);
	CHECK_STR(out, "");
	CHECK(d.policy == NULL);
	free(out);
	policy_decision_clear(&d);
}

static void
test_filter_consent_and_objection(void)
{
	static const char *const street_city[] = { "street", "city" };
	struct store_consent c = {
		.id = "filter-consent", .consumer = "caf", .provider = "mairie",
		.dataset = "address", .purpose = PURPOSE,
		.attributes = (char **)street_city, .nattributes = 2,
		.created_ms = 1,
	};
	struct store_objection o = {
		.id = "filter-objection", .dataset = "address",
		.purpose = PURPOSE, .consumer = "caf",
	};
	struct fixture fx;
	struct policy_decision d;
	char *out;

	fixture_init(&fx);
	/* The live consent grants two attributes, more than the public
	 * task's one: the consent policy decides, and names its consent. */
	snprintf(c.subject, sizeof(c.subject), "%064d", 2);
	CHECK_INT(store_consent_insert(st, &c), STORE_OK);
	CHECK_INT(filter(&fx, SVC_CAF, c.subject, "{\"street\":\"1 rue\","
	    "\"postal_code\":\"75001\",\"city\":\"Paris\"}", &d, &out),
	    POLICY_ALLOW);
	CHECK_STR(out, "{\"city\":\"Paris\",\"street\":\"1 rue\"}");
	CHECK_STR(d.policy ? d.policy->id : NULL, "caf-address");
	CHECK_STR(d.consent_id, "filter-consent");
	free(out);
	policy_decision_clear(&d);

	/* Revoked, and objected to the public task: nothing, and the
	 * objection is the reason (it got furthest). */
	CHECK_INT(store_consent_revoke(st, "filter-consent", 2), STORE_OK);
	snprintf(o.subject, sizeof(o.subject), "%s", c.subject);
	CHECK_INT(store_objection_insert(st, &o), STORE_OK);
	CHECK_INT(filter(&fx, SVC_CAF, c.subject, "{\"postal_code\":\"75001\"}",
	    &d, &out), POLICY_OBJECTION);
	CHECK_STR(out, "");
	CHECK_STR(d.policy ? d.policy->id : NULL, "caf-address-public-task");
	free(out);
	policy_decision_clear(&d);
}

int
main(void)
{
	char url[TMPDIR_PATH_LEN + 64], err[256];

	tmpdir_make(dir);
	tmpdir_store_url(dir, "subscription.db", url, sizeof(url));
	if ((st = store_open(url, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		tmpdir_remove(dir);
		return 1;
	}
	UNIT_RUN(test_subscribes);
	UNIT_RUN(test_can_push);
	UNIT_RUN(test_is_provider);
	UNIT_RUN(test_filter_public_task);
	UNIT_RUN(test_filter_consent_and_objection);
	store_close(st);
	tmpdir_remove(dir);
	return UNIT_END();
}
