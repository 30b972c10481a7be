/* connectors/http — services that speak HTTP/JSON, through libcurl's multi
 * interface driven by the worker's libevent loop, so a slow service never
 * blocks other requests.
 *
 * One instance per loop owns one CURLM (and so one connection cache, which
 * keeps connections to the service alive between calls). libcurl tells us
 * which sockets to watch and when to wake it (socket and timer callbacks);
 * libevent tells libcurl when a socket is ready (curl_multi_socket_action).
 * A connection's socket, which libcurl opens and closes through us, stays
 * watched between its calls; a socket we are not told the close of (the
 * resolver's) is unwatched as soon as libcurl says so.
 * Every done callback runs from the loop, never inside fetch/push/health. */
#include "http.h"
#include "http_json.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_POOL_MAX 64 /* idle calls kept for reuse, per kind */
#define HTTP_HEADERS_MAX 9 /* the most header lines a call passes */
/* Connections open to the service per instance, busy or idle; calls
 * beyond wait for one (within their timeout). Without a cap libcurl's
 * cache grows with the load and keeps its connections open idle: 2,408
 * of them took the descriptors the audit log needed. Half of
 * CONNECTOR_MAX_FDS, the rest for resolver and wake-up sockets. */
#define HTTP_MAX_CONNECTIONS (CONNECTOR_MAX_FDS / 2)

enum http_kind { HTTP_FETCH, HTTP_PUSH, HTTP_HEALTH, HTTP_KINDS };

struct http_call;
struct http_sock;

struct http_instance {
	const struct http_settings *set;  /* owned by the config */
	struct connector_env env;
	CURLM *multi;
	struct event *timer;              /* libcurl's wake-up */
	struct event *wake;               /* reports calls refused before sending */
	struct http_call *calls;          /* every call not yet reported */
	struct http_sock *socks;          /* every socket libcurl asked us to watch */
	struct http_sock **opened;        /* those http_on_open made, by fd */
	size_t nopened;
	/* Idle calls, whose handles keep the options of their kind and
	 * those that point into the call (http_call_get): a call sets only
	 * its own (http_set_call). */
	struct http_call *pool[HTTP_KINDS][HTTP_POOL_MAX];
	size_t npool[HTTP_KINDS];
	char *auth_line;                  /* "Authorization: ..."; owned, wiped */
	int no_proxy;                     /* the environment names no proxy */
	/* With no proxy: base_url parsed once (CURLOPT_CURLU), and each
	 * kind's request target as libcurl makes it from the whole URL, with
	 * {local_id} left in. A call then sets only its target, and libcurl
	 * parses and rebuilds no URL (a sixth of its work in a fetch). A proxy
	 * is sent the whole URL, so with one these stay NULL. Owned. */
	CURLU *url;
	char *target[HTTP_KINDS];
	/* With url: the Host line libcurl would make, which it is given
	 * instead (http_no_host_line): it printed its own twice, char by
	 * char, some 3,500 instructions a call. NULL for a host it rewrites
	 * first (IPv6 literal, IDN name), which it then writes itself. */
	char *host_line;
	int depth;                        /* > 0 while done callbacks may run */
	int closing;                      /* destroy was called from one of them */
};

struct http_sock {
	struct http_instance *hi;
	curl_socket_t fd;
	struct event *ev;                 /* watching for flags, or NULL */
	short flags;
	int opened;                       /* by http_on_open: its close is told */
	int idle;                         /* libcurl waits on it no more */
	struct http_sock *prev, *next;
};

