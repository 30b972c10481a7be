/* test_http_connector.c — the http connector against a real partner service
 * (tests/partners/partner.py) started on a free loopback port. Every call
 * runs on a local libevent loop, as on a worker thread. Run from the repo
 * root. */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "connector_harness.h"
#include "http/http.h"
#include "jsonutil.h"
#include "unit.h"

struct partner {
	pid_t pid;
	char url[64];
};

static struct partner plain;  /* the one whose control API tests drive */

/* ---- the partner process -------------------------------------------- */

static int
partner_read_port(const char *path)
{
	char text[16] = "";
	int fd, port = 0;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	if (read(fd, text, sizeof(text) - 1) > 0)
		port = atoi(text);
	close(fd);
	return port;
}

/* Starts partner.py on a free port; https when cert and key are given,
 * requiring client certificates signed by client_ca when it is not NULL. */
static int
partner_start(struct partner *p, const char *cert, const char *key,
    const char *client_ca)
{
	char portfile[] = "/tmp/tellonce-partner-XXXXXX";
	int fd, port = 0;
	int64_t deadline;

	if ((fd = mkstemp(portfile)) == -1)
		return -1;
	close(fd);
	unlink(portfile);
	if ((p->pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		execl("/usr/bin/python3", "python3", "tests/partners/partner.py",
		    "--port", "0", "--port-file", portfile,
		    cert ? "--tls-cert" : NULL, cert, "--tls-key", key,
		    client_ca ? "--tls-client-ca" : NULL, client_ca,
		    (char *)NULL);
		_exit(127);
	}
	deadline = clock_mono_ms() + 10000;
	while (p->pid > 0 && port == 0 && clock_mono_ms() < deadline) {
		usleep(20000);
		port = partner_read_port(portfile);
	}
	unlink(portfile);
	if (port == 0)
		return -1;
	snprintf(p->url, sizeof(p->url), "%s://%s:%d", cert ? "https" : "http",
	    cert ? "localhost" : "127.0.0.1", port);
	return 0;
}

static void
partner_stop(struct partner *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	waitpid(p->pid, NULL, 0);
}

struct text {
	char *p;
	size_t n;
};

static size_t
text_add(char *data, size_t size, size_t n, void *arg)
{
	struct text *t = arg;
	char *p = realloc(t->p, t->n + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + t->n, data, size * n);
	t->n += size * n;
	p[t->n] = '\0';
	t->p = p;
	return size * n;
}

/* A blocking call to the partner's control API; *out (if asked) is the
 * decoded answer, owned by the caller. Returns the HTTP status. */
static long
partner_control(const char *method, const char *what, const char *json,
    json_t **out)
{
	char url[128];
	struct text t = { NULL, 0 };
	CURL *e = curl_easy_init();
	long code = 0;

	snprintf(url, sizeof(url), "%s/_control/%s", plain.url, what);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* whatever the test set */
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (json != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, text_add);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	if (out != NULL)
		*out = t.p ? json_loads(t.p, 0, NULL) : NULL;
	free(t.p);
	return code;
}

static void
partner_behave(const char *json)
{
	CHECK_INT(partner_control("POST", "behaviour", json, NULL), 204);
}

static void
partner_seed(const char *local_id, const char *record_json)
{
	json_t *rec = json_loads(record_json, 0, NULL);
	json_t *arg = json_pack("{s:s, s:s, s:o}", "local_id", local_id,
	    "dataset", "address", "record", rec);
	char *text = json_dumps(arg, JSON_COMPACT);

	CHECK_INT(partner_control("POST", "records", text, NULL), 204);
	free(text);
	json_decref(arg);
}

static void
partner_reset(void)
{
	CHECK_INT(partner_control("POST", "reset", NULL, NULL), 204);
}

/* ---- running calls on a loop ---------------------------------------- */

struct outcome {
	int calls;               /* done callbacks seen: must end at 1 */
	enum connector_status status;
	int http_status;
	char *body;
	char detail[256];
	int64_t at;              /* clock_mono_ms() when reported */
};

struct fixture {
	struct event_base *base;
	struct event *tick;      /* wakes the loop so run() can give up */
	struct http_settings set;
	void *instance;
};

static void
on_done(const struct connector_result *res, void *arg)
{
	struct outcome *o = arg;

	o->calls++;
	o->status = res->status;
	o->http_status = res->http_status;
	o->body = res->body ? strndup(res->body, res->body_len) : NULL;
	snprintf(o->detail, sizeof(o->detail), "%s",
	    res->detail ? res->detail : "");
	o->at = clock_mono_ms();
}

/* What the connector logged through env->log, its only channel. */
static int log_warnings;
static char log_last[512];

static void
test_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_last, sizeof(log_last), fmt, ap);
	va_end(ap);
	log_warnings += level == CONNECTOR_LOG_WARN;
	fprintf(stderr, "%s\n", log_last);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Settings for base_url with both endpoints, and a loop; no instance yet. */
