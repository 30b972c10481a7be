/* tls.h — the inbound TLS server context (gateway.tls) and what the
 * handshake tells us about the client.
 *
 * TLS 1.2 and 1.3 only, forward-secret AEAD cipher suites, no compression,
 * no renegotiation. With client_ca, the handshake itself refuses a client
 * without a certificate signed by one of those CAs (mTLS), so no request
 * ever reaches a handler over an unauthenticated mTLS connection. */
#ifndef TELLONCE_TLS_H
#define TELLONCE_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "config_model.h"

struct bufferevent;

#define TLS_CERT_SHA256_LEN 32

/* A server context from the PEM text in tls; NULL with err (OpenSSL's
 * reason, never key material). Caller frees with SSL_CTX_free. */
SSL_CTX *tls_server_ctx_new(const struct config_tls *tls, char *err,
    size_t errlen);
/* notAfter of ctx's certificate in seconds since the epoch, or 0 when it
 * has none or the time cannot be read. */
int64_t tls_not_after(SSL_CTX *ctx);
/* A bufferevent that accepts TLS on the fd evhttp will set later; NULL if
 * it cannot be made (the caller must then refuse the connection). */
struct bufferevent *tls_bufferevent_new(SSL_CTX *ctx, struct event_base *base);
/* 1 if bev is a TLS bufferevent. */
int tls_is_tls(struct bufferevent *bev);
/* SHA-256 of the DER of the client's verified certificate: 0, or -1 when
 * the connection is not TLS or the client sent none. */
int tls_peer_sha256(struct bufferevent *bev,
    unsigned char out[TLS_CERT_SHA256_LEN]);

#endif
