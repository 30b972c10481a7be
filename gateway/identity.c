/* identity.c — pivot identity normalisation and the keyed pseudonym.
 *
 * Two services that type the same person differently must still reach the
 * same subject, so every field is reduced to a canonical form before it is
 * hashed (docs/identity.md gives the rules and the reasons):
 *
 *   names and birthplace  letters and digits only, case-folded, accents
 *                         stripped, every run of anything else (spaces,
 *                         hyphens, apostrophes, dots) one space, no space
 *                         at either end: "Jean-Pierre", "JEAN PIERRE" and
 *                         " jean  pierre " all give "jean pierre";
 *                         "O'Brien" gives "o brien".
 *   birthdate             ISO "YYYY-MM-DD", a real calendar day, not after
 *                         today.
 *   gender                "M", "F" or "X".
 *
 * Names have two versions. Version 1 folded Latin-1 Supplement and Latin
 * Extended-A with a table of its own and kept every other letter as
 * written; version 2 folds all of Unicode with utf8proc (NFKD, case
 * folding) and drops the diacritics. Version 1 stays, frozen, because the
 * subjects linked under it can only be found again by recomputing it.
 * Version 2 reuses version 1's verdict on every character version 1 knew,
 * so a name version 1 folded to plain ASCII folds to the same text.
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
#include <utf8proc.h>

#include "clock.h"
#include "encode.h"
#include "log.h"

#define IDENTITY_FIELD_MAX 256   /* bytes of one field as sent */
#define IDENTITY_SEP '\x1f'      /* between fields of the canonical text */
/* What a version 2 pseudonym hashes before the canonical text: 0x1E never
 * occurs in a version 1 text, so the two can never hash the same bytes. */
#define IDENTITY_V2_TAG "v2\x1e"

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

struct identity_fold {
	uint32_t first, last;
	const char *ascii;
};

/* Version 1's table, also version 2's for these code points: accented and
 * ligature letters of Latin-1 Supplement (U+00C0–U+00FF) and Latin
 * Extended-A (U+0100–U+017F), both cases, to their ASCII base. */
static const struct identity_fold identity_folds_v1[] = {
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

/* Version 2 beyond Latin Extended-A: letters with a hook or a stroke that
 * have no decomposition, but whose base letter is what a register without
 * them writes (Hausa, Fula, Bambara, Ewe, Sami, Polish handwriting). */
static const struct identity_fold identity_folds_v2[] = {
	{ 0x0181, 0x0181, "b" }, { 0x0186, 0x0186, "o" }, { 0x0189, 0x018A, "d" },
	{ 0x0190, 0x0190, "e" }, { 0x0191, 0x0192, "f" }, { 0x0198, 0x0199, "k" },
	{ 0x01B3, 0x01B4, "y" }, { 0x01B5, 0x01B6, "z" }, { 0x01E4, 0x01E5, "g" },
	{ 0x0237, 0x0237, "j" }, { 0x0253, 0x0253, "b" }, { 0x0254, 0x0254, "o" },
	{ 0x0256, 0x0257, "d" }, { 0x025B, 0x025B, "e" },
};

/* The blocks of combining diacritics: the accents of Latin, Greek and
 * Cyrillic letters, which version 2 drops. The marks of other scripts
 * (Indic vowel signs, the kana voicing marks, Arabic and Hebrew points)
 * spell different names and are kept. */
static const struct identity_range {
	uint32_t first, last;
} identity_diacritics[] = {
	{ 0x0300, 0x036F }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF },
	{ 0x20D0, 0x20FF }, { 0xFE20, 0xFE2F },
};

/* Modifier letters typed for an apostrophe: ʹ ʺ ʻ ʼ ʽ ʾ ʿ, ˈ, ˊ ˋ. */
static const struct identity_range identity_apostrophes[] = {
	{ 0x02B9, 0x02BF }, { 0x02C8, 0x02C8 }, { 0x02CA, 0x02CB },
};

#define IDENTITY_NELEM(a) (sizeof(a) / sizeof((a)[0]))

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
	C_KEEP,        /* a letter or digit, folded or appended */
	C_SEPARATOR,   /* spaces, hyphens, apostrophes, punctuation */
	C_MARK,        /* combining accent: dropped, its base letter stays */
	C_INVALID,     /* control characters */
	C_UNASSIGNED,  /* version 2: no Unicode meaning yet */
};