struct http_call {
	struct http_instance *hi;
	enum http_kind kind;
	CURL *easy;                       /* owned, kept with the call */
	int added;                        /* easy is in hi->multi */
	/* CURLOPT_HTTPHEADER: the call's own nodes, which libcurl reads and
	 * never frees, over static lines and those in `lines`. */
	struct curl_slist headers[HTTP_HEADERS_MAX];
	size_t nheaders;
	char *lines;                      /* the per-call header lines; owned */
	char *buf;                        /* response body, NUL-terminated */
	size_t len, cap;
	int too_big;
	const char *refusal;              /* static detail of a refused call */
	connector_done_fn done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct http_call *prev, *next;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static const struct connector_key http_keys[] = {
	{ "base_url", CONNECTOR_KEY_STRING, NULL, 1,
	  offsetof(struct http_settings, base_url),
	  "scheme, host and port of the service, e.g. http://127.0.0.1:9001" },
	{ "timeout", CONNECTOR_KEY_DURATION, "5s", 0,
	  offsetof(struct http_settings, timeout_ms),
	  "longest a call may take, connection included (504 past it)" },
	{ "connect_timeout", CONNECTOR_KEY_DURATION, "2s", 0,
	  offsetof(struct http_settings, connect_timeout_ms),
	  "longest the TCP/TLS connection may take" },
	{ "fetch", CONNECTOR_KEY_ENDPOINT, NULL, 0,
	  offsetof(struct http_settings, fetch),
	  "{method, path}: how to read a subject's record; {local_id} is URL-encoded" },
	{ "push", CONNECTOR_KEY_ENDPOINT, NULL, 0,
	  offsetof(struct http_settings, push),
	  "{method, path}: how to deliver a record to the service" },
	{ "auth_header", CONNECTOR_KEY_SECRET, NULL, 0,
	  offsetof(struct http_settings, auth_header),
	  "value of the Authorization header sent to the service (env: or file:)" },
	{ "ca", CONNECTOR_KEY_PATH, NULL, 0,
	  offsetof(struct http_settings, ca),
	  "PEM file of the CAs that sign the service's certificate (https)" },
	{ "client_cert", CONNECTOR_KEY_CERT, NULL, 0,
	  offsetof(struct http_settings, client_cert),
	  "client certificate (PEM) shown to a service that asks for one" },
	{ "client_key", CONNECTOR_KEY_SECRET, NULL, 0,
	  offsetof(struct http_settings, client_key),
	  "private key (PEM, file mode 0600) of client_cert" },
	{ "insecure_skip_verify", CONNECTOR_KEY_BOOL, "false", 0,
	  offsetof(struct http_settings, insecure_skip_verify),
	  "true: accept any server certificate (tests only; logged as a warning)" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

/* ---- settings ------------------------------------------------------- */

static void
http_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
http_check_base_url(const char *url, char *err, size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *query = NULL, *fragment = NULL;
	char *user = NULL;
	const char *why = NULL;

	pthread_once(&http_once, http_global_init);
	if (url == NULL || (u = curl_url()) == NULL) {
		snprintf(err, errlen, url ? "out of memory" : "base_url is missing");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		why = "base_url is not a URL";
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		why = "base_url must start with http:// or https://";
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0')
		why = "base_url has no host";
	else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)
		why = "base_url must not have a query or a fragment";
	/* A password there would be a secret written inline, and logged. */
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		why = "base_url must not hold credentials (use auth_header)";
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_free(fragment);
	curl_free(user);
	curl_url_cleanup(u);
	if (why == NULL)
		return 0;
	snprintf(err, errlen, "%s", why);
	return -1;
}

/* 1 if every byte of s may appear in a request line or header value. */
static int
http_printable(const char *s, int space_ok)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f || (ch == ' ' && !space_ok))
			return 0;
	}
	return 1;
}

/* {local_id} is the one placeholder: another brace (a "{dataset}", say)
 * would reach the service unreplaced, and check would not have said so. */
static int
http_braces_ok(const char *path)
{
	static const char var[] = "{local_id}";
	const char *p = path;

	while ((p = strpbrk(p, "{}")) != NULL) {
		if (strncmp(p, var, sizeof(var) - 1) != 0)
			return 0;
		p += sizeof(var) - 1;
	}
	return 1;
}

static int
http_check_endpoint(const char *name, const struct connector_endpoint *ep,
    char *err, size_t errlen)
{
	if (ep->path == NULL)
		return 0;
	if (ep->path[0] != '/') {
		snprintf(err, errlen, "%s.path must start with '/'", name);
		return -1;
	}
	if (!http_printable(ep->path, 0) || strchr(ep->path, '#') != NULL) {
		snprintf(err, errlen, "%s.path holds a space, a control "
		    "character or '#'", name);
		return -1;
	}
	if (!http_braces_ok(ep->path)) {
		snprintf(err, errlen, "%s.path: only {local_id} is replaced; "
		    "another '{' or '}' would be sent as it is", name);
		return -1;
	}
	if (ep->method != NULL &&
	    (*ep->method == '\0' || strspn(ep->method,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(ep->method))) {
		snprintf(err, errlen, "%s.method must be an HTTP method such "
		    "as GET or PUT", name);
		return -1;
	}
	return 0;
}

static int
http_validate(const void *settings, char *err, size_t errlen)
{
	const struct http_settings *s = settings;

	if (http_check_base_url(s->base_url, err, errlen) == -1 ||
	    http_check_endpoint("fetch", &s->fetch, err, errlen) == -1 ||
	    http_check_endpoint("push", &s->push, err, errlen) == -1)
		return -1;
	if (s->timeout_ms <= 0 || s->connect_timeout_ms <= 0) {
		snprintf(err, errlen, "timeout and connect_timeout must be "
		    "positive");
		return -1;
	}
	if (s->auth_header != NULL && !http_printable(s->auth_header, 1)) {
		snprintf(err, errlen, "auth_header holds a control character");
		return -1;
	}
	if ((s->client_cert == NULL) != (s->client_key == NULL)) {
		snprintf(err, errlen, "client_cert and client_key go together");
		return -1;
	}
	return 0;
}

/* ---- building a request --------------------------------------------- */

/* Percent-encodes every byte but [A-Za-z0-9_~-], so that a local id is
 * always one path segment: "..", "/", "%" and CR LF cannot change the path.
 * out holds 3 * strlen(id) + 1 bytes. */
static void
http_encode_id(const char *id, char *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *id != '\0'; id++) {
		unsigned char ch = (unsigned char)*id;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '~' ||
		    ch == '-') {
			*out++ = (char)ch;
			continue;
		}
		*out++ = '%';
		*out++ = hex[ch >> 4];
		*out++ = hex[ch & 15];
	}
	*out = '\0';
}

