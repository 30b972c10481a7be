/* api_register.c — GET /v1/register (admin token): the record of
 * processing activities of the configuration served (register.h), as
 * `tellonce register --format json` prints it. */
#include "api.h"
#include "register.h"

void
api_register_get(struct request *r)
{
	json_t *reg = register_json(r->cfg);

	if (reg == NULL) {
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	request_reply_json(r, 200, reg);
}
