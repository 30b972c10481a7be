/* tls.c — inbound TLS: the SSL_CTX built from gateway.tls and the OpenSSL
 * bufferevents evhttp runs on. A reload builds a new context; connections
 * keep the context they were accepted with (SSL_new holds a reference). */
#include "tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <time.h>

/* TLS 1.2 suites with forward secrecy and AEAD only (Mozilla
 * "intermediate"); TLS 1.3 suites are all of that kind already. */
#define TLS_CIPHERS_12 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static const unsigned char tls_session_context[] = "tellonce";

/* Formats "what: OpenSSL's reason" and clears OpenSSL's error queue. */
static void
tls_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];

	ERR_error_string_n(e, reason, sizeof(reason));
	if (e != 0)
		snprintf(err, errlen, "%s: %s", what, reason);
	else
		snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

static BIO *
tls_bio(const struct secret *pem)
{
	return BIO_new_mem_buf(pem->data, (int)pem->len);
}

/* The first certificate of the chain is the server's; the rest are its
 * intermediates, sent along in the handshake. */
static int
tls_load_chain(SSL_CTX *ctx, const struct secret *pem, char *err,
    size_t errlen)
{
	BIO *bio = tls_bio(pem);
	X509 *cert;
	int rc = -1;

	if (bio == NULL || (cert = PEM_read_bio_X509_AUX(bio, NULL, NULL,
	    NULL)) == NULL) {
		BIO_free(bio);
		tls_error(err, errlen, "tls.cert holds no PEM certificate");
		return -1;
	}
	if (SSL_CTX_use_certificate(ctx, cert) != 1) {
		tls_error(err, errlen, "tls.cert");
		goto out;
	}
	X509_free(cert);
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, cert) != 1) {
			tls_error(err, errlen, "tls.cert: intermediate");
			goto out;
		}
	}
	ERR_clear_error(); /* the end of the PEM text */
	cert = NULL;
	rc = 0;
out:
	X509_free(cert);
	BIO_free(bio);
	return rc;
}

/* OpenSSL clears private key material when the key is freed. */
static int
tls_load_key(SSL_CTX *ctx, const struct secret *pem, char *err, size_t errlen)
{
	BIO *bio = tls_bio(pem);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    NULL;
	int rc = -1;

	BIO_free(bio);
	if (key == NULL)
		tls_error(err, errlen, "tls.key holds no PEM private key");
	else if (SSL_CTX_use_PrivateKey(ctx, key) != 1)
		tls_error(err, errlen, "tls.key");
	else if (SSL_CTX_check_private_key(ctx) != 1)
		tls_error(err, errlen, "tls.key does not match tls.cert");
	else
		rc = 0;
	EVP_PKEY_free(key);
	return rc;
}

/* Trusts every certificate of the bundle for client certificates and
 * names them in the CertificateRequest. */
static int
tls_load_client_ca(SSL_CTX *ctx, const struct secret *pem, char *err,
    size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *bio = tls_bio(pem);
	X509 *ca;
	int n = 0;

	if (bio == NULL) {
		tls_error(err, errlen, "tls.client_ca");
		return -1;
	}
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, ca) != 1 ||
		    SSL_CTX_add_client_CA(ctx, ca) != 1) {
			X509_free(ca);
			BIO_free(bio);
			tls_error(err, errlen, "tls.client_ca");
			return -1;
		}
		X509_free(ca);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen, "tls.client_ca holds no PEM certificate");
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

int64_t
tls_not_after(SSL_CTX *ctx)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	const ASN1_TIME *t;
	struct tm tm;

	if (cert == NULL || (t = X509_get0_notAfter(cert)) == NULL ||
	    ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

SSL_CTX *
tls_server_ctx_new(const struct config_tls *tls, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_error(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Resumed sessions must not skip client certificate checks made
	 * under another context, so sessions are tied to this one. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, tls_session_context,
	    sizeof(tls_session_context) - 1) != 1) {
		tls_error(err, errlen, "cannot configure TLS");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls_load_chain(ctx, &tls->cert, err, errlen) != 0 ||
	    tls_load_key(ctx, &tls->key, err, errlen) != 0 ||
	    (tls->client_ca.len > 0 &&
	    tls_load_client_ca(ctx, &tls->client_ca, err, errlen) != 0)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct bufferevent *
tls_bufferevent_new(SSL_CTX *ctx, struct event_base *base)
{
	struct bufferevent *bev;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Clients that close without close_notify are common and harmless
	 * for HTTP with explicit lengths. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int
tls_is_tls(struct bufferevent *bev)
{
	return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}

int
tls_peer_sha256(struct bufferevent *bev, unsigned char out[TLS_CERT_SHA256_LEN])
{
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	unsigned int n = 0;

	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	if (X509_digest(cert, EVP_sha256(), out, &n) != 1 ||
	    n != TLS_CERT_SHA256_LEN)
		return -1;
	return 0;
}
