/* test_http_json.c — the http connector's check that an answer is a JSON
 * object gives jansson's verdict (json_loadb without flags, which the core
 * parses the answer with) on every input: hand-picked edges of each rule,
 * then a seeded mutation of valid bodies, byte by byte. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_json.h"
#include "mutate.h"
#include "unit.h"

static int
jansson_is_object(const char *buf, size_t len)
{
	json_t *v = json_loadb(buf, len, 0, NULL);
	int ok = json_is_object(v);

	json_decref(v);
	return ok;
}

/* Checks both agree on buf, and that the verdict is want. */
static void
check_verdict(const char *buf, size_t len, int want)
{
	int got = http_json_is_object(buf, len);

	if (got != jansson_is_object(buf, len) || got != want)
		fprintf(stderr, "  verdict on \"%.*s\": ours %d, jansson %d, "
		    "expected %d\n", (int)(len > 80 ? 80 : len), buf, got,
		    jansson_is_object(buf, len), want);
	CHECK_INT(got, want);
	CHECK_INT(jansson_is_object(buf, len), want);
}

#define VERDICT(text, want) check_verdict(text, sizeof(text) - 1, want)

static void
test_structure(void)
{
	VERDICT("{}", 1);
	VERDICT(" \t\r\n{ } \n", 1);
	VERDICT("{\"a\":1,\"a\":2}", 1);            /* duplicates: the last wins */
	VERDICT("{\"a\":[1,{\"b\":null},true,false,\"x\"]}", 1);
	VERDICT("", 0);
	VERDICT("   ", 0);
	VERDICT("[]", 0);
	VERDICT("\"x\"", 0);
	VERDICT("1", 0);
	VERDICT("null", 0);
	VERDICT("{", 0);
	VERDICT("{}}", 0);
	VERDICT("{} {}", 0);
	VERDICT("{\"a\":1,}", 0);
	VERDICT("{\"a\" 1}", 0);
	VERDICT("{a:1}", 0);
	VERDICT("{\"a\":[1,]}", 0);
	VERDICT("{\"a\":[1 2]}", 0);
	VERDICT("{\"a\":tru}", 0);
	VERDICT("{\"a\":truex}", 0);
	VERDICT("{\"a\":nul}", 0);
	VERDICT("{\"a\":1}\v", 0);                  /* not a JSON blank */
	VERDICT("{}\0", 0);
	/* jansson skips one NUL right after a number or a word, nowhere
	 * else (fuzz_http found it). */
	VERDICT("{\"a\":2\0}", 1);
	VERDICT("{\"a\":true\0,\"b\":[null\0]}", 1);
	VERDICT("{\"a\":-1.5e3\0}", 1);
	VERDICT("{\"a\":2\0\0}", 0);
	VERDICT("{\"a\":\"x\"\0}", 0);
	VERDICT("{\0\"a\":1}", 0);
	VERDICT("{\"a\"\0:1}", 0);
	VERDICT("{\"a\":1}\0", 0);
	VERDICT("\xef\xbb\xbf{}", 0);               /* a byte order mark */
}

static void
test_numbers(void)
{
	VERDICT("{\"n\":0}", 1);
	VERDICT("{\"n\":-0}", 1);
	VERDICT("{\"n\":-1.5e+10}", 1);
	VERDICT("{\"n\":1E-400}", 1);               /* underflow is fine */
	VERDICT("{\"n\":9223372036854775807}", 1);
	VERDICT("{\"n\":-9223372036854775808}", 1);
	VERDICT("{\"n\":9223372036854775808}", 0);
	VERDICT("{\"n\":-9223372036854775809}", 0);
	VERDICT("{\"n\":123456789012345678901234567890}", 0);
	VERDICT("{\"n\":1e308}", 1);
	VERDICT("{\"n\":1e309}", 0);
	VERDICT("{\"n\":-1e309}", 0);
	VERDICT("{\"n\":123456789012345678901234567890.5}", 1);
	VERDICT("{\"n\":01}", 0);
	VERDICT("{\"n\":-}", 0);
	VERDICT("{\"n\":+1}", 0);
	VERDICT("{\"n\":1.}", 0);
	VERDICT("{\"n\":.5}", 0);
	VERDICT("{\"n\":1e}", 0);
	VERDICT("{\"n\":1e+}", 0);
	VERDICT("{\"n\":0x10}", 0);
	VERDICT("{\"n\":NaN}", 0);
	VERDICT("{\"n\":Infinity}", 0);
}

static void
test_long_real(void)
{
	size_t n = 5000;
	char *buf = malloc(n + 16);

	/* Longer than the number's stack copy. */
	memcpy(buf, "{\"n\":0.", 7);
	memset(buf + 7, '0', n);
	memcpy(buf + 7 + n, "1}", 2);
	check_verdict(buf, n + 9, 1);
	memcpy(buf, "{\"n\":1", 6);
	memset(buf + 6, '0', n);
	memcpy(buf + 6 + n, ".0}", 3);
	check_verdict(buf, n + 9, 0);
	free(buf);
}

