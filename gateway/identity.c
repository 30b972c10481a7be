/* identity.c — pivot identity normalisation and the keyed pseudonym.
 *
 * Two services that type the same person differently must still reach the
 * same subject, so every field is reduced to a canonical form before it is
 * hashed (docs/identity.md gives the rules and the reasons):
 *
 *   names and birthplace  letters and digits only, lower case, accents
 *                         stripped, every run of anything else (spaces,
 *                         hyphens, apostrophes, dots) one space, no space
 *                         at either end: "Jean-Pierre", "JEAN PIERRE" and
 *                         " jean  pierre " all give "jean pierre";
 *                         "O'Brien" gives "o brien".
 *   birthdate             ISO "YYYY-MM-DD", a real calendar day, not after
 *                         today.
 *   gender                "M", "F" or "X".
 *
 * Letters outside Latin-1 Supplement and Latin Extended-A are kept as they
 * are (valid UTF-8 only): without a full Unicode table they cannot be folded
 * safely, and keeping them still matches identical spellings.
 *
 * Field values never appear in messages, and every buffer that held one is
 * wiped before it is released. */
#include "identity.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "encode.h"
#include "log.h"

#define IDENTITY_FIELD_MAX 256   /* bytes of one field, before and after */
#define IDENTITY_SEP '\x1f'      /* between fields of the canonical text */

enum identity_field {
	F_FAMILY_NAME,
	F_GIVEN_NAMES,
	F_BIRTHDATE,
	F_BIRTHPLACE,
	F_GENDER,
	F_COUNT
};

static const char *const identity_field_names[F_COUNT] = {
	"family_name", "given_names", "birthdate", "birthplace", "gender",
};

/* Accented and ligature letters of Latin-1 Supplement (U+00C0–U+00FF) and
 * Latin Extended-A (U+0100–U+017F), both cases, to their ASCII base. */
static const struct identity_fold {
	uint16_t first, last;
	const char *ascii;
} identity_folds[] = {
	{ 0x00C0, 0x00C5, "a" }, { 0x00C6, 0x00C6, "ae" }, { 0x00C7, 0x00C7, "c" },
	{ 0x00C8, 0x00CB, "e" }, { 0x00CC, 0x00CF, "i" }, { 0x00D0, 0x00D0, "d" },
	{ 0x00D1, 0x00D1, "n" }, { 0x00D2, 0x00D6, "o" }, { 0x00D8, 0x00D8, "o" },
	{ 0x00D9, 0x00DC, "u" }, { 0x00DD, 0x00DD, "y" }, { 0x00DE, 0x00DE, "th" },
	{ 0x00DF, 0x00DF, "ss" }, { 0x00E0, 0x00E5, "a" }, { 0x00E6, 0x00E6, "ae" },
	{ 0x00E7, 0x00E7, "c" }, { 0x00E8, 0x00EB, "e" }, { 0x00EC, 0x00EF, "i" },
	{ 0x00F0, 0x00F0, "d" }, { 0x00F1, 0x00F1, "n" }, { 0x00F2, 0x00F6, "o" },
	{ 0x00F8, 0x00F8, "o" }, { 0x00F9, 0x00FC, "u" }, { 0x00FD, 0x00FD, "y" },
	{ 0x00FE, 0x00FE, "th" }, { 0x00FF, 0x00FF, "y" },
	{ 0x0100, 0x0105, "a" }, { 0x0106, 0x010D, "c" }, { 0x010E, 0x0111, "d" },
	{ 0x0112, 0x011B, "e" }, { 0x011C, 0x0123, "g" }, { 0x0124, 0x0127, "h" },
	{ 0x0128, 0x0131, "i" }, { 0x0132, 0x0133, "ij" }, { 0x0134, 0x0135, "j" },
	{ 0x0136, 0x0138, "k" }, { 0x0139, 0x0142, "l" }, { 0x0143, 0x014B, "n" },
	{ 0x014C, 0x0151, "o" }, { 0x0152, 0x0153, "oe" }, { 0x0154, 0x0159, "r" },
	{ 0x015A, 0x0161, "s" }, { 0x0162, 0x0167, "t" }, { 0x0168, 0x0173, "u" },
	{ 0x0174, 0x0175, "w" }, { 0x0176, 0x0178, "y" }, { 0x0179, 0x017E, "z" },
	{ 0x017F, 0x017F, "s" },
};

