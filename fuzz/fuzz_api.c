/* fuzz_api.c — the HTTP API on hostile requests: a real gateway (server,
 * handlers, store, audit log) runs in this process on a loopback port, and
 * each input becomes one request to it. The first byte picks the route
 * from the server's own table, server_routes() (or, past the table, sends
 * the rest as raw bytes to the HTTP parser), the second the credentials;
 * the rest is the path tail of a route that ends in '/', else the JSON
 * body of a POST, else the query of a GET or DELETE. Every request must
 * get an HTTP answer: a crash, a sanitizer report or a hang (no answer in
 * 30 s) is a finding. libFuzzer's timeout alarm (SIGALRM) interrupts
 * system calls here, so every one of them is retried on EINTR.
 *
 * The gateway's state was once kept for the whole run, which slowed the
 * run down from about 8,000 to 550 inputs a second within minutes: the
 * corpus grants consents for a handful of subjects over and over, and
 * pushes records for them, with nothing to expire either. Every policy
 * decision reads every consent of its (subject, consumer, provider,
 * dataset), and GET /v1/changes makes one decision per record it skips, so
 * one input cost O(records x consents) (measured with perf: the worker
 * thread was 95% busy, in policy_decide under changes_collect and in
 * sq_consent_rows). A finding that needs state from more inputs than
 * libFuzzer can replay is not reproducible anyway, so the gateway starts
 * afresh, on an empty store and audit log, every FUZZ_FRESH inputs.
 *
 * A route added to the server is fuzzed without a change here, and at
 * start every route gets one request that must reach it (the replay of
 * make test runs it too). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "audit.h"
#include "fuzz.h"
#include "gateway.h"
#include "keys.h"
#include "request.h"
#include "server.h"
#include "tests/unit/tmpdir.h"

/* Inputs between two fresh gateways: see the header comment. */
#define FUZZ_FRESH 4096

static const char *const fuzz_credentials[] = {
	NULL, "fuzz-caf", "fuzz-mairie", "fuzz-portal", "fuzz-admin", "wrong",
};

static struct gateway fuzz_gw;
static int fuzz_port;

/* A clean stop, so that leak checkers see only real leaks. */
static void
fuzz_stop(void)
{
	server_stop(fuzz_gw.server);
	audit_close(fuzz_gw.audit);
	EVP_PKEY_free(fuzz_gw.signer);
	free(fuzz_gw.verifier_keys);
	memset(&fuzz_gw, 0, sizeof(fuzz_gw));
	fuzz_port = 0;
}

static void
fuzz_exit(void)
{
	fuzz_stop();
	curl_global_cleanup();
}

/* Starts a gateway on an empty store and audit log. */
static void
fuzz_start(void)
{
	char err[512] = "the signing key";
	struct config *cfg;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	cfg = fuzz_config(fuzz_base_config);
	fuzz_gw.config_path = cfg->path;
	fuzz_gw.signer = keys_load_private(&cfg->gateway.audit.signing_key, err,
	    sizeof(err));
	fuzz_gw.audit = audit_open(&cfg->gateway.audit, err, sizeof(err));
	if (fuzz_gw.signer != NULL && fuzz_gw.audit != NULL &&
	    keys_public_raw(fuzz_gw.signer, fuzz_gw.signer_pub) == 0)
		fuzz_gw.verifier_keys = audit_verifier_keys(fuzz_gw.audit);
	if (fuzz_gw.verifier_keys == NULL ||
	    server_listen("127.0.0.1:0", 1, &fd, err, sizeof(err)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0 ||
	    server_start_on(&fuzz_gw, cfg, &fd, 1, -1, err, sizeof(err)) == NULL) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	snprintf(fuzz_gw.signer_kid, sizeof(fuzz_gw.signer_kid), "fuzz");
	fuzz_port = ntohs(sin.sin_port);
}

static void
fuzz_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(fuzz_exit);
}

/* Every FUZZ_FRESH inputs, a new gateway on an empty store and log. */
static void
fuzz_refresh(void)
{
	static const char *const files[] = { "tellonce.db", "tellonce.db-wal",
		"tellonce.db-shm" };

	fuzz_stop();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(fuzz_path(files[i]));
	tmpdir_remove(fuzz_path("audit"));
	fuzz_start();
}

/* The request line's method; a method no route used before stops the
 * fuzzer until it is named here. */
static const char *
fuzz_method(enum evhttp_cmd_type method)
{
	switch (method) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PUT: return "PUT";
	default: abort();
	}
}

/* Appends the input to the path, escaping what cannot go in a request
 * line, so the request reaches the router. */
static void
fuzz_escape(char *out, const uint8_t *in, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		if (in[i] > ' ' && in[i] < 0x7f && in[i] != '#') {
			*out++ = (char)in[i];
			continue;
		}
		*out++ = '%';
		*out++ = hex[in[i] >> 4];
		*out++ = hex[in[i] & 15];
	}
	*out = '\0';
}