static void
test_strings(void)
{
	VERDICT("{\"s\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1);
	VERDICT("{\"s\":\"\\u00e9\\u20AC\"}", 1);
	VERDICT("{\"s\":\"\\ud83d\\ude00\"}", 1);     /* a surrogate pair */
	VERDICT("{\"s\":\"\\ud83d\"}", 0);            /* a high one alone */
	VERDICT("{\"s\":\"\\ud83dx\"}", 0);
	VERDICT("{\"s\":\"\\ud83d\\u0041\"}", 0);
	VERDICT("{\"s\":\"\\ude00\"}", 0);            /* a low one alone */
	VERDICT("{\"s\":\"\\u0000\"}", 0);
	VERDICT("{\"\\u0000\":1}", 0);
	VERDICT("{\"s\":\"\\u00g0\"}", 0);
	VERDICT("{\"s\":\"\\u00e\"}", 0);
	VERDICT("{\"s\":\"\\x\"}", 0);
	VERDICT("{\"s\":\"\\'\"}", 0);
	VERDICT("{\"s\":\"a\nb\"}", 0);              /* a raw control character */
	VERDICT("{\"s\":\"a\x1f\"}", 0);
	VERDICT("{\"s\":\"a\x7f\"}", 1);
	VERDICT("{\"s\":\"a\0b\"}", 0);
	VERDICT("{\"s\":\"abc}", 0);
	VERDICT("{\"s\":\"\\", 0);
	VERDICT("{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", 1);
	VERDICT("{\"s\":\"\xc3\"}", 0);               /* cut short */
	VERDICT("{\"s\":\"\xc3(\"}", 0);
	VERDICT("{\"s\":\"\xc0\xaf\"}", 0);           /* overlong */
	VERDICT("{\"s\":\"\xe0\x80\xaf\"}", 0);
	VERDICT("{\"s\":\"\xf0\x80\x80\xaf\"}", 0);
	VERDICT("{\"s\":\"\xed\xa0\x80\"}", 0);       /* a surrogate, encoded */
	VERDICT("{\"s\":\"\xf4\x90\x80\x80\"}", 0);   /* past U+10FFFF */
	VERDICT("{\"s\":\"\xf4\x8f\xbf\xbf\"}", 1);
	VERDICT("{\"s\":\"\xff\"}", 0);
	VERDICT("{\"s\":\"\x80\"}", 0);
}

/* n arrays around a scalar inside the top object: jansson counts each
 * value, the scalar and the object included, against its limit. */
static void
check_depth(size_t n, int want)
{
	char *buf = malloc(2 * n + 16), *p = buf;

	p += sprintf(p, "{\"d\":");
	memset(p, '[', n);
	p += n;
	*p++ = '1';
	memset(p, ']', n);
	p += n;
	*p++ = '}';
	check_verdict(buf, (size_t)(p - buf), want);
	free(buf);
}

static void
test_depth(void)
{
	check_depth(JSON_PARSER_MAX_DEPTH - 2, 1);
	check_depth(JSON_PARSER_MAX_DEPTH - 1, 0);
	check_depth(100000, 0);
}

/* A body's length is what counts, not a NUL after it. */
static void
test_length(void)
{
	const char text[] = "{\"a\":1}{";

	CHECK_INT(http_json_is_object(text, 7), 1);
	CHECK_INT(http_json_is_object(text, 8), 0);
	CHECK_INT(http_json_is_object(text, 6), 0);
	CHECK_INT(http_json_is_object(NULL, 0), 0);
}

/* Bodies a service may send, each changed at a few random bytes, cut, or
 * grown, many times: where the two disagree, both texts are printed. */
static void
test_mutations(void)
{
	static const char *const seeds[] = {
		"{\"adresse\":{\"voie\":\"1 rue de la Paix\",\"cp\":\"29000\","
		    "\"commune\":\"Quimper\",\"pays\":\"FR\"}}",
		"{\"n\":[-1.5e3,0,12,true,false,null],\"s\":\"\\u00e9\\ud83d\\ude00"
		    "\\n\",\"o\":{}}",
		"{\"nom\":\"Le Goff\",\"pr\xc3\xa9nom\":\"Ma\xc3\xabl\","
		    "\"n\xc3\xa9\":\"1980-01-01\",\"enfants\":[{\"a\":1}]}",
	};
	struct mutate m = { 0x9e3779b97f4a7c15u };
	char buf[256];
	int disagreements = 0, accepted = 0;

	for (int round = 0; round < 200000; round++) {
		size_t len = mutate_text(&m, seeds[round % 3], buf, sizeof(buf));

		accepted += jansson_is_object(buf, len);
		if (http_json_is_object(buf, len) != jansson_is_object(buf, len) &&
		    disagreements++ < 10)
			fprintf(stderr, "  disagree on \"%.*s\": ours %d\n", (int)len,
			    buf, http_json_is_object(buf, len));
	}
	CHECK_INT(disagreements, 0);
	/* Both verdicts, each many times: the edits did not break them all. */
	fprintf(stderr, "  %d of 200000 mutated bodies are objects\n", accepted);
	CHECK(accepted > 20000 && accepted < 180000);
}

int
main(void)
{
	UNIT_RUN(test_structure);
	UNIT_RUN(test_numbers);
	UNIT_RUN(test_long_real);
	UNIT_RUN(test_strings);
	UNIT_RUN(test_depth);
	UNIT_RUN(test_length);
	UNIT_RUN(test_mutations);
	return UNIT_END();
}
