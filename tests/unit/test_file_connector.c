/* test_file_connector.c — the file connector on a real folder: records
 * written atomically (a reader in another process never sees part of a
 * file), JSONL and CSV appends, the inbox handed over file by file and
 * moved only once acknowledged, a malformed file set aside with the line
 * that is wrong, and names or symlinks that try to leave the folder. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connector_harness.h"
#include "unit.h"

static char dir[TMPDIR_PATH_LEN];

static const char service_head[] =
    "  archive:\n"
    "    name: Archive\n"
    "    auth: {api_key: env:H_ARCHIVE_KEY}\n"
    "    connector:\n"
    "      type: file\n"
    "      dir: exchange\n";

static struct config *
open_archive(const char *extra, struct harness_conn *hc)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char block[1024], err[256];

	snprintf(block, sizeof(block), "%s%s", service_head, extra);
	if ((cfg = harness_load(dir, block, &errs)) == NULL) {
		config_errors_print(&errs, stderr);
		exit(2);
	}
	if (harness_open(hc, cfg, "archive", err, sizeof(err)) != 0) {
		fprintf(stderr, "archive: %s\n", err);
		exit(2);
	}
	return cfg;
}

static void
close_archive(struct config *cfg, struct harness_conn *hc)
{
	harness_close(hc);
	config_free(cfg);
}

/* DIR/exchange/rel, whole, or NULL. Caller frees. */
static char *
slurp(const char *rel)
{
	char path[TMPDIR_PATH_LEN * 2], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/exchange/%s", dir, rel);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

#define CHECK_FILE(rel, want) do { \
	char *unit_f = slurp(rel); \
	CHECK_STR(unit_f, want); \
	free(unit_f); \
} while (0)

static int
exists(const char *rel)
{
	char path[TMPDIR_PATH_LEN * 2];

	snprintf(path, sizeof(path), "%s/exchange/%s", dir, rel);
	return access(path, F_OK) == 0;
}

/* Files in DIR/exchange whose names start with ".tmp-". */
static int
leftovers(void)
{
	char path[TMPDIR_PATH_LEN * 2];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/exchange", dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".tmp-", 5) == 0;
	closedir(d);
	return n;
}

static void
test_push_and_fetch_json(void)
{
	struct harness_conn hc;
	struct config *cfg = open_archive("", &hc);

	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_NOT_FOUND);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1",
	    "{\"nom\": \"Le Goff\"}", NULL), CONNECTOR_OK);
	CHECK_FILE("c-1.json", "{\"nom\": \"Le Goff\"}");
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1",
	    "{\"nom\": \"Le Goff-Riou\"}", NULL), CONNECTOR_OK);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "c-1", NULL, NULL),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "{\"nom\": \"Le Goff-Riou\"}");
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-2", "not json", NULL),
	    CONNECTOR_PERMANENT);
	CHECK(!exists("c-2.json"));
	CHECK_INT(harness_call(&hc, HARNESS_HEALTH, NULL, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_INT(leftovers(), 0);
	close_archive(cfg, &hc);
}

/* DIR/exchange/inbox/name with text. */
static void
drop(const char *name, const char *text)
{
	char sub[TMPDIR_PATH_LEN + 32];

	snprintf(sub, sizeof(sub), "%s/exchange/inbox", dir);
	harness_write(sub, name, "%s", text);
}

/* Removes DIR/exchange/rel and the keys of its appends. */
static void
forget(const char *rel)
{
	char path[TMPDIR_PATH_LEN * 2];

	snprintf(path, sizeof(path), "%s/exchange/%s", dir, rel);
	unlink(path);
	snprintf(path, sizeof(path), "%s/exchange/.%s.keys", dir, rel);
	unlink(path);
}

static void
test_append_jsonl_and_csv(void)
{
	struct harness_conn hc;
	struct config *cfg = open_archive("      format: jsonl\n", &hc);

	hc.key = "k-1";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"A\"}",
	    NULL), CONNECTOR_OK);
	hc.key = "k-2";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-2", "{\"nom\": \"B\"}",
	    NULL), CONNECTOR_OK);
	CHECK_FILE("person.jsonl",
	    "{\"local_id\":\"c-1\",\"idempotency_key\":\"k-1\","
	    "\"record\":{\"nom\":\"A\"}}\n"
	    "{\"local_id\":\"c-2\",\"idempotency_key\":\"k-2\","
	    "\"record\":{\"nom\":\"B\"}}\n");
	close_archive(cfg, &hc);

	cfg = open_archive("      format: csv\n"
	    "      columns: [nom, ville, enfants]\n", &hc);
	hc.key = "k-3";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1",
	    "{\"nom\": \"Le Goff, \\\"Maëlle\\\"\", \"enfants\": 2}", NULL),
	    CONNECTOR_OK);
	hc.key = "k-4";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-2",
	    "{\"ville\": \"Brest\", \"nom\": \" Riou\"}", NULL), CONNECTOR_OK);
	hc.key = "k-5";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-3",
	    "{\"adresse\": \"x\"}", NULL), CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "field 'adresse' is not one of the configured "
	    "columns");
	CHECK_FILE("person.csv",
	    "local_id,nom,ville,enfants\n"
	    "c-1,\"Le Goff, \"\"Maëlle\"\"\",,2\n"
	    "c-2,\" Riou\",Brest,\n");
	CHECK_INT(leftovers(), 0);
	close_archive(cfg, &hc);
}

