/* domain_config.h — the configuration of contract §3 built by hand in C
 * (services caf, mairie, portal; dataset address; the caf-address consent
 * policy and the caf-address-public-task policy), so the policy and consent
 * tests do not depend on the YAML loader. Two spare policy slots let a test
 * add its own; it raises cfg.npolicies to use them. */
#ifndef TELLONCE_DOMAIN_CONFIG_H
#define TELLONCE_DOMAIN_CONFIG_H

#include <string.h>

#include "config_model.h"

enum { SVC_CAF, SVC_MAIRIE, SVC_PORTAL };
enum { ATTR_STREET, ATTR_POSTAL_CODE, ATTR_CITY, ATTR_COUNTRY };
enum { POL_CAF_ADDRESS, POL_CAF_PUBLIC_TASK, POL_SPARE1, POL_SPARE2 };

struct domain_config {
	struct config cfg;
	struct config_service services[3];
	struct config_dataset address;
	struct config_attribute attrs[4];
	struct config_policy policies[4];
	const struct config_attribute *consent_attrs[3];
	const struct config_attribute *public_task_attrs[1];
	const struct config_attribute *all_attrs[4];
};

/* Fills *d in place (it points into itself: do not copy it afterwards). */
static void
domain_config_init(struct domain_config *d)
{
	static char *const svc_ids[] = { "caf", "mairie", "portal" };
	static char *const attr_names[] = { "street", "postal_code", "city",
		"country" };

	memset(d, 0, sizeof(*d));
	for (int i = 0; i < 3; i++)
		d->services[i].id = d->services[i].name = svc_ids[i];
	d->services[SVC_PORTAL].roles = CONFIG_ROLE_TRANSPARENCY;
	for (int i = 0; i < 4; i++) {
		d->attrs[i].name = attr_names[i];
		d->attrs[i].type = CONFIG_ATTR_STRING;
		d->all_attrs[i] = &d->attrs[i];
	}
	d->address.name = "address";
	d->address.attributes = d->attrs;
	d->address.nattributes = 4;

	d->consent_attrs[0] = &d->attrs[ATTR_STREET];
	d->consent_attrs[1] = &d->attrs[ATTR_POSTAL_CODE];
	d->consent_attrs[2] = &d->attrs[ATTR_CITY];
	d->policies[POL_CAF_ADDRESS] = (struct config_policy){
		.id = "caf-address",
		.consumer = &d->services[SVC_CAF],
		.provider = &d->services[SVC_MAIRIE],
		.dataset = &d->address,
		.attributes = d->consent_attrs,
		.nattributes = 3,
		.purpose = "benefit-eligibility",
		.basis = CONFIG_BASIS_CONSENT,
	};
	d->public_task_attrs[0] = &d->attrs[ATTR_POSTAL_CODE];
	d->policies[POL_CAF_PUBLIC_TASK] = (struct config_policy){
		.id = "caf-address-public-task",
		.consumer = &d->services[SVC_CAF],
		.provider = &d->services[SVC_MAIRIE],
		.dataset = &d->address,
		.attributes = d->public_task_attrs,
		.nattributes = 1,
		.purpose = "benefit-eligibility",
		.basis = CONFIG_BASIS_PUBLIC_TASK,
		.legal_reference = "CRPA L114-8",
	};

	d->cfg.datasets = &d->address;
	d->cfg.ndatasets = 1;
	d->cfg.services = d->services;
	d->cfg.nservices = 3;
	d->cfg.policies = d->policies;
	d->cfg.npolicies = 2;
}

#endif