static void
fixture_prepare(struct fixture *f, const char *base_url, int64_t timeout_ms)
{
	struct timeval tv = { 0, 50000 };

	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
	event_add(f->tick, &tv);
	f->set.base_url = (char *)base_url;
	f->set.timeout_ms = timeout_ms;
	f->set.connect_timeout_ms = 1000;
	f->set.fetch.method = "GET";
	f->set.fetch.path = "/citizens/{local_id}/address";
	f->set.push.method = "PUT";
	f->set.push.path = "/citizens/{local_id}/address";
}

/* Validates the settings and creates the instance, as the core does. */
static void
fixture_start(struct fixture *f)
{
	struct connector_env env = { f->base, "partner", test_log };
	char err[256];

	CHECK_INT(http_connector_ops.validate(&f->set, err, sizeof(err)), 0);
	CHECK_INT(http_connector_ops.init(&f->instance, &f->set, &env, err,
	    sizeof(err)), 0);
}

static void
fixture_open(struct fixture *f, const char *base_url, int64_t timeout_ms)
{
	fixture_prepare(f, base_url, timeout_ms);
	fixture_start(f);
}

static void
fixture_close(struct fixture *f)
{
	if (f->instance != NULL)
		http_connector_ops.destroy(f->instance);
	event_free(f->tick);
	event_base_free(f->base);
}

/* Runs the loop until o has been reported, or for at most ms. */
static void
run(struct fixture *f, const struct outcome *o, int64_t ms)
{
	int64_t deadline = clock_mono_ms() + ms;

	while ((o == NULL || o->calls == 0) && clock_mono_ms() < deadline)
		event_base_loop(f->base, EVLOOP_ONCE);
}

static void
fetch(struct fixture *f, const char *local_id, struct outcome *o)
{
	struct connector_request req = { 0 };

	memset(o, 0, sizeof(*o));
	req.local_id = local_id;
	req.dataset = "address";
	req.request_id = "req-fetch";
	http_connector_ops.fetch(f->instance, &req, on_done, o);
	CHECK_INT(o->calls, 0); /* never reported inside the call */
}

static void
fetch_once(const char *local_id, struct outcome *o)
{
	struct fixture f;

	fixture_open(&f, plain.url, 2000);
	fetch(&f, local_id, o);
	run(&f, o, 5000);
	CHECK_INT(o->calls, 1);
	fixture_close(&f);
}

static void
push(struct fixture *f, const char *body, const char *key, struct outcome *o)
{
	struct connector_request req = { 0 };

	memset(o, 0, sizeof(*o));
	req.local_id = "c-42";
	req.dataset = "address";
	req.request_id = "req-push";
	req.idempotency_key = key;
	req.body = body;
	req.body_len = strlen(body);
	http_connector_ops.push(f->instance, &req, on_done, o);
	CHECK_INT(o->calls, 0);
	run(f, o, 5000);
	CHECK_INT(o->calls, 1);
}

/* A loopback port with nothing listening on it. */
static int
closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- tests ---------------------------------------------------------- */

static void
check_invalid(const char *base_url, const char *fetch_path, const char *want)
{
	struct http_settings s = { 0 };
	char err[256] = "";

	s.base_url = (char *)base_url;
	s.timeout_ms = 1000;
	s.connect_timeout_ms = 1000;
	s.fetch.method = "GET";
	s.fetch.path = (char *)fetch_path;
	CHECK_INT(http_connector_ops.validate(&s, err, sizeof(err)), -1);
	CHECK_STR(err, want);
}

static void
test_validate(void)
{
	struct http_settings s = { 0 };
	char err[256];

	s.base_url = "https://partner.example:8443/api/";
	s.timeout_ms = 1000;
	s.connect_timeout_ms = 1000;
	s.fetch.path = "/citizens/{local_id}";
	CHECK_INT(http_connector_ops.validate(&s, err, sizeof(err)), 0);
	check_invalid("ftp://partner.example", "/x",
	    "base_url must start with http:// or https://");
	check_invalid("partner.example", "/x", "base_url is not a URL");
	check_invalid("http://", "/x", "base_url is not a URL");
	check_invalid("http://partner.example/?a=1", "/x",
	    "base_url must not have a query or a fragment");
	check_invalid("https://gw:s3cret@partner.example", "/x",
	    "base_url must not hold credentials (use auth_header)");
	check_invalid("http://partner.example", "citizens/{local_id}",
	    "fetch.path must start with '/'");
	check_invalid("http://partner.example", "/a b",
	    "fetch.path holds a space, a control character or '#'");
	/* Sent as it is, a "{dataset}" would reach the service unreplaced. */
	check_invalid("http://partner.example", "/citizens/{local_id}/{dataset}",
	    "fetch.path: only {local_id} is replaced; another '{' or '}' "
	    "would be sent as it is");
	check_invalid("http://partner.example", "/citizens/{local_id",
	    "fetch.path: only {local_id} is replaced; another '{' or '}' "
	    "would be sent as it is");
	s.fetch.path = "/c/{local_id}/x/{local_id}";
	CHECK_INT(http_connector_ops.validate(&s, err, sizeof(err)), 0);
}

