/* fuzz_mapping.c — the mapping engine on arbitrary service JSON, through
 * two connectors of fuzz_base_config: mairie's plain paths, and etat's
 * transforms (trim, upper, lower, date, concat, split, constant, default).
 * Whatever maps into the dataset maps back out and in again to the same
 * attributes (for etat, those whose transforms can be undone); arbitrary
 * attribute objects map out without crashing; and an error never quotes a
 * value of the input, only attribute names and paths. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mapping.h"

static struct config *fuzz_cfg;

/* etat's attributes whose entries cannot be written back (concat, split,
 * constant): they are read again from what the service kept. */
static const char *const fuzz_read_only[] = {
	"full_name", "last_name", "country", "city",
};

static int
fuzz_read_only_attr(const char *name)
{
	for (size_t i = 0; i < sizeof(fuzz_read_only) /
	    sizeof(fuzz_read_only[0]); i++)
		if (strcmp(name, fuzz_read_only[i]) == 0)
			return 1;
	return 0;
}

/* Every attribute that can be written back reads again as it was. */
static int
fuzz_same(const json_t *attrs, const json_t *back)
{
	const char *name;
	json_t *v;

	json_object_foreach((json_t *)attrs, name, v)
		if (!fuzz_read_only_attr(name) &&
		    !json_equal(v, json_object_get(back, name)))
			return 0;
	return 1;
}

static void
fuzz_round_trip(const struct config_connector *conn,
    const struct config_dataset *ds, const json_t *raw)
{
	json_t *attrs = NULL, *out = NULL, *back = NULL;
	char err[256];

	if (mapping_to_dataset(conn, ds, raw, &attrs, err, sizeof(err)) != 0) {
		fuzz_check_message(err);
		return;
	}
	if (mapping_from_dataset(conn, ds, attrs, &out, err, sizeof(err)) != 0)
		abort();        /* what came in must go out */
	if (mapping_to_dataset(conn, ds, out, &back, err, sizeof(err)) != 0 ||
	    !fuzz_same(attrs, back))
		abort();
	json_decref(attrs);
	json_decref(out);
	json_decref(back);
}

static void
fuzz_map(const char *service, const char *dataset, const json_t *in)
{
	const struct config_service *svc = config_find_service(fuzz_cfg,
	    service);
	const struct config_dataset *ds = config_find_dataset(fuzz_cfg, dataset);
	json_t *out = NULL;
	char err[256];

	fuzz_round_trip(svc->connector, ds, in);
	if (mapping_from_dataset(svc->connector, ds, in, &out, err,
	    sizeof(err)) == 0)
		json_decref(out);
	else
		fuzz_check_message(err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in;

	if (fuzz_cfg == NULL)
		fuzz_cfg = fuzz_config(fuzz_base_config);
	if ((in = json_loadb((const char *)data, size, JSON_DECODE_ANY,
	    NULL)) == NULL)
		return 0;
	fuzz_map("mairie", "address", in);
	fuzz_map("etat", "person", in);
	json_decref(in);
	return 0;
}
