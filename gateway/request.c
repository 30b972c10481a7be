/* request.c — request intake, routing, authentication, replies and the
 * audit hand-off (see request.h).
 *
 * Intake runs in a fixed order, each step replying itself when it refuses:
 * TLS only when configured, query string, route (404/405), credentials
 * (401), rate limit (429), JSON body (400/413). Only then does the handler
 * run, so a handler sees an authenticated caller and a parsed body. */
#include "request.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http_struct.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "audit.h"
#include "clock.h"
#include "config_model.h"
#include "conn.h"
#include "encode.h"
#include "gateway.h"
#include "jsonload.h"
#include "log.h"
#include "metrics.h"
#include "rand.h"
#include "ratelimit.h"
#include "snapshot.h"
#include "tls.h"

/* ---- replies ---------------------------------------------------------- */

static const char *
request_status_title(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* A block of request_alloc's that did not fit the arena. */
struct request_spill {
	struct request_spill *next;
	max_align_t data[];
};

static void
request_free(struct request *r)
{
	struct request_spill *s;

	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	free(r->param);
	snapshot_release(r->snap);
	TAILQ_REMOVE(&r->worker->requests, r, link);
	r->worker->inflight--;
	while ((s = r->spill) != NULL) {
		r->spill = s->next;
		free(s);
	}
	free(r);
}

void *
request_alloc(struct request *r, size_t n)
{
	size_t aligned = (n + sizeof(max_align_t) - 1) &
	    ~(sizeof(max_align_t) - 1);
	struct request_spill *s;
	void *p;

	if (aligned >= n && aligned <= sizeof(r->arena) - r->arena_used) {
		p = (unsigned char *)r->arena + r->arena_used;
		r->arena_used += aligned;
		return memset(p, 0, n);
	}
	if (n > SIZE_MAX - sizeof(*s) || (s = calloc(1, sizeof(*s) + n)) == NULL)
		return NULL;
	s->next = r->spill;
	r->spill = s;
	return s->data;
}

static const char *
request_cmd_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	default:
		return "other";
	}
}

/* The method, for debug lines; the route pattern goes with it, never the
 * raw path, which may hold ids. */
static const char *
request_method_name(const struct request *r)
{
	return request_cmd_name(evhttp_request_get_command(r->req));
}

void
request_log_enter(struct request *r, struct log_context *prev)
{
	struct log_context ctx;

	/* Copied whole, NUL included: a fetch enters its context eight
	 * times, and two snprintf's each cost more than the rest. */
	_Static_assert(sizeof(r->id) <= sizeof(ctx.request_id) &&
	    sizeof(r->trace.trace_id) <= sizeof(ctx.trace_id),
	    "the ids fit the log context");
	memcpy(ctx.request_id, r->id, sizeof(r->id));
	memcpy(ctx.trace_id, r->trace.trace_id, sizeof(r->trace.trace_id));
	log_context_set(&ctx, prev);
}

/* The Date header of a reply sent now: what evhttp would add itself, made
 * once a second per thread instead of once a reply (gmtime_r and a printf,
 * some 3,400 instructions of a fetch's 250,000). */
static const char *
request_date(void)
{
	static _Thread_local struct {
		time_t second;
		char text[32];
	} date;
	time_t now = time(NULL);

	if (now != date.second || date.text[0] == '\0') {
		struct tm tm;

		gmtime_r(&now, &tm);
		evutil_date_rfc1123(date.text, sizeof(date.text), &tm);
		date.second = now;
	}
	return date.text;
}

/* Sends the one reply, body len bytes at data, unless
 * request_worker_abandon sent it already. The body goes straight into the
 * request's output buffer, which evhttp sends and frees. */