/* The length of base without its trailing slashes, which a path replaces. */
static size_t
http_base_len(const char *base)
{
	size_t len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		len--;
	return len;
}

/* base_url + path with each {local_id} replaced; *url is malloc'd. Returns
 * NULL, or why the call cannot be made. */
static const char *
http_build_url(const char *base, const char *path, const char *local_id,
    char **url)
{
	static const char var[] = "{local_id}";
	char enc[3 * HTTP_MAX_LOCAL_ID + 1] = "";
	size_t baselen = http_base_len(base), n = 0, enclen;
	const char *p, *hit;
	char *out, *q;

	for (p = path; (hit = strstr(p, var)) != NULL; p = hit + sizeof(var) - 1)
		n++;
	if (n > 0) {
		if (local_id == NULL || *local_id == '\0')
			return "empty local id";
		if (strlen(local_id) > HTTP_MAX_LOCAL_ID)
			return "local id longer than 256 bytes";
		http_encode_id(local_id, enc);
	}
	enclen = strlen(enc);
	if ((out = malloc(baselen + strlen(path) + n * enclen + 1)) == NULL)
		return "out of memory";
	memcpy(out, base, baselen);
	q = out + baselen;
	for (p = path; (hit = strstr(p, var)) != NULL; p = hit + sizeof(var) - 1) {
		memcpy(q, p, (size_t)(hit - p));
		q += hit - p;
		memcpy(q, enc, enclen);
		q += enclen;
	}
	memcpy(q, p, strlen(p) + 1);
	*url = out;
	return NULL;
}

/* The first alen bytes of a, then sep, then b; NULL when out of memory.
 * malloc'd. */
static char *
http_concat(const char *a, size_t alen, const char *sep, const char *b)
{
	size_t seplen = strlen(sep), blen = strlen(b);
	char *out = malloc(alen + seplen + blen + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, a, alen);
	memcpy(out + alen, sep, seplen);
	memcpy(out + alen + seplen, b, blen + 1);
	return out;
}

/* The path and query libcurl sends for base + path, dot segments removed
 * and bytes past ASCII escaped as it does, with {local_id} left in
 * (libcurl changes neither its braces nor the segment it is in). NULL if
 * they make no URL; malloc'd. */
static char *
http_target_template(const char *base, const char *path)
{
	char *url, *p = NULL, *q = NULL, *target = NULL;
	CURLU *u;

	if ((url = http_concat(base, http_base_len(base), "", path)) == NULL)
		return NULL;
	if ((u = curl_url()) != NULL &&
	    curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME |
	    CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &p, CURLU_URLENCODE) == CURLUE_OK)
		target = curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK ?
		    http_concat(p, strlen(p), "?", q) : strdup(p);
	curl_free(p);
	curl_free(q);
	curl_url_cleanup(u);
	free(url);
	return target;
}

/* Sent by every call, and by every push; libcurl only reads them. */
static char http_accept_line[] = "Accept: application/json";
static char http_content_type_line[] = "Content-Type: application/json";
/* No "Expect: 100-continue" round trip before large bodies. */
static char http_no_expect_line[] = "Expect:";
/* No Host line of libcurl's own: the next one, ours, is sent as it is. */
static char http_no_host_line[] = "Host:";

static void
http_header_link(struct http_call *c, char *line)
{
	struct curl_slist *n = &c->headers[c->nheaders];

	n->data = line;
	n->next = NULL;
	if (c->nheaders > 0)
		c->headers[c->nheaders - 1].next = n;
	c->nheaders++;
}

/* A header whose value comes with the call; skipped when value is NULL. */
struct http_call_header {
	const char *name, *value;
	const char *invalid;   /* why the call cannot be made when value is */
};

/* Writes "name: value" at *p, links it and moves *p past it. Copied, not
 * printed: sprintf's format parsing was a third of a push's own work in
 * http_start. */
