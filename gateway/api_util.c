/* api_util.c — validation helpers shared by the handlers, so that every
 * endpoint refuses bad input with the same status and wording. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "encode.h"
#include "jsonutil.h"
#include "mandate.h"

static int
api_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
api_body_string(struct request *r, const char *key, int required,
    const char **out)
{
	json_t *v = json_object_get(r->body, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		request_reply_problem(r, 400, NULL, "\"%s\" is required", key);
		return -1;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		request_reply_problem(r, 400, NULL, "\"%s\" must be a non-empty string", key);
		return -1;
	}
	if (json_string_length(v) > API_LOCAL_ID_MAX * 4 ||
	    api_has_control(json_string_value(v))) {
		request_reply_problem(r, 400, NULL,
		    "\"%s\" is too long or holds control characters", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
api_body_attributes(struct request *r, const struct config_dataset *ds,
    const char ***items, size_t *n)
{
	json_t *v = json_object_get(r->body, "attributes");
	const char *why = NULL;

	*items = NULL;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (jsonutil_string_array(v, items, n) != 0) {
		request_reply_problem(r, 400, NULL,
		    "\"attributes\" must be an array of strings");
		return -1;
	}
	if (*n > ds->nattributes)
		why = "lists more names than the dataset has attributes";
	for (size_t i = 0; why == NULL && i < *n; i++) {
		if (strlen((*items)[i]) > API_LOCAL_ID_MAX ||
		    api_has_control((*items)[i]))
			why = "holds a name too long or with control characters";
		for (size_t j = 0; why == NULL && j < i; j++)
			if (strcmp((*items)[i], (*items)[j]) == 0)
				why = "names an attribute twice";
	}
	if (why == NULL)
		return 0;
	free(*items);
	*items = NULL;
	*n = 0;
	request_reply_problem(r, 400, NULL, "\"attributes\" %s", why);
	return -1;
}

int
api_subject(struct request *r, const char *local_id,
    char subject[STORE_SUBJECT_LEN], unsigned char *view_key)
{
	enum store_status st;

	if (strlen(local_id) > API_LOCAL_ID_MAX) {
		request_reply_problem(r, 400, NULL, "the local id is longer than %d bytes",
		    API_LOCAL_ID_MAX);
		return -1;
	}
	st = store_link_subject(r->store, r->caller->id, local_id, subject,
	    view_key);
	if (st == STORE_OK)
		return 0;
	if (st == STORE_NOT_FOUND) {
		request_reply_problem(r, 404, "subject_not_linked",
		    "this subject is not linked to your service");
		return -1;
	}
	request_reply_problem(r, 503, NULL, "the store is unavailable");
	return -1;
}

int
api_dataset(struct request *r, const char *name, const struct config_dataset **ds)
{
	*ds = config_find_dataset(r->cfg, name);
	if (*ds != NULL)
		return 0;
	request_reply_problem(r, 400, NULL, "\"dataset\" names no dataset of "
	    "this gateway");
	return -1;
}

int
api_service(struct request *r, const char *field, const char *name,
    const struct config_service **svc)
{
	*svc = config_find_service(r->cfg, name);
	if (*svc != NULL)
		return 0;
	request_reply_problem(r, 400, NULL, "\"%s\" names no service of this "
	    "gateway", field);
	return -1;
}

/* A query parameter as api_body_string checks a body member. */
static int
api_query_string(struct request *r, const char *key, int required,
    const char **out)
{
	*out = request_query(r, key);
	if (*out != NULL && **out == '\0')
		*out = NULL;
	if (*out == NULL) {
		if (!required)
			return 0;
		request_reply_problem(r, 400, NULL, "\"%s\" is required", key);
		return -1;
	}
	if (strlen(*out) > API_LOCAL_ID_MAX * 4 || api_has_control(*out)) {
		request_reply_problem(r, 400, NULL,
		    "\"%s\" is too long or holds control characters", key);
		return -1;
	}
	return 0;
}

int
api_act_parse(struct request *r, int helper_optional, struct api_act *act)
{
	int (*get)(struct request *, const char *, int, const char **) =
	    r->body != NULL ? api_body_string : api_query_string;

	memset(act, 0, sizeof(*act));
	if (get(r, "helper", !helper_optional, &act->helper) != 0 ||
	    get(r, "mandate", 0, &act->mandate) != 0)
		return -1;
	if (act->helper != NULL && strlen(act->helper) > MANDATE_HELPER_MAX) {
		request_reply_problem(r, 400, NULL, "\"helper\" is longer than %d "
		    "bytes: an opaque agent id, never a name", MANDATE_HELPER_MAX);
		return -1;
	}
	return 0;
}

int
api_act_decide(struct request *r, const struct api_act *act,
    const char *subject, unsigned action, const struct config_dataset *ds,
    enum policy_reason *reason, struct store_mandate *m)
{
	struct policy_act q = {
		.mediator = r->caller, .subject = subject,
		.mandate = act->mandate, .action = action, .dataset = ds,
		.now_ms = clock_now_ms(),
	};

	*reason = policy_mandate_decide(r->store, &q, m);
	if (*reason != POLICY_STORE_ERROR)
		return 0;
	request_reply_problem(r, 503, NULL, "the store is unavailable");
	return -1;
}

void
api_act_audit(struct request *r, const struct api_act *act,
    const struct store_mandate *m, struct audit_entry *e)
{
	e->mediator = r->caller->id;
	e->helper = act->helper;
	e->mandate = m->id[0] != '\0' ? m->id : NULL;
}

void
api_cursor_format(int64_t pos, char out[API_CURSOR_LEN])
{
	unsigned char raw[8];

	for (int i = 7; i >= 0; i--, pos >>= 8)
		raw[i] = (unsigned char)(pos & 0xff);
	encode_base64url(raw, sizeof(raw), out);
}

/* A decimal position of the integer cursors of version 0.1, which this
 * version still takes on the listings that had them. A cursor proper is
 * never all digits: positions stay below 2^56, so it starts with 'A'. */
static int
api_cursor_legacy(const char *text, int64_t *pos)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	*pos = strtoll(text, &end, 10);
	return *end != '\0' || errno == ERANGE ? -1 : 0;
}

int
api_query_cursor(struct request *r, const char *name, int legacy,
    int64_t *pos)
{
	const char *text = request_query(r, name);
	unsigned char raw[8];

	if (text == NULL)
		return 0;
	if (legacy && api_cursor_legacy(text, pos) == 0)
		return 1;
	if (decode_base64url(text, strlen(text), raw, sizeof(raw)) != 8 ||
	    raw[0] & 0x80) {
		request_reply_problem(r, 400, NULL, "\"%s\" is not a cursor "
		    "of this listing (use the \"next\" of the previous page)",
		    name);
		return -1;
	}
	*pos = 0;
	for (int i = 0; i < 8; i++)
		*pos = (*pos << 8) | raw[i];
	return 1;
}