static void
identity_error(char *err, size_t errlen, enum identity_field f, const char *why)
{
	snprintf(err, errlen, "pivot.%s: %s", identity_field_names[f], why);
}

/* Decodes one UTF-8 sequence at *p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 0 and advances, or -1. */
static int
identity_utf8_next(const unsigned char **p, uint32_t *cp)
{
	const unsigned char *s = *p;
	uint32_t min;
	int len;

	if (s[0] < 0x80) {
		*cp = s[0];
		*p = s + 1;
		return 0;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2, min = 0x80, *cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3, min = 0x800, *cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4, min = 0x10000, *cp = s[0] & 0x07;
	} else {
		return -1;
	}
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;   /* also stops at the NUL */
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return -1;
	*p = s + len;
	return 0;
}

enum identity_class {
	C_KEEP,        /* appended as written (letters outside the fold table) */
	C_SEPARATOR,   /* spaces, hyphens, apostrophes, punctuation */
	C_MARK,        /* combining accent: dropped, its base letter stays */
	C_INVALID,     /* control characters */
};

static enum identity_class
identity_classify(uint32_t cp)
{
	if (cp < 0x80) {
		if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		    (cp >= '0' && cp <= '9'))
			return C_KEEP;
		if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x20 && cp < 0x7F))
			return C_SEPARATOR;
		return C_INVALID;
	}
	if (cp < 0xA0)
		return C_INVALID;       /* C1 controls */
	if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
		return C_SEPARATOR;     /* NBSP, Latin-1 punctuation, × ÷ */
	if (cp >= 0x0300 && cp <= 0x036F)
		return C_MARK;
	/* ʼ, then General Punctuation (typographic spaces, dashes, quotes),
	 * then the ideographic space. */
	if (cp == 0x02BC || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000)
		return C_SEPARATOR;
	return C_KEEP;
}

static const char *
identity_fold(uint32_t cp)
{
	size_t n = sizeof(identity_folds) / sizeof(identity_folds[0]);

	for (size_t i = 0; i < n; i++)
		if (cp >= identity_folds[i].first && cp <= identity_folds[i].last)
			return identity_folds[i].ascii;
	return NULL;
}

/* A name or place: see the rules at the top. The output is never longer
 * than the input (every replacement is at most as long as its UTF-8 form),
 * so `out` needs strlen(in) + 1 bytes. Returns NULL or what is wrong. */
static const char *
identity_name(const char *in, char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t len = 0;
	int space = 0;

	while (*p != '\0') {
		const unsigned char *start = p;
		const char *ascii;
		uint32_t cp;

		if (identity_utf8_next(&p, &cp) != 0)
			return "invalid UTF-8";
		switch (identity_classify(cp)) {
		case C_INVALID:
			return "control character";
		case C_MARK:
			continue;
		case C_SEPARATOR:
			space = len > 0;
			continue;
		case C_KEEP:
			break;
		}
		if (space) {
			out[len++] = ' ';
			space = 0;
		}
		if (cp < 0x80) {
			out[len++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
		} else if ((ascii = identity_fold(cp)) != NULL) {
			memcpy(out + len, ascii, strlen(ascii));
			len += strlen(ascii);
		} else {
			memcpy(out + len, start, (size_t)(p - start));
			len += (size_t)(p - start);
		}
	}
	out[len] = '\0';
	return len == 0 ? "empty" : NULL;
}

/* Copies `in` without leading and trailing ASCII spaces into out
 * (IDENTITY_FIELD_MAX + 1 bytes; the caller has checked the length). */
static void
identity_trim(const char *in, char *out)
{
	size_t len;

	while (*in == ' ' || *in == '\t')
		in++;
	len = strlen(in);
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	memcpy(out, in, len);
	out[len] = '\0';
}

static int
identity_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "YYYY-MM-DD" or "DD/MM/YYYY" → "YYYY-MM-DD" in out (11 bytes or more). */
static const char *
identity_birthdate(const char *in, char *out)
{
	char text[IDENTITY_FIELD_MAX + 1];
	int64_t ms;

	identity_trim(in, text);
	if (strlen(text) != 10) {
		OPENSSL_cleanse(text, sizeof(text));
		return "expected YYYY-MM-DD or DD/MM/YYYY";
	}
	if (text[4] == '-' && text[7] == '-' && identity_digits(text, 4) &&
	    identity_digits(text + 5, 2) && identity_digits(text + 8, 2))
		memcpy(out, text, 11);
	else if (text[2] == '/' && text[5] == '/' && identity_digits(text, 2) &&
	    identity_digits(text + 3, 2) && identity_digits(text + 6, 4))
		snprintf(out, 11, "%.4s-%.2s-%.2s", text + 6, text + 3, text);
	else
		out[0] = '\0';
	OPENSSL_cleanse(text, sizeof(text));
	if (out[0] == '\0')
		return "expected YYYY-MM-DD or DD/MM/YYYY";
	if (clock_parse_rfc3339(out, &ms) != 0)
		return "not a calendar date";
	if (ms > clock_now_ms())
		return "in the future";
	return NULL;
}

static const struct {
	const char *word;
	const char *code;
} identity_genders[] = {
	{ "m", "M" }, { "male", "M" }, { "homme", "M" },
	{ "f", "F" }, { "female", "F" }, { "femme", "F" },
	{ "x", "X" },
};

static const char *
identity_gender(const char *in, char *out)
{
	char text[IDENTITY_FIELD_MAX + 1];
	const char *why = "expected M, F or X";
	size_t n = sizeof(identity_genders) / sizeof(identity_genders[0]);

	identity_trim(in, text);
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(text, identity_genders[i].word) == 0) {
			memcpy(out, identity_genders[i].code, 2);
			why = NULL;
			break;
		}
	}
	OPENSSL_cleanse(text, sizeof(text));
	return why;
}

