/* register.c — the record of processing activities (see register.h).
 *
 * Rows are built once, as JSON; Markdown and CSV are renderings of it, so
 * the three formats and GET /v1/register can never say different things. */
#include "register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* The fields of a row, in the CNIL template's order: the JSON key (and
 * CSV header) and the title a reader sees. */
static const struct register_field {
	const char *key, *title;
} register_fields[] = {
	{ "activity", "Processing activity" },
	{ "kind", "Kind" },
	{ "controller", "Controller" },
	{ "controller_contact", "Controller contact" },
	{ "dpo", "Data protection officer" },
	{ "purpose", "Purpose" },
	{ "legal_basis", "Legal basis" },
	{ "legal_reference", "Legal reference" },
	{ "data_subjects", "Categories of data subjects" },
	{ "personal_data", "Categories of personal data" },
	{ "recipients", "Recipients" },
	{ "source", "Source" },
	{ "transfers_outside_eu", "Transfers outside the EU" },
	{ "retention", "Retention" },
	{ "security_measures", "Security measures" },
};

#define REGISTER_NFIELDS (sizeof(register_fields) / sizeof(register_fields[0]))

/* The EU and the rest of the EEA (ISO 3166-1 alpha-2): processing in
 * these is no transfer under GDPR chapter V. */
static const char register_eea[][3] = {
	"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR",
	"HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO",
	"SE", "SI", "SK", "IS", "LI", "NO",
};

int
register_format_parse(const char *name, enum register_format *format)
{
	static const struct { const char *name; enum register_format f; }
	    names[] = { { "md", REGISTER_MD }, { "json", REGISTER_JSON },
	    { "csv", REGISTER_CSV } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i].name, name) == 0) {
			*format = names[i].f;
			return 0;
		}
	}
	return -1;
}

static int
register_in_eea(const char *country)
{
	for (size_t i = 0; i < sizeof(register_eea) / sizeof(register_eea[0]); i++)
		if (strcmp(register_eea[i], country) == 0)
			return 1;
	return 0;
}

static const char *
register_basis_text(enum config_basis basis)
{
	switch (basis) {
	case CONFIG_BASIS_CONSENT:
		return "consent (GDPR art. 6(1)(a))";
	case CONFIG_BASIS_PUBLIC_TASK:
		return "public task (GDPR art. 6(1)(e))";
	case CONFIG_BASIS_LEGAL_OBLIGATION:
		return "legal obligation (GDPR art. 6(1)(c))";
	}
	return "unknown";
}

/* A consent needs no legal text of its own: it is given under art. 7. */
static const char *
register_reference(const struct config_policy *p)
{
	return p->legal_reference != NULL ? p->legal_reference :
	    "GDPR art. 7 (consent given through the gateway, with a signed "
	    "receipt)";
}

/* "30d", "12h", "90s": the largest unit that divides it. */
static void
register_duration(int64_t ms, char *out, size_t len)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(out, len, "%lld%s", (long long)(ms / units[i].ms),
			    units[i].unit);
			return;
		}
	}
	snprintf(out, len, "%lldms", (long long)ms);
}

/* Appends s to the array unless it is there already; arr may be NULL
 * (out of memory), and the row then fails to build. */
static void
register_add_unique(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return;
	json_array_append_new(arr, json_string(s));
}

static json_t *
register_contact(const char *service, const char *gateway)
{
	const char *c = service != NULL ? service : gateway;

	return c != NULL ? json_string(c) : json_null();
}

/* Where the data goes outside the EU/EEA: to the recipient, or through a
 * gateway that runs outside it. A service without `country` is where the
 * gateway is. */
static json_t *
register_transfers(const struct config *cfg, const struct config_service *to)
{
	const char *gw = cfg->gateway.contacts.country;
	const char *dest = to->contacts.country != NULL ? to->contacts.country : gw;
	char text[256];
	size_t used = 0;

	text[0] = '\0';
	if (gw != NULL && !register_in_eea(gw))
		used += (size_t)snprintf(text, sizeof(text), "%s (the gateway)", gw);
	if (dest != NULL && !register_in_eea(dest) && used < sizeof(text))
		snprintf(text + used, sizeof(text) - used, "%s%s (%s)",
		    used ? "; " : "", dest, to->name);
	return json_string(text[0] != '\0' ? text : "none");
}

