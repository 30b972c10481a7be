/* fuzz_inbox.c — the file connector's inbox reader on hostile files, through
 * its ops as the poller calls them. The first byte picks the format (even:
 * CSV, odd: JSONL), the rest is a file dropped in DIR/inbox/.
 *
 * Oracles: a file is handed over whole, as {local_id, record} objects with
 * a non-empty local id (CSV: every value a non-empty string), and moves to
 * done/ once acknowledged; or it moves to failed/ with a reason; it is never
 * lost. And what the CSV writer (push, format csv) writes, the CSV reader
 * reads back the same: the records read are pushed again, the file the
 * pushes make is dropped in an inbox, and must read as those records (only
 * values without a line break: the reader takes a record per line, as
 * docs/connectors.md says). */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file/file.h"
#include "file/file_io.h"
#include "fuzz.h"

/* The folder the input goes to, and the one the round trip writes. */
static struct file_settings fuzz_in, fuzz_rt;
static char *fuzz_rt_columns[] = { "a", "b", "c" };
static void *fuzz_in_conn, *fuzz_rt_conn;

static void *
fuzz_open(struct file_settings *s, const char *dir, const char *format)
{
	char err[256];
	void *inst;

	s->dir = strdup(fuzz_path(dir));
	s->format = (char *)format;
	if (mkdir(s->dir, 0700) != 0 ||
	    file_connector_ops.init(&inst, s, &fuzz_env, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: %s: %s\n", dir, err);
		abort();
	}
	return inst;
}

static void
fuzz_changes(void *inst, const char *cursor, struct fuzz_answer *a)
{
	struct connector_request req = { .cursor = cursor };

	memset(a, 0, sizeof(*a));
	file_connector_ops.changes(inst, &req, fuzz_answer_done, a);
}

/* 1 if path (under the tmpdir) exists. */
static int
fuzz_exists(const char *path)
{
	return access(fuzz_path(path), F_OK) == 0;
}

/* Aborts unless body is a list of well-formed records. */
static void
fuzz_check_records(const json_t *body, int csv)
{
	const char *key;
	json_t *item, *id, *rec, *v;
	size_t i;

	if (!json_is_array(body))
		abort();
	json_array_foreach(body, i, item) {
		id = json_object_get(item, "local_id");
		rec = json_object_get(item, "record");
		if (json_string_length(id) == 0 || !json_is_object(rec))
			abort();
		json_object_foreach(rec, key, v)
			if (csv && json_string_length(v) == 0)
				abort();
	}
}

/* 1 if the writer and the reader must agree on this record: it has only
 * the round trip's columns, values without a line break, and a local id
 * the connector takes. */
static int
fuzz_writable(const json_t *item)
{
	const char *key, *s;
	json_t *v;

	if (!file_name_ok(json_string_value(json_object_get(item, "local_id"))))
		return 0;
	json_object_foreach(json_object_get(item, "record"), key, v) {
		if (strcmp(key, "a") != 0 && strcmp(key, "b") != 0 &&
		    strcmp(key, "c") != 0)
			return 0;
		s = json_string_value(v);
		if (strpbrk(s, "\r\n") != NULL ||
		    strlen(s) != json_string_length(v))
			return 0;
	}
	return 1;
}

static void
fuzz_push(const json_t *item)
{
	struct fuzz_answer a = { 0 };
	char *body = json_dumps(json_object_get(item, "record"), JSON_COMPACT);
	struct connector_request req = {
		.local_id = json_string_value(json_object_get(item, "local_id")),
		.dataset = "ds", .body = body, .body_len = strlen(body),
	};

	file_connector_ops.push(fuzz_rt_conn, &req, fuzz_answer_done, &a);
	free(body);
	if (a.status != CONNECTOR_OK)
		abort();        /* a record the reader gave cannot be written */
}

/* Writes the records that can be, reads them back, compares. */
static void
fuzz_round_trip(const json_t *records)
{
	json_t *expect = json_array(), *item;
	struct fuzz_answer a;
	char from[256];
	size_t i;

	json_array_foreach(records, i, item)
		if (fuzz_writable(item)) {
			fuzz_push(item);
			json_array_append(expect, item);
		}
	if (json_array_size(expect) > 0) {
		snprintf(from, sizeof(from), "%s", fuzz_path("rt/ds.csv"));
		if (rename(from, fuzz_path("rt/inbox/ds.csv")) != 0)
			abort();
		fuzz_changes(fuzz_rt_conn, NULL, &a);
		if (a.status != CONNECTOR_OK || !json_equal(a.body, expect))
			abort();        /* written one way, read another */
		json_decref(a.body);
		fuzz_changes(fuzz_rt_conn, a.cursor, &a);
		json_decref(a.body);
		unlink(fuzz_path("rt/done/ds.csv"));
	}
	json_decref(expect);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_answer a, ack;
	const char *name;
	char path[64];
	int csv;

	if (fuzz_in_conn == NULL) {
		fuzz_in_conn = fuzz_open(&fuzz_in, "in", "jsonl");
		fuzz_rt.columns.n = 3;
		fuzz_rt.columns.items = fuzz_rt_columns;
		fuzz_rt_conn = fuzz_open(&fuzz_rt, "rt", "csv");
	}
	if (size < 1)
		return 0;
	csv = data[0] % 2 == 0;
	name = csv ? "in.csv" : "in.jsonl";
	snprintf(path, sizeof(path), "in/inbox/%s", name);
	fuzz_write(path, data + 1, size - 1);
	fuzz_changes(fuzz_in_conn, NULL, &a);
	if (a.status != CONNECTOR_OK || !json_is_array(a.body))
		abort();
	snprintf(path, sizeof(path), "in/failed/%s", name);
	if (a.cursor[0] == '\0') {
		/* Refused: in failed/ with its reason, and nothing handed over. */
		if (json_array_size(a.body) != 0 || !fuzz_exists(path))
			abort();
		unlink(fuzz_path(path));
		snprintf(path, sizeof(path), "in/failed/%s.reason", name);
		if (!fuzz_exists(path))
			abort();
		unlink(fuzz_path(path));
	} else {
		fuzz_check_records(a.body, csv);
		if (csv)
			fuzz_round_trip(a.body);
		fuzz_changes(fuzz_in_conn, a.cursor, &ack);
		snprintf(path, sizeof(path), "in/done/%s", name);
		if (ack.status != CONNECTOR_OK || json_array_size(ack.body) != 0 ||
		    !fuzz_exists(path))
			abort();        /* acknowledged but not moved to done/ */
		unlink(fuzz_path(path));
		json_decref(ack.body);
	}
	json_decref(a.body);
	return 0;
}