/* Checks and normalises field f of the pivot into out. */
static const char *
identity_field(const json_t *pivot, enum identity_field f, char *out)
{
	json_t *v = json_object_get(pivot, identity_field_names[f]);

	if (v == NULL)
		return "missing";
	if (!json_is_string(v))
		return "must be a string";
	if (json_string_length(v) > IDENTITY_FIELD_MAX)
		return "too long";
	if (strlen(json_string_value(v)) != json_string_length(v))
		return "contains NUL";
	switch (f) {
	case F_BIRTHDATE:
		return identity_birthdate(json_string_value(v), out);
	case F_GENDER:
		return identity_gender(json_string_value(v), out);
	default:
		return identity_name(json_string_value(v), out);
	}
}

/* Joins the fields with IDENTITY_SEP; malloc'd. */
static char *
identity_join(char fields[F_COUNT][IDENTITY_FIELD_MAX + 1])
{
	size_t total = 0, off = 0;
	char *out;

	for (int f = 0; f < F_COUNT; f++)
		total += strlen(fields[f]) + 1;
	if ((out = malloc(total)) == NULL)
		return NULL;
	for (int f = 0; f < F_COUNT; f++) {
		size_t len = strlen(fields[f]);

		memcpy(out + off, fields[f], len);
		off += len;
		out[off++] = f + 1 < F_COUNT ? IDENTITY_SEP : '\0';
	}
	return out;
}

int
identity_normalize(const json_t *pivot, char **out, char *err, size_t errlen)
{
	char fields[F_COUNT][IDENTITY_FIELD_MAX + 1];
	const char *why = NULL;
	int f;

	*out = NULL;
	if (!json_is_object(pivot)) {
		snprintf(err, errlen, "pivot: must be an object");
		return -1;
	}
	for (f = 0; f < F_COUNT; f++)
		if ((why = identity_field(pivot, f, fields[f])) != NULL)
			break;
	if (why != NULL)
		identity_error(err, errlen, f, why);
	else if (json_object_size(pivot) != F_COUNT)   /* all five, and more */
		snprintf(err, errlen, "pivot: unknown field");
	else if ((*out = identity_join(fields)) == NULL)
		snprintf(err, errlen, "pivot: out of memory");
	OPENSSL_cleanse(fields, sizeof(fields));
	return *out != NULL ? 0 : -1;
}

void
identity_pseudonym(const unsigned char *key, size_t keylen,
    const char *normalized, char subject[STORE_SUBJECT_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	/* Fails only when OpenSSL cannot allocate; an empty or partial
	 * subject would merge people, so there is no way on but out. */
	if (HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)normalized, strlen(normalized), mac,
	    &maclen) == NULL || maclen != 32) {
		log_error("identity: HMAC-SHA-256 failed");
		abort();
	}
	encode_hex(mac, maclen, subject);
	OPENSSL_cleanse(mac, sizeof(mac));
}
