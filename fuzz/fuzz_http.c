/* fuzz_http.c — a provider's answer as the gateway reads it: the http
 * connector's reading of a status code and body (http_read_answer, the part
 * of a finished transfer that is not libcurl's), then, for a fetch that
 * succeeded, the core's reading of the body into the dataset through each
 * provider's map (mairie's paths, etat's transforms), as api_fetch.c does.
 * The first two bytes are the status code (mod 1000), the third says fetch
 * (even) or push (odd), the rest is the body.
 *
 * Oracles: a 2xx fetch is accepted exactly when its body is a JSON object,
 * any other status never is; the core's reader (jsonload_object) builds
 * json_loadb's tree; the detail never holds the body; an answer
 * that does not fit the dataset is refused with an error that quotes no
 * value of it (answers carry personal data). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http.h"
#include "jsonload.h"
#include "mapping.h"

static struct config *fuzz_cfg;

static void
fuzz_read_record(const char *service, const char *dataset, const json_t *raw)
{
	const struct config_service *svc = config_find_service(fuzz_cfg,
	    service);
	const struct config_dataset *ds = config_find_dataset(fuzz_cfg, dataset);
	json_t *mapped = NULL, *v;
	const char *name;
	char err[256];

	if (mapping_to_dataset(svc->connector, ds, raw, &mapped, err,
	    sizeof(err)) != 0) {
		fuzz_check_message(err);
		return;
	}
	json_object_foreach(mapped, name, v)
		if (!mapping_type_ok(config_find_attribute(ds, name)->type, v))
			abort();        /* a value of the wrong type got through */
	json_decref(mapped);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connector_result res = { 0 };
	const char *body = (const char *)data + 3;
	char detail[128];
	json_t *raw, *fast;
	long code;
	int fetch, object;

	if (fuzz_cfg == NULL)
		fuzz_cfg = fuzz_config(fuzz_base_config);
	if (size < 3)
		return 0;
	code = (data[0] << 8 | data[1]) % 1000;
	fetch = data[2] % 2 == 0;
	size -= 3;
	http_read_answer(code, body, size, fetch, &res, detail, sizeof(detail));
	raw = json_loadb(body, size, 0, NULL);
	object = json_is_object(raw);
	/* The core reads the answer with jsonload_object: jansson's tree. */
	fast = jsonload_object(body, size, 0, NULL);
	if ((fast == NULL) != (raw == NULL) || (fast != NULL &&
	    !json_equal(fast, raw)))
		abort();
	json_decref(fast);
	if ((res.status == CONNECTOR_OK) != (code >= 200 && code <= 299 &&
	    (!fetch || object)))
		abort();
	if (res.status != CONNECTOR_OK && (res.detail == NULL ||
	    (size >= 6 && memmem(res.detail, strlen(res.detail), body,
	    size) != NULL)))
		abort();        /* no reason, or the body in the reason */
	if (res.status == CONNECTOR_OK && fetch) {
		fuzz_read_record("mairie", "address", raw);
		fuzz_read_record("etat", "person", raw);
	}
	json_decref(raw);
	return 0;
}
