/* fuzz_mapping.c — the mapping engine on arbitrary service JSON: whatever
 * maps into the dataset maps back out and in again to the same attributes,
 * and arbitrary attribute objects map out without crashing. */
#include <jansson.h>
#include <stdlib.h>

#include "fuzz.h"
#include "mapping.h"

static struct config *fuzz_cfg;

static void
fuzz_round_trip(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *raw)
{
	json_t *attrs = NULL, *out = NULL, *back = NULL;
	char err[256];

	if (mapping_to_dataset(conn, ds, raw, &attrs, err, sizeof(err)) != 0)
		return;
	if (mapping_from_dataset(conn, ds, attrs, &out, err, sizeof(err)) != 0)
		abort();        /* what came in must go out */
	if (mapping_to_dataset(conn, ds, out, &back, err, sizeof(err)) != 0 ||
	    !json_equal(attrs, back))
		abort();
	json_decref(attrs);
	json_decref(out);
	json_decref(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct config_service *svc;
	const struct config_dataset *ds;
	json_t *in, *out = NULL;
	char err[256];

	if (fuzz_cfg == NULL)
		fuzz_cfg = fuzz_config(fuzz_base_config);
	svc = config_find_service(fuzz_cfg, "mairie");
	ds = config_find_dataset(fuzz_cfg, "address");
	if ((in = json_loadb((const char *)data, size, JSON_DECODE_ANY,
	    NULL)) == NULL)
		return 0;
	fuzz_round_trip(svc->connector, ds, in);
	if (mapping_from_dataset(svc->connector, ds, in, &out, err,
	    sizeof(err)) == 0)
		json_decref(out);
	json_decref(in);
	return 0;
}