/* DIR/exchange/rel cut to `size` bytes, as a crash in a write leaves it. */
static void
cut(const char *rel, off_t size)
{
	char path[TMPDIR_PATH_LEN * 2];

	snprintf(path, sizeof(path), "%s/exchange/%s", dir, rel);
	CHECK_INT(truncate(path, size), 0);
}

/* A retried delivery (same idempotency key) appends nothing; a record a
 * crash kept from the file, or tore, is appended whole by the retry. */
static void
test_a_retried_append_is_written_once(void)
{
	static const char row1[] = "c-1,A\n", row2[] = "c-2,B\n";
	static const char head[] = "local_id,nom\n";
	struct harness_conn hc;
	struct config *cfg;

	forget("person.csv");
	forget("person.jsonl");
	cfg = open_archive("      format: csv\n      columns: [nom]\n", &hc);
	hc.key = "d-1";
	for (int i = 0; i < 3; i++)
		CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1",
		    "{\"nom\": \"A\"}", NULL), CONNECTOR_OK);
	CHECK_FILE("person.csv", "local_id,nom\nc-1,A\n");
	/* Another delivery of the same values is another record. */
	hc.key = "d-2";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"A\"}",
	    NULL), CONNECTOR_OK);
	CHECK_FILE("person.csv", "local_id,nom\nc-1,A\nc-1,A\n");

	/* A crash after the key was noted, before the record was written. */
	hc.key = "d-3";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-2", "{\"nom\": \"B\"}",
	    NULL), CONNECTOR_OK);
	cut("person.csv", (off_t)(strlen(head) + 2 * strlen(row1)));
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-2", "{\"nom\": \"B\"}",
	    NULL), CONNECTOR_OK);
	CHECK_FILE("person.csv", "local_id,nom\nc-1,A\nc-1,A\nc-2,B\n");
	/* A crash in the middle of the record's write. */
	hc.key = "d-4";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"A\"}",
	    NULL), CONNECTOR_OK);
	cut("person.csv", (off_t)(strlen(head) + 2 * strlen(row1) +
	    strlen(row2) + 2));
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"A\"}",
	    NULL), CONNECTOR_OK);
	CHECK_FILE("person.csv",
	    "local_id,nom\nc-1,A\nc-1,A\nc-2,B\nc-1,A\n");
	hc.key = "d-3";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-2", "{\"nom\": \"B\"}",
	    NULL), CONNECTOR_OK);
	CHECK_FILE("person.csv",
	    "local_id,nom\nc-1,A\nc-1,A\nc-2,B\nc-1,A\n");
	close_archive(cfg, &hc);

	/* JSONL too, and the keys outlive the instance. */
	cfg = open_archive("      format: jsonl\n", &hc);
	hc.key = "d-5";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"A\"}",
	    NULL), CONNECTOR_OK);
	close_archive(cfg, &hc);
	cfg = open_archive("      format: jsonl\n", &hc);
	hc.key = "d-5";
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "c-1", "{\"nom\": \"A\"}",
	    NULL), CONNECTOR_OK);
	CHECK_FILE("person.jsonl", "{\"local_id\":\"c-1\",\"idempotency_key\":"
	    "\"d-5\",\"record\":{\"nom\":\"A\"}}\n");
	CHECK_INT(leftovers(), 0);
	close_archive(cfg, &hc);
}

/* What push writes, changes reads back: commas, quotes, line breaks of
 * both kinds, blanks at the ends and UTF-8, in values and local ids. */
