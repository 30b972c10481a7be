/* test_jsonload.c — jsonload_object gives json_loadb's tree, or its error,
 * on every text: each rule's edges, then a seeded mutation of request
 * bodies and provider answers, in both flag modes the gateway uses. And it
 * reads the usual texts itself: json_loadb, when it runs, resets the error
 * a test presets. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonload.h"
#include "mutate.h"
#include "unit.h"

#define SENTINEL "not touched"

/* 1 when both give the same tree (or both refuse with the same error); 0
 * and a line on stderr otherwise. *fast tells whether jsonload read the
 * text itself. */
static int
same(const char *buf, size_t len, size_t flags, int *fast)
{
	json_error_t e1, e2;
	json_t *a, *b;
	char *da = NULL, *db = NULL;
	int ok;

	memset(&e1, 0, sizeof(e1));
	strcpy(e1.text, SENTINEL);
	a = jsonload_object(buf, len, flags, &e1);
	b = json_loadb(buf, len, flags, &e2);
	*fast = strcmp(e1.text, SENTINEL) == 0;
	if (a == NULL || b == NULL) {
		ok = a == NULL && b == NULL && strcmp(e1.text, e2.text) == 0 &&
		    e1.line == e2.line && e1.column == e2.column;
	} else {
		da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
		db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
		ok = json_equal(a, b) && da != NULL && db != NULL &&
		    strcmp(da, db) == 0;
	}
	if (!ok)
		fprintf(stderr, "  differ on \"%.*s\" (flags %zu): %s / %s\n",
		    (int)(len > 100 ? 100 : len), buf, flags,
		    da ? da : a ? "?" : "NULL", db ? db : b ? "?" : e2.text);
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
	return ok;
}

/* Both flag modes agree; fast_want: 1 read here, 0 by json_loadb, -1 any. */
static void
check_text(const char *buf, size_t len, int fast_want)
{
	size_t modes[] = { 0, JSON_REJECT_DUPLICATES };

	for (size_t i = 0; i < 2; i++) {
		int fast;

		CHECK(same(buf, len, modes[i], &fast));
		if (fast_want >= 0 && fast != fast_want)
			fprintf(stderr, "  \"%.*s\": read %s\n", (int)len, buf,
			    fast ? "here" : "by json_loadb");
		if (fast_want >= 0)
			CHECK_INT(fast, fast_want);
	}
}

#define TEXT(t, fast) check_text(t, sizeof(t) - 1, fast)

static void
test_read_here(void)
{
	TEXT("{}", 1);
	TEXT(" {\"subject\":\"C1\",\"dataset\":\"address\",\"purpose\":\"x\","
	    "\"attributes\":[\"postal_code\"]} \n", 1);
	TEXT("{\"adresse\":{\"voie\":\"1 rue de la Paix\",\"cp\":\"29000\"}}", 1);
	TEXT("{\"n\":[0,-0,12,-1.5e3,1E-400,9223372036854775807,"
	    "-9223372036854775808,0.1,true,false,null,{},[]]}", 1);
	TEXT("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u00e9\\u20AC\"}", 1);
	TEXT("{\"caf\xc3\xa9\":\"\xf0\x9f\x98\x80 \x7f\"}", 1);
	TEXT("{\"k\\u00e9y\":1,\"key\":2}", 1);
}

static void
test_left_to_jansson(void)
{
	TEXT("", 0);
	TEXT("[1,2]", 0);                   /* valid, not an object */
	TEXT("\"x\"", 0);
	TEXT("{\"a\":1,\"a\":2}", 0);       /* duplicates: kept, or refused */
	TEXT("{\"s\":\"\\ud83d\\ude00\"}", 0);
	TEXT("{\"s\":\"\\ud83d\"}", 0);
	TEXT("{\"s\":\"\\u0000\"}", 0);
	TEXT("{\"\\u0000\":1}", 0);
	TEXT("{\"n\":9223372036854775808}", 0);
	TEXT("{\"n\":1e309}", 0);
	TEXT("{\"n\":01}", 0);
	TEXT("{\"n\":1.}", 0);
	TEXT("{\"n\":-}", 0);
	TEXT("{\"s\":\"a\nb\"}", 0);
	TEXT("{\"s\":\"\\x\"}", 0);
	TEXT("{\"s\":\"\\\0\"}", 0);
	TEXT("{\"s\":\"\xc0\xaf\"}", 0);
	TEXT("{\"s\":\"\xed\xa0\x80\"}", 0);
	TEXT("{\"s\":\"abc", 0);
	TEXT("{\"a\":1,}", 0);
	TEXT("{\"a\":1} x", 0);
	TEXT("{\"a\":truex}", 0);
	TEXT("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0);
}

static void
test_long_texts(void)
{
	size_t n = 5000;
	char *buf = malloc(n + 64), *p = buf;

	/* Longer than a string's stack buffer, escaped and not. */
	p += sprintf(p, "{\"s\":\"");
	for (size_t i = 0; i < n / 2; i++)
		p += sprintf(p, i % 50 ? "a" : "\\n");
	p += sprintf(p, "\",\"t\":\"%.*s\"}", 300, buf + 6);
	check_text(buf, (size_t)(p - buf), 1);
	/* A number longer than this reader takes. */
	p = buf + sprintf(buf, "{\"n\":0.");
	memset(p, '1', 100);
	p += 100;
	*p++ = '}';
	check_text(buf, (size_t)(p - buf), 0);
	free(buf);
}

static void
test_mutations(void)
{
	static const char *const seeds[] = {
		"{\"subject\":\"C1\",\"dataset\":\"address\",\"purpose\":"
		    "\"benefit-eligibility\",\"attributes\":[\"postal_code\"]}",
		"{\"adresse\":{\"voie\":\"12 rue K\xc3\xa9r\xc3\xa9on\",\"cp\":"
		    "\"29000\",\"commune\":\"Quimper\",\"pays\":\"FR\"}}",
		"{\"n\":[-1.5e3,0,12,true,false,null],\"s\":\"\\u00e9\\n\","
		    "\"o\":{\"p\":[{}]}}",
	};
	struct mutate m = { 0x243f6a8885a308d3u };
	char buf[256];
	int fails = 0, fast_ok = 0, objects = 0;

	for (int round = 0; round < 100000; round++) {
		size_t len = mutate_text(&m, seeds[round % 3], buf, sizeof(buf));
		int fast;

		for (size_t flags = 0; flags <= JSON_REJECT_DUPLICATES;
		    flags += JSON_REJECT_DUPLICATES) {
			if (!same(buf, len, flags, &fast) && fails++ > 10)
				break;
			fast_ok += fast;
		}
		{
			json_t *v = json_loadb(buf, len, 0, NULL);

			objects += json_is_object(v) ? 1 : 0;
			json_decref(v);
		}
	}
	CHECK_INT(fails, 0);
	/* Most valid mutants are read here, not handed on. */
	fprintf(stderr, "  %d valid objects of 100000, read here %d times of "
	    "200000\n", objects, fast_ok);
	CHECK(fast_ok > objects);
}

int
main(void)
{
	UNIT_RUN(test_read_here);
	UNIT_RUN(test_left_to_jansson);
	UNIT_RUN(test_long_texts);
	UNIT_RUN(test_mutations);
	return UNIT_END();
}