static void
test_fetch_ok(void)
{
	static const char record[] = "{\"adresse\":{\"voie\":\"1 rue de la Paix\","
	    "\"cp\":\"29000\",\"commune\":\"Quimper\",\"pays\":\"FR\"}}";
	struct outcome o;

	partner_reset();
	partner_seed("c-1", record);
	fetch_once("c-1", &o);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(o.http_status, 200);
	CHECK_STR(o.body, record);
	free(o.body);
}

static void
test_fetch_not_found(void)
{
	struct outcome o;

	partner_reset();
	fetch_once("nobody", &o);
	CHECK_INT(o.status, CONNECTOR_NOT_FOUND);
	CHECK_INT(o.http_status, 404);
	CHECK_STR(o.detail, "service answered HTTP 404");
	CHECK(o.body == NULL);
}

static void
test_fetch_invalid_json(void)
{
	struct outcome o;

	partner_reset();
	partner_seed("c-1", "{\"adresse\":{\"cp\":\"29000\"}}");
	partner_behave("{\"mode\":\"garbage\"}");
	fetch_once("c-1", &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_INT(o.http_status, 200);
	CHECK_STR(o.detail, "service answered invalid JSON");
	CHECK(o.body == NULL);

	partner_reset();
	partner_seed("array", "[1, 2]");
	fetch_once("array", &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_STR(o.detail, "service answered invalid JSON");
}

static void
check_status(const char *behaviour, enum connector_status want, int code)
{
	struct outcome o;

	partner_reset();
	partner_behave(behaviour);
	fetch_once("c-1", &o);
	CHECK_INT(o.status, want);
	CHECK_INT(o.http_status, code);
	free(o.body);
}

static void
test_fetch_statuses(void)
{
	partner_seed("c-1", "{\"adresse\":{\"cp\":\"29000\"}}");
	check_status("{\"mode\":\"error500\"}", CONNECTOR_RETRY, 500);
	check_status("{\"mode\":\"error503\"}", CONNECTOR_RETRY, 503);
	check_status("{\"mode\":\"error429\"}", CONNECTOR_RETRY, 429);
	check_status("{\"mode\":\"error400\"}", CONNECTOR_PERMANENT, 400);
	check_status("{\"mode\":\"error403\"}", CONNECTOR_PERMANENT, 403);
	check_status("{\"mode\":\"error302\"}", CONNECTOR_PERMANENT, 302);
	check_status("{\"mode\":\"slow_ms\",\"ms\":100}", CONNECTOR_OK, 200);
}

static void
test_fetch_too_big(void)
{
	size_t n = HTTP_MAX_RESPONSE + 16;
	char *record = malloc(n + 16);
	struct outcome o;

	memcpy(record, "{\"blob\":\"", 9);
	memset(record + 9, 'x', n);
	memcpy(record + 9 + n, "\"}", 3);
	partner_reset();
	partner_seed("big", record);
	fetch_once("big", &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_STR(o.detail, "service answered more than 4194304 bytes");
	CHECK(o.body == NULL);
	free(record);
}

static void
test_fetch_timeout(void)
{
	struct fixture f;
	struct outcome o;
	int64_t start;

	partner_reset();
	partner_behave("{\"mode\":\"hang\"}");
	fixture_open(&f, plain.url, 300);
	start = clock_mono_ms();
	fetch(&f, "c-1", &o);
	run(&f, &o, 5000);
	CHECK_INT(o.calls, 1);
	CHECK_INT(o.status, CONNECTOR_TIMEOUT);
	CHECK_INT(o.http_status, 0);
	CHECK(o.at - start >= 250);
	CHECK(o.at - start < 1500);
	fixture_close(&f);
}

static void
test_fetch_refused(void)
{
	char url[64];
	struct fixture f;
	struct outcome o;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	fixture_open(&f, url, 2000);
	fetch(&f, "c-1", &o);
	run(&f, &o, 5000);
	CHECK_INT(o.calls, 1);
	CHECK_INT(o.status, CONNECTOR_RETRY);
	CHECK_INT(o.http_status, 0);
	CHECK(strncmp(o.detail, "Failed to connect to 127.0.0.1", 30) == 0);
	fixture_close(&f);
}

/* A hostile local id stays one path segment, and reaches its own record. */
static void
test_fetch_encodes_local_id(void)
{
	static const char id[] = "../admin%2F\r\nX";
	json_t *seen = NULL;
	struct outcome o;

	partner_reset();
	partner_seed(id, "{\"adresse\":{\"cp\":\"29000\"}}");
	fetch_once(id, &o);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_STR(o.body, "{\"adresse\":{\"cp\":\"29000\"}}");
	CHECK_INT(partner_control("GET", "requests", NULL, &seen), 200);
	CHECK_INT(json_array_size(seen), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(seen, 0),
	    "path")), "/citizens/%2E%2E%2Fadmin%252F%0D%0AX/address");
	json_decref(seen);
	free(o.body);

	partner_reset();
	fetch_once("..", &o);
	CHECK_INT(o.status, CONNECTOR_NOT_FOUND);
	CHECK_INT(partner_control("GET", "requests", NULL, &seen), 200);
	CHECK_STR(json_string_value(json_object_get(json_array_get(seen, 0),
	    "path")), "/citizens/%2E%2E/address");
	json_decref(seen);
}

/* Runs one fetch of local_id on f, whose instance it then closes, and
 * returns the first request the partner saw (seen holds it; the caller
 * decrefs seen). */
static json_t *
fetch_seen(struct fixture *f, const char *local_id, json_t **seen)
{
	struct outcome o;

	partner_reset();
	fetch(f, local_id, &o);
	run(f, &o, 5000);
	CHECK_INT(o.calls, 1);
	free(o.body);
	fixture_close(f);
	CHECK_INT(partner_control("GET", "requests", NULL, seen), 200);
	return json_array_get(*seen, 0);
}

/* The path the service sees: dot segments of base_url and path removed,
 * bytes past ASCII escaped and the query kept, as libcurl makes them from
 * the whole URL, and the local id as the connector encodes it. */
static void
test_fetch_target(void)
{
	char base[96];
	json_t *seen = NULL, *req;
	struct fixture f;

	snprintf(base, sizeof(base), "%s/v2/../", plain.url);
	fixture_prepare(&f, base, 2000);
	f.set.fetch.path = "/citizens/./{local_id}/adresse-\xc3\xa9?v=1&id={local_id}";
	fixture_start(&f);
	req = fetch_seen(&f, "a/b", &seen);
	CHECK_STR(json_string_value(json_object_get(req, "path")),
	    "/citizens/a%2Fb/adresse-%c3%a9?v=1&id=a%2Fb");
	json_decref(seen);
}

/* The one Host header a call sends for base_url. */
static void
check_host(const char *base_url, const char *want)
{
	json_t *seen = NULL, *host;
	struct fixture f;

	fixture_open(&f, base_url, 2000);
	host = json_object_get(fetch_seen(&f, "c-1", &seen), "host");
	CHECK_INT(json_array_size(host), 1);
	CHECK_STR(json_string_value(json_array_get(host, 0)), want);
	json_decref(seen);
}

/* Host: the host and port of base_url, as libcurl writes it. */
static void
test_host_header(void)
{
	const char *port = strrchr(plain.url, ':') + 1;
	char url[64], want[64];

	check_host(plain.url, plain.url + strlen("http://"));
	snprintf(url, sizeof(url), "http://LocalHost:%s/", port);
	snprintf(want, sizeof(want), "LocalHost:%s", port);
	check_host(url, want);
}

/* With a proxy in the environment, the proxy is sent the whole URL. */
static void
test_fetch_through_proxy(void)
{
	json_t *seen = NULL, *req;
	struct fixture f;

	setenv("http_proxy", plain.url, 1);
	fixture_open(&f, "http://192.0.2.1:9/v2", 2000);
	req = fetch_seen(&f, "c-1", &seen);
	unsetenv("http_proxy");
	CHECK_STR(json_string_value(json_object_get(req, "path")),
	    "http://192.0.2.1:9/v2/citizens/c-1/address");
	CHECK_STR(json_string_value(json_array_get(json_object_get(req,
	    "host"), 0)), "192.0.2.1:9");
	json_decref(seen);
}

/* Calls that cannot be made safely are refused, asynchronously, without
 * reaching the service. */
static void
test_refused_before_sending(void)
{
	char id[HTTP_MAX_LOCAL_ID + 2];
	struct connector_request req = { 0 };
	struct fixture f;
	json_t *seen = NULL;
	struct outcome o;

	partner_reset();
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	fetch_once(id, &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_STR(o.detail, "local id longer than 256 bytes");
	fetch_once("", &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_STR(o.detail, "empty local id");

	fixture_open(&f, plain.url, 2000);
	memset(&o, 0, sizeof(o));
	req.local_id = "c-1";
	req.request_id = "r-1\r\nX-Injected: 1";
	http_connector_ops.fetch(f.instance, &req, on_done, &o);
	CHECK_INT(o.calls, 0);
	run(&f, &o, 5000);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_STR(o.detail, "request id is not a valid header value");
	fixture_close(&f);

	CHECK_INT(partner_control("GET", "requests", NULL, &seen), 200);
	CHECK_INT(json_array_size(seen), 0);
	json_decref(seen);

	id[HTTP_MAX_LOCAL_ID] = '\0';
	fetch_once(id, &o);
	CHECK_INT(o.status, CONNECTOR_NOT_FOUND);
}

static void
test_push(void)
{
	static const char body[] = "{\"adresse\":{\"cp\":\"29200\"}}";
	struct fixture f;
	struct outcome o;
	json_t *got = NULL, *first;

	partner_reset();
	fixture_open(&f, plain.url, 2000);
	push(&f, body, "key-1", &o);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(o.http_status, 204);
	push(&f, body, "key-1", &o);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(partner_control("GET", "received", NULL, &got), 200);
	first = json_array_get(json_object_get(got, "received"), 0);
	CHECK_STR(json_string_value(json_object_get(first, "local_id")), "c-42");
	CHECK_STR(json_string_value(json_object_get(first, "idempotency_key")),
	    "key-1");
	CHECK_STR(json_string_value(json_object_get(first, "request_id")),
	    "req-push");
	CHECK_STR(json_string_value(jsonutil_path_get(first, "record.adresse.cp")),
	    "29200");
	CHECK_INT(json_integer_value(json_object_get(got, "duplicates")), 1);
	json_decref(got);

	push(&f, "{\"adresse\":{\"cp\":\"75001\"}}", "key-1", &o);
	CHECK_INT(o.status, CONNECTOR_CONFLICT);
	CHECK_INT(o.http_status, 409);
	push(&f, "not json", "key-2", &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_INT(o.http_status, 400);
	partner_behave("{\"mode\":\"error503\"}");
	push(&f, body, "key-3", &o);
	CHECK_INT(o.status, CONNECTOR_RETRY);
	fixture_close(&f);
}

/* Calls one after the other share one kept-alive connection. */
static void
test_connection_reused(void)
{
	struct fixture f;
	struct outcome o;
	json_t *seen = NULL;
	int i;

	partner_reset();
	partner_seed("c-1", "{\"adresse\":{\"cp\":\"29000\"}}");
	fixture_open(&f, plain.url, 2000);
	for (i = 0; i < 3; i++) {
		fetch(&f, "c-1", &o);
		run(&f, &o, 5000);
		CHECK_INT(o.status, CONNECTOR_OK);
		free(o.body);
	}
	fixture_close(&f);
	CHECK_INT(partner_control("GET", "requests", NULL, &seen), 200);
	CHECK_INT(json_array_size(seen), 3);
	for (i = 1; i < 3; i++)
		CHECK_INT(json_integer_value(json_object_get(json_array_get(seen,
		    i), "port")), json_integer_value(json_object_get(
		    json_array_get(seen, 0), "port")));
	json_decref(seen);
}

/* A service that answers one call per connection with a kept-alive reply
 * and then closes it (an idle timeout at its shortest), in a child; its
 * listening port in *port. Returns the child's pid, or -1. */
static pid_t
closing_service(int *port)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 26\r\n\r\n"
	    "{\"adresse\":{\"cp\":\"29000\"}}";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	if ((pid = fork()) != 0) {
		close(lfd);
		return pid;
	}
	for (;;) {
		char req[4096];
		int c = accept(lfd, NULL, NULL);

		if (c == -1)
			_exit(1);
		if (read(c, req, sizeof(req)) > 0 &&
		    write(c, reply, sizeof(reply) - 1) != (ssize_t)sizeof(reply) - 1)
			_exit(1);
		usleep(50000);
		close(c);
	}
}

/* A kept connection the service closes while it is idle: the loop is not
 * woken for it again and again (its socket stays watched between calls),
 * and the next call opens another connection, whose descriptor may well
 * have the closed one's number. */
static void
test_kept_connection_closed_by_the_service(void)
{
	struct fixture f;
	struct outcome o;
	char url[64];
	int port = 0;
	pid_t pid = closing_service(&port);

	CHECK(pid > 0);
	if (pid <= 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	fixture_open(&f, url, 2000);
	for (int i = 0; i < 3; i++) {
		int turns = 0;

		fetch(&f, "c-1", &o);
		run(&f, &o, 5000);
		CHECK_INT(o.status, CONNECTOR_OK);
		CHECK(o.body != NULL && strstr(o.body, "29000") != NULL);
		free(o.body);
		/* The service closes the connection 50 ms after its reply;
		 * the fixture's tick wakes the loop every 50 ms. */
		for (int64_t end = clock_mono_ms() + 300; clock_mono_ms() < end;
		    turns++)
			event_base_loop(f.base, EVLOOP_ONCE);
		CHECK(turns < 50);
	}
	fixture_close(&f);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* One hanging call does not hold up another on the same loop. */
static void
test_two_in_flight(void)
{
	struct fixture f;
	struct outcome slow, fast;

	partner_reset();
	partner_seed("fast", "{\"adresse\":{\"cp\":\"29000\"}}");
	partner_behave("{\"mode\":\"hang\",\"local_id\":\"slow\"}");
	fixture_open(&f, plain.url, 800);
	fetch(&f, "slow", &slow);
	fetch(&f, "fast", &fast);
	run(&f, &fast, 5000);
	CHECK_INT(fast.status, CONNECTOR_OK);
	CHECK_INT(slow.calls, 0);
	run(&f, &slow, 5000);
	CHECK_INT(slow.status, CONNECTOR_TIMEOUT);
	CHECK(fast.at < slow.at);
	free(fast.body);
	fixture_close(&f);
}

/* Forty calls at once to a slow service share at most CONNECTOR_MAX_FDS / 2
 * connections: libcurl's cache, uncapped, kept one per call open idle and
 * a load left thousands behind. All forty still succeed, queued. */
static void
test_connections_capped(void)
{
	struct outcome o[40];
	struct fixture f;
	json_t *reqs = NULL, *q;
	int ports[40], nports = 0, done = 0;
	size_t i;

	partner_reset();
	partner_seed("c-1", "{\"adresse\":{\"cp\":\"29000\"}}");
	partner_behave("{\"mode\":\"slow_ms\",\"ms\":100}");
	/* partner.py listens with a backlog of 5: a SYN beyond waits 1 s. */
	fixture_prepare(&f, plain.url, 8000);
	f.set.connect_timeout_ms = 4000;
	fixture_start(&f);
	for (int k = 0; k < 40; k++)
		fetch(&f, "c-1", &o[k]);
	for (int64_t end = clock_mono_ms() + 10000; done < 40 &&
	    clock_mono_ms() < end; ) {
		event_base_loop(f.base, EVLOOP_ONCE);
		done = 0;
		for (int k = 0; k < 40; k++)
			done += o[k].calls;
	}
	CHECK_INT(done, 40);
	for (int k = 0; k < 40; k++) {
		CHECK_INT(o[k].status, CONNECTOR_OK);
		free(o[k].body);
	}
	CHECK_INT(partner_control("GET", "requests", NULL, &reqs), 200);
	json_array_foreach(reqs, i, q) {
		int port = (int)json_integer_value(json_object_get(q, "port")), seen = 0;

		for (int k = 0; k < nports; k++)
			seen |= ports[k] == port;
		if (!seen && nports < 40)
			ports[nports++] = port;
	}
	CHECK_INT(json_array_size(reqs), 40);
	CHECK(nports >= 1 && nports <= CONNECTOR_MAX_FDS / 2);
	json_decref(reqs);
	partner_behave("{\"mode\":\"normal\"}");
	fixture_close(&f);
}

/* destroy with a call in flight: no callback, nothing leaked (ASan). */
static void
test_destroy_in_flight(void)
{
	struct fixture f;
	struct outcome o;

	partner_reset();
	partner_behave("{\"mode\":\"hang\"}");
	fixture_open(&f, plain.url, 2000);
	fetch(&f, "c-1", &o);
	run(&f, NULL, 200);
	http_connector_ops.destroy(f.instance);
	f.instance = NULL;
	run(&f, NULL, 200);
	CHECK_INT(o.calls, 0);
	fixture_close(&f);
}

struct destroyer {
	struct fixture *f;
	struct outcome o;
};

static void
destroy_on_done(const struct connector_result *res, void *arg)
{
	struct destroyer *d = arg;

	on_done(res, &d->o);
	http_connector_ops.destroy(d->f->instance);
	d->f->instance = NULL;
}

/* A done callback may destroy the instance; the other call is dropped. */
static void
test_destroy_from_callback(void)
{
	struct connector_request req = { 0 };
	struct fixture f;
	struct destroyer d = { &f, { 0 } };
	struct outcome slow;

	partner_reset();
	partner_seed("fast", "{\"adresse\":{\"cp\":\"29000\"}}");
	partner_behave("{\"mode\":\"hang\",\"local_id\":\"slow\"}");
	fixture_open(&f, plain.url, 2000);
	fetch(&f, "slow", &slow);
	req.local_id = "fast";
	http_connector_ops.fetch(f.instance, &req, destroy_on_done, &d);
	run(&f, &d.o, 5000);
	CHECK_INT(d.o.status, CONNECTOR_OK);
	CHECK(f.instance == NULL);
	run(&f, NULL, 200);
	CHECK_INT(slow.calls, 0);
	free(d.o.body);
	fixture_close(&f);
}

static void
test_health(void)
{
	char url[64];
	struct fixture f;
	struct outcome o = { 0 };

	partner_reset();
	partner_behave("{\"mode\":\"error500\"}");
	fixture_open(&f, plain.url, 2000);
	http_connector_ops.health(f.instance, on_done, &o);
	run(&f, &o, 5000);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(o.http_status, 500);
	fixture_close(&f);

	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	fixture_open(&f, url, 2000);
	http_connector_ops.health(f.instance, on_done, &o);
	run(&f, &o, 5000);
	CHECK_INT(o.status, CONNECTOR_RETRY);
	fixture_close(&f);
}

/* Writes a self-signed certificate for the name "localhost" and its key. */
static int
make_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_EXTENSION *san;
	X509V3_CTX ctx;
	FILE *cf = fopen(cert_path, "w"), *kf = fopen(key_path, "w");
	int ok;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"partner", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	san = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
	    "DNS:localhost");
	X509_add_ext(x, san, -1);
	X509_EXTENSION_free(san);
	ok = cf != NULL && kf != NULL && X509_sign(x, key, EVP_sha256()) > 0 &&
	    PEM_write_X509(cf, x) == 1 &&
	    PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (cf != NULL)
		fclose(cf);
	if (kf != NULL)
		fclose(kf);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

static void
health(const char *url, const char *ca, struct outcome *o)
{
	struct fixture f;

	memset(o, 0, sizeof(*o));
	fixture_open(&f, url, 2000);
	f.set.ca = (char *)ca;
	http_connector_ops.health(f.instance, on_done, o);
	run(&f, o, 5000);
	CHECK_INT(o->calls, 1);
	fixture_close(&f);
}

/* https: the peer is verified against `ca`, and its name against the URL. */
static void
test_tls(void)
{
	char cert[] = "/tmp/tellonce-cert-XXXXXX", key[] = "/tmp/tellonce-key-XXXXXX";
	char url[64];
	struct partner tls = { 0 };
	struct outcome o;

	close(mkstemp(cert));
	close(mkstemp(key));
	CHECK_INT(make_cert(cert, key), 0);
	CHECK_INT(partner_start(&tls, cert, key, NULL), 0);

	health(tls.url, cert, &o);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(o.http_status, 200);
	health(tls.url, NULL, &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK_INT(o.http_status, 0);
	/* Trusted, but issued to "localhost", not to 127.0.0.1. */
	snprintf(url, sizeof(url), "https://127.0.0.1:%s",
	    strrchr(tls.url, ':') + 1);
	health(url, cert, &o);
	CHECK_INT(o.status, CONNECTOR_PERMANENT);
	CHECK(strstr(o.detail, "127.0.0.1") != NULL);

	partner_stop(&tls);
	unlink(cert);
	unlink(key);
}

/* A relative `ca` is a file name next to the YAML file that holds it, not
 * in the directory the gateway runs from (this test runs from the repo
 * root, where there is no partner.pem). */
static void
test_tls_ca_relative(void)
{
	char dir[TMPDIR_PATH_LEN], cert[TMPDIR_PATH_LEN + 16];
	char key[TMPDIR_PATH_LEN + 16], block[512], err[256];
	struct config_errors errs = { 0 };
	struct partner tls = { 0 };
	struct harness_conn hc;
	struct config *cfg;

	tmpdir_make(dir);
	snprintf(cert, sizeof(cert), "%s/partner.pem", dir);
	snprintf(key, sizeof(key), "%s/partner.key", dir);
	CHECK_INT(make_cert(cert, key), 0);
	CHECK_INT(partner_start(&tls, cert, key, NULL), 0);
	snprintf(block, sizeof(block),
	    "  mairie:\n"
	    "    name: Mairie\n"
	    "    auth: {api_key: env:H_MAIRIE_KEY}\n"
	    "    connector: {type: http, base_url: \"%s\", ca: partner.pem}\n",
	    tls.url);
	cfg = harness_load(dir, block, &errs);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_INT(harness_open(&hc, cfg, "mairie", err, sizeof(err)), 0);
		CHECK_INT(harness_call(&hc, HARNESS_HEALTH, NULL, NULL, NULL),
		    CONNECTOR_OK);
		harness_close(&hc);
	}
	config_free(cfg);
	config_errors_free(&errs);
	partner_stop(&tls);
	tmpdir_remove(dir);
}

/* The whole of a small file as a NUL-terminated string; caller frees. */
static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 16384);

	if (f != NULL && text != NULL)
		(void)!fread(text, 1, 16383, f);
	if (f != NULL)
		fclose(f);
	return text;
}

/* mTLS to the service: without a client certificate it refuses us; with
 * client_cert and client_key it serves. */
static void
test_tls_client_cert(void)
{
	char cert[] = "/tmp/tellonce-cert-XXXXXX", key[] = "/tmp/tellonce-key-XXXXXX";
	char ccert[] = "/tmp/tellonce-ccert-XXXXXX";
	char ckey[] = "/tmp/tellonce-ckey-XXXXXX";
	struct partner tls = { 0 };
	struct http_settings missing = { 0 };
	struct fixture f;
	struct outcome o;
	char err[256];

	close(mkstemp(cert));
	close(mkstemp(key));
	close(mkstemp(ccert));
	close(mkstemp(ckey));
	CHECK_INT(make_cert(cert, key), 0);
	CHECK_INT(make_cert(ccert, ckey), 0);
	CHECK_INT(partner_start(&tls, cert, key, ccert), 0);

	health(tls.url, cert, &o);
	CHECK(o.status != CONNECTOR_OK);

	memset(&o, 0, sizeof(o));
	fixture_open(&f, tls.url, 2000);
	f.set.ca = cert;
	f.set.client_cert = read_text(ccert);
	f.set.client_key = read_text(ckey);
	http_connector_ops.health(f.instance, on_done, &o);
	run(&f, &o, 5000);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(o.http_status, 200);
	free(f.set.client_cert);
	free(f.set.client_key);
	fixture_close(&f);

	missing.base_url = tls.url;
	missing.timeout_ms = missing.connect_timeout_ms = 1000;
	missing.client_cert = "x";
	CHECK_INT(http_connector_ops.validate(&missing, err, sizeof(err)), -1);
	CHECK_STR(err, "client_cert and client_key go together");

	partner_stop(&tls);
	unlink(cert);
	unlink(key);
	unlink(ccert);
	unlink(ckey);
}

/* insecure_skip_verify accepts a certificate nobody vouches for, and says
 * so once per instance, through the environment the core gave it. */
static void
test_tls_insecure_skip_verify(void)
{
	char cert[] = "/tmp/tellonce-cert-XXXXXX", key[] = "/tmp/tellonce-key-XXXXXX";
	struct partner tls = { 0 };
	struct fixture f;
	struct outcome o = { 0 };
	int warned = log_warnings;

	close(mkstemp(cert));
	close(mkstemp(key));
	CHECK_INT(make_cert(cert, key), 0);
	CHECK_INT(partner_start(&tls, cert, key, NULL), 0);
	fixture_prepare(&f, tls.url, 2000);
	f.set.insecure_skip_verify = 1;
	fixture_start(&f);
	CHECK_INT(log_warnings, warned + 1);
	CHECK(strstr(log_last, "service partner: insecure_skip_verify: the "
	    "certificate of https://localhost:") != NULL);
	http_connector_ops.health(f.instance, on_done, &o);
	run(&f, &o, 5000);
	CHECK_INT(o.status, CONNECTOR_OK);
	CHECK_INT(o.http_status, 200);
	fixture_close(&f);
	partner_stop(&tls);
	unlink(cert);
	unlink(key);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	harness_env();
	setenv("H_MAIRIE_KEY", "mairie-key", 1);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (partner_start(&plain, NULL, NULL, NULL) == -1) {
		fprintf(stderr, "cannot start tests/partners/partner.py "
		    "(run from the repo root)\n");
		partner_stop(&plain);
		unit_failed++;
		return UNIT_END();
	}
	UNIT_RUN(test_validate);
	UNIT_RUN(test_fetch_ok);
	UNIT_RUN(test_fetch_not_found);
	UNIT_RUN(test_fetch_invalid_json);
	UNIT_RUN(test_fetch_statuses);
	UNIT_RUN(test_fetch_too_big);
	UNIT_RUN(test_fetch_timeout);
	UNIT_RUN(test_fetch_refused);
	UNIT_RUN(test_fetch_encodes_local_id);
	UNIT_RUN(test_fetch_target);
	UNIT_RUN(test_host_header);
	UNIT_RUN(test_fetch_through_proxy);
	UNIT_RUN(test_refused_before_sending);
	UNIT_RUN(test_push);
	UNIT_RUN(test_connection_reused);
	UNIT_RUN(test_kept_connection_closed_by_the_service);
	UNIT_RUN(test_two_in_flight);
	UNIT_RUN(test_connections_capped);
	UNIT_RUN(test_destroy_in_flight);
	UNIT_RUN(test_destroy_from_callback);
	UNIT_RUN(test_health);
	UNIT_RUN(test_tls);
	UNIT_RUN(test_tls_ca_relative);
	UNIT_RUN(test_tls_client_cert);
	UNIT_RUN(test_tls_insecure_skip_verify);
	partner_stop(&plain);
	curl_global_cleanup();
	return UNIT_END();
}