static void
test_csv_round_trip(void)
{
	static const char *const values[][2] = {
		{ "c,1", "Le Goff, \"Maëlle\"" },
		{ "c-2", "3 rue de l'Église\nBâtiment B\r\n2e étage" },
		{ "c\"3", "\"\"" },
		{ "c-4", " Ștefan Nguyễn Thị Ngọc " },
		{ "c-5", "\n\n" },
		{ "c-6", "naïve,\"quoted\"\r\nend," },
	};
	size_t n = sizeof(values) / sizeof(values[0]);
	struct harness_conn hc;
	struct config *cfg;
	json_t *want = json_array();
	char key[16], *text, *file, *wants, *cursor;

	forget("person.csv");
	cfg = open_archive("      format: csv\n      columns: [nom, ville]\n",
	    &hc);
	for (size_t i = 0; i < n; i++) {
		json_t *rec = json_pack("{s:s, s:s}", "nom", values[i][1],
		    "ville", "Quimper");

		text = json_dumps(rec, 0);
		snprintf(key, sizeof(key), "rt-%zu", i);
		hc.key = key;
		CHECK_INT(harness_call(&hc, HARNESS_PUSH, values[i][0], text,
		    NULL), CONNECTOR_OK);
		json_array_append_new(want, json_pack("{s:s, s:o}", "local_id",
		    values[i][0], "record", rec));
		free(text);
	}
	file = slurp("person.csv");
	CHECK(file != NULL);
	drop("round-trip.csv", file ? file : "");
	free(file);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_OK);
	wants = json_dumps(want, JSON_COMPACT);
	CHECK_JSON(hc.res.body, wants);
	free(wants);
	json_decref(want);
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	free(cursor);
	CHECK(exists("done/round-trip.csv"));
	close_archive(cfg, &hc);
}

/* Quoted fields across lines in an inbox file, and what is still wrong. */
static void
test_inbox_csv_multiline(void)
{
	struct harness_conn hc;
	struct config *cfg = open_archive("", &hc);
	char *cursor;

	drop("2026-02-01.csv",
	    "\"local_id\",\"nom\"\r\n"
	    "\r\n"
	    "c-1,\"Le Goff\r\nBât. \"\"B\"\"\"\r\n"
	    "c-2,\"\"\r\n"
	    "c-3,\"a\n\n\nb\"");
	drop("2026-02-02.csv", "local_id,nom\nc-1,\"ok\"\nc-2,\"two\nlines\n");
	drop("2026-02-03.csv", "local_id,nom\nc-1,\"a\nb\",x\n");
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_JSON(hc.res.body, "[{\"local_id\":\"c-1\",\"record\":{\"nom\":"
	    "\"Le Goff\\r\\nBât. \\\"B\\\"\"}},{\"local_id\":\"c-2\","
	    "\"record\":{}},{\"local_id\":\"c-3\",\"record\":{\"nom\":"
	    "\"a\\n\\n\\nb\"}}]");
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	free(cursor);
	CHECK_STR(hc.res.body, "[]");
	CHECK_FILE("failed/2026-02-02.csv.reason", "line 3: a quoted field is "
	    "not closed\n");
	CHECK_FILE("failed/2026-02-03.csv.reason",
	    "line 2: 3 fields, the header has 2\n");
	close_archive(cfg, &hc);
}

/* A child process pushes two large records in turn while this one reads
 * the file: every read must be one of them, whole. */
static void
test_readers_never_see_half_a_file(void)
{
	static char a[300000], b[300000];
	struct harness_conn hc;
	struct config *cfg = open_archive("", &hc);
	int status, reads = 0, torn = 0;
	pid_t pid;

	memset(a, 'a', sizeof(a) - 1);
	memset(b, 'b', sizeof(b) - 1);
	memcpy(a, "{\"v\": \"", 7);
	memcpy(b, "{\"v\": \"", 7);
	memcpy(a + sizeof(a) - 3, "\"}", 2);
	memcpy(b + sizeof(b) - 3, "\"}", 2);
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "big", a, NULL), CONNECTOR_OK);
	if ((pid = fork()) == 0) {
		for (int i = 0; i < 100; i++)
			if (harness_call(&hc, HARNESS_PUSH, "big", i % 2 ? a : b,
			    NULL) != CONNECTOR_OK)
				_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		char *got = slurp("big.json");

		reads++;
		torn += got == NULL || (strcmp(got, a) != 0 &&
		    strcmp(got, b) != 0);
		free(got);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(reads > 10);
	CHECK_INT(torn, 0);
	CHECK_INT(leftovers(), 0);
	close_archive(cfg, &hc);
}