/* Version 1's classes, frozen. */
static enum identity_class
identity_classify_v1(uint32_t cp)
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

static int
identity_in(const struct identity_range *r, size_t n, uint32_t cp)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= r[i].first && cp <= r[i].last)
			return 1;
	return 0;
}

/* Version 2: version 1's verdict wherever it was not "a letter to keep"
 * (so ª ¹ ½ stay separators, as they were), Unicode's general category
 * for the rest. */
static enum identity_class
identity_classify_v2(uint32_t cp)
{
	enum identity_class c = identity_classify_v1(cp);

	if (c != C_KEEP || cp < 0x80)
		return c;
	if (identity_in(identity_diacritics, IDENTITY_NELEM(identity_diacritics),
	    cp))
		return C_MARK;
	if (identity_in(identity_apostrophes,
	    IDENTITY_NELEM(identity_apostrophes), cp))
		return C_SEPARATOR;
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_CN:
		return C_UNASSIGNED;
	case UTF8PROC_CATEGORY_CC:
		return C_INVALID;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_PC:
	case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI:
	case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO:
	case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
	case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
	case UTF8PROC_CATEGORY_CF:
		return C_SEPARATOR;
	default:
		return C_KEEP;   /* letters, digits, other scripts' marks */
	}
}

static const char *
identity_fold_in(const struct identity_fold *t, size_t n, uint32_t cp)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= t[i].first && cp <= t[i].last)
			return t[i].ascii;
	return NULL;
}

static const char *
identity_fold_v1(uint32_t cp)
{
	return identity_fold_in(identity_folds_v1, IDENTITY_NELEM(identity_folds_v1),
	    cp);
}

static const char *
identity_fold_v2(uint32_t cp)
{
	const char *ascii = identity_fold_v1(cp);

	if (ascii != NULL)
		return ascii;
	return identity_fold_in(identity_folds_v2,
	    IDENTITY_NELEM(identity_folds_v2), cp);
}

/* A name being written: separators are held back until the next letter,
 * so that runs collapse and neither end gets one. */
struct identity_text {
	char *out;
	size_t len, cap;   /* cap: bytes of out, the NUL included */
	int space;         /* a separator came since the last letter */
};

static void
identity_text_separator(struct identity_text *t)
{
	t->space = t->len > 0;
}

/* Returns -1 when the text would not fit. */
static int
identity_text_append(struct identity_text *t, const void *bytes, size_t n)
{
	if (t->len + t->space + n >= t->cap)
		return -1;
	if (t->space) {
		t->out[t->len++] = ' ';
		t->space = 0;
	}
	memcpy(t->out + t->len, bytes, n);
	t->len += n;
	t->out[t->len] = '\0';
	return 0;
}

static const char *
identity_text_end(const struct identity_text *t)
{
	return t->len == 0 ? "empty" : NULL;
}

/* What a pass over the characters as typed asks of its version. */
struct identity_rules {
	enum identity_class (*classify)(uint32_t cp);
	const char *(*fold)(uint32_t cp);
};

static const struct identity_rules identity_rules_v1 = {
	identity_classify_v1, identity_fold_v1,
};
static const struct identity_rules identity_rules_v2 = {
	identity_classify_v2, identity_fold_v2,
};

/* The characters as typed: each checked, accents dropped, ASCII capitals
 * and the letters of the fold tables folded, separators collapsed. This
 * is the whole of version 1. In version 2 it settles what decomposition
 * would get wrong before utf8proc sees it: the folds (ŀ would decompose to
 * "l·", ŉ to "ʼn") and version 1's separators (ª would decompose to "a").
 * The output is never longer than the input (every replacement is at
 * most as long as its UTF-8 form). */
static const char *
identity_fold_pass(const char *in, const struct identity_rules *r,
    struct identity_text *t)
{
	const unsigned char *p = (const unsigned char *)in;

