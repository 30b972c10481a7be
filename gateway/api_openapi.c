/* api_openapi.c — GET /openapi.yaml: the OpenAPI document of this build,
 * docs/openapi.yaml as it was when the binary was made, so partners get
 * the description of the gateway they actually call. */
#include "api.h"

void
api_openapi_get(struct request *r)
{
	request_reply_raw(r, 200, "application/yaml", api_openapi_yaml,
	    api_openapi_yaml_len, "no-cache");
}