/* The request for this input; malloc'd. The body goes in as bytes (it may
 * hold NULs). */
static char *
fuzz_request(const struct request_route *rt, const uint8_t *data,
    size_t size, size_t *len)
{
	const char *cred = fuzz_credentials[data[1] %
	    (sizeof(fuzz_credentials) / sizeof(fuzz_credentials[0]))];
	int prefix = rt->path[strlen(rt->path) - 1] == '/';
	size_t body = !prefix && rt->method == EVHTTP_REQ_POST ? size - 2 : 0;
	char *tail = malloc(3 * size + 2), auth[64] = "", *head, *req;
	int n;

	if (tail == NULL)
		abort();
	tail[0] = '\0';
	if (body == 0)
		fuzz_escape(prefix ? tail : stpcpy(tail, "?"), data + 2, size - 2);
	if (cred != NULL)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
		    cred);
	n = asprintf(&head, "%s %s%s HTTP/1.1\r\nHost: fuzz\r\n%s"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", fuzz_method(rt->method), rt->path,
	    tail, auth, body);
	free(tail);
	if (n < 0 || (req = malloc((size_t)n + body)) == NULL)
		abort();
	memcpy(req, head, (size_t)n);
	memcpy(req + n, data + 2, body);
	free(head);
	*len = (size_t)n + body;
	return req;
}

/* A blocking connect that an alarm may interrupt: the connection goes on
 * in the background, so wait for it instead of starting again. */
static int
fuzz_connect(int fd, const struct sockaddr_in *sin)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int error = 0;

	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	while (poll(&p, 1, 30000) == -1)
		if (errno != EINTR)
			return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 ||
	    error != 0)
		return -1;
	return 0;
}

static void
fuzz_send(int fd, const char *data, size_t len, int raw)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!raw)
				abort();    /* closed before the request was read */
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Sends the request and reads the whole answer; aborts when none comes.
 * The answer's status, or 0 for raw bytes. */
static int
fuzz_exchange(const void *req, size_t len, int raw)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)fuzz_port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct timeval tv = { 30, 0 };
	char buf[4096], head[16] = "";
	static uint32_t next;
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* The server closes first, so each exchange leaves a TIME_WAIT pair;
	 * spreading clients over 127/8 keeps thousands a second from running
	 * out of addresses. */
	next = next % 0xfffff + 1;
	from.sin_addr.s_addr = htonl(0x7f000000u | next << 4 | 1);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) != 0 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
	    fuzz_connect(fd, &sin) != 0) {
		perror("fuzz: connect");
		abort();
	}
	fuzz_send(fd, req, len, raw);
	if (raw)
		shutdown(fd, SHUT_WR);
	while ((n = recv(fd, buf, sizeof(buf), 0)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (got < sizeof(head) - 1) {
			size_t k = (size_t)n < sizeof(head) - 1 - got ? (size_t)n :
			    sizeof(head) - 1 - got;

			memcpy(head + got, buf, k);
		}
		got += (size_t)n;
	}
	if (n < 0 && !raw) {
		perror("fuzz: no complete answer");
		abort();
	}
	close(fd);
	if (raw)
		return 0;
	if (strncmp(head, "HTTP/1.1 ", 9) != 0)
		abort();
	return atoi(head + 9);
}

/* One anonymous request per route, with "x=1" as its input (a well-formed
 * query, a path tail, a body not read before the 401): each must reach its
 * route (the router answers 404 or 405 to what reaches none), so a route
 * the requests above cannot reach is found at once. */
static void
fuzz_every_route(void)
{
	const struct request_route *routes;
	const uint8_t data[] = { 0, 0, 'x', '=', '1' };
	size_t nroutes, len;
	char *req;
	int status;

	routes = server_routes(&nroutes);
	for (size_t i = 0; i < nroutes; i++) {
		req = fuzz_request(&routes[i], data, sizeof(data), &len);
		status = fuzz_exchange(req, len, 0);
		free(req);
		if (status == 404 || status == 405) {
			fprintf(stderr, "fuzz: %s %s answers %d\n",
			    fuzz_method(routes[i].method), routes[i].path, status);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct request_route *routes;
	size_t nroutes, len;
	char *req;

	static unsigned long inputs;

	if (inputs == 0) {
		fuzz_init();
		fuzz_start();
		fuzz_every_route();
	} else if (inputs % FUZZ_FRESH == 0) {
		fuzz_refresh();
	}
	inputs++;
	if (size < 2)
		return 0;
	routes = server_routes(&nroutes);
	if (data[0] >= nroutes) {
		fuzz_exchange(data + 1, size - 1, 1);
		return 0;
	}
	req = fuzz_request(&routes[data[0]], data, size, &len);
	fuzz_exchange(req, len, 0);
	free(req);
	return 0;
}