	while (*p != '\0') {
		const unsigned char *start = p;
		const char *ascii;
		uint32_t cp;
		char lower;
		int rc;

		if (identity_utf8_next(&p, &cp) != 0)
			return "invalid UTF-8";
		switch (r->classify(cp)) {
		case C_KEEP:
			break;
		case C_MARK:
			continue;
		case C_SEPARATOR:
			identity_text_separator(t);
			continue;
		case C_UNASSIGNED:
			return "unassigned character";
		case C_INVALID:
			return "control character";
		}
		if (cp < 0x80) {
			lower = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
			rc = identity_text_append(t, &lower, 1);
		} else if ((ascii = r->fold(cp)) != NULL) {
			rc = identity_text_append(t, ascii, strlen(ascii));
		} else {
			rc = identity_text_append(t, start, (size_t)(p - start));
		}
		if (rc != 0)
			return "too long once normalised";
	}
	return NULL;
}

/* Version 2, last pass: one code point of the NFKD, case-folded text. */
static int
identity_emit_v2(struct identity_text *t, uint32_t cp)
{
	utf8proc_uint8_t bytes[4];
	const char *ascii;

	if ((ascii = identity_fold_v2(cp)) != NULL)
		return identity_text_append(t, ascii, strlen(ascii));
	switch (identity_classify_v2(cp)) {
	case C_MARK:
		return 0;
	case C_KEEP:
		return identity_text_append(t, bytes,
		    (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, bytes));
	default:   /* separators: NFKD of a letter never gives a control */
		identity_text_separator(t);
		return 0;
	}
}

/* Version 2: the fold pass, then NFKD and case-folded by utf8proc (which also
 * puts the marks a letter keeps in canonical order), then each code point
 * folded or classified again, since a decomposition may hold a letter of
 * the fold tables (ǣ → æ + ◌̄) or a separator (½ → 1⁄2). */
static const char *
identity_name_v2(const char *in, struct identity_text *t)
{
	char prepared[IDENTITY_TEXT_MAX];
	struct identity_text pre = { prepared, 0, sizeof(prepared), 0 };
	utf8proc_int32_t cps[IDENTITY_TEXT_MAX];
	utf8proc_ssize_t n;
	const char *why;

	prepared[0] = '\0';
	if ((why = identity_fold_pass(in, &identity_rules_v2, &pre)) != NULL) {
		OPENSSL_cleanse(prepared, sizeof(prepared));
		return why;
	}
	n = utf8proc_decompose((const utf8proc_uint8_t *)prepared,
	    (utf8proc_ssize_t)pre.len, cps, IDENTITY_TEXT_MAX,
	    UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD);
	OPENSSL_cleanse(prepared, sizeof(prepared));
	if (n < 0 || n > IDENTITY_TEXT_MAX) {
		OPENSSL_cleanse(cps, sizeof(cps));
		return "too long once normalised";
	}
	for (utf8proc_ssize_t i = 0; i < n && why == NULL; i++)
		if (identity_emit_v2(t, (uint32_t)cps[i]) != 0)
			why = "too long once normalised";
	OPENSSL_cleanse(cps, sizeof(cps));
	return why != NULL ? why : identity_text_end(t);
}

const char *
identity_name(int version, const char *in, char *out, size_t outlen)
{
	struct identity_text t = { out, 0, outlen, 0 };
	const char *why;

	if (outlen == 0)
		return "too long once normalised";
	out[0] = '\0';
	if (version != 1)
		return identity_name_v2(in, &t);
	if ((why = identity_fold_pass(in, &identity_rules_v1, &t)) != NULL)
		return why;
	return identity_text_end(&t);
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

/* Checks and normalises field f of the pivot into out (IDENTITY_TEXT_MAX
 * bytes). */
static const char *
identity_field(const json_t *pivot, int version, enum identity_field f,
    char *out)
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
		return identity_name(version, json_string_value(v), out,
		    IDENTITY_TEXT_MAX);
	}
}

