/* test_jcs.c — RFC 8785's own examples: the number samples of its
 * appendix B, the §3.2.2 sample object, the §3.2.3 member order; and the
 * escaping of every control character. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jcs.h"
#include "unit.h"

/* RFC 8785 appendix B: IEEE 754 bit patterns and their JCS text. */
static const struct {
	uint64_t bits;
	const char *text;
} samples[] = {
	{ 0x0000000000000000, "0" },
	{ 0x8000000000000000, "0" },
	{ 0x0000000000000001, "5e-324" },
	{ 0x8000000000000001, "-5e-324" },
	{ 0x7fefffffffffffff, "1.7976931348623157e+308" },
	{ 0xffefffffffffffff, "-1.7976931348623157e+308" },
	{ 0x4340000000000000, "9007199254740992" },
	{ 0xc340000000000000, "-9007199254740992" },
	{ 0x4430000000000000, "295147905179352830000" },
	{ 0x44b52d02c7e14af5, "9.999999999999997e+22" },
	{ 0x44b52d02c7e14af6, "1e+23" },
	{ 0x44b52d02c7e14af7, "1.0000000000000001e+23" },
	{ 0x444b1ae4d6e2ef4e, "999999999999999700000" },
	{ 0x444b1ae4d6e2ef4f, "999999999999999900000" },
	{ 0x444b1ae4d6e2ef50, "1e+21" },
	{ 0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7" },
	{ 0x3eb0c6f7a0b5ed8d, "0.000001" },
	{ 0x41b3de4355555553, "333333333.3333332" },
	{ 0x41b3de4355555554, "333333333.33333325" },
	{ 0x41b3de4355555555, "333333333.3333333" },
	{ 0x41b3de4355555556, "333333333.3333334" },
	{ 0x41b3de4355555557, "333333333.33333343" },
	{ 0xbecbf647612f3696, "-0.0000033333333333333333" },
	{ 0x43143ff3c1cb0959, "1424953923781206.2" },
};

static double
from_bits(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static void
test_number_samples(void)
{
	char buf[JCS_NUMBER_LEN];

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		CHECK_INT(jcs_number(from_bits(samples[i].bits), buf), 0);
		CHECK_STR(buf, samples[i].text);
	}
	/* Appendix B's non-finite samples must be refused. */
	CHECK_INT(jcs_number(from_bits(0x7fffffffffffffff), buf), -1);
	CHECK_INT(jcs_number(from_bits(0x7ff0000000000000), buf), -1);
	CHECK_INT(jcs_number(-INFINITY, buf), -1);
}

static void
check_canonical(const char *in, const char *want)
{
	json_t *v = json_loads(in, JSON_DECODE_ANY, NULL);
	char *got = jcs_dump(v);

	CHECK(v != NULL);
	CHECK_STR(got, want);
	free(got);
	json_decref(v);
}

/* §3.2.2: whitespace, numbers, literals and string escapes. */
static void
test_rfc_sample(void)
{
	check_canonical("{\n"
	    "  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, "
	    "0.000000000000000000000000001],\n"
	    "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
	    "  \"literals\": [null, true, false]\n"
	    "}",
	    "{\"literals\":[null,true,false],"
	    "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
	    "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

/* §3.2.3: members sorted by UTF-16 code units, so the emoji (a surrogate
 * pair, D83D...) comes before U+FB33, unlike in UTF-8 byte order. */
static void
test_rfc_sorting(void)
{
	check_canonical("{\n"
	    "  \"\\u20ac\": \"Euro Sign\",\n"
	    "  \"\\r\": \"Carriage Return\",\n"
	    "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
	    "  \"1\": \"One\",\n"
	    "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
	    "  \"\\u0080\": \"Control\",\n"
	    "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
	    "}",
	    "{\"\\r\":\"Carriage Return\",\"1\":\"One\","
	    "\"\xc2\x80\":\"Control\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\","
	    "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

/* Every control character is escaped, the short forms where JSON has
 * them and lower-case \u00xx otherwise; nothing else is (not even / or
 * DEL); nested objects are sorted too; integers are written as doubles. */
static void
test_escapes_and_nesting(void)
{
	char in[64], want[64];

	for (int c = 1; c < 0x20; c++) {
		const char *shortform = c == '\b' ? "\\b" : c == '\f' ? "\\f" :
		    c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" :
		    NULL;
		char esc[8];

		if (shortform == NULL)
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		snprintf(in, sizeof(in), "\"a\\u%04Xb\"", c);
		snprintf(want, sizeof(want), "\"a%sb\"", shortform ? shortform : esc);
		check_canonical(in, want);
	}
	check_canonical("\"/\x7f\"", "\"/\x7f\"");
	check_canonical("{\"b\":{\"z\":1,\"a\":[{\"y\":2,\"x\":-0.0}]},\"a\":{}}",
	    "{\"a\":{},\"b\":{\"a\":[{\"x\":0,\"y\":2}],\"z\":1}}");
	check_canonical("[9223372036854775807, 100, 1.5e3]",
	    "[9223372036854776000,100,1500]");
}

/* A text written piece by piece: its strings come out as jcs_dump writes
 * them, and it refuses exactly the byte sequences that jansson refuses
 * (overlong forms, surrogates, past U+10FFFF, cut sequences), since an
 * audit entry written either way must be refused alike. */
static void
test_buf_pieces(void)
{
	static const char *const strs[] = { "", "plain", "q\"b\\\x01\x1f\n\t",
	    "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", "\x7f", "\xef\xbf\xbf",
	    "\xf4\x8f\xbf\xbf", "\xc3", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80",
	    "\xf0\x80\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80",
	    "\xff", "a\xe2\x82", "\x80" };
	struct jcs_buf b = { 0 };
	char *text;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_t *v = json_string(strs[i]);
		char *want = v != NULL ? jcs_dump(v) : NULL;

		jcs_buf_raw(&b, "[");
		jcs_buf_string(&b, strs[i]);
		jcs_buf_raw(&b, "]");
		text = jcs_buf_take(&b);
		CHECK((text == NULL) == (v == NULL));
		if (text != NULL && want != NULL) {
			CHECK(strlen(text) == strlen(want) + 2);
			CHECK(strncmp(text + 1, want, strlen(want)) == 0);
		}
		free(text);
		free(want);
		json_decref(v);
	}
	jcs_buf_string(&b, NULL);
	text = jcs_buf_take(&b);
	CHECK_STR(text, "null");
	free(text);
}

/* RFC 8785's string, byte by byte: the short escapes, \u00xx for the
 * other controls, everything else as it is. */
static void
reference_string(const char *s, char *out)
{
	*out++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" :
		    c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n" :
		    c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;

		if (e != NULL)
			out += sprintf(out, "%s", e);
		else if (c < 0x20)
			out += sprintf(out, "\\u%04x", c);
		else
			*out++ = (char)c;
	}
	*out++ = '"';
	*out = '\0';
}

/* Strings are scanned eight bytes at a time: an escape or a byte that is
 * not ASCII, at every position within and across words, in strings long
 * enough for the wide path, comes out as the byte-by-byte rule writes it,
 * and a string that is not UTF-8 is refused as jansson refuses it. */
static void
test_strings_at_every_offset(void)
{
	static const char *const specials[] = { "\"", "\\", "\x01", "\x1f",
	    "\n", "\x7f", " ", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xc3", "\xff",
	    "\xed\xa0\x80", "\x80" };

	for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
		for (int at = 0; at <= 24; at++) {
			char in[64], want[256];
			struct jcs_buf b = { 0 };
			json_t *v;
			char *text;

			snprintf(in, sizeof(in), "%.*s%s%.*s", at,
			    "abcdefghijklmnopqrstuvwxyz", specials[k], 24 - at,
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			v = json_string(in);
			jcs_buf_string(&b, in);
			text = jcs_buf_take(&b);
			CHECK((text == NULL) == (v == NULL));
			if (text != NULL) {
				reference_string(in, want);
				CHECK_STR(text, want);
			}
			free(text);
			json_decref(v);
		}
}

int
main(void)
{
	UNIT_RUN(test_number_samples);
	UNIT_RUN(test_rfc_sample);
	UNIT_RUN(test_rfc_sorting);
	UNIT_RUN(test_escapes_and_nesting);
	UNIT_RUN(test_buf_pieces);
	UNIT_RUN(test_strings_at_every_offset);
	return UNIT_END();
}