static void
request_send(struct request *r, int status, const void *data, size_t len)
{
	const char *route = r->path ? r->path : "unrouted";
	int64_t took_us = clock_mono_us() - r->started_us;
	struct log_context prev;

	if (r->req != NULL) {
		request_log_enter(r, &prev);
		/* At info, as a web server's access log: the trace id of
		 * every request is in the log at the default level. */
		log_info("request %s trace %s: %s %s answered %d in %lld ms",
		    r->id, r->trace.trace_id, request_method_name(r), route,
		    status, (long long)(took_us / 1000));
		log_context_set(&prev, NULL);
		conn_request_answered(r->worker->conns, r->req,
		    &r->cfg->gateway.limits);
		/* evhttp would send a body after HEAD's headers, where the
		 * client reads the next answer (RFC 9110 9.3.2). */
		if (len > 0 && evhttp_request_get_command(r->req) !=
		    EVHTTP_REQ_HEAD)
			evbuffer_add(evhttp_request_get_output_buffer(r->req),
			    data, len);
		request_add_header(r, "Date", request_date());
		evhttp_send_reply(r->req, status, request_status_title(status),
		    NULL);
		metrics_http(route, status, took_us);
		r->req = NULL;   /* evhttp frees it once sent */
	}
	if (!r->held)
		request_free(r);
}

void
request_log(struct request *r, enum log_level level, const char *fmt, ...)
{
	struct log_context prev;
	char msg[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	request_log_enter(r, &prev);
	log_msg(level, "request %s trace %s: %s", r->id, r->trace.trace_id, msg);
	log_context_set(&prev, NULL);
}

void
request_add_header(struct request *r, const char *name, const char *value)
{
	if (r->req != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    name, value);
}

void
request_worker_abandon(struct request_worker *w)
{
	struct request *r;

	TAILQ_FOREACH(r, &w->requests, link) {
		if (r->req == NULL)
			continue;
		r->held = 1;
		request_add_header(r, "Connection", "close");
		request_reply_problem(r, 503, NULL, "the gateway is stopping; "
		    "this request did not finish in time");
		r->held = 0;
	}
}

void
request_reply_raw(struct request *r, int status, const char *content_type,
    const void *data, size_t len, const char *cache_control)
{
	if (content_type != NULL)
		request_add_header(r, "Content-Type", content_type);
	if (cache_control != NULL)
		request_add_header(r, "Cache-Control", cache_control);
	request_send(r, status, data, len);
}

/* Most replies fit: dumped there, no allocation. */
#define REQUEST_REPLY_STACK 2048

void
request_reply_json(struct request *r, int status, json_t *body)
{
	char stack[REQUEST_REPLY_STACK], *text = stack;
	size_t len = json_dumpb(body, stack, sizeof(stack), JSON_COMPACT);

	if (len > sizeof(stack) && (text = malloc(len)) != NULL &&
	    json_dumpb(body, text, len, JSON_COMPACT) != len) {
		free(text);
		text = NULL;
	}
	json_decref(body);
	if (len == 0 || text == NULL) {
		request_reply_problem(r, 500, NULL, "response could not be encoded");
		return;
	}
	request_reply_json_text(r, status, text, len);
	if (text != stack)
		free(text);
}

void
request_reply_json_text(struct request *r, int status, const char *text,
    size_t len)
{
	request_add_header(r, "Cache-Control", "no-store");
	request_reply_raw(r, status, "application/json", text, len, NULL);
}

/* The problem document (RFC 9457) of a request id's answer, reason NULL
 * for none; malloc'd text, or NULL when out of memory. */
static char *
request_problem_text(const char *type, int status, const char *detail,
    const char *reason, const char *id)
{
	json_t *p;
	char *text;

	p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type,
	    "title", request_status_title(status), "status", status,
	    "detail", detail, "request_id", id);
	if (p != NULL && reason != NULL)
		json_object_set_new(p, "reason", json_string(reason));
	text = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	return text;
}