static json_t *
register_security(const struct config *cfg, const struct config_service *to,
    int consent)
{
	const struct config_tls *tls = &cfg->gateway.tls;
	const struct store_scheme *scheme;
	json_t *m = json_array();

	json_array_append_new(m, json_string(!tls->enabled ? "plain HTTP at the "
	    "gateway: TLS must be terminated in front of it" :
	    tls->client_ca.len > 0 ? "mutual TLS (client certificates)" :
	    "TLS"));
	json_array_append_new(m, json_string(to->has_client_cert ?
	    "recipient authenticated by its client certificate" :
	    "recipient authenticated by its API key (only a hash kept)"));
	json_array_append_new(m, json_string("pseudonymised subjects (keyed "
	    "HMAC-SHA-256), no service sees another's local ids"));
	json_array_append_new(m, json_string("signed, tamper-evident audit log "
	    "(RFC 6962 Merkle tree, Ed25519 checkpoints) without personal values"));
	if (consent)
		json_array_append_new(m, json_string("consents with signed "
		    "receipts (JWS), revocable at once"));
	if (to->rate_limit.rate > 0)
		json_array_append_new(m, json_string("recipient rate limited"));
	if ((scheme = store_scheme_find(cfg->gateway.store)) != NULL)
		json_array_append_new(m, json_sprintf("stored records erased "
		    "after retention, %s", scheme->erasure));
	return m;
}

static json_t *
register_retention(const struct config_dataset *ds)
{
	char once[32], most[32], text[160];

	register_duration(ds->retention_ms, once, sizeof(once));
	register_duration(ds->retention_ms > INT64_MAX / 2 ? INT64_MAX :
	    2 * ds->retention_ms, most, sizeof(most));
	snprintf(text, sizeof(text), "pushed records: %s once delivered, %s at "
	    "most; fetched records are not kept", once, most);
	return json_string(text);
}

/* What a row says of its purpose and basis; stolen by register_row. */
struct register_grounds {
	json_t *purpose, *legal_basis, *legal_reference, *personal_data;
};

/* A row for consumer `to` of `ds` from `from`, its fields in the order
 * of register_fields. */
static json_t *
register_row(const struct config *cfg, const char *activity, const char *kind,
    const struct config_service *to, const struct config_service *from,
    const struct config_dataset *ds, struct register_grounds g, int consent)
{
	const struct config_contacts *gw = &cfg->gateway.contacts;

	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o, "
	    "s:s, s:s, s:o, s:o, s:o}",
	    "activity", activity, "kind", kind, "controller", to->name,
	    "controller_contact", register_contact(to->contacts.controller,
	    gw->controller), "dpo", register_contact(to->contacts.dpo, gw->dpo),
	    "purpose", g.purpose, "legal_basis", g.legal_basis,
	    "legal_reference", g.legal_reference, "data_subjects", ds->subjects,
	    "personal_data", g.personal_data, "recipients", to->name,
	    "source", from->name,
	    "transfers_outside_eu", register_transfers(cfg, to),
	    "retention", register_retention(ds),
	    "security_measures", register_security(cfg, to, consent));
}

static json_t *
register_policy_row(const struct config *cfg, const struct config_policy *p)
{
	struct register_grounds g = {
		.purpose = json_string(p->purpose),
		.legal_basis = json_string(register_basis_text(p->basis)),
		.legal_reference = json_string(register_reference(p)),
		.personal_data = json_array(),
	};

	for (size_t i = 0; i < p->nattributes; i++)
		json_array_append_new(g.personal_data,
		    json_string(p->attributes[i]->name));
	return register_row(cfg, p->id, "policy", p->consumer, p->provider,
	    p->dataset, g, p->basis == CONFIG_BASIS_CONSENT);
}

/* A subscription receives what the policies covering it allow, for their
 * purposes and on their bases; their lists are joined. */
static json_t *
register_subscription_row(const struct config *cfg,
    const struct config_service *svc, const struct config_subscription *sub)
{
	struct register_grounds g = { json_array(), json_array(), json_array(),
	    json_array() };
	char activity[512];
	int consent = 0;

	for (size_t i = 0; i < cfg->npolicies; i++) {
		const struct config_policy *p = &cfg->policies[i];

		if (p->consumer != svc || p->provider != sub->from ||
		    p->dataset != sub->dataset)
			continue;
		consent |= p->basis == CONFIG_BASIS_CONSENT;
		register_add_unique(g.purpose, p->purpose);
		register_add_unique(g.legal_basis, register_basis_text(p->basis));
		register_add_unique(g.legal_reference, register_reference(p));
		for (size_t j = 0; j < p->nattributes; j++)
			register_add_unique(g.personal_data,
			    p->attributes[j]->name);
	}
	snprintf(activity, sizeof(activity), "%s receives %s from %s", svc->id,
	    sub->dataset->name, sub->from->id);
	return register_row(cfg, activity, "subscription", svc, sub->from,
	    sub->dataset, g, consent);
}