static void
test_inbox(void)
{
	struct harness_conn hc;
	struct config *cfg = open_archive("", &hc);
	char *cursor;

	drop("2026-01-01.jsonl",
	    "{\"local_id\": \"c-1\", \"record\": {\"nom\": \"A\"}}\n"
	    "\n"
	    "{\"local_id\": \"c-2\", \"record\": {\"nom\": \"B\"}, "
	    "\"idempotency_key\": \"k\"}\r\n");
	drop("2026-01-02.csv",
	    "local_id,nom,ville\n"
	    "c-3,\"Le Goff, \"\"M\"\"\",Quimper\n"
	    "c-4,Riou,\n");
	drop("2026-01-03.jsonl",
	    "{\"local_id\": \"c-5\", \"record\": {}}\n"
	    "{\"local_id\": \"c-6\", \"record\": {}}\n"
	    "{\"local_id\": \"c-7\", \"record\": {\"nom\": \"Le Go\n");
	drop("2026-01-04.csv", "local_id,nom\nc-8,\"Le \"Goff\"\n");
	drop("2026-01-05.csv", "local_id,nom\nc-9,A,B\n");
	drop("notes.txt", "not for the gateway\n");
	drop(".2026-01-06.jsonl", "{\"local_id\": \"c-10\", \"record\": {}}\n");

	/* Handed over, but not moved until acknowledged: asked again
	 * without the cursor, the same file comes back. */
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "[{\"local_id\":\"c-1\",\"record\":{\"nom\":\"A\"}},"
	    "{\"local_id\":\"c-2\",\"record\":{\"nom\":\"B\"}}]");
	CHECK(hc.res.next_cursor != NULL &&
	    strstr(hc.res.next_cursor, "/2026-01-01.jsonl") != NULL);
	CHECK(exists("inbox/2026-01-01.jsonl"));
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");
	close_archive(cfg, &hc);

	/* A restart: a new instance acknowledges the stored cursor. */
	cfg = open_archive("", &hc);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	free(cursor);
	CHECK(!exists("inbox/2026-01-01.jsonl"));
	CHECK(exists("done/2026-01-01.jsonl"));
	CHECK_JSON(hc.res.body, "[{\"local_id\":\"c-3\",\"record\":{\"nom\":"
	    "\"Le Goff, \\\"M\\\"\",\"ville\":\"Quimper\"}},{\"local_id\":\"c-4\","
	    "\"record\":{\"nom\":\"Riou\"}}]");
	cursor = strdup(hc.res.next_cursor ? hc.res.next_cursor : "");

	/* The three bad files go to failed/, each with its reason. */
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, cursor),
	    CONNECTOR_OK);
	free(cursor);
	CHECK_STR(hc.res.body, "[]");
	CHECK_STR(hc.res.next_cursor, "");
	CHECK(exists("done/2026-01-02.csv"));
	CHECK(exists("failed/2026-01-03.jsonl"));
	CHECK_FILE("failed/2026-01-03.jsonl.reason", "line 3: not valid JSON\n");
	CHECK_FILE("failed/2026-01-04.csv.reason", "line 2: a quote inside a "
	    "field that is not quoted, or text after a closing quote\n");
	CHECK_FILE("failed/2026-01-05.csv.reason",
	    "line 2: 3 fields, the header has 2\n");
	/* Nothing of a failed file is lost: it is kept whole. */
	CHECK_FILE("failed/2026-01-03.jsonl",
	    "{\"local_id\": \"c-5\", \"record\": {}}\n"
	    "{\"local_id\": \"c-6\", \"record\": {}}\n"
	    "{\"local_id\": \"c-7\", \"record\": {\"nom\": \"Le Go\n");
	CHECK(exists("inbox/notes.txt"));
	CHECK(exists("inbox/.2026-01-06.jsonl"));
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, ""),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "[]");
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, "x/../y"),
	    CONNECTOR_PERMANENT);
	close_archive(cfg, &hc);
}