static void
http_header_write(struct http_call *c, char **p, const struct http_call_header *h)
{
	size_t nlen, vlen;

	if (h->value == NULL)
		return;
	nlen = strlen(h->name);
	vlen = strlen(h->value);
	http_header_link(c, *p);
	memcpy(*p, h->name, nlen);
	memcpy(*p + nlen, ": ", 2);
	memcpy(*p + nlen + 2, h->value, vlen + 1);
	*p += nlen + 2 + vlen + 1;
}

/* The headers in their order: Host (when hi->host_line is set; libcurl
 * sends its own first otherwise), Accept, X-Request-Id, traceparent,
 * Authorization, and for a push Content-Type, Expect, Idempotency-Key.
 * The per-call lines share one allocation; values that could split the
 * header are refused. */
static const char *
http_build_headers(struct http_call *c, const struct connector_request *req)
{
	int push = c->kind == HTTP_PUSH;
	const struct http_call_header h[] = {
		{ "X-Request-Id", req ? req->request_id : NULL,
		  "request id is not a valid header value" },
		{ "traceparent", req ? req->traceparent : NULL,
		  "traceparent is not a valid header value" },
		{ "Idempotency-Key", push ? req->idempotency_key : NULL,
		  "idempotency key is not a valid header value" },
	};
	size_t len = 0;
	char *p;

	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		if (h[i].value == NULL)
			continue;
		if (!http_printable(h[i].value, 1))
			return h[i].invalid;
		len += strlen(h[i].name) + 2 + strlen(h[i].value) + 1;
	}
	if (len > 0 && (c->lines = malloc(len)) == NULL)
		return "out of memory";
	p = c->lines;
	if (c->hi->host_line != NULL) {
		http_header_link(c, http_no_host_line);
		http_header_link(c, c->hi->host_line);
	}
	http_header_link(c, http_accept_line);
	http_header_write(c, &p, &h[0]);
	http_header_write(c, &p, &h[1]);
	if (c->hi->auth_line != NULL)
		http_header_link(c, c->hi->auth_line);
	if (!push)
		return NULL;
	http_header_link(c, http_content_type_line);
	http_header_link(c, http_no_expect_line);
	http_header_write(c, &p, &h[2]);
	return NULL;
}

static size_t
http_on_data(char *data, size_t size, size_t n, void *arg)
{
	struct http_call *c = arg;
	size_t len = size * n;
	char *buf;

	if (len > HTTP_MAX_RESPONSE - c->len) {
		c->too_big = 1;
		return 0;
	}
	if (c->len + len + 1 > c->cap) {
		/* Most answers are small: a first block glibc keeps per thread
		 * (up to 1032 bytes), not one that goes through its bins. */
		size_t cap = c->cap ? c->cap : 1024;

		while (cap < c->len + len + 1)
			cap *= 2;
		if ((buf = realloc(c->buf, cap)) == NULL)
			return 0;
		c->buf = buf;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	c->buf[c->len] = '\0';
	return len;
}

/* The method of a handle of c's kind. */
static void
http_set_method(CURL *e, enum http_kind kind, const struct connector_endpoint *ep)
{
	if (kind == HTTP_PUSH)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
		    ep->method ? ep->method : "PUT");
	else if (ep == NULL || ep->method == NULL || strcmp(ep->method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, ep->method);
}

/* Not copied: libcurl would free its copy of the key without wiping it.
 * The settings outlive every handle and are wiped with the config. */
static void
http_set_client_cert(CURL *e, const struct http_settings *s)
{
	struct curl_blob cert = { s->client_cert, strlen(s->client_cert),
	    CURL_BLOB_NOCOPY };
	struct curl_blob key = { s->client_key, strlen(s->client_key),
	    CURL_BLOB_NOCOPY };

	curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
	curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
	curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
}

static curl_socket_t http_on_open(void *, curlsocktype,
    struct curl_sockaddr *);
static int http_on_close(void *, curl_socket_t);

/* What every call of a kind has in common, set once per handle. */
static void
http_set_options(struct http_instance *hi, CURL *e, enum http_kind kind,
    const struct connector_endpoint *ep)
{
	const struct http_settings *s = hi->set;

	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_data);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_on_open);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, hi);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, http_on_close);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, hi);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)s->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)HTTP_MAX_RESPONSE);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, s->insecure_skip_verify ?
	    0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, s->insecure_skip_verify ?
	    0L : 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->ca != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, s->ca);
	if (s->client_cert != NULL)
		http_set_client_cert(e, s);
	/* With no proxy in the environment, say so once: libcurl would
	 * otherwise look for one in it at every call (six getenv's), and
	 * for hosts that bypass it (two more, even with CURLOPT_PROXY ""). */
	if (hi->no_proxy) {
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		curl_easy_setopt(e, CURLOPT_NOPROXY, "");
		curl_easy_setopt(e, CURLOPT_CURLU, hi->url);
	}
	http_set_method(e, kind, ep);
}