/* Joins the fields with IDENTITY_SEP; malloc'd. */
static char *
identity_join(char fields[F_COUNT][IDENTITY_TEXT_MAX])
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
identity_normalize(const json_t *pivot, int version, char **out, char *err,
    size_t errlen)
{
	char fields[F_COUNT][IDENTITY_TEXT_MAX];
	const char *why = NULL;
	int f;

	*out = NULL;
	if (!json_is_object(pivot)) {
		snprintf(err, errlen, "pivot: must be an object");
		return -1;
	}
	for (f = 0; f < F_COUNT; f++)
		if ((why = identity_field(pivot, version, f, fields[f])) != NULL)
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
identity_pseudonym(const unsigned char *key, size_t keylen, int version,
    const char *normalized, char subject[STORE_SUBJECT_LEN])
{
	const char *tag = version == 1 ? "" : IDENTITY_V2_TAG;
	size_t taglen = strlen(tag), len = strlen(normalized);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned char *msg;

	/* Fails only when memory runs out; an empty or partial subject would
	 * merge people, so there is no way on but out. */
	if ((msg = malloc(taglen + len)) == NULL) {
		log_error("identity: out of memory");
		abort();
	}
	memcpy(msg, tag, taglen);
	memcpy(msg + taglen, normalized, len);
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, taglen + len, mac,
	    &maclen) == NULL || maclen != 32) {
		log_error("identity: HMAC-SHA-256 failed");
		abort();
	}
	OPENSSL_cleanse(msg, taglen + len);
	free(msg);
	encode_hex(mac, maclen, subject);
	OPENSSL_cleanse(mac, sizeof(mac));
}

/* Whether the version 2 text could also be a version 1 text: version 1
 * leaves a version 2 text unchanged (it holds letters version 1 keeps,
 * digits and single spaces), but its output was never longer than the
 * 256 bytes of its input. */
static int
identity_v1_representable(const char *text)
{
	for (const char *field = text; ; ) {
		const char *end = strchr(field, IDENTITY_SEP);
		size_t len = end != NULL ? (size_t)(end - field) : strlen(field);

		if (len > IDENTITY_FIELD_MAX)
			return 0;
		if (end == NULL)
			return 1;
		field = end + 1;
	}
}

static void
identity_candidate(struct identity_subject *s, const unsigned char *key,
    size_t keylen, int version, const char *text)
{
	identity_pseudonym(key, keylen, version, text, s->subject);
	s->version = version;
}

int
identity_subjects(const unsigned char *key, size_t keylen,
    const json_t *pivot, struct identity_subject out[IDENTITY_CANDIDATES],
    char *err, size_t errlen)
{
	char *v2 = NULL, *v1 = NULL;
	int n = 0;

	if (identity_normalize(pivot, IDENTITY_VERSION, &v2, err, errlen) != 0)
		return -1;
	identity_candidate(&out[n++], key, keylen, IDENTITY_VERSION, v2);
	/* Version 1 accepts everything version 2 does, but it is no reason
	 * to refuse a pivot if it ever did not. */
	if (identity_normalize(pivot, 1, &v1, err, errlen) == 0)
		identity_candidate(&out[n++], key, keylen, 1, v1);
	err[0] = '\0';
	if (identity_v1_representable(v2) && (v1 == NULL || strcmp(v1, v2) != 0))
		identity_candidate(&out[n++], key, keylen, 1, v2);
	OPENSSL_cleanse(v2, strlen(v2));
	free(v2);
	if (v1 != NULL)
		OPENSSL_cleanse(v1, strlen(v1));
	free(v1);
	return n;
}

enum store_status
identity_link(struct store *st, const char *service, const char *local_id,
    const struct identity_subject *subjects, int n, int *chosen,
    int *created)
{
	char linked[STORE_SUBJECT_LEN];
	enum store_status rc;
	int i;

	*chosen = 0;
	*created = 0;
	/* The local id already linked to one of them: the same link again,
	 * whichever version it was made under. */
	rc = store_link_subject(st, service, local_id, linked, NULL);
	if (rc == STORE_ERROR)
		return rc;
	for (i = 0; rc == STORE_OK && i < n; i++) {
		if (strcmp(linked, subjects[i].subject) == 0) {
			*chosen = i;
			return STORE_OK;
		}
	}
	if (rc == STORE_OK)
		return STORE_CONFLICT;
	/* The first subject some service already linked, else a new one. */
	for (i = 0; i < n; i++) {
		rc = store_subject_linked(st, subjects[i].subject,
		    subjects[i].version);
		if (rc == STORE_ERROR)
			return rc;
		if (rc == STORE_OK) {
			*chosen = i;
			break;
		}
	}
	return store_link_put(st, service, local_id, subjects[*chosen].subject,
	    subjects[*chosen].version, created);
}
