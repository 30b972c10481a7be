/* encode.c — hex and base64. Hand-written rather than OpenSSL's EVP_Encode*
 * because those insert line breaks and accept sloppy input; decoding here is
 * strict, since proofs and signatures come from outside. */
#include "encode.h"

#include <stdint.h>
#include <string.h>

static const char encode_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char encode_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
encode_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
encode_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
decode_hex(const char *in, unsigned char *out, size_t outlen)
{
	if (strlen(in) != outlen * 2)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int hi = encode_nibble(in[2 * i]), lo = encode_nibble(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static size_t
encode_b64_with(const char *alphabet, int pad, const unsigned char *in,
    size_t len, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alphabet[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t
encode_base64(const unsigned char *in, size_t len, char *out)
{
	return encode_b64_with(encode_b64, 1, in, len, out);
}

size_t
encode_base64url(const unsigned char *in, size_t len, char *out)
{
	return encode_b64_with(encode_b64url, 0, in, len, out);
}

static int
decode_b64_value(const char *alphabet, char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(alphabet, c);
	return p ? (int)(p - alphabet) : -1;
}

static long
decode_b64_with(const char *alphabet, int pad, const char *in, size_t len,
    unsigned char *out, size_t outcap)
{
	size_t o = 0, npad = 0;
	unsigned acc = 0;
	int bits = 0;

	if (pad) {
		if (len % 4 != 0)
			return -1;
		while (npad < 2 && len > 0 && in[len - 1] == '=') {
			len--;
			npad++;
		}
	} else if (len % 4 == 1) {
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		int v = decode_b64_value(alphabet, in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outcap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	/* Leftover bits must be zero, or two encodings would decode alike. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

long
decode_base64(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	return decode_b64_with(encode_b64, 1, in, len, out, outcap);
}

long
decode_base64url(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	return decode_b64_with(encode_b64url, 0, in, len, out, outcap);
}

size_t
encode_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	uint32_t cp;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}