/* What is the call's own. 0, or -1 if the body could not be copied. */
static int
http_set_call(struct http_call *c, const char *url,
    const struct connector_request *req)
{
	CURL *e = c->easy;

	curl_easy_setopt(e, c->hi->url ? CURLOPT_REQUEST_TARGET : CURLOPT_URL,
	    url);
	if (c->kind != HTTP_PUSH)
		return 0;
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->body_len);
	return curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
	    req->body) == CURLE_OK ? 0 : -1;
}

/* ---- call pool ------------------------------------------------------ */

/* A call of kind with its handle: an idle one, or a new one whose handle
 * gets the options of kind and those that point into the call. NULL when
 * out of memory. */
static struct http_call *
http_call_get(struct http_instance *hi, enum http_kind kind,
    const struct connector_endpoint *ep)
{
	struct http_call *c;

	if (hi->npool[kind] > 0)
		return hi->pool[kind][--hi->npool[kind]];
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->easy = curl_easy_init()) == NULL) {
		free(c);
		return NULL;
	}
	c->hi = hi;
	c->kind = kind;
	http_set_options(hi, c->easy, kind, ep);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	return c;
}

static void
http_call_free(struct http_call *c)
{
	free(c->lines);
	free(c->buf);
	curl_easy_cleanup(c->easy);
	free(c);
}

/* Keeps c, reported and unlinked, for the next call of its kind. What was
 * the finished call's own is released, a push's copy of its body (a
 * record) too, not kept until the next push. */
static void
http_call_put(struct http_call *c)
{
	struct http_instance *hi = c->hi;

	if (hi->npool[c->kind] == HTTP_POOL_MAX) {
		http_call_free(c);
		return;
	}
	if (c->kind == HTTP_PUSH)
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, NULL);
	free(c->lines);
	free(c->buf);
	c->nheaders = 0;
	c->lines = c->buf = NULL;
	c->len = c->cap = 0;
	c->too_big = 0;
	c->refusal = NULL;
	c->errbuf[0] = '\0';
	c->prev = c->next = NULL;
	hi->pool[c->kind][hi->npool[c->kind]++] = c;
}

/* ---- completion ----------------------------------------------------- */

static void
http_call_unlink(struct http_call *c)
{
	struct http_instance *hi = c->hi;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		hi->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->added) {
		curl_multi_remove_handle(hi->multi, c->easy);
		c->added = 0;
	}
}

/* Reports res and puts the call back in the pool. The call is unlinked
 * first, so the done callback may start calls or destroy the instance
 * (whose freeing waits for http_leave). */
static void
http_call_finish(struct http_call *c, const struct connector_result *res)
{
	http_call_unlink(c);
	c->done(res, c->arg);
	http_call_put(c);
}

static enum connector_status
http_transport_status(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return CONNECTOR_TIMEOUT;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return CONNECTOR_PERMANENT;
	default:
		return CONNECTOR_RETRY;
	}
}

static enum connector_status
http_status_of(long code)
{
	if (code == 404)
		return CONNECTOR_NOT_FOUND;
	if (code == 409)
		return CONNECTOR_CONFLICT;
	if (code == 429 || code >= 500)
		return CONNECTOR_RETRY;
	return CONNECTOR_PERMANENT;
}

void
http_read_answer(long code, const char *body, size_t len, int fetch,
    struct connector_result *res, char *detail, size_t detail_len)
{
	res->http_status = (int)code;
	res->detail = detail;
	if (code < 200 || code > 299) {
		res->status = http_status_of(code);
		snprintf(detail, detail_len, "service answered HTTP %ld", code);
	} else if (fetch && !http_json_is_object(body, len)) {
		res->status = CONNECTOR_PERMANENT;
		snprintf(detail, detail_len, "service answered invalid JSON");
	} else {
		res->status = CONNECTOR_OK;
		res->body = body;
		res->body_len = len;
		res->detail = NULL;
	}
}

/* Turns a finished transfer into a result. Details hold the status and
 * curl's error text, never the body (it may hold personal data). */
static void
http_classify(const struct http_call *c, CURLcode rc, long code,
    struct connector_result *res, char *detail, size_t len)
{
	res->http_status = (int)code;
	res->detail = detail;
	if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR &&
	    c->too_big)) {
		res->status = CONNECTOR_PERMANENT;
		snprintf(detail, len, "service answered more than %d bytes",
		    HTTP_MAX_RESPONSE);
	} else if (rc != CURLE_OK) {
		res->status = http_transport_status(rc);
		snprintf(detail, len, "%s", c->errbuf[0] ? c->errbuf :
		    curl_easy_strerror(rc));
	} else if (c->kind == HTTP_HEALTH) {
		res->status = CONNECTOR_OK;
		snprintf(detail, len, "service answered HTTP %ld", code);
	} else {
		http_read_answer(code, c->buf, c->len, c->kind == HTTP_FETCH,
		    res, detail, len);
	}
}