void
request_reply_problem(struct request *r, int status, const char *reason,
    const char *detail_fmt, ...)
{
	char detail[512], type[CONFIG_PROBLEM_BASE_MAX + 64] = "about:blank";
	const char *base = r->cfg->gateway.problem_base;
	char *text;
	va_list ap;

	va_start(ap, detail_fmt);
	vsnprintf(detail, sizeof(detail), detail_fmt, ap);
	va_end(ap);
	/* A problem without a reason is its status alone: about:blank
	 * (RFC 9457 section 4.2.1). */
	if (reason != NULL && base != NULL)
		snprintf(type, sizeof(type), "%s%s", base, reason);
	text = request_problem_text(type, status, detail, reason, r->id);
	if (status == 401)
		request_add_header(r, "WWW-Authenticate", "Bearer realm=\"tellonce\"");
	request_add_header(r, "Cache-Control", "no-store");
	request_reply_raw(r, status, "application/problem+json", text,
	    text ? strlen(text) : 0, NULL);
	free(text);
}

void
request_reply_empty(struct request *r, int status)
{
	request_send(r, status, NULL, 0);
}

const char *
request_query(struct request *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

/* ---- audit ------------------------------------------------------------ */

struct request_audit_ctx {
	struct request *r;
	request_audited_fn then;
	void *arg;
	void (*release)(void *);    /* frees arg when then does not run, or NULL */
};

static void
request_audit_done(int status, uint64_t index, void *arg)
{
	struct request_audit_ctx *ctx = arg;
	struct request *r = ctx->r;
	request_audited_fn then = ctx->then;
	void *then_arg = ctx->arg;
	void (*release)(void *) = ctx->release;
	struct log_context prev;

	request_log_enter(r, &prev);
	if (status != 0) {
		log_ratelimited(LOG_LEVEL_ERROR, "request %s trace %s: audit "
		    "append failed; reply withheld", r->id, r->trace.trace_id);
		/* Released first: then_arg may live in r's arena, which the
		 * reply frees. */
		if (release != NULL)
			release(then_arg);
		request_reply_problem(r, 503, NULL, "the audit log is unavailable");
	} else {
		then(r, index, then_arg);
	}
	log_context_set(&prev, NULL);
}

/* A purpose that some policy has, or NULL: any other is a caller's free
 * text (a case number, a name), which a public entry must not carry
 * (contract §5). */
static const char *
request_known_purpose(const struct config *cfg, const char *purpose)
{
	if (purpose == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->npolicies; i++)
		if (strcmp(cfg->policies[i].purpose, purpose) == 0)
			return purpose;
	return NULL;
}

static int
request_known_attribute(const struct config_dataset *ds, const char *name)
{
	return ds != NULL && name != NULL &&
	    config_find_attribute(ds, name) != NULL;
}

/* Leaves out of e the attribute names its dataset does not have, for the
 * same reason; the names kept are in r's arena when some go. 0, or -1 when
 * out of memory. */
static int
request_known_attributes(struct request *r, struct audit_entry *e)
{
	const struct config_dataset *ds = e->dataset != NULL ?
	    config_find_dataset(r->cfg, e->dataset) : NULL;
	const char **kept;
	size_t i, n = 0;

	for (i = 0; i < e->nattributes; i++)
		if (!request_known_attribute(ds, e->attributes[i]))
			break;
	if (i == e->nattributes)
		return 0;
	if ((kept = request_alloc(r, e->nattributes * sizeof(*kept))) == NULL)
		return -1;
	for (i = 0; i < e->nattributes; i++)
		if (request_known_attribute(ds, e->attributes[i]))
			kept[n++] = e->attributes[i];
	e->attributes = kept;
	e->nattributes = n;
	return 0;
}

void
request_audit(struct request *r, const struct audit_entry *e,
    request_audited_fn then, void *arg)
{
	request_audit_owned(r, e, then, arg, NULL);
}

void
request_audit_owned(struct request *r, const struct audit_entry *e,
    request_audited_fn then, void *arg, void (*release)(void *))
{
	struct request_audit_ctx *ctx = request_alloc(r, sizeof(*ctx));
	struct audit_entry entry = *e;

	entry.purpose = request_known_purpose(r->cfg, e->purpose);
	if (ctx == NULL || request_known_attributes(r, &entry) != 0) {
		if (release != NULL)
			release(arg);
		request_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	ctx->r = r;
	ctx->then = then;
	ctx->arg = arg;
	ctx->release = release;
	if (entry.request_id == NULL)
		entry.request_id = r->id;
	audit_append_async(r->gw->audit, &entry, r->base, request_audit_done, ctx);
}

/* ---- request intake --------------------------------------------------- */

/* A UUID's 16 bytes as its 36 characters and a NUL. */
static void
request_uuid_text(const unsigned char raw[16], char out[37])
{
	static const size_t group[] = { 4, 2, 2, 2, 6 };

	for (size_t g = 0, in = 0; g < sizeof(group) / sizeof(group[0]); g++) {
		encode_hex(raw + in, group[g], out);
		in += group[g];
		out += 2 * group[g];
		*out++ = g + 1 < sizeof(group) / sizeof(group[0]) ? '-' : '\0';
	}
}

/* Always an id of the gateway's own, whatever the caller sends: it goes
 * into the public audit entry, where an id a service chose (one per
 * citizen's case, say) would link that citizen's entries (contract §5).
 * Traces join up through traceparent instead. */
static void
request_new_id(char id[REQUEST_ID_LEN])
{
	unsigned char raw[16];

	rand_id_bytes(raw, sizeof(raw));
	raw[6] = (raw[6] & 0x0f) | 0x40;
	raw[8] = (raw[8] & 0x3f) | 0x80;
	request_uuid_text(raw, id);
}

static void
request_set_id(struct request *r)
{
	request_new_id(r->id);
	request_add_header(r, "X-Request-Id", r->id);
}

/* Joins the caller's W3C trace, or starts one (trace.h). */
static void
request_set_trace(struct request *r)
{
	trace_continue(&r->trace, evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "traceparent"));
}

static const char *
request_bearer(struct request *r)
{
	const char *h = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

/* Whether token is the admin token s (hashes compared, so the time
 * taken does not depend on where they differ); 0 when s is not set. */
static int
request_token_is(const struct secret *s, const unsigned char got[32])
{
	unsigned char want[SHA256_DIGEST_LENGTH];

	if (s->data == NULL)
		return 0;
	SHA256(s->data, s->len, want);
	return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

/* The admin token, or the previous one during a rotation: both are
 * compared every time, so the time taken does not tell which matched. */
static int
request_is_admin(const struct config *cfg, const char *token)
{
	unsigned char got[SHA256_DIGEST_LENGTH];
	int current, previous;

	SHA256((const unsigned char *)token, strlen(token), got);
	current = request_token_is(&cfg->gateway.admin_token, got);
	previous = request_token_is(&cfg->gateway.previous_admin_token, got);
	return current || previous;
}

static struct bufferevent *
request_bufferevent(struct request *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);

	return evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
}

/* The service the credentials name: an API key, a client certificate
 * (mTLS), or both. A service configured with both must present both, and
 * a key and a certificate of two different services name nobody. */
static const struct config_service *
request_service(struct request *r, const char *token)
{
	unsigned char hash[TLS_CERT_SHA256_LEN];
	const struct config_service *by_key = NULL, *by_cert = NULL, *svc;
	int has_cert = tls_peer_sha256(request_bufferevent(r), hash) == 0;

	if (token != NULL)
		by_key = config_find_service_by_key(r->cfg, token, strlen(token));
	if (has_cert)
		by_cert = config_find_service_by_cert(r->cfg, hash);
	if (token != NULL && by_key == NULL)
		return NULL;
	svc = by_key != NULL ? by_key : by_cert;
	if (svc == NULL || (by_cert != NULL && by_cert != svc))
		return NULL;
	if ((svc->has_api_key && by_key != svc) ||
	    (svc->has_client_cert && by_cert != svc))
		return NULL;
	return svc;
}

/* Returns 0 when the caller may go on; otherwise has replied 401. */
static int
request_authenticate(struct request *r, enum request_auth auth)
{
	const char *token;

	if (auth == REQUEST_AUDIT_READER)
		auth = r->cfg->gateway.audit.public ? REQUEST_ANYONE : REQUEST_ADMIN;
	if (auth == REQUEST_ANYONE)
		return 0;
	token = request_bearer(r);
	if (token != NULL && auth != REQUEST_SERVICE &&
	    request_is_admin(r->cfg, token)) {
		r->admin = 1;
		return 0;
	}
	if (auth != REQUEST_ADMIN)
		r->caller = request_service(r, token);
	if (r->caller != NULL)
		return 0;
	request_reply_problem(r, 401, NULL, token == NULL &&
	    !tls_is_tls(request_bufferevent(r)) ?
	    "missing Authorization: Bearer credentials" :
	    "the credentials are not valid");
	return -1;
}

/* Takes a token from the caller's bucket and says so in RateLimit-*
 * headers (as API Particulier does). Returns 0, or -1 after replying 429. */
static int
request_rate_limit(struct request *r)
{
	const struct config_rate_limit *rl = &r->caller->rate_limit;
	struct ratelimit_verdict v;
	char text[32];

	if (rl->rate <= 0)
		return 0;
	ratelimit_take(r->worker->ratelimit, r->caller->id, rl->rate,
	    rl->burst, clock_mono_ms(), &v);
	snprintf(text, sizeof(text), "%ld", v.limit);
	request_add_header(r, "RateLimit-Limit", text);
	snprintf(text, sizeof(text), "%ld", v.remaining);
	request_add_header(r, "RateLimit-Remaining", text);
	snprintf(text, sizeof(text), "%ld", v.reset_s);
	request_add_header(r, "RateLimit-Reset", text);
	if (v.allowed)
		return 0;
	snprintf(text, sizeof(text), "%ld", v.retry_after_s);
	request_add_header(r, "Retry-After", text);
	request_reply_problem(r, 429, "rate_limited", "service %s is over its "
	    "rate limit; retry in %ld s", r->caller->id, v.retry_after_s);
	return -1;
}

/* What is wrong with a body jansson refused, in our words: its own text
 * quotes the input ("near '\"Le Goff'"), which may be a personal value. */
static const char *
request_json_error(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_premature_end_of_input:
		return "the text ends before the JSON value does";
	case json_error_end_of_input_expected:
		return "text follows the JSON value";
	case json_error_invalid_utf8:
		return "not valid UTF-8";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "a NUL character";
	case json_error_duplicate_key:
		return "a member appears twice in one object";
	case json_error_numeric_overflow:
		return "a number out of range";
	case json_error_item_not_found:
	case json_error_wrong_type:
	case json_error_invalid_format:
	case json_error_out_of_memory:
		return "cannot be read";
	default:
		return "invalid syntax";
	}
}

/* Parses a JSON object body. Returns 0, or -1 after replying 400/413. */
static int
request_parse_body(struct request *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	const char *data;

	if (len > r->cfg->gateway.limits.max_body) {
		request_reply_problem(r, 413, NULL,
		    "the body is larger than %zu bytes", r->cfg->gateway.limits.max_body);
		return -1;
	}
	/* An action such as POST /v1/deliveries/{id}/retry needs no body. */
	if (len == 0) {
		r->body = json_object();
		return 0;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	r->body = jsonload_object(data ? data : "", len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (r->body == NULL) {
		request_reply_problem(r, 400, NULL, "malformed JSON at line %d "
		    "column %d: %s", jerr.line, jerr.column,
		    request_json_error(&jerr));
		return -1;
	}
	if (!json_is_object(r->body)) {
		request_reply_problem(r, 400, NULL, "the body must be a JSON object");
		return -1;
	}
	return 0;
}

static int
request_route_matches(const struct request_route *rt, const char *path,
    const char **param)
{
	size_t n = strlen(rt->path);

	*param = NULL;
	if (rt->path[n - 1] != '/')
		return strcmp(rt->path, path) == 0;
	if (strncmp(rt->path, path, n) != 0 || path[n] == '\0')
		return 0;
	*param = path + n;
	return 1;
}

static const struct request_route *
request_route_find(const struct request_worker *w, enum evhttp_cmd_type method,
    const char *path, const char **param, int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < w->nroutes; i++) {
		if (!request_route_matches(&w->routes[i], path, param))
			continue;
		*path_known = 1;
		if (w->routes[i].method == method)
			return &w->routes[i];
	}
	return NULL;
}

/* RFC 9110 15.5.6: a 405 says which methods the path has, from the
 * route table. */
static void
request_add_allow(struct request *r, const char *path)
{
	char allow[64] = "";
	const char *param;
	size_t len = 0;

	for (size_t i = 0; i < r->worker->nroutes; i++) {
		if (!request_route_matches(&r->worker->routes[i], path, &param))
			continue;
		len += (size_t)snprintf(allow + len, sizeof(allow) - len, "%s%s",
		    len ? ", " : "", request_cmd_name(r->worker->routes[i].method));
		if (len >= sizeof(allow))
			break;
	}
	request_add_header(r, "Allow", allow);
}

/* RFC 9112 6.3: a message with Content-Length headers that disagree is
 * unrecoverable. evhttp read the body by the first one; whatever a proxy
 * in front of us made of the second, this connection is out of step. */
static int
request_content_length_conflict(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *first = NULL;

	for (struct evkeyval *kv = h->tqh_first; kv != NULL;
	    kv = kv->next.tqe_next) {
		if (strcasecmp(kv->key, "Content-Length") != 0)
			continue;
		if (first == NULL)
			first = kv->value;
		else if (strcmp(first, kv->value) != 0)
			return 1;
	}
	return 0;
}

/* A request on w for req, holding snap until its reply; NULL when out of
 * memory. */
static struct request *
request_new(struct request_worker *w, struct snapshot *snap,
    struct evhttp_request *req)
{
	/* The arena is zeroed as request_alloc hands it out. */
	struct request *r = malloc(sizeof(*r));

	if (r == NULL)
		return NULL;
	memset(r, 0, offsetof(struct request, arena));
	r->req = req;
	r->worker = w;
	r->gw = w->gw;
	r->base = w->base;
	r->store = w->store;
	r->snap = snapshot_hold(snap);
	r->cfg = snap->cfg;
	TAILQ_INIT(&r->query);
	TAILQ_INSERT_TAIL(&w->requests, r, link);
	w->inflight++;
	r->started_us = clock_mono_us();
	request_set_id(r);
	request_set_trace(r);
	conn_request_started(w->conns, req, &r->cfg->gateway.limits);
	return r;
}

/* Checks the request line and headers, parses the query and finds the
 * route of r's method and path, keeping the {id} segment in r->param;
 * NULL when r has been answered (400, 404, 405 or 503). */
static const struct request_route *
request_route(struct request *r)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const struct request_route *rt;
	char *decoded = NULL;
	size_t decoded_len = 0;
	const char *param;
	int known;

	if (uri != NULL && evhttp_uri_get_query(uri) != NULL &&
	    evhttp_parse_query_str(evhttp_uri_get_query(uri), &r->query) != 0) {
		request_reply_problem(r, 400, NULL, "malformed query string");
		return NULL;
	}
	if (request_content_length_conflict(r->req)) {
		request_add_header(r, "Connection", "close");
		request_reply_problem(r, 400, NULL,
		    "the Content-Length headers disagree");
		return NULL;
	}
	if (uri != NULL && evhttp_uri_get_path(uri) != NULL &&
	    (decoded = evhttp_uridecode(evhttp_uri_get_path(uri), 0,
	    &decoded_len)) != NULL && strlen(decoded) != decoded_len) {
		free(decoded);
		request_reply_problem(r, 400, NULL, "the path holds an encoded "
		    "NUL byte");
		return NULL;
	}
	rt = request_route_find(r->worker, evhttp_request_get_command(r->req),
	    decoded ? decoded : "", &param, &known);
	if (rt == NULL) {
		if (known) {
			request_add_allow(r, decoded);
			free(decoded);
			request_reply_problem(r, 405, NULL, "method not allowed on "
			    "this path");
			return NULL;
		}
		free(decoded);
		request_reply_problem(r, 404, NULL, "no such endpoint");
		return NULL;
	}
	/* The route pattern names the request in metrics; the raw path may
	 * hold ids. */
	r->path = rt->path;
	if (param != NULL && (r->param = strdup(param)) == NULL) {
		free(decoded);
		request_reply_problem(r, 503, NULL, "out of memory");
		return NULL;
	}
	free(decoded);
	return rt;
}

static void
request_intake(struct request *r, int tls_only)
{
	const struct request_route *rt;

	/* Fail closed: nothing is served in clear when TLS is configured. */
	if (tls_only && !tls_is_tls(request_bufferevent(r))) {
		request_add_header(r, "Connection", "close");
		request_reply_problem(r, 400, NULL, "this gateway only speaks TLS");
		return;
	}
	if ((rt = request_route(r)) == NULL)
		return;
	if (request_authenticate(r, rt->auth) != 0)
		return;
	log_debug("request %s trace %s: %s %s received from %s", r->id,
	    r->trace.trace_id, request_method_name(r), rt->path,
	    r->caller ? r->caller->id :
	    r->admin ? "the admin" : "anyone");
	if (r->caller != NULL && request_rate_limit(r) != 0)
		return;
	if (rt->method == EVHTTP_REQ_POST && request_parse_body(r) != 0)
		return;
	rt->handler(r);
}

/* ---- libevent's own refusals ------------------------------------------ */

/* Why libevent refused a request before request_accept saw it. */
static const char *
request_refusal_detail(int status)
{
	switch (status) {
	case 400: return "the request line or headers cannot be read, or are "
	    "larger than the gateway accepts";
	case 413: return "the body is larger than the gateway accepts";
	case 417: return "the only expectation understood is 100-continue";
	case 501: return "the gateway serves no such method";
	default: return request_status_title(status);
	}
}

/* libevent 2.1 answers what it refuses itself (a body over max_body,
 * headers it cannot read or over max_headers, a method it does not serve)
 * through evhttp_send_error, with an HTML page and none of our headers,
 * and has no hook to change that (2.2 has evhttp_set_errorcb). It calls
 * evhttp_send_error through its PLT and the daemon is linked -rdynamic,
 * so this definition takes the place of libevent's: those answers are
 * problem documents with an X-Request-Id too (contract section 4).
 * tests/e2e/test_limits.py fails if a build stops taking it. */
void
evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	char id[REQUEST_ID_LEN], *text;

	request_new_id(id);
	text = request_problem_text("about:blank", error,
	    request_refusal_detail(error), NULL, id);
	if (body != NULL && text != NULL)
		evbuffer_add(body, text, strlen(text));
	free(text);
	evhttp_clear_headers(out);
	evhttp_add_header(out, "Content-Type", "application/problem+json");
	evhttp_add_header(out, "X-Request-Id", id);
	evhttp_add_header(out, "Cache-Control", "no-store");
	/* The body may be unread: the connection is out of step. */
	evhttp_add_header(out, "Connection", "close");
	/* A request line that could not be read has no version; libevent
	 * answers those in 1.1. */
	if (req->major == 0) {
		req->major = 1;
		req->minor = 1;
	}
	evhttp_send_reply(req, error, request_status_title(error), body);
	if (body != NULL)
		evbuffer_free(body);
}

/* Everything up to the handler's return, r's id on the lines it logs. */
void
request_accept(struct request_worker *w, struct snapshot *snap, int tls_only,
    struct evhttp_request *req)
{
	struct log_context prev;
	struct request *r;

	if ((r = request_new(w, snap, req)) == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	request_log_enter(r, &prev);
	request_intake(r, tls_only);
	log_context_set(&prev, NULL);
}