static size_t
register_subscriptions(const struct config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nservices; i++)
		n += cfg->services[i].nsubscribes;
	return n;
}

json_t *
register_json(const struct config *cfg)
{
	json_t *rows = json_array();

	for (size_t i = 0; i < cfg->npolicies; i++)
		json_array_append_new(rows, register_policy_row(cfg,
		    &cfg->policies[i]));
	for (size_t i = 0; i < cfg->nservices; i++)
		for (size_t j = 0; j < cfg->services[i].nsubscribes; j++)
			json_array_append_new(rows, register_subscription_row(cfg,
			    &cfg->services[i], &cfg->services[i].subscribes[j]));
	/* A row that could not be built (out of memory) is missing. */
	if (rows == NULL || json_array_size(rows) != cfg->npolicies +
	    register_subscriptions(cfg)) {
		json_decref(rows);
		return NULL;
	}
	return json_pack("{s:o}", "rows", rows);
}

/* ---- text renderings ---------------------------------------------------- */

/* A field as one line of text: lists joined with "; ", null as empty. */
static void
register_cell(FILE *out, const json_t *v, void (*put)(FILE *, const char *))
{
	size_t i;
	json_t *item;

	if (json_is_string(v)) {
		put(out, json_string_value(v));
		return;
	}
	json_array_foreach(v, i, item) {
		if (i > 0)
			put(out, "; ");
		put(out, json_string_value(item));
	}
}

/* RFC 4180: inside a quoted field a quote is doubled. */
static void
register_put_csv(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
}

/* Inside a Markdown table cell a pipe would end the cell. */
static void
register_put_md(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s == '\n' ? ' ' : *s, out);
	}
}

static void
register_csv(FILE *out, const json_t *rows)
{
	size_t i;
	json_t *row;

	for (size_t f = 0; f < REGISTER_NFIELDS; f++)
		fprintf(out, "%s%s", f ? "," : "", register_fields[f].key);
	fputs("\r\n", out);
	json_array_foreach(rows, i, row) {
		for (size_t f = 0; f < REGISTER_NFIELDS; f++) {
			fputs(f ? ",\"" : "\"", out);
			register_cell(out, json_object_get(row,
			    register_fields[f].key), register_put_csv);
			fputc('"', out);
		}
		fputs("\r\n", out);
	}
}

/* One table per row: fifteen columns side by side would be unreadable. */
static void
register_md(FILE *out, const json_t *rows)
{
	size_t i;
	json_t *row;

	fputs("# Record of processing activities\n\nGDPR art. 30, generated "
	    "by `tellonce register` from the configuration.\n", out);
	json_array_foreach(rows, i, row) {
		fprintf(out, "\n## %s\n\n| Field | Value |\n| --- | --- |\n",
		    json_string_value(json_object_get(row, "activity")));
		for (size_t f = 1; f < REGISTER_NFIELDS; f++) {
			const json_t *v = json_object_get(row,
			    register_fields[f].key);

			fprintf(out, "| %s | ", register_fields[f].title);
			if (json_is_null(v))
				fputs("(not set)", out);
			else
				register_cell(out, v, register_put_md);
			fputs(" |\n", out);
		}
	}
}

char *
register_render(const struct config *cfg, enum register_format format)
{
	json_t *reg = register_json(cfg);
	char *text = NULL;
	size_t len;
	FILE *out;

	if (reg == NULL)
		return NULL;
	if (format == REGISTER_JSON) {
		text = json_dumps(reg, JSON_INDENT(2));
		json_decref(reg);
		return text;
	}
	if ((out = open_memstream(&text, &len)) == NULL) {
		json_decref(reg);
		return NULL;
	}
	if (format == REGISTER_CSV)
		register_csv(out, json_object_get(reg, "rows"));
	else
		register_md(out, json_object_get(reg, "rows"));
	json_decref(reg);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
