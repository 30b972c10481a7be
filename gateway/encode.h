/* encode.h — hex and base64 (standard and URL-safe) without allocation
 * surprises: the caller passes the output buffer, sized with the macros. */
#ifndef TELLONCE_ENCODE_H
#define TELLONCE_ENCODE_H

#include <stddef.h>

#define ENCODE_HEX_LEN(n)    ((n) * 2 + 1)
#define ENCODE_BASE64_LEN(n) ((((n) + 2) / 3) * 4 + 1)

/* The length of the UTF-8 sequence at s (n > 0 bytes there) as jansson
 * accepts it: shortest form, no surrogate, nothing past U+10FFFF; 0 when
 * it is not one. */
size_t encode_utf8_len(const unsigned char *s, size_t n);
/* Lower-case hex of `len` bytes, NUL-terminated. */
void encode_hex(const unsigned char *in, size_t len, char *out);
/* Decodes exactly `outlen` bytes of hex; returns 0 or -1. */
int decode_hex(const char *in, unsigned char *out, size_t outlen);
/* Standard base64 with padding (RFC 4648 §4); returns the length written. */
size_t encode_base64(const unsigned char *in, size_t len, char *out);
/* URL-safe base64 without padding (RFC 4648 §5, as JWS uses). */
size_t encode_base64url(const unsigned char *in, size_t len, char *out);
/* Decodes standard base64 (padding required) into out (capacity outcap);
 * returns the decoded length or -1 on bad input or overflow. */
long decode_base64(const char *in, size_t len, unsigned char *out, size_t outcap);
/* Decodes URL-safe base64 without padding; same contract. */
long decode_base64url(const char *in, size_t len, unsigned char *out, size_t outcap);

#endif