static void
test_names_cannot_leave_the_folder(void)
{
	static const char *const bad[] = { "../escape", "a/b", "..", ".",
		".hidden", "", "tab\there" };
	char outside[TMPDIR_PATH_LEN + 16], link[TMPDIR_PATH_LEN * 2];
	struct harness_conn hc;
	struct config *cfg = open_archive("", &hc);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(harness_call(&hc, HARNESS_PUSH, bad[i], "{}", NULL),
		    CONNECTOR_PERMANENT);
		CHECK_INT(harness_call(&hc, HARNESS_FETCH, bad[i], NULL, NULL),
		    CONNECTOR_PERMANENT);
	}
	CHECK(strncmp(hc.res.detail, "the local id cannot be a file name", 34)
	    == 0);
	CHECK(access("escape.json", F_OK) != 0);
	snprintf(outside, sizeof(outside), "%s/outside.json", dir);
	harness_write(dir, "outside.json", "{\"secret\": 1}");

	/* A symlink planted in the folder is never followed. */
	snprintf(link, sizeof(link), "%s/exchange/evil.json", dir);
	CHECK(symlink(outside, link) == 0);
	CHECK_INT(harness_call(&hc, HARNESS_FETCH, "evil", NULL, NULL),
	    CONNECTOR_PERMANENT);
	CHECK_STR(hc.res.detail, "cannot read the record file: the file is a "
	    "symlink, which is never followed");
	CHECK_INT(harness_call(&hc, HARNESS_PUSH, "evil", "{\"v\": 2}", NULL),
	    CONNECTOR_OK);
	CHECK_FILE("../outside.json", "{\"secret\": 1}");
	CHECK_FILE("evil.json", "{\"v\": 2}");
	snprintf(link, sizeof(link), "%s/exchange/inbox/link.jsonl", dir);
	CHECK(symlink(outside, link) == 0);
	CHECK_INT(harness_call(&hc, HARNESS_CHANGES, NULL, NULL, NULL),
	    CONNECTOR_OK);
	CHECK_STR(hc.res.body, "[]");
	CHECK_FILE("failed/link.jsonl.reason", "cannot read it: a symlink, "
	    "which is never followed\n");
	close_archive(cfg, &hc);
}

static void
check_refused(const char *extra, const char *msg)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char block[1024];

	snprintf(block, sizeof(block), "%s%s", service_head, extra);
	cfg = harness_load(dir, block, &errs);
	CHECK(cfg == NULL);
	CHECK(harness_has_error(&errs, 0, 0, msg));
	config_free(cfg);
	config_errors_free(&errs);
}

/* A folder that is not there: the instance is not created, and says
 * which folder. */
static void
test_missing_folder(void)
{
	struct config_errors errs = { 0 };
	struct harness_conn hc;
	struct config *cfg;
	char err[256], want[TMPDIR_PATH_LEN + 64];

	cfg = harness_load(dir,
	    "  archive:\n"
	    "    name: Archive\n"
	    "    auth: {api_key: env:H_ARCHIVE_KEY}\n"
	    "    connector: {type: file, dir: nowhere}\n", &errs);
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	CHECK_INT(harness_open(&hc, cfg, "archive", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/nowhere: No such file or directory",
	    dir);
	CHECK_STR(err, want);
	harness_close(&hc);
	config_free(cfg);
}

static void
test_settings(void)
{
	check_refused("      format: xml\n", "format: expected json, jsonl or csv");
	check_refused("      format: csv\n", "format csv needs columns");
	check_refused("      columns: [nom]\n", "columns: only for format csv");
	check_refused("      format: csv\n      columns: [nom, local_id]\n",
	    "columns: local_id is always the first column");
}

int
main(void)
{
	char exchange[TMPDIR_PATH_LEN + 16];

	harness_env();
	setenv("H_ARCHIVE_KEY", "archive-key", 1);
	tmpdir_make(dir);
	snprintf(exchange, sizeof(exchange), "%s/exchange", dir);
	if (mkdir(exchange, 0750) == -1) {
		perror(exchange);
		return 2;
	}
	UNIT_RUN(test_push_and_fetch_json);
	UNIT_RUN(test_append_jsonl_and_csv);
	UNIT_RUN(test_a_retried_append_is_written_once);
	UNIT_RUN(test_csv_round_trip);
	UNIT_RUN(test_inbox_csv_multiline);
	UNIT_RUN(test_readers_never_see_half_a_file);
	UNIT_RUN(test_inbox);
	UNIT_RUN(test_names_cannot_leave_the_folder);
	UNIT_RUN(test_missing_folder);
	UNIT_RUN(test_settings);
	tmpdir_remove(dir);
	return UNIT_END();
}
