/* test_log.c — the log line formats: text as before, and JSON lines that a
 * log collector can parse whatever bytes a message holds (jansson, which
 * refuses invalid UTF-8, is the parser here), with the request and trace
 * ids of the thread's context; and rate-limited lines: a flood from one
 * call site writes at most LOG_SITE_PER_SECOND lines a second, and the next
 * second's first line counts what was dropped; another site is not held
 * back. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static int saved_stderr = -1;
static FILE *capture;

/* Lines logged until capture_end() go to a temporary file. */
static void
capture_begin(void)
{
	capture = tmpfile();
	if (capture == NULL) {
		perror("tmpfile");
		exit(2);
	}
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(capture), STDERR_FILENO);
}

/* What was logged since capture_begin(); malloc'd, caller frees. */
static char *
capture_end(void)
{
	long len;
	char *text;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	len = ftell(capture);
	text = calloc(1, (size_t)len + 1);
	rewind(capture);
	if (text != NULL && fread(text, 1, (size_t)len, capture) != (size_t)len)
		text[0] = '\0';
	fclose(capture);
	return text;
}

/* The one JSON line logged by log_info(fmt, arg), parsed; NULL (and a
 * failed check) if it is not exactly one valid JSON object line. */
static json_t *
json_line_of(const char *fmt, const char *arg)
{
	json_error_t err;
	json_t *line;
	char *text;

	capture_begin();
	log_info(fmt, arg);
	text = capture_end();
	CHECK(text != NULL && strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	CHECK(text != NULL && strchr(text, '\n') == text + strlen(text) - 1);
	line = text ? json_loads(text, 0, &err) : NULL;
	if (line == NULL)
		fprintf(stderr, "  not JSON (%s): %s", err.text, text ? text : "");
	CHECK(json_is_object(line));
	free(text);
	return line;
}

static void
check_msg(const char *arg, const char *want)
{
	json_t *line = json_line_of("%s", arg);

	CHECK_STR(json_string_value(json_object_get(line, "msg")), want);
	json_decref(line);
}

static void
test_json_members(void)
{
	json_t *line;
	const char *ts;

	log_set_format(LOG_FORMAT_JSON);
	line = json_line_of("reloaded %s", "tellonce.yaml");
	CHECK_STR(json_string_value(json_object_get(line, "level")), "info");
	CHECK_STR(json_string_value(json_object_get(line, "msg")),
	    "reloaded tellonce.yaml");
	ts = json_string_value(json_object_get(line, "ts"));
	/* RFC 3339, UTC, milliseconds: 2026-01-02T03:04:05.678Z */
	CHECK(ts != NULL && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z');
	CHECK(json_object_get(line, "request_id") == NULL);
	CHECK(json_object_get(line, "trace_id") == NULL);
	CHECK_INT(json_object_size(line), 3);
	json_decref(line);
	log_set_format(LOG_FORMAT_TEXT);
}

/* Every byte value gives valid JSON holding what a reader should see. */
static void
test_json_escaping(void)
{
	char all[256];

	log_set_format(LOG_FORMAT_JSON);
	check_msg("say \"hi\" \\ back", "say \"hi\" \\ back");
	check_msg("two\nlines\tand\r\x01\x1f\x7f", "two\nlines\tand\r\x01\x1f\x7f");
	check_msg("Ma\xc3\xabl\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9f",
	    "Ma\xc3\xabl\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9f");
	/* Not UTF-8: a lone continuation byte, Latin-1, a cut sequence, an
	 * overlong '/', a UTF-16 surrogate, past U+10FFFF. */
	check_msg("a\x80z", "a\xef\xbf\xbdz");
	check_msg("Ma\xebl", "Ma\xef\xbf\xbdl");
	check_msg("cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd");
	check_msg("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	check_msg("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	check_msg("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd");
	/* Each of the 255 non-zero bytes once: still one valid line. */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	json_decref(json_line_of("%s", all));
	log_set_format(LOG_FORMAT_TEXT);
}

/* A message longer than a line holds is cut, never inside a character or
 * an escape. */
static void
test_json_long_message(void)
{
	size_t n = 3000;
	char *text = malloc(n + 1);
	json_t *line;

	for (size_t i = 0; i + 1 < n; i += 2) {
		text[i] = '\xc3';
		text[i + 1] = '\xab';
	}
	text[n] = '\0';
	log_set_format(LOG_FORMAT_JSON);
	line = json_line_of("%s", text);
	CHECK(json_string_length(json_object_get(line, "msg")) > 1000);
	json_decref(line);
	memset(text, '"', n);
	line = json_line_of("%s", text);
	CHECK(json_string_length(json_object_get(line, "msg")) > 1000);
	json_decref(line);
	log_set_format(LOG_FORMAT_TEXT);
	free(text);
}

static void
test_json_context(void)
{
	struct log_context ctx = { .request_id = "req-1", .trace_id =
	    "4bf92f3577b34da6a3ce929d0e0e4736" }, outer = { .request_id = "outer" },
	    prev;
	json_t *line;

	log_set_format(LOG_FORMAT_JSON);
	log_context_set(&outer, NULL);
	log_context_set(&ctx, &prev);
	line = json_line_of("%s", "handled");
	CHECK_STR(json_string_value(json_object_get(line, "request_id")), "req-1");
	CHECK_STR(json_string_value(json_object_get(line, "trace_id")),
	    "4bf92f3577b34da6a3ce929d0e0e4736");
	json_decref(line);
	/* Put back: the outer scope's context, which has no trace. */
	log_context_set(&prev, NULL);
	line = json_line_of("%s", "after");
	CHECK_STR(json_string_value(json_object_get(line, "request_id")), "outer");
	CHECK(json_object_get(line, "trace_id") == NULL);
	json_decref(line);
	log_context_set(NULL, NULL);
	line = json_line_of("%s", "none");
	CHECK(json_object_get(line, "request_id") == NULL);
	json_decref(line);
	log_set_format(LOG_FORMAT_TEXT);
}

static void
test_text_and_levels(void)
{
	char *text;

	CHECK_INT(log_format_parse("json"), LOG_FORMAT_JSON);
	CHECK_INT(log_format_parse("text"), LOG_FORMAT_TEXT);
	CHECK_INT(log_format_parse("JSON"), -1);
	CHECK_INT(log_level_parse("warn"), LOG_LEVEL_WARN);
	log_set_level(LOG_LEVEL_WARN);
	capture_begin();
	log_info("%s", "dropped");
	log_warn("kept %d", 1);
	text = capture_end();
	CHECK(text != NULL && strstr(text, "dropped") == NULL);
	CHECK(text != NULL && strstr(text, "Z warn: kept 1\n") != NULL);
	free(text);
	log_set_level(LOG_LEVEL_INFO);
}

static unsigned
count(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_a_flood_is_cut_and_counted(void)
{
	static struct log_site site_a, site_b;
	char *out;

	capture_begin();
	for (int i = 0; i < 1000; i++)
		log_site_msg(&site_a, 5000 + i / 10, LOG_LEVEL_ERROR, "a line %d", i);
	log_site_msg(&site_b, 5050, LOG_LEVEL_ERROR, "b line");
	log_site_msg(&site_a, 6000, LOG_LEVEL_ERROR, "a again");
	out = capture_end();
	CHECK_INT(count(out, "a line"), LOG_SITE_PER_SECOND);
	CHECK_INT(count(out, "b line"), 1);
	CHECK(strstr(out, "990 more lines like the next were dropped") != NULL);
	CHECK(strstr(out, "dropped") < strstr(out, "a again"));
	CHECK_INT(count(out, "\n"), LOG_SITE_PER_SECOND + 3);
	free(out);
}

static void
test_the_macro_keeps_one_budget_per_call_site(void)
{
	char *out;

	capture_begin();
	for (int i = 0; i < 100; i++)
		log_ratelimited(LOG_LEVEL_WARN, "macro %d", i);
	out = capture_end();
	CHECK_INT(count(out, "macro"), LOG_SITE_PER_SECOND);
	free(out);
}

int
main(void)
{
	UNIT_RUN(test_a_flood_is_cut_and_counted);
	UNIT_RUN(test_the_macro_keeps_one_budget_per_call_site);
	UNIT_RUN(test_json_members);
	UNIT_RUN(test_json_escaping);
	UNIT_RUN(test_json_long_message);
	UNIT_RUN(test_json_context);
	UNIT_RUN(test_text_and_levels);
	return UNIT_END();
}