static void
http_complete(struct http_call *c, CURLcode rc)
{
	struct connector_result res = { 0 };
	char detail[CURL_ERROR_SIZE + 64];
	long code = 0;

	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
	http_classify(c, rc, code, &res, detail, sizeof(detail));
	http_call_finish(c, &res);
}

/* ---- the loop ------------------------------------------------------- */

static void http_free(struct http_instance *);

/* Frees the instance if a done callback destroyed it meanwhile. */
static void
http_leave(struct http_instance *hi)
{
	if (--hi->depth == 0 && hi->closing)
		http_free(hi);
}

static void
http_collect(struct http_instance *hi)
{
	struct http_call *c;
	CURLMsg *msg;
	int left;

	while (!hi->closing &&
	    (msg = curl_multi_info_read(hi->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
		http_complete(c, msg->data.result);
	}
}

static void
http_drive(struct http_instance *hi, curl_socket_t fd, int action)
{
	int running;

	hi->depth++;
	curl_multi_socket_action(hi->multi, fd, action, &running);
	http_collect(hi);
	http_leave(hi);
}

static void
http_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct http_sock *sk = arg;
	int action = 0;

	/* A cached connection that turned readable (the service closed it,
	 * most likely): unwatched until a call uses it again, when libcurl
	 * checks it itself. */
	if (sk->idle) {
		event_free(sk->ev);
		sk->ev = NULL;
		return;
	}
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	http_drive(sk->hi, fd, action);
}

static void
http_on_timer(evutil_socket_t fd, short what, void *arg)
{
	http_drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void
http_sock_free(struct http_sock *sk)
{
	struct http_instance *hi = sk->hi;

	if (sk->prev != NULL)
		sk->prev->next = sk->next;
	else
		hi->socks = sk->next;
	if (sk->next != NULL)
		sk->next->prev = sk->prev;
	if (sk->opened)
		hi->opened[sk->fd] = NULL;
	if (sk->ev != NULL)
		event_free(sk->ev);
	free(sk);
}

/* A socket's watch, linked into hi->socks (and hi->opened when opened);
 * NULL when out of memory. */
static struct http_sock *
http_sock_new(struct http_instance *hi, curl_socket_t fd, int opened)
{
	struct http_sock *sk;

	if (opened && (size_t)fd >= hi->nopened) {
		size_t n = (size_t)fd + 64;
		struct http_sock **grown = reallocarray(hi->opened, n,
		    sizeof(*grown));

		if (grown == NULL)
			return NULL;
		memset(grown + hi->nopened, 0,
		    (n - hi->nopened) * sizeof(*grown));
		hi->opened = grown;
		hi->nopened = n;
	}
	if ((sk = calloc(1, sizeof(*sk))) == NULL)
		return NULL;
	sk->hi = hi;
	sk->fd = fd;
	sk->opened = opened;
	if (opened)
		hi->opened[fd] = sk;
	sk->next = hi->socks;
	if (hi->socks != NULL)
		hi->socks->prev = sk;
	hi->socks = sk;
	return sk;
}

static struct http_sock *
http_sock_opened(struct http_instance *hi, curl_socket_t fd)
{
	return fd >= 0 && (size_t)fd < hi->nopened ? hi->opened[fd] : NULL;
}

/* CURLOPT_OPENSOCKETFUNCTION: a connection's socket, whose close
 * http_on_close will be told of, so that its watch may outlive a call. */
static curl_socket_t
http_on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_instance *hi = clientp;
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC,
	    a->protocol);

	if (fd == CURL_SOCKET_BAD)
		return fd;
	if (http_sock_new(hi, fd, 1) == NULL) {
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the watch goes before the descriptor, so
 * that libevent never holds one for a closed (and soon reused) number. */
static int
http_on_close(void *clientp, curl_socket_t fd)
{
	struct http_sock *sk = http_sock_opened(clientp, fd);

	if (sk != NULL)
		http_sock_free(sk);
	return close(fd);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl waits for. */
static int
http_on_socket_change(CURL *e, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct http_instance *hi = userp;
	struct http_sock *sk = socketp;
	short flags = EV_PERSIST;

	if (sk == NULL)
		sk = http_sock_opened(hi, fd);
	if (what == CURL_POLL_REMOVE) {
		/* A connection's socket stays watched while libcurl keeps
		 * it: its next call then costs no epoll_ctl (two a fetch
		 * otherwise, of the gateway's 5.7). */
		if (sk != NULL && sk->opened)
			sk->idle = 1;
		else if (sk != NULL)
			http_sock_free(sk);
		return 0;
	}
	if (sk == NULL && (sk = http_sock_new(hi, fd, 0)) == NULL)
		return -1;
	if (socketp == NULL)
		curl_multi_assign(hi->multi, fd, sk);
	sk->idle = 0;
	if (what & CURL_POLL_IN)
		flags |= EV_READ;
	if (what & CURL_POLL_OUT)
		flags |= EV_WRITE;
	if (sk->ev != NULL && sk->flags == flags)
		return 0;
	if (sk->ev != NULL)
		event_free(sk->ev);
	sk->flags = flags;
	if ((sk->ev = event_new(hi->env.base, fd, flags, http_on_socket,
	    sk)) == NULL || event_add(sk->ev, NULL) == -1)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants http_on_timer in timeout_ms. */
static int
http_on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_instance *hi = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(hi->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(hi->timer, &tv);
}

/* Reports the calls refused before anything was sent, from the loop. */
static void
http_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct http_instance *hi = arg;
	struct http_call *c, *next;

	hi->depth++;
	for (c = hi->calls; c != NULL && !hi->closing; c = next) {
		struct connector_result res = { 0 };

		next = c->next;
		if (c->refusal == NULL)
			continue;
		res.status = CONNECTOR_PERMANENT;
		res.detail = c->refusal;
		http_call_finish(c, &res);
	}
	http_leave(hi);
}

/* ---- calls ---------------------------------------------------------- */

static void
http_refuse(struct http_call *c, const char *why)
{
	c->refusal = why;
	event_active(c->hi->wake, EV_TIMEOUT, 0);
}

static const char *
http_prepare(struct http_call *c, const struct connector_endpoint *ep,
    const struct connector_request *req)
{
	struct http_instance *hi = c->hi;
	const char *id = req ? req->local_id : NULL;
	const char *why;
	char *url; /* with hi->url, the request target */

	if (ep != NULL && ep->path == NULL)
		return "the connector has no endpoint for this call";
	if (c->kind == HTTP_PUSH && req->body == NULL)
		return "push without a body";
	if (hi->url != NULL)
		why = http_build_url("", hi->target[c->kind], id, &url);
	else
		why = http_build_url(hi->set->base_url, ep ? ep->path : "", id,
		    &url);
	if (why != NULL)
		return why;
	if ((why = http_build_headers(c, req)) == NULL &&
	    http_set_call(c, url, req) == -1)
		why = "out of memory";
	free(url);
	return why;
}

static void
http_start(struct http_instance *hi, enum http_kind kind,
    const struct connector_endpoint *ep, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct http_call *c;
	const char *why;

	if ((c = http_call_get(hi, kind, ep)) == NULL) {
		struct connector_result res = { 0 };

		/* The ABI allows a synchronous report; nothing else is possible. */
		res.status = CONNECTOR_RETRY;
		res.detail = "out of memory";
		done(&res, arg);
		return;
	}
	c->done = done;
	c->arg = arg;
	c->next = hi->calls;
	if (hi->calls != NULL)
		hi->calls->prev = c;
	hi->calls = c;
	why = http_prepare(c, ep, req);
	if (why == NULL && curl_multi_add_handle(hi->multi, c->easy) != CURLM_OK)
		why = "cannot start the HTTP call";
	if (why != NULL)
		http_refuse(c, why);
	else
		c->added = 1;
}

static void
http_fetch(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct http_instance *hi = instance;

	http_start(hi, HTTP_FETCH, &hi->set->fetch, req, done, arg);
}

static void
http_push(void *instance, const struct connector_request *req,
    connector_done_fn done, void *arg)
{
	struct http_instance *hi = instance;

	http_start(hi, HTTP_PUSH, &hi->set->push, req, done, arg);
}

static void
http_health(void *instance, connector_done_fn done, void *arg)
{
	http_start(instance, HTTP_HEALTH, NULL, NULL, done, arg);
}

/* ---- lifetime ------------------------------------------------------- */

static void
http_free(struct http_instance *hi)
{
	while (hi->calls != NULL) {
		struct http_call *c = hi->calls;

		http_call_unlink(c);
		http_call_free(c);
	}
	/* Closing cached connections may still call the socket callback. */
	if (hi->multi != NULL)
		curl_multi_cleanup(hi->multi);
	while (hi->socks != NULL)
		http_sock_free(hi->socks);
	free(hi->opened);
	for (int k = 0; k < HTTP_KINDS; k++) {
		while (hi->npool[k] > 0)
			http_call_free(hi->pool[k][--hi->npool[k]]);
		free(hi->target[k]);
	}
	curl_url_cleanup(hi->url);
	free(hi->host_line);
	if (hi->auth_line != NULL) {
		explicit_bzero(hi->auth_line, strlen(hi->auth_line));
		free(hi->auth_line);
	}
	if (hi->timer != NULL)
		event_free(hi->timer);
	if (hi->wake != NULL)
		event_free(hi->wake);
	free(hi);
}

/* The Host line libcurl makes for u: its host, and its port unless the
 * scheme's own. NULL for a host libcurl rewrites first (an IPv6 literal,
 * an IDN name) or when out of memory; malloc'd. */
static char *
http_host_line(CURLU *u)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789.-";
	char *host = NULL, *port = NULL, *line = NULL;
	size_t len;

	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    host[strspn(host, plain)] == '\0') {
		if (curl_url_get(u, CURLUPART_PORT, &port,
		    CURLU_NO_DEFAULT_PORT) != CURLUE_OK)
			port = NULL;
		len = sizeof("Host: :") + strlen(host) + (port ? strlen(port) : 0);
		if ((line = malloc(len)) != NULL)
			snprintf(line, len, "Host: %s%s%s", host, port ? ":" : "",
			    port ? port : "");
	}
	curl_free(host);
	curl_free(port);
	return line;
}

/* hi->url and hi->target, for a loop that calls the service direct. An
 * endpoint without a path has no target (its calls are refused). */
static int
http_parse_targets(struct http_instance *hi)
{
	const struct http_settings *s = hi->set;
	const char *paths[HTTP_KINDS] = { [HTTP_FETCH] = s->fetch.path,
	    [HTTP_PUSH] = s->push.path, [HTTP_HEALTH] = "" };

	if ((hi->url = curl_url()) == NULL ||
	    curl_url_set(hi->url, CURLUPART_URL, s->base_url,
	    CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		return -1;
	hi->host_line = http_host_line(hi->url);
	for (int k = 0; k < HTTP_KINDS; k++)
		if (paths[k] != NULL && (hi->target[k] =
		    http_target_template(s->base_url, paths[k])) == NULL)
			return -1;
	return 0;
}

/* Whether the environment may name a proxy, by any variable libcurl reads
 * for http or https (and the upper-case HTTP_PROXY, which it ignores, to
 * err on the side of letting it look). */
static int
http_env_names_proxy(void)
{
	static const char *const vars[] = { "http_proxy", "HTTP_PROXY",
	    "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (getenv(vars[i]) != NULL)
			return 1;
	return 0;
}

static int
http_init(void **instance, const void *settings,
    const struct connector_env *env, char *err, size_t errlen)
{
	struct http_instance *hi;

	pthread_once(&http_once, http_global_init);
	if ((hi = calloc(1, sizeof(*hi))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	hi->set = settings;
	hi->env = *env;
	if (hi->set->insecure_skip_verify)
		env->log(CONNECTOR_LOG_WARN, "service %s: insecure_skip_verify: "
		    "the certificate of %s is NOT checked, anyone on the path "
		    "can read and change its data", env->service,
		    hi->set->base_url);
	hi->no_proxy = !http_env_names_proxy();
	hi->multi = curl_multi_init();
	hi->timer = evtimer_new(env->base, http_on_timer, hi);
	hi->wake = event_new(env->base, -1, 0, http_on_wake, hi);
	/* validate() checked that the value cannot split the header. */
	if (hi->set->auth_header != NULL && asprintf(&hi->auth_line,
	    "Authorization: %s", hi->set->auth_header) == -1)
		hi->auth_line = NULL;
	if (hi->multi == NULL || hi->timer == NULL || hi->wake == NULL ||
	    (hi->set->auth_header != NULL && hi->auth_line == NULL) ||
	    (hi->no_proxy && http_parse_targets(hi) == -1)) {
		http_free(hi);
		snprintf(err, errlen, "cannot create the HTTP client");
		return -1;
	}
	curl_multi_setopt(hi->multi, CURLMOPT_SOCKETFUNCTION,
	    http_on_socket_change);
	curl_multi_setopt(hi->multi, CURLMOPT_SOCKETDATA, hi);
	curl_multi_setopt(hi->multi, CURLMOPT_TIMERFUNCTION,
	    http_on_timer_change);
	curl_multi_setopt(hi->multi, CURLMOPT_TIMERDATA, hi);
	curl_multi_setopt(hi->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)HTTP_MAX_CONNECTIONS);
	curl_multi_setopt(hi->multi, CURLMOPT_MAXCONNECTS,
	    (long)HTTP_MAX_CONNECTIONS);
	*instance = hi;
	return 0;
}

static void
http_destroy(void *instance)
{
	struct http_instance *hi = instance;

	hi->closing = 1;
	if (hi->depth == 0)
		http_free(hi);
}

const struct connector_ops http_connector_ops = {
	.abi_version = CONNECTOR_ABI_VERSION,
	.name = "http",
	.keys = http_keys,
	.settings_size = sizeof(struct http_settings),
	.validate = http_validate,
	.init = http_init,
	.fetch = http_fetch,
	.push = http_push,
	.health = http_health,
	.destroy = http_destroy,
};
