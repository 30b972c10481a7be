/* store_sqlite.c — the SQLite backend of store.h.
 *
 * One connection per thread (opened NOMUTEX), the database in WAL mode so
 * readers never block the writer, and a busy timeout so that connections of
 * other threads wait for the write lock instead of failing. Every write
 * that spans several statements runs in BEGIN IMMEDIATE: taking the write
 * lock up front is what lets the busy handler work (a deferred transaction
 * that upgrades from read to write fails at once with SQLITE_BUSY).
 *
 * Error messages come from sqlite3_errmsg, which names tables and columns,
 * never bound values. */
#include "store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "store_inflight.h"
#include "store_sql.h"

#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_BUSY_SPIN 1000        /* short waits before the long ones */
#define SQLITE_BUSY_SPIN_US 50
#define SQLITE_BUSY_WAIT_US 1000
#define SQLITE_COMPACT_WAIT_MS 500   /* a checkpoint waits this for readers */
/* A commit checkpoints in line only past this many WAL pages (40 MiB),
 * when nothing calls store_checkpoint often enough (a `tellonce` command,
 * or a checkpointer kept behind by a long read). */
#define SQLITE_WAL_INLINE_PAGES 10000
#define SQLITE_FANOUT 4              /* rows of one Q_DELIVERY_INSERT */
/* The access index's own database, next to the store's file, opened by
 * every store on a connection of its own (sq_access_open). */
#define SQLITE_ACCESS_SUFFIX ".access"
#define SQLITE_FILE_MAX 4096         /* a file name's bytes, with its NUL */
/* The schema version whose next step drops the store's own access
 * index: sq_access_move copies it to the access file first. */
#define SQLITE_ACCESS_MOVE_STEP 16
/* The indexes access_recent spans before a checkpoint moves its rows
 * into a run of their own (sq_access_settle): a subject's lookups scan
 * this table, and every run costs them one descent. They leave it after
 * the run's registration, SQLITE_ACCESS_CHUNK_ROWS indexes a transaction
 * (sq_access_drain): all in the registration's held the mutex 7-9 ms. */
#define SQLITE_ACCESS_RUN_ROWS 32768
/* The rows of a run copied in one transaction, which the sequencer's
 * next index batch waits for (a few ms): a whole run at once held it
 * 50-100 ms, and the fetch p99 of the small store went from 12 to 35 ms.
 * They stay in access_recent until the run is registered: deleting each
 * chunk's rows there rewrote its leaves all over, 16 times a run (9,100
 * pages a run on the large store, against 1,550 since). */
#define SQLITE_ACCESS_CHUNK_ROWS 2048
/* The pause between two chunks, for the batches that waited. */
#define SQLITE_ACCESS_CHUNK_PAUSE_US 1000
/* A run's level is in the high bits of its id: a run moved from
 * access_recent is of level 0, and SQLITE_ACCESS_MERGE_RUNS runs of
 * one level merge into one of the next (sq_access_merge). So a level
 * holds fewer than 8 runs once its merges are done, and a run of level n
 * holds some 8^n x 32,768 entries' rows: a subject's lookups read at most
 * 7 x (1 + log8(entries / 32768)) runs, rounded down, and one more while
 * a merge is under way: 21 at 10M entries, 28 at 100M, where they read
 * one run per 32,768 entries (305 and 3,052). A store restarted midway
 * through a merge leaves its new run short, a run like any other. */
#define SQLITE_ACCESS_LEVEL_SHIFT 40
#define SQLITE_ACCESS_MERGE_RUNS 8   /* Q_ACCESS_MERGE_BOUND's arms */
/* The rows of a merge moved in one transaction. A merge chunk writes its
 * rows in two key ranges (the new run's end, the old runs' starts), so a
 * smaller one holds the sequencer's batches up for less at the same cost
 * per row. With 2,048, an index batch's p99 wait was 4.5-5.7 ms while
 * runs moved and merged, with 512 3.0-3.1 (the move's chunks alone:
 * 1.0-3.4 ms). */
#define SQLITE_ACCESS_MERGE_CHUNK_ROWS 512
/* The chunks of a merge one checkpoint makes, a pause between two: the
 * rest waits for the next, so that a merge of millions of rows holds up
 * neither the store's own checkpoints nor the start, which waits for the
 * first one. 64 chunks every STORE_CHECKPOINTER_MS move 320k rows/s,
 * where 20k entries/s merged on every level need some 80k. */
#define SQLITE_ACCESS_MERGE_CHUNKS 64
/* A row of the access index, in each of its tables (sqlite_access_schema). */
#define SQLITE_ACCESS_ROW "subject TEXT NOT NULL, audit_index INTEGER " \
	"NOT NULL, mandate TEXT, mediator TEXT, helper TEXT"
#define SQLITE_ACCESS_COLUMNS "subject, audit_index, mandate, mediator, helper"
/* The rows of access_recent that readers read: the others, up to the
 * last run registered, are in a run and wait to leave (sq_access_drain). */
#define SQLITE_ACCESS_VISIBLE "audit_index > (SELECT upto FROM access_moved)"

/* The rows deliveries_chain holds since step 13: pending or sending, the
 * few of a chain its queries look for, not its delivered history (and
 * since step 16 their state, which those queries test). A query
 * that searches the chain states this condition too: SQLite uses a
 * partial index only for a query whose terms include the index's. */
#define DELIVERY_UNSENT(n) n ".state IN (0, 1)"
/* A chain's pending rows, its subscriber bound to `sub`, its subject and
 * dataset to ?1 and ?2. */
#define DELIVERY_PENDING_ARM(sub) "SELECT seq FROM deliveries WHERE " \
	"subscriber = " sub " AND subject = ?1 AND dataset = ?2 AND " \
	"state = 0 AND " DELIVERY_UNSENT("deliveries")
/* A newer version of d's record than d's, pending, sending or delivered
 * to d's subscriber. The delivered ones are not in deliveries_chain: they
 * are found from the records of d's subject and dataset
 * (records_by_subject), then each one's deliveries (deliveries_by_record). */
#define DELIVERY_NEWER_LIVE(d) "EXISTS (SELECT 1 FROM records o, records r, " \
	"deliveries n WHERE o.seq = " d ".record_seq AND r.subject = o.subject " \
	"AND r.dataset = o.dataset AND r.version > o.version " \
	"AND n.record_seq = r.seq AND n.subscriber = " d ".subscriber " \
	"AND n.state IN " DELIVERY_LIVE ")"

/* The schema, one step per version: step i brings user_version from i to
 * i + 1 in its own transaction. Append new steps; never edit old ones. */
static const char *const sqlite_migrations[] = {
	"CREATE TABLE links ("
	"  service TEXT NOT NULL,"
	"  local_id TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (service, local_id),"
	"  UNIQUE (service, subject)"
	") WITHOUT ROWID;"
	"CREATE TABLE consents ("
	"  id TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  consumer TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL DEFAULT 0,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX consents_by_subject ON consents (subject, created_ms);"
	"CREATE TABLE consent_attributes ("
	"  consent_id TEXT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY (consent_id, position),"
	"  UNIQUE (consent_id, name)"
	") WITHOUT ROWID;"
	"CREATE TABLE objections ("
	"  id TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  consumer TEXT,"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX objections_by_subject ON objections (subject, dataset, purpose);"
	"CREATE TABLE access_index ("
	"  subject TEXT NOT NULL,"
	"  audit_index INTEGER NOT NULL,"
	"  PRIMARY KEY (subject, audit_index)"
	") WITHOUT ROWID;"
	"CREATE INDEX access_index_by_index ON access_index (audit_index);",
	/* 2: pushed records, the delivery outbox, idempotency keys. The
	 * states of deliveries are enum store_delivery_state. */
	"CREATE TABLE records ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  provider TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  record TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX records_by_dataset ON records (dataset, seq);"
	"CREATE INDEX records_by_subject ON records (subject, dataset, version);"
	"CREATE TABLE push_keys ("
	"  provider TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  request_sha256 TEXT NOT NULL,"
	"  response TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (provider, key)"
	") WITHOUT ROWID;"
	"CREATE TABLE deliveries ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  record_seq INTEGER NOT NULL REFERENCES records (seq),"
	"  subscriber TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  since_ms INTEGER NOT NULL,"
	"  due_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  last_error TEXT"
	");"
	"CREATE INDEX deliveries_due ON deliveries (subscriber, state, due_ms);"
	"CREATE INDEX deliveries_chain ON deliveries "
	"  (subscriber, subject, dataset, state);"
	"CREATE INDEX deliveries_by_state ON deliveries (state, seq);",
	/* 3: where polled services' changes were read up to. */
	"CREATE TABLE poll_cursors ("
	"  service TEXT PRIMARY KEY,"
	"  cursor TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 4: the pivot normalisation each subject was derived under
	 * (docs/identity.md): every link before this step was version 1. A
	 * link looks a subject up across services. */
	"ALTER TABLE links"
	"  ADD COLUMN pivot_version INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX links_by_subject ON links (subject, pivot_version);",
	/* 5: retention (contract §6). Records are found by age, and the
	 * deliveries and idempotency keys of a record version by its seq, so
	 * that a purge erases them together; keys stored before this step
	 * name their record in their response. */
	"CREATE INDEX records_by_age ON records (created_ms);"
	"CREATE INDEX deliveries_by_record ON deliveries (record_seq);"
	"ALTER TABLE push_keys ADD COLUMN record_seq INTEGER;"
	"UPDATE push_keys SET record_seq = (SELECT seq FROM records WHERE "
	"  id = CASE WHEN json_valid(response) "
	"  THEN json_extract(response, '$.id') END);"
	"CREATE INDEX push_keys_by_record ON push_keys (record_seq);",
	/* 6: each subject's view key (contract §5), random, kept apart from
	 * the links so that erasing it (GDPR art. 17) leaves them be. Subjects
	 * linked before this step get theirs at their next entry. */
	"CREATE TABLE view_keys ("
	"  subject TEXT PRIMARY KEY,"
	"  key BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 7: one row that readiness rewrites, so that /readyz proves the
	 * store can commit, not only take its write lock. */
	"CREATE TABLE health ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  written_ms INTEGER NOT NULL"
	");",
	/* 8: the W3C traceparent of the push that brought a record, so its
	 * deliveries join that trace; NULL before this step and for polled
	 * records. */
	"ALTER TABLE records ADD COLUMN traceparent TEXT;",
	/* 9: the audit entry that covers what was sent or accepted: a
	 * delivery's `deliver` entry, written before the send, with the
	 * payload it names (a retry of that payload needs no other); a push
	 * key's `push` entry (a replay of a key without one audits it). */
	"ALTER TABLE deliveries ADD COLUMN audit_index INTEGER;"
	"ALTER TABLE deliveries ADD COLUMN audit_sha256 TEXT;"
	"ALTER TABLE push_keys ADD COLUMN audit_index INTEGER;",
	/* 10: mediators' mandates (contract §8), the consents given under
	 * them, and who acted in each entry made under one. actions holds
	 * STORE_MANDATE_* bits. */
	"CREATE TABLE mandates ("
	"  id TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  mediator TEXT NOT NULL,"
	"  helper TEXT NOT NULL,"
	"  actions INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX mandates_by_subject ON mandates "
	"  (subject, mediator, created_ms);"
	"CREATE TABLE mandate_datasets ("
	"  mandate_id TEXT NOT NULL REFERENCES mandates (id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY (mandate_id, position),"
	"  UNIQUE (mandate_id, name)"
	") WITHOUT ROWID;"
	"ALTER TABLE consents ADD COLUMN mandate TEXT;"
	"ALTER TABLE consents ADD COLUMN mediator TEXT;"
	"ALTER TABLE consents ADD COLUMN helper TEXT;"
	"ALTER TABLE access_index ADD COLUMN mandate TEXT;"
	"ALTER TABLE access_index ADD COLUMN mediator TEXT;"
	"ALTER TABLE access_index ADD COLUMN helper TEXT;",
	/* 11: the last checkpoint signed for each audit log origin, so that
	 * an older copy of the audit directory is refused at start instead
	 * of forking the published log (docs/operations.md, "Restoring"). */
	"CREATE TABLE audit_heads ("
	"  origin TEXT PRIMARY KEY,"
	"  size INTEGER NOT NULL,"
	"  root BLOB NOT NULL,"
	"  signed_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 12: the node that took a delivery and until when (store.h,
	 * store_outbox_node). Only PostgreSQL, shared by several nodes,
	 * writes them; the step keeps both stores' versions in step. */
	"ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;"
	"ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;",
	/* 13: the outbox's indexes keep only the rows their queries look
	 * for (DELIVERY_UNSENT): the due query wants pending rows, the
	 * chain's pending and sending ones. Each delivery was kept in both
	 * for good, and every change of state rewrote both; now taking it
	 * leaves the chain's alone, and delivering it leaves the due one's
	 * alone. (PostgreSQL's step 13 holds the audit log its nodes
	 * share; its outbox keeps its full indexes, with which its claim
	 * query is five times faster.) */
	"DROP INDEX IF EXISTS deliveries_due;"
	"CREATE INDEX deliveries_due ON deliveries (subscriber, due_ms) "
	"  WHERE state = 0;"
	"DROP INDEX IF EXISTS deliveries_chain;"
	"CREATE INDEX deliveries_chain ON deliveries "
	"  (subscriber, subject, dataset) WHERE state IN (0, 1);",
	/* 14: deliveries_by_state kept every delivery by (state, seq), so
	 * that each one's three changes of state (queued, taken, delivered)
	 * each rewrote an entry there too, for queries that look only for
	 * dead letters (the API's list, the metrics' count): they have an
	 * index of their own, which a delivery that succeeds never enters.
	 * Pending and sending rows are counted from deliveries_chain. Its
	 * entries all hold state 3, so they are in order of the rowid (seq)
	 * that each one ends with. */
	"DROP INDEX IF EXISTS deliveries_by_state;"
	"CREATE INDEX deliveries_dead ON deliveries (state) WHERE state = 3;",
	/* 15: no query looks the access index up by entry alone (a
	 * subject's lookups use the primary key), and this second B-tree
	 * took an insert for every entry of the log. On a store of 10M
	 * entries dropping it frees some 1 GB, overwritten (secure_delete):
	 * a one-time step of some 10 s at the first start. */
	"DROP INDEX IF EXISTS access_index_by_index;",
	/* 16: deliveries_chain holds each row's state too, so the queries
	 * that look for a chain's pending row (a push's supersede) or its
	 * sending one (the take's NOT EXISTS, once per row taken) read the
	 * index alone, not each row of the chain. Taking a row already
	 * rewrote its entry (the index's WHERE names the state), so that
	 * costs nothing more. */
	"DROP INDEX IF EXISTS deliveries_chain;"
	"CREATE INDEX deliveries_chain ON deliveries "
	"  (subscriber, subject, dataset, state) WHERE state IN (0, 1);",
	/* 17: the access index lives in a file of its own (sq_access_open):
	 * every fetch adds a row to it, and each commit of it in the store's
	 * file made the workers' next read transactions find the log moved
	 * and drop their page caches (gateway CPU per fetch on a store of 10M
	 * entries: 127-167 us before, 117-146 after). sq_access_move has
	 * copied the rows there before this step drops them. An erasure
	 * notes its subject in access_erasures in the transaction that erases
	 * the rest, and deletes it once the access file has lost the
	 * subject's rows (sq_access_erase): the two files do not commit as
	 * one. */
	"DROP TABLE IF EXISTS main.access_index;"
	"CREATE TABLE access_erasures (subject TEXT PRIMARY KEY) WITHOUT ROWID;",
	/* 18: the access index's newest rows go to tables of the access
	 * file that an older program does not read (access_recent and
	 * access_runs, made at its open with access_index renamed
	 * access_base and a view in its place: sq_access_schema). This
	 * step changes nothing in this file: it makes such a program refuse
	 * the store rather than answer access logs without those rows. */
	"",
	/* 19: a delivery's record is checked at the commit (a deferred
	 * foreign key), not by each statement: an immediate one made every
	 * push's insert of its deliveries, several rows in one statement,
	 * open a statement journal, into which SQLite copied each page the
	 * statement changed, to undo the statement alone (with INSERT OR
	 * FAIL, Q_DELIVERY_INSERT needs none; a push that fails rolls its
	 * transaction or savepoint back whole). SQLite alters no constraint,
	 * and making the table again would rewrite every row, then free the
	 * old pages in one statement, journalled page by page (secure_delete),
	 * some 2 s on 600k deliveries. A constraint
	 * changes nothing stored, so the table's text is edited in place
	 * (SQLite's documented way for such changes, "ALTER TABLE", section
	 * 7), and RESET reloads it for this connection; one opened earlier
	 * keeps checking each statement, which is as safe. */
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_schema SET sql = replace(sql,"
	"  'REFERENCES records (seq),',"
	"  'REFERENCES records (seq) DEFERRABLE INITIALLY DEFERRED,')"
	"  WHERE type = 'table' AND name = 'deliveries';"
	"PRAGMA writable_schema = RESET;",
	/* 20: each link holds its subject's view key too, so that a fetch's
	 * lookup (Q_LINK_SUBJECT_FACTS) reads it with the link instead of
	 * descending view_keys: on a store of 1M subjects, some 5.5k of the
	 * lookup's 31k instructions and 1.2 of a fetch's 5.4 page reads. The
	 * copies follow view_keys, which stays the truth, by triggers: a key
	 * drawn is copied to the subject's links, an erased one (GDPR art.
	 * 17) leaves them with it (secure_delete overwrites it in place), and
	 * a new link takes the key its subject has (Q_LINK_INSERT). A link
	 * without one reads view_keys, as before. */
	"ALTER TABLE links ADD COLUMN view_key BLOB;"
	"UPDATE links SET view_key = "
	"  (SELECT key FROM view_keys v WHERE v.subject = links.subject);"
	"CREATE TRIGGER view_keys_drawn AFTER INSERT ON view_keys BEGIN"
	"  UPDATE links SET view_key = NEW.key WHERE subject = NEW.subject;"
	" END;"
	"CREATE TRIGGER view_keys_erased AFTER DELETE ON view_keys BEGIN"
	"  UPDATE links SET view_key = NULL WHERE subject = OLD.subject;"
	" END;",
	/* 21: a run of the access file fills unregistered, noted in its
	 * table access_filling, and its rows in access_recent are hidden
	 * from readers by the mark in access_moved until they leave
	 * (sq_access_settle). An older program reads neither table: its
	 * erasure would leave the run's rows of the subject, which this
	 * program registers afterwards, its next run would take the same
	 * id and append to those rows, and it would list the hidden rows
	 * twice. This step changes nothing in this file: it makes such a
	 * program refuse the store. */
	"",
};

#define SQLITE_SCHEMA_VERSION \
	((int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0])))

enum sqlite_stmt {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
	Q_SYNC_FULL,
	Q_SYNC_NORMAL,
	Q_HEALTH_WRITE,
	Q_LINK_INSERT,
	Q_LINK_SUBJECT,
	Q_LINK_LOCAL_ID,
	Q_LINK_LOCAL_IDS,
	Q_LINK_SUBJECT_FACTS,
	Q_SUBJECT_LINKED,
	Q_VIEW_KEY_GET,
	Q_VIEW_KEY_PUT,
	Q_VIEW_KEY_DELETE,
	Q_ACCESS_BEGIN,
	Q_ACCESS_COMMIT,
	Q_ACCESS_ROLLBACK,
	Q_ACCESS_DELETE,
	Q_ACCESS_DELETE_RUNS,
	Q_ACCESS_DELETE_RECENT,
	Q_ACCESS_RUN_BOUND,
	Q_ACCESS_SORT_CLEAR,
	Q_ACCESS_SORT_FILL,
	Q_ACCESS_RUN_NEW,
	Q_ACCESS_FILL_ORPHANS,
	Q_ACCESS_FILL_FORGET,
	Q_ACCESS_FILL_NEW,
	Q_ACCESS_FILL_LATE,
	Q_ACCESS_FILL_ERASED,
	Q_ACCESS_FILL_OWN,
	Q_ACCESS_RUN_FILL,
	Q_ACCESS_RUN_REGISTER,
	Q_ACCESS_RUN_HIDE,
	Q_ACCESS_RUN_DROP_LATE,
	Q_ACCESS_DRAIN,
	Q_ACCESS_MOVED_GET,
	Q_ACCESS_PUT_BASE,
	Q_ACCESS_MERGE_DUE,
	Q_ACCESS_MERGE_RUNS,
	Q_ACCESS_MERGE_BOUND,
	Q_ACCESS_MERGE_CLEAR,
	Q_ACCESS_MERGE_READ,
	Q_ACCESS_MERGE_READ_REST,
	Q_ACCESS_MERGE_COPY,
	Q_ACCESS_MERGE_DROP,
	Q_ACCESS_MERGE_DROP_REST,
	Q_ACCESS_MERGE_FORGET,
	Q_ACCESS_ERASE_NOTE,
	Q_ACCESS_ERASE_DONE,
	Q_ACCESS_ERASE_PENDING,
	Q_ACCESS_SYNC_FULL,
	Q_ACCESS_SYNC_NORMAL,
	Q_CONSENT_INSERT,
	Q_CONSENT_ATTR_INSERT,
	Q_CONSENT_GET,
	Q_CONSENT_ATTRS,
	Q_CONSENT_REVOKE,
	Q_CONSENT_EXISTS,
	Q_CONSENT_FIND,
	Q_CONSENT_LIST_FOR,
	Q_OBJECTION_INSERT,
	Q_OBJECTION_FIND,
	Q_OBJECTION_MATCH,
	Q_MANDATE_INSERT,
	Q_MANDATE_DATASET_INSERT,
	Q_MANDATE_GET,
	Q_MANDATE_DATASETS,
	Q_MANDATE_REVOKE,
	Q_MANDATE_EXISTS,
	Q_MANDATE_FIND,
	Q_MANDATE_REVOKE_MEDIATOR,
	Q_ACCESS_PUT,
	Q_ACCESS_MANDATE,
	Q_ACCESS_LIST,
	Q_PUSH_KEY_GET,
	Q_PUSH_KEY_PUT,
	Q_PUSH_KEY_AUDITED,
	Q_RECORD_INSERT,
	Q_DELIVERY_PENDING,
	Q_DELIVERY_SUPERSEDE,
	Q_DELIVERY_INSERT,
	Q_CHANGE_LIST,
	Q_DELIVERY_UNSEND,
	Q_DELIVERY_SUPERSEDE_OLDER,
	Q_DELIVERY_DUE,
	Q_DELIVERY_FINISH,
	Q_DELIVERY_LIST,
	Q_DELIVERY_LIST_DEAD,
	Q_DELIVERY_GET,
	Q_DELIVERY_NEWER,
	Q_DELIVERY_REQUEUE,
	Q_CURSOR_GET,
	Q_CURSOR_PUT,
	Q_ERASE_RECORD_KEYS,
	Q_ERASE_RECORD_DELIVERIES,
	Q_ERASE_RECORD,
	Q_ERASE_SUBJECT_KEYS,
	Q_ERASE_SUBJECT_DELIVERIES,
	Q_ERASE_SUBJECT_RECORDS,
	Q_LINK_DELETE,
	Q_CONSENT_REVOKE_PARTY,
	Q_OUTBOX_COUNTS,
	Q_AUDIT_HEAD_GET,
	Q_AUDIT_HEAD_PUT,
	Q_COUNT
};


/* The runs a merge takes, ?2 to ?3, for its chunks' statements. */
#define SQLITE_ACCESS_MERGED "run IN (SELECT run FROM access_run_ids " \
	"WHERE run BETWEEN ?2 AND ?3)"
#define SQLITE_ACCESS_MERGE_ARM(n) "SELECT subject, audit_index " \
	"FROM access_runs WHERE run = ?" n
#define SQLITE_ACCESS_MERGE_READ "INSERT INTO temp.access_merging (" \
	SQLITE_ACCESS_COLUMNS ") SELECT " SQLITE_ACCESS_COLUMNS " FROM " \
	"access_runs WHERE " SQLITE_ACCESS_MERGED

static const char *const sqlite_sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SAVEPOINT] = "SAVEPOINT w",
	[Q_RELEASE] = "RELEASE w",
	[Q_ROLLBACK_TO] = "ROLLBACK TO w",
	/* A durable commit's fsync (sq_durable): prepared once, as it is
	 * switched twice per accepted batch. */
	[Q_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[Q_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[Q_HEALTH_WRITE] = "INSERT INTO health (id, written_ms) VALUES (1, ?1) "
	"ON CONFLICT (id) DO UPDATE SET written_ms = excluded.written_ms",
	[Q_LINK_INSERT] = "INSERT INTO links (service, local_id, subject, "
	    "created_ms, pivot_version, view_key) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "(SELECT key FROM view_keys WHERE subject = ?3)) "
	    "ON CONFLICT DO NOTHING",
	/* The view key is the link's copy (step 20). */
	[Q_LINK_SUBJECT] = "SELECT subject, view_key FROM links "
	    "WHERE service = ?1 AND local_id = ?2",
	[Q_LINK_LOCAL_ID] = "SELECT local_id FROM links "
	    "WHERE service = ?1 AND subject = ?2",
	/* Covered by links_by_subject, whose entries end with the key. */
	[Q_LINK_LOCAL_IDS] = "SELECT service, local_id FROM links "
	    "WHERE subject = ?1",
	/* One row per link of the subject: the key by the links' primary
	 * key (with the view key, step 20), then links_by_subject's and
	 * objections_by_subject's (which covers the EXISTS). */
	[Q_LINK_SUBJECT_FACTS] = "SELECT l.subject, l.view_key, EXISTS "
	    "(SELECT 1 FROM objections o WHERE o.subject = l.subject), "
	    "a.service, a.local_id FROM links l JOIN links a ON a.subject = "
	    "l.subject WHERE l.service = ?1 AND l.local_id = ?2",
	[Q_SUBJECT_LINKED] = "SELECT 1 FROM links "
	    "WHERE subject = ?1 AND pivot_version = ?2 LIMIT 1",
	[Q_VIEW_KEY_GET] = "SELECT key FROM view_keys WHERE subject = ?1",
	[Q_VIEW_KEY_PUT] = "INSERT INTO view_keys (subject, key, created_ms) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
	[Q_VIEW_KEY_DELETE] = "DELETE FROM view_keys WHERE subject = ?1",
	[Q_ACCESS_BEGIN] = "BEGIN IMMEDIATE",
	[Q_ACCESS_COMMIT] = "COMMIT",
	[Q_ACCESS_ROLLBACK] = "ROLLBACK",
	[Q_ACCESS_DELETE] = "DELETE FROM access_base WHERE subject = ?1",
	/* The run being filled too: it is registered after the erasure. */
	[Q_ACCESS_DELETE_RUNS] = "DELETE FROM access_runs WHERE run IN "
	    "(SELECT run FROM access_run_ids UNION ALL SELECT run FROM "
	    "access_filling) AND subject = ?1",
	[Q_ACCESS_DELETE_RECENT] = "DELETE FROM access_recent "
	    "WHERE subject = ?1",
	/* The last index of the next run, once access_recent's visible rows
	 * span ?1 indexes past their first: two descents, not a count of
	 * its rows (each min() and max() alone in its query, which SQLite
	 * answers from the key's ends). */
	[Q_ACCESS_RUN_BOUND] = "SELECT lo + ?1 FROM (SELECT (SELECT "
	    "min(audit_index) FROM access_recent WHERE " SQLITE_ACCESS_VISIBLE
	    ") AS lo, (SELECT max(audit_index) FROM access_recent) AS hi) "
	    "WHERE hi >= lo + ?1",
	/* The rows of a run due, in the run's order, sorted once: its
	 * chunks are ranges of this table's rowids (sq_access_chunk). */
	[Q_ACCESS_SORT_CLEAR] = "DELETE FROM temp.access_sorted",
	[Q_ACCESS_SORT_FILL] = "INSERT INTO temp.access_sorted ("
	    SQLITE_ACCESS_COLUMNS ") SELECT " SQLITE_ACCESS_COLUMNS " FROM "
	    "access_recent WHERE audit_index <= ?1 AND " SQLITE_ACCESS_VISIBLE
	    " ORDER BY subject, audit_index",
	/* The next run of the level whose ids are [?1, ?2) (sq_access_level). */
	[Q_ACCESS_RUN_NEW] = "INSERT INTO access_run_ids (run) SELECT "
	    "coalesce(max(run), ?1) + 1 FROM access_run_ids "
	    "WHERE run >= ?1 AND run < ?2",
	/* The rows of a run that a crash or a failure left unregistered,
	 * then its note. */
	[Q_ACCESS_FILL_ORPHANS] = "DELETE FROM access_runs WHERE run IN "
	    "(SELECT run FROM access_filling)",
	[Q_ACCESS_FILL_FORGET] = "DELETE FROM access_filling",
	/* The next run of level 0 (ids [?1, ?2)), unregistered while it
	 * fills, the rows of access_recent up to index ?3 its own. */
	[Q_ACCESS_FILL_NEW] = "INSERT INTO access_filling (run, bound) SELECT "
	    "coalesce(max(run), ?1) + 1, ?3 FROM access_run_ids "
	    "WHERE run >= ?1 AND run < ?2",
	/* A batch whose first index is ?1 puts rows the run being filled
	 * may lack (its sort did not see them): its registration then
	 * drops from access_recent only the rows it holds. */
	[Q_ACCESS_FILL_LATE] = "UPDATE access_filling SET late = 1 "
	    "WHERE bound >= ?1 AND late = 0",
	/* An erasure while a run fills: the sorted copy of its rows may
	 * hold the subject's, which no chunk may copy any more. */
	[Q_ACCESS_FILL_ERASED] = "UPDATE access_filling SET erased = 1",
	[Q_ACCESS_FILL_OWN] = "SELECT late, erased FROM access_filling "
	    "WHERE run = ?1",
	/* A chunk of run ?1, the sorted rows ?2 to ?3, in order of the
	 * run's key: each chunk's keys follow the last one's, so the run's
	 * rows go in one after the other, a leaf filled at a time. */
	[Q_ACCESS_RUN_FILL] = "INSERT INTO access_runs (run, "
	    SQLITE_ACCESS_COLUMNS ") SELECT ?1, " SQLITE_ACCESS_COLUMNS
	    " FROM temp.access_sorted WHERE rowid BETWEEN ?2 AND ?3 "
	    "ORDER BY rowid",
	/* The run ?1 filled, registered: its rows, those of access_recent
	 * up to index ?2, leave the readers' sight in the same transaction
	 * (so that a reader finds each row once), then the table, by ranges
	 * of its key (Q_ACCESS_DRAIN). A late run's rows leave at once,
	 * those alone (Q_ACCESS_FILL_LATE). */
	[Q_ACCESS_RUN_REGISTER] = "INSERT INTO access_run_ids (run) "
	    "VALUES (?1)",
	[Q_ACCESS_RUN_HIDE] = "UPDATE access_moved SET upto = ?2",
	[Q_ACCESS_RUN_DROP_LATE] = "DELETE FROM access_recent WHERE "
	    "audit_index <= ?2 AND EXISTS (SELECT 1 FROM access_runs r WHERE "
	    "r.run = ?1 AND r.subject = access_recent.subject AND "
	    "r.audit_index = access_recent.audit_index)",
	/* The rows of ?1 indexes from access_recent's first, those readers
	 * no longer read: they are in runs. */
	[Q_ACCESS_DRAIN] = "DELETE FROM access_recent WHERE audit_index <= "
	    "min((SELECT upto FROM access_moved), (SELECT min(audit_index) "
	    "FROM access_recent) + ?1 - 1)",
	[Q_ACCESS_MOVED_GET] = "SELECT upto FROM access_moved",
	/* The lowest level holding ?1 runs or more, ?2 the first id of
	 * level 1. */
	[Q_ACCESS_MERGE_DUE] = "SELECT run / ?2 FROM access_run_ids "
	    "GROUP BY 1 HAVING count(*) >= ?1 ORDER BY 1 LIMIT 1",
	/* The level's ?3 oldest runs, [?1, ?2) its ids: every run of the
	 * level between the first and the last is one of them. */
	[Q_ACCESS_MERGE_RUNS] = "SELECT run FROM access_run_ids "
	    "WHERE run >= ?1 AND run < ?2 ORDER BY run LIMIT ?3",
	/* The key ?9 rows on in runs ?1 to ?8 together, their rows read in
	 * order of the key from each run and merged (SQLite merges a
	 * compound's arms for its ORDER BY): the next chunk goes up to it. */
	[Q_ACCESS_MERGE_BOUND] = SQLITE_ACCESS_MERGE_ARM("1") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("2") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("3") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("4") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("5") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("6") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("7") " UNION ALL "
	    SQLITE_ACCESS_MERGE_ARM("8") " ORDER BY 1, 2 LIMIT 1 OFFSET ?9",
	/* A chunk of a merge: the rows of runs ?2 to ?3 up to key (?4, ?5),
	 * one descent per run (the IN), or the rest of them in the last
	 * chunk, read in the key's order into this connection's temporary
	 * table (sq_access_merge_read); then, in the chunk's transaction,
	 * copied into run ?1 and deleted from theirs, with the runs' ids
	 * in the last. A row in two runs (a batch retried) goes in once. */
	[Q_ACCESS_MERGE_CLEAR] = "DELETE FROM temp.access_merging",
	[Q_ACCESS_MERGE_READ] = SQLITE_ACCESS_MERGE_READ
	    " AND (subject, audit_index) <= (?4, ?5) ORDER BY subject, "
	    "audit_index",
	[Q_ACCESS_MERGE_READ_REST] = SQLITE_ACCESS_MERGE_READ
	    " ORDER BY subject, audit_index",
	[Q_ACCESS_MERGE_COPY] = "INSERT OR IGNORE INTO access_runs (run, "
	    SQLITE_ACCESS_COLUMNS ") SELECT ?1, " SQLITE_ACCESS_COLUMNS
	    " FROM temp.access_merging ORDER BY rowid",
	[Q_ACCESS_MERGE_DROP] = "DELETE FROM access_runs WHERE "
	    SQLITE_ACCESS_MERGED " AND (subject, audit_index) <= (?4, ?5)",
	[Q_ACCESS_MERGE_DROP_REST] = "DELETE FROM access_runs WHERE "
	    SQLITE_ACCESS_MERGED,
	[Q_ACCESS_MERGE_FORGET] = "DELETE FROM access_run_ids "
	    "WHERE run BETWEEN ?2 AND ?3",
	[Q_ACCESS_ERASE_NOTE] = "INSERT OR IGNORE INTO access_erasures "
	    "(subject) VALUES (?1)",
	[Q_ACCESS_ERASE_DONE] = "DELETE FROM access_erasures WHERE subject = ?1",
	[Q_ACCESS_ERASE_PENDING] = "SELECT subject FROM access_erasures LIMIT 1",
	[Q_ACCESS_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[Q_ACCESS_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[Q_CONSENT_INSERT] = "INSERT INTO consents (" CONSENT_COLUMNS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[Q_CONSENT_ATTR_INSERT] = "INSERT INTO consent_attributes "
	    "(consent_id, position, name) VALUES (?1, ?2, ?3)",
	[Q_CONSENT_GET] = "SELECT " CONSENT_COLUMNS " FROM consents WHERE id = ?1",
	[Q_CONSENT_ATTRS] = "SELECT name FROM consent_attributes "
	    "WHERE consent_id = ?1 ORDER BY position",
	[Q_CONSENT_REVOKE] = "UPDATE consents SET revoked_ms = ?2 "
	    "WHERE id = ?1 AND revoked_ms = 0",
	[Q_CONSENT_EXISTS] = "SELECT 1 FROM consents WHERE id = ?1",
	[Q_CONSENT_FIND] = "SELECT " CONSENT_COLUMNS " FROM consents "
	    "WHERE subject = ?1 AND (?2 IS NULL OR consumer = ?2) "
	    "AND (?3 IS NULL OR provider = ?3) AND (?4 IS NULL OR dataset = ?4) "
	    "ORDER BY created_ms DESC, rowid DESC",
	[Q_CONSENT_LIST_FOR] = "SELECT " CONSENT_COLUMNS " FROM consents "
	    "WHERE subject = ?1 AND (consumer = ?2 OR provider = ?2 "
	    "OR mediator = ?2) ORDER BY created_ms DESC, rowid DESC",
	[Q_OBJECTION_INSERT] = "INSERT INTO objections (id, subject, dataset, "
	    "purpose, consumer, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_OBJECTION_FIND] = "SELECT id, subject FROM objections WHERE subject = ?1 "
	    "AND dataset = ?2 AND purpose = ?3 AND consumer IS ?4 LIMIT 1",
	[Q_OBJECTION_MATCH] = "SELECT 1 FROM objections WHERE subject = ?1 "
	    "AND dataset = ?2 AND purpose = ?3 "
	    "AND (consumer IS NULL OR consumer = ?4) LIMIT 1",
	[Q_MANDATE_INSERT] = "INSERT INTO mandates (" MANDATE_COLUMNS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_MANDATE_DATASET_INSERT] = "INSERT INTO mandate_datasets "
	    "(mandate_id, position, name) VALUES (?1, ?2, ?3)",
	[Q_MANDATE_GET] = "SELECT " MANDATE_COLUMNS " FROM mandates WHERE id = ?1",
	[Q_MANDATE_DATASETS] = "SELECT name FROM mandate_datasets "
	    "WHERE mandate_id = ?1 ORDER BY position",
	[Q_MANDATE_REVOKE] = "UPDATE mandates SET revoked_ms = ?2 "
	    "WHERE id = ?1 AND revoked_ms = 0",
	[Q_MANDATE_EXISTS] = "SELECT 1 FROM mandates WHERE id = ?1",
	[Q_MANDATE_FIND] = "SELECT " MANDATE_COLUMNS " FROM mandates "
	    "WHERE subject = ?1 AND mediator = ?2 "
	    "ORDER BY created_ms DESC, rowid DESC",
	[Q_MANDATE_REVOKE_MEDIATOR] = "UPDATE mandates SET revoked_ms = ?3 "
	    "WHERE subject = ?1 AND mediator = ?2 AND revoked_ms = 0",
	/* Keyed by index first: a batch's rows go in at the table's end. */
	[Q_ACCESS_PUT] = "INSERT INTO access_recent (subject, audit_index, "
	    "mandate, mediator, helper) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT DO NOTHING",
	/* A row under the last run's bound, which readers would not see in
	 * access_recent (an entry's index taken again after a crash). */
	[Q_ACCESS_PUT_BASE] = "INSERT INTO access_base (subject, audit_index, "
	    "mandate, mediator, helper) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT DO NOTHING",
	/* A subject's rows are in three places (sq_access_open): the
	 * rows of stores before runs, the runs, the newest. */
	[Q_ACCESS_MANDATE] = "SELECT mediator, helper FROM access_base "
	    "WHERE subject = ?1 AND audit_index = ?2 AND mediator IS NOT NULL "
	    "UNION ALL SELECT mediator, helper FROM access_runs WHERE run IN "
	    "(SELECT run FROM access_run_ids) AND subject = ?1 AND "
	    "audit_index = ?2 AND mediator IS NOT NULL "
	    "UNION ALL SELECT mediator, helper FROM access_recent "
	    "WHERE audit_index = ?2 AND subject = ?1 AND mediator IS NOT NULL "
	    "AND " SQLITE_ACCESS_VISIBLE " LIMIT 1",
	/* UNION, not UNION ALL: a row put again after its first copy left
	 * access_recent (a batch retried) is listed once. */
	[Q_ACCESS_LIST] = "SELECT audit_index FROM access_base "
	    "WHERE subject = ?1 AND audit_index < ?2 "
	    "UNION SELECT audit_index FROM access_runs WHERE run IN "
	    "(SELECT run FROM access_run_ids) AND subject = ?1 AND "
	    "audit_index < ?2 "
	    "UNION SELECT audit_index FROM access_recent "
	    "WHERE audit_index < ?2 AND subject = ?1 AND "
	    SQLITE_ACCESS_VISIBLE " ORDER BY 1 DESC LIMIT ?3",
	[Q_PUSH_KEY_GET] = "SELECT request_sha256, response, "
	    "audit_index IS NOT NULL FROM push_keys "
	    "WHERE provider = ?1 AND key = ?2",
	[Q_PUSH_KEY_PUT] = "INSERT INTO push_keys (provider, key, "
	    "request_sha256, response, created_ms, record_seq) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_PUSH_KEY_AUDITED] = "UPDATE push_keys SET audit_index = ?3 "
	    "WHERE provider = ?1 AND key = ?2",
	[Q_RECORD_INSERT] = "INSERT INTO records (id, provider, subject, "
	    "dataset, version, record, created_ms, traceparent) VALUES (?1, ?2, "
	    "?3, ?4, (SELECT coalesce(max(version), 0) + 1 FROM records "
	    "WHERE subject = ?3 AND dataset = ?4), ?5, ?6, ?7)",
	/* The rows Q_DELIVERY_SUPERSEDE changes: the pending ones of a
	 * push's chains, up to SQLITE_FANOUT subscribers in one statement
	 * (those left unbound, NULL, find nothing), those in flight among
	 * them passed over (store_inflight.h). An arm per chain, each one
	 * descent of deliveries_chain: `subscriber IN (...)` made SQLite
	 * build a temporary table per run. */
	[Q_DELIVERY_PENDING] = DELIVERY_PENDING_ARM("?3") " UNION ALL "
	    DELIVERY_PENDING_ARM("?4") " UNION ALL "
	    DELIVERY_PENDING_ARM("?5") " UNION ALL "
	    DELIVERY_PENDING_ARM("?6"),
	/* By seq, the rowid: an UPDATE that searched deliveries_chain would
	 * change the state that index holds, so SQLite would first collect
	 * the rows in a temporary B-tree, a pager opened per statement. */
	[Q_DELIVERY_SUPERSEDE] = "UPDATE deliveries SET state = 4, "
	    "updated_ms = ?2 WHERE seq = ?1 AND state = 0",
	/* A push's deliveries, up to SQLITE_FANOUT in one statement (the
	 * pairs left unbound are NULL): an AUTOINCREMENT table's insert
	 * reads and writes sqlite_sequence once per statement, not per row,
	 * and each statement costs its own set-up. OR FAIL, and the deferred
	 * foreign key (step 19): a statement that may abort halfway through
	 * several rows makes SQLite journal the pages it changes. */
	[Q_DELIVERY_INSERT] = "INSERT OR FAIL INTO deliveries (id, record_seq, "
	    "subscriber, subject, dataset, state, attempts, since_ms, due_ms, "
	    "updated_ms) SELECT column1, ?1, column2, ?2, ?3, 0, 0, ?4, ?4, ?4 "
	    "FROM (VALUES (?5, ?6), (?7, ?8), (?9, ?10), (?11, ?12)) "
	    "WHERE column1 IS NOT NULL",
	[Q_CHANGE_LIST] = "SELECT " RECORD_COLUMNS " FROM records r "
	    RECORD_VIEW_KEY
	    "WHERE r.dataset = ?1 AND r.seq > ?2 ORDER BY r.seq LIMIT ?3",
	[Q_DELIVERY_UNSEND] = "UPDATE deliveries SET state = 0 WHERE state = 1 "
	    "AND " DELIVERY_UNSENT("deliveries"),
	[Q_DELIVERY_SUPERSEDE_OLDER] = "UPDATE deliveries SET state = 4 "
	    "WHERE state = 0 AND " DELIVERY_UNSENT("deliveries") " AND "
	    "EXISTS (SELECT 1 FROM deliveries n WHERE "
	    DELIVERY_SAME_CHAIN("n", "deliveries") " AND n.state = 0 AND "
	    DELIVERY_UNSENT("n") " AND n.seq > deliveries.seq)",
	/* The due rows whole, those in flight (still pending here,
	 * store_inflight.h) passed over by seq from deliveries_due alone:
	 * the term names the index's columns only, so SQLite tests it before
	 * it reads the row and its record. */
	[Q_DELIVERY_DUE] = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
	    "WHERE d.subscriber = ?1 AND d.state = 0 AND d.due_ms <= ?2 "
	    "AND NOT tellonce_inflight(d.seq) ORDER BY d.due_ms, d.seq",
	/* A push passes over a row in flight, but one read by a take
	 * outside a batch may be superseded before the take holds it: its
	 * outcome is stored all the same (a retry is superseded then, as
	 * the newer version is live). */
	[Q_DELIVERY_FINISH] = "UPDATE deliveries SET state = CASE WHEN ?2 = 0 "
	    "AND " DELIVERY_NEWER_LIVE("deliveries") " THEN 4 ELSE ?2 END, "
	    "attempts = ?3, due_ms = ?4, last_error = ?5, updated_ms = ?6, "
	    "audit_index = ?7, audit_sha256 = ?8 WHERE seq = ?1 "
	    "AND state IN (0, 4)",
	/* Other states than dead have no index: they are read in order of
	 * seq from `after` (the API lists only dead letters). */
	[Q_DELIVERY_LIST] = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
	    "WHERE d.state = ?1 AND d.seq > ?2 ORDER BY d.seq LIMIT ?3",
	[Q_DELIVERY_LIST_DEAD] = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
	    "WHERE d.state = 3 AND d.seq > ?2 ORDER BY d.seq LIMIT ?3",
	[Q_DELIVERY_GET] = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
	    "WHERE d.id = ?1",
	[Q_DELIVERY_NEWER] = "SELECT 1 FROM deliveries d "
	    "WHERE d.id = ?1 AND " DELIVERY_NEWER_LIVE("d"),
	[Q_DELIVERY_REQUEUE] = "UPDATE deliveries SET state = 0, attempts = 0, "
	    "since_ms = ?2, due_ms = ?2, updated_ms = ?2, last_error = NULL "
	    "WHERE id = ?1 AND state = 3",
	[Q_CURSOR_GET] = "SELECT cursor FROM poll_cursors WHERE service = ?1",
	[Q_CURSOR_PUT] = "INSERT INTO poll_cursors (service, cursor, updated_ms) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (service) DO UPDATE SET "
	    "cursor = excluded.cursor, updated_ms = excluded.updated_ms",
	[Q_ERASE_RECORD_KEYS] = "DELETE FROM push_keys WHERE record_seq = ?1",
	[Q_ERASE_RECORD_DELIVERIES] = "DELETE FROM deliveries "
	    "WHERE record_seq = ?1",
	[Q_ERASE_RECORD] = "DELETE FROM records WHERE seq = ?1",
	[Q_ERASE_SUBJECT_KEYS] = "DELETE FROM push_keys WHERE record_seq IN "
	    "(SELECT seq FROM records WHERE subject = ?1)",
	[Q_ERASE_SUBJECT_DELIVERIES] = "DELETE FROM deliveries WHERE "
	    "record_seq IN (SELECT seq FROM records WHERE subject = ?1)",
	[Q_ERASE_SUBJECT_RECORDS] = "DELETE FROM records WHERE subject = ?1",
	[Q_LINK_DELETE] = "DELETE FROM links WHERE service = ?1 AND local_id = ?2",
	[Q_CONSENT_REVOKE_PARTY] = "UPDATE consents SET revoked_ms = ?3 "
	    "WHERE subject = ?1 AND (consumer = ?2 OR provider = ?2) "
	    "AND revoked_ms = 0",
	/* Only the rows that wait (deliveries_chain) or died
	 * (deliveries_dead), not the delivered history. */
	[Q_OUTBOX_COUNTS] = "SELECT subscriber, sum(waiting), sum(dead) FROM ("
	    "SELECT subscriber, 1 AS waiting, 0 AS dead FROM deliveries WHERE "
	    DELIVERY_UNSENT("deliveries") " UNION ALL SELECT subscriber, 0, 1 "
	    "FROM deliveries WHERE state = 3) GROUP BY subscriber",
	[Q_AUDIT_HEAD_GET] = "SELECT size, root FROM audit_heads "
	    "WHERE origin = ?1",
	[Q_AUDIT_HEAD_PUT] = "INSERT INTO audit_heads (origin, size, root, "
	    "signed_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (origin) DO UPDATE "
	    "SET size = excluded.size, root = excluded.root, "
	    "signed_ms = excluded.signed_ms WHERE excluded.size >= size",
};

/* The statements that run on the access file's connection (adb). */
static const unsigned char sqlite_on_access[Q_COUNT] = {
	[Q_ACCESS_BEGIN] = 1, [Q_ACCESS_COMMIT] = 1, [Q_ACCESS_ROLLBACK] = 1,
	[Q_ACCESS_DELETE] = 1, [Q_ACCESS_DELETE_RUNS] = 1,
	[Q_ACCESS_DELETE_RECENT] = 1, [Q_ACCESS_RUN_BOUND] = 1,
	[Q_ACCESS_SORT_CLEAR] = 1, [Q_ACCESS_SORT_FILL] = 1,
	[Q_ACCESS_RUN_NEW] = 1, [Q_ACCESS_FILL_ORPHANS] = 1,
	[Q_ACCESS_FILL_FORGET] = 1, [Q_ACCESS_FILL_NEW] = 1,
	[Q_ACCESS_FILL_LATE] = 1, [Q_ACCESS_FILL_ERASED] = 1,
	[Q_ACCESS_FILL_OWN] = 1,
	[Q_ACCESS_RUN_FILL] = 1, [Q_ACCESS_RUN_REGISTER] = 1,
	[Q_ACCESS_RUN_HIDE] = 1, [Q_ACCESS_RUN_DROP_LATE] = 1,
	[Q_ACCESS_DRAIN] = 1, [Q_ACCESS_MOVED_GET] = 1, [Q_ACCESS_PUT_BASE] = 1,
	[Q_ACCESS_MERGE_DUE] = 1, [Q_ACCESS_MERGE_RUNS] = 1,
	[Q_ACCESS_MERGE_BOUND] = 1, [Q_ACCESS_MERGE_CLEAR] = 1,
	[Q_ACCESS_MERGE_READ] = 1, [Q_ACCESS_MERGE_READ_REST] = 1,
	[Q_ACCESS_MERGE_COPY] = 1, [Q_ACCESS_MERGE_DROP] = 1,
	[Q_ACCESS_MERGE_DROP_REST] = 1, [Q_ACCESS_MERGE_FORGET] = 1,
	[Q_ACCESS_SYNC_FULL] = 1,
	[Q_ACCESS_SYNC_NORMAL] = 1, [Q_ACCESS_PUT] = 1, [Q_ACCESS_MANDATE] = 1,
	[Q_ACCESS_LIST] = 1,
};

struct sqlite_store {
	struct store base;      /* first: a struct store * is a sqlite_store * */
	sqlite3 *db;
	sqlite3 *adb;           /* the access file's (sq_access_open) */
	int batch;              /* in store_batch_begin's transaction */
	int batch_durable;
	/* The run this connection's checkpoints are filling, a chunk each
	 * (sq_access_settle), with the rows of access_recent up to index
	 * bound. */
	struct sq_access_run {
		int open;
		int drained;   /* access_recent holds no row a run holds */
		sqlite3_int64 id, bound;
		sqlite3_int64 next, rows;   /* rowids in temp.access_sorted */
	} run;
	/* The merge this connection's checkpoints are making, a few chunks
	 * each (sq_access_merge): runs of level into run into (0 until its
	 * first chunk commits). */
	struct sq_access_merge {
		int open, level;
		sqlite3_int64 runs[SQLITE_ACCESS_MERGE_RUNS], into;
	} merge;
	sqlite3_stmt *stmts[Q_COUNT];   /* prepared on first use */
	/* The deliveries taken and not finished, shared with the process's
	 * other connections to the file; opened at the first use. */
	struct store_inflight *inflight;
};

static const struct store_ops sqlite_ops;
static void sq_close(struct store *st);
static void sq_inflight_fn(sqlite3_context *c, int argc, sqlite3_value **argv);
static enum store_status sq_access_erase_pending(struct sqlite_store *ss);

static struct sqlite_store *
sq(struct store *st)
{
	return (struct sqlite_store *)st;
}

static enum store_status
sq_fail_on(sqlite3 *db, const char *what)
{
	log_ratelimited(LOG_LEVEL_ERROR, "store: sqlite: %s: %s", what,
	    sqlite3_errmsg(db));
	return STORE_ERROR;
}

static enum store_status
sq_fail(struct sqlite_store *ss, const char *what)
{
	return sq_fail_on(ss->db, what);
}

/* The cached statement, reset and unbound, or NULL (logged). */
static sqlite3_stmt *
sq_stmt(struct sqlite_store *ss, enum sqlite_stmt id)
{
	sqlite3_stmt *s = ss->stmts[id];
	sqlite3 *db;

	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	db = sqlite_on_access[id] ? ss->adb : ss->db;
	if (sqlite3_prepare_v3(db, sqlite_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		sq_fail_on(db, "prepare");
		return NULL;
	}
	ss->stmts[id] = s;
	return s;
}

/* Runs a statement that returns no rows, then resets it so that it holds
 * no lock. */
static enum store_status
sq_exec(struct sqlite_store *ss, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	enum store_status status = STORE_OK;

	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		status = STORE_CONFLICT;
	else if (rc != SQLITE_DONE)
		status = sq_fail_on(sqlite3_db_handle(s), what);
	sqlite3_reset(s);
	return status;
}

static enum store_status
sq_simple(struct sqlite_store *ss, enum sqlite_stmt id)
{
	sqlite3_stmt *s = sq_stmt(ss, id);

	return s ? sq_exec(ss, s, sqlite_sql[id]) : STORE_ERROR;
}

/* A failed write (disk full, I/O error) may have rolled the transaction
 * back already; a second ROLLBACK would only log "cannot rollback". */
static void
sq_rollback(struct sqlite_store *ss)
{
	if (!sqlite3_get_autocommit(ss->db))
		sq_simple(ss, Q_ROLLBACK);
}

/* Within a batch: fn as a savepoint, undone alone unless it returns
 * STORE_OK. A failed write may have rolled the whole transaction back
 * (disk full, I/O error): the batch is lost then, as its end says, and
 * the writes after it fail. */
static enum store_status
sq_savepoint(struct sqlite_store *ss,
    enum store_status (*fn)(struct sqlite_store *, void *), void *arg)
{
	enum store_status rc;

	/* Outside a transaction the savepoint would commit on its own. */
	if (sqlite3_get_autocommit(ss->db))
		return STORE_ERROR;
	if ((rc = sq_simple(ss, Q_SAVEPOINT)) != STORE_OK)
		return rc;
	if ((rc = fn(ss, arg)) != STORE_OK) {
		if (!sqlite3_get_autocommit(ss->db) &&
		    sq_simple(ss, Q_ROLLBACK_TO) == STORE_OK)
			sq_simple(ss, Q_RELEASE);
		return rc;
	}
	return sq_simple(ss, Q_RELEASE);
}

/* The threads of this process wait for each other's write transactions
 * here, asleep until the lock is free, rather than in sq_busy's polling:
 * each thread has its own connection, and with four of them writing (the
 * workers, the delivery worker, the audit log's index) on two cores, the
 * waiters' wake-ups cost more CPU than the writes. SQLite's own lock still
 * rules against other processes (a sqlite3 shell, `tellonce` commands).
 * Never held while waiting for anything but the store. */
static pthread_mutex_t sq_writer = PTHREAD_MUTEX_INITIALIZER;

/* BEGIN IMMEDIATE with sq_writer held; released unless STORE_OK. */
static enum store_status
sq_begin(struct sqlite_store *ss)
{
	enum store_status rc;

	pthread_mutex_lock(&sq_writer);
	if ((rc = sq_simple(ss, Q_BEGIN)) != STORE_OK)
		pthread_mutex_unlock(&sq_writer);
	return rc;
}

/* COMMIT, or ROLLBACK unless ok; releases sq_writer. A batch's takes and
 * outcomes held in memory settle before that, so that the next writer
 * sees in flight exactly what the store says was taken. */
static enum store_status
sq_end(struct sqlite_store *ss, int ok)
{
	enum store_status rc = STORE_ERROR;

	if (ok && (rc = sq_simple(ss, Q_COMMIT)) == STORE_OK) {
		if (ss->batch && ss->inflight != NULL)
			store_inflight_settle(ss->inflight, ss, 1);
		pthread_mutex_unlock(&sq_writer);
		return rc;
	}
	sq_rollback(ss);
	if (ss->batch && ss->inflight != NULL)
		store_inflight_settle(ss->inflight, ss, 0);
	pthread_mutex_unlock(&sq_writer);
	return rc;
}

/* Runs fn inside BEGIN IMMEDIATE ... COMMIT (a savepoint within a batch);
 * rolls back unless it returns STORE_OK. */
static enum store_status
sq_transaction(struct sqlite_store *ss,
    enum store_status (*fn)(struct sqlite_store *, void *), void *arg)
{
	enum store_status rc;

	if (ss->batch)
		return sq_savepoint(ss, fn, arg);
	if ((rc = sq_begin(ss)) != STORE_OK)
		return rc;
	if ((rc = fn(ss, arg)) != STORE_OK) {
		sq_end(ss, 0);
		return rc;
	}
	return sq_end(ss, 1);
}

/* sq_transaction for what a caller is answered 201/202/204 for: the
 * connection runs with synchronous = NORMAL, under which a power loss may
 * drop the last commits; this commit waits for its WAL fsync, so what was
 * acknowledged survives anything, as the audit entry written for it does. */
static enum store_status
sq_durable(struct sqlite_store *ss,
    enum store_status (*fn)(struct sqlite_store *, void *), void *arg)
{
	enum store_status rc;

	/* Within a batch, its commit is the one that syncs. */
	if (!ss->batch && sq_simple(ss, Q_SYNC_FULL) != STORE_OK)
		return STORE_ERROR;
	rc = sq_transaction(ss, fn, arg);
	if (!ss->batch)
		sq_simple(ss, Q_SYNC_NORMAL);
	return rc;
}

/* The access file's writers (the audit sequencer's index rows, an
 * erasure's delete) wait for each other here, as the store's do at
 * sq_writer: the two files lock apart, so neither file's writers wait
 * for the other's. */
static pthread_mutex_t sq_access_writer = PTHREAD_MUTEX_INITIALIZER;

/* sq_transaction on the access file's connection. Never within a batch:
 * the access file commits on its own. */
static enum store_status
sq_access_transaction(struct sqlite_store *ss,
    enum store_status (*fn)(struct sqlite_store *, void *), void *arg)
{
	enum store_status rc;

	pthread_mutex_lock(&sq_access_writer);
	if ((rc = sq_simple(ss, Q_ACCESS_BEGIN)) == STORE_OK &&
	    (rc = fn(ss, arg)) == STORE_OK)
		rc = sq_simple(ss, Q_ACCESS_COMMIT);
	if (rc != STORE_OK && !sqlite3_get_autocommit(ss->adb))
		sq_simple(ss, Q_ACCESS_ROLLBACK);
	pthread_mutex_unlock(&sq_access_writer);
	return rc;
}

/* sq_access_transaction whose commit waits for the access file's WAL
 * fsync, as sq_durable's for the store's. */
static enum store_status
sq_access_durable(struct sqlite_store *ss,
    enum store_status (*fn)(struct sqlite_store *, void *), void *arg)
{
	enum store_status rc;

	if (sq_simple(ss, Q_ACCESS_SYNC_FULL) != STORE_OK)
		return STORE_ERROR;
	rc = sq_access_transaction(ss, fn, arg);
	sq_simple(ss, Q_ACCESS_SYNC_NORMAL);
	return rc;
}

static enum store_status
sq_batch_begin(struct store *st, int durable)
{
	struct sqlite_store *ss = sq(st);
	enum store_status rc;

	if (durable && sq_simple(ss, Q_SYNC_FULL) != STORE_OK)
		return STORE_ERROR;
	if ((rc = sq_begin(ss)) != STORE_OK) {
		if (durable)
			sq_simple(ss, Q_SYNC_NORMAL);
		return rc;
	}
	ss->batch = 1;
	ss->batch_durable = durable;
	return STORE_OK;
}

static enum store_status
sq_batch_end(struct store *st)
{
	struct sqlite_store *ss = sq(st);
	/* A write that failed hard ended the transaction: nothing is left
	 * to commit, and the batch is lost. */
	enum store_status rc = sq_end(ss, !sqlite3_get_autocommit(ss->db));

	if (ss->batch_durable)
		sq_simple(ss, Q_SYNC_NORMAL);
	ss->batch = ss->batch_durable = 0;
	return rc;
}

static void
sq_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Runs one statement bound to a single text parameter. */
static enum store_status
sq_exec_text(struct sqlite_store *ss, enum sqlite_stmt id, const char *text)
{
	sqlite3_stmt *s = sq_stmt(ss, id);

	if (s == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, text);
	return sq_exec(ss, s, sqlite_sql[id]);
}

/* Steps a query expected to give at most one row: STORE_OK with the row
 * current, STORE_NOT_FOUND, or STORE_ERROR. The caller resets. */
static enum store_status
sq_row(struct sqlite_store *ss, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE)
		return STORE_NOT_FOUND;
	return sq_fail_on(sqlite3_db_handle(s), what);
}

static int
sq_copy_subject(const unsigned char *text, char subject[STORE_SUBJECT_LEN])
{
	size_t len = text ? strlen((const char *)text) : 0;

	if (len == 0 || len >= STORE_SUBJECT_LEN)
		return -1;
	memcpy(subject, text, len + 1);
	return 0;
}

/* ---- opening and the schema ---------------------------------------- */

static int
sq_pragma(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "store: %s: %s", sql, sqlite3_errmsg(db));
	return -1;
}

static int
sq_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Applies one pending step, if any. Several processes or threads may open
 * a new database at once: the version is read again under the write lock,
 * so each step runs exactly once. Returns 1 if a step ran, 0 if the schema
 * is current, -1 on error. */
static int
sq_migrate_step(sqlite3 *db, char *err, size_t errlen)
{
	char sql[64];
	int version;

	if (sq_pragma(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (sq_user_version(db, &version) != 0) {
		snprintf(err, errlen, "store: reading the schema version: %s",
		    sqlite3_errmsg(db));
		goto fail;
	}
	if (version > SQLITE_SCHEMA_VERSION) {
		snprintf(err, errlen, "store: schema version %d is newer than "
		    "this program (%d)", version, SQLITE_SCHEMA_VERSION);
		goto fail;
	}
	if (version == SQLITE_SCHEMA_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (sqlite3_exec(db, sqlite_migrations[version], NULL, NULL, NULL)
	    != SQLITE_OK) {
		snprintf(err, errlen, "store: migration to version %d: %s",
		    version + 1, sqlite3_errmsg(db));
		goto fail;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
	if (sq_pragma(db, sql, err, errlen) != 0 ||
	    sq_pragma(db, "COMMIT", err, errlen) != 0)
		goto fail;
	log_info("store: schema migrated to version %d", version + 1);
	return 1;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Copies the store's access index to the access file before the step
 * that drops it, in a transaction of its own, on disk before that step
 * starts (synchronous FULL): the two files do not commit as one, and a
 * crash must not leave the drop without the copy. A copy cut short by a
 * crash is rolled back whole and made again at the next start; one made
 * again after a crash between the copy and the drop skips the rows
 * already there. 0, or -1 with err set. */
static int
sq_access_move(sqlite3 *db, const char *file, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int version, step, rc = -1;

	/* Attached for the copy alone: the store's connections otherwise
	 * reach the access file through their own (sq_access_open). */
	if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS access", -1, &s,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		snprintf(err, errlen, "store: %s: %s", file, sqlite3_errmsg(db));
		return -1;
	}
	if (sq_pragma(db, "PRAGMA access.synchronous = FULL", err, errlen) != 0)
		goto detach;
	if (sq_pragma(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		goto done;
	if (sq_user_version(db, &version) != 0 ||
	    version != SQLITE_ACCESS_MOVE_STEP) {   /* moved by another */
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		rc = 0;
		goto done;
	}
	log_info("store: moving the access index to its own file "
	    "(a one-time step, about a minute per 10M entries)");
	if (sq_pragma(db, "INSERT OR IGNORE INTO access.access_base "
	    "(subject, audit_index, mandate, mediator, helper) "
	    "SELECT subject, audit_index, mandate, mediator, helper "
	    "FROM main.access_index", err, errlen) == 0 &&
	    sq_pragma(db, "COMMIT", err, errlen) == 0)
		rc = 0;
	else
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
done:
	if (sq_pragma(db, "PRAGMA access.synchronous = NORMAL", err,
	    errlen) != 0)
		rc = -1;
detach:
	if (sq_pragma(db, "DETACH DATABASE access", err, errlen) != 0)
		rc = -1;
	return rc;
}

static int
sq_migrate(sqlite3 *db, const char *file, char *err, size_t errlen)
{
	int version, rc;

	/* The usual case, a current schema, needs no write lock. */
	if (sq_user_version(db, &version) == 0 && version == SQLITE_SCHEMA_VERSION)
		return 0;
	do {
		if (sq_user_version(db, &version) == 0 &&
		    version == SQLITE_ACCESS_MOVE_STEP &&
		    sq_access_move(db, file, err, errlen) != 0)
			return -1;
	} while ((rc = sq_migrate_step(db, err, errlen)) == 1);
	return rc;
}

/* The database holds pseudonyms and local ids: create it owner-only before
 * SQLite does (its -wal and -shm files copy the main file's mode). Only if
 * it is absent: closing a descriptor of the file drops every POSIX lock
 * this process holds on it, including the shared lock of connections
 * already open, and a sqlite3 shell that then finds the file unlocked
 * checkpoints and deletes the WAL under their feet. */
static int
sq_create_private(const char *path, char *err, size_t errlen)
{
	int fd;

	if (access(path, F_OK) == 0)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		snprintf(err, errlen, "store: %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Waits for the write lock. SQLite's own handler sleeps a millisecond and
 * more from the first retry, far longer than a write transaction here
 * holds the lock: short waits first keep the threads that share the
 * database busy. Gives up after about SQLITE_BUSY_TIMEOUT_MS, or the
 * milliseconds arg points to. */
static int
sq_busy(void *arg, int count)
{
	long us = count < SQLITE_BUSY_SPIN ? SQLITE_BUSY_SPIN_US :
	    SQLITE_BUSY_WAIT_US;
	long waited_us = count < SQLITE_BUSY_SPIN ? (long)count * SQLITE_BUSY_SPIN_US :
	    (long)SQLITE_BUSY_SPIN * SQLITE_BUSY_SPIN_US +
	    (long)(count - SQLITE_BUSY_SPIN) * SQLITE_BUSY_WAIT_US;
	long limit_ms = arg != NULL ? *(const long *)arg : SQLITE_BUSY_TIMEOUT_MS;
	struct timespec ts = { 0, us * 1000 };

	if (waited_us >= limit_ms * 1000L)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/* Runs sql, a journal_mode pragma that switches a database to WAL. */
static int
sq_wal(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc, wal, tries = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store: %s", sqlite3_errmsg(db));
		return -1;
	}
	/* Two connections opening a new file at once: the switch to WAL can
	 * answer SQLITE_BUSY without calling the busy handler, so wait here. */
	while ((rc = sqlite3_step(s)) == SQLITE_BUSY && sq_busy(NULL, tries++))
		sqlite3_reset(s);
	wal = rc == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
	sqlite3_finalize(s);
	if (!wal) {
		snprintf(err, errlen, "store: cannot switch the database to WAL");
		return -1;
	}
	return 0;
}

/* The access file's tables (sq_access_open), and access_index, a view of
 * every row in the three, for whoever reads the file by that name: the
 * table it names in a file made before runs becomes access_base.
 * access_filling notes the run being filled (sq_access_settle), which
 * no reader reads until it is registered in access_run_ids, and
 * access_moved the last index a registered run took from access_recent,
 * whose rows up to it readers skip until they are deleted. A file made
 * before these tables gains them, and the view made again, at the next
 * open. */
static const char sqlite_access_schema[] =
	"CREATE TABLE IF NOT EXISTS access_base (" SQLITE_ACCESS_ROW ","
	"  PRIMARY KEY (subject, audit_index)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS access_recent (" SQLITE_ACCESS_ROW ","
	"  PRIMARY KEY (audit_index, subject)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS access_run_ids (run INTEGER PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS access_runs (run INTEGER NOT NULL, "
	SQLITE_ACCESS_ROW ", PRIMARY KEY (run, subject, audit_index)) "
	"WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS access_filling (run INTEGER PRIMARY KEY, "
	"  bound INTEGER NOT NULL, late INTEGER NOT NULL DEFAULT 0, "
	"  erased INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS access_moved (upto INTEGER NOT NULL);"
	"INSERT INTO access_moved (upto) SELECT 0 "
	"  WHERE NOT EXISTS (SELECT 1 FROM access_moved);"
	"DROP VIEW IF EXISTS access_index;"
	"CREATE VIEW access_index AS "
	"SELECT " SQLITE_ACCESS_COLUMNS " FROM access_base UNION ALL "
	"SELECT " SQLITE_ACCESS_COLUMNS " FROM access_runs "
	"WHERE run IN (SELECT run FROM access_run_ids) UNION ALL "
	"SELECT " SQLITE_ACCESS_COLUMNS " FROM access_recent "
	"WHERE " SQLITE_ACCESS_VISIBLE ";";

/* What the access file calls name: "table", "view", or "" (none); 0,
 * or -1 on an error. */
static int
sq_access_kind(sqlite3 *db, const char *name, char kind[8])
{
	sqlite3_stmt *s;
	int step;

	if (sqlite3_prepare_v2(db, "SELECT type FROM sqlite_schema "
	    "WHERE name = ?1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	kind[0] = '\0';
	if ((step = sqlite3_step(s)) == SQLITE_ROW)
		snprintf(kind, 8, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
}

/* 1 when the access file is at this program's schema: the view, and
 * the table made last (in the transaction that made the view again). */
static int
sq_access_current(sqlite3 *db)
{
	char view[8], moved[8];

	return sq_access_kind(db, "access_index", view) == 0 &&
	    strcmp(view, "view") == 0 &&
	    sq_access_kind(db, "access_moved", moved) == 0 &&
	    strcmp(moved, "table") == 0;
}

/* The access file's schema, made once in one transaction (so a crash
 * leaves the old one whole): the usual open only reads that it is. A
 * rename touches no row, whatever the table holds. */
static int
sq_access_schema(sqlite3 *db, char *err, size_t errlen)
{
	char kind[8];

	if (sq_access_current(db))
		return 0;
	if (sq_pragma(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (sq_access_kind(db, "access_index", kind) != 0)
		goto fail;
	if (sq_access_current(db)) {   /* made by another meanwhile */
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if ((strcmp(kind, "table") == 0 && sqlite3_exec(db, "ALTER TABLE "
	    "access_index RENAME TO access_base", NULL, NULL, NULL) !=
	    SQLITE_OK) || sqlite3_exec(db, sqlite_access_schema, NULL, NULL,
	    NULL) != SQLITE_OK)
		goto fail;
	if (sq_pragma(db, "COMMIT", err, errlen) == 0)
		return 0;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
fail:
	snprintf(err, errlen, "store: the access file's schema: %s",
	    sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* The access file as this program leaves it, for an open that changes
 * nothing (STORE_OPEN_CURRENT): 0, or -1 with err set. */
static int
sq_access_schema_current(sqlite3 *db, const char *file, char *err,
    size_t errlen)
{
	if (sq_access_current(db))
		return 0;
	snprintf(err, errlen, "store: %s: the access file is not at this "
	    "program's schema", file);
	return -1;
}

/* Opens one of the store's files: made owner-only first if it is absent,
 * unless flags say to change nothing (STORE_OPEN_CURRENT), when an absent
 * file is an error. 0, or -1 with err set. */
static int
sq_open_file(const char *path, int flags, sqlite3 **db, char *err,
    size_t errlen)
{
	int mode = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*db = NULL;
	if (!(flags & STORE_OPEN_CURRENT)) {
		if (sq_create_private(path, err, errlen) != 0)
			return -1;
		mode |= SQLITE_OPEN_CREATE;
	}
	if (sqlite3_open_v2(path, db, mode, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "store: %s: %s", path,
	    *db ? sqlite3_errmsg(*db) : "out of memory");
	sqlite3_close(*db);
	*db = NULL;
	return -1;
}

/* The access index's file (the store's path with SQLITE_ACCESS_SUFFIX)
 * on a connection of its own, *adb: created owner-only like the store's,
 * in WAL mode, with the store's pragmas and the index's tables. A
 * subject's rows are in three of them: access_recent takes the newest,
 * keyed by index so that a batch of them fills the table's last leaf
 * instead of one leaf at random per row, which in a table of 10M rows
 * is a page read, a WAL frame and a checkpoint copy each (22 us of CPU
 * per fetch); a checkpoint moves them, SQLITE_ACCESS_RUN_ROWS at a time,
 * into a run of access_runs, sorted by subject and written one leaf
 * after another (sq_access_settle), and runs merge into fewer, bigger
 * ones (sq_access_merge); access_base keeps the rows of the
 * stores before runs, which gain none. Only the
 * audit sequencer's connection writes it (and an erasure), and its
 * commits touch neither the store's WAL nor the page caches of the
 * connections that read it. Not attached to the store's connection: a
 * BEGIN IMMEDIATE takes the write lock of every attached file, so every
 * push would have waited for the index's commits, and they for it.
 * The file's name goes to file (SQLITE_FILE_MAX bytes). 0, or -1 with
 * err set. */
static int
sq_access_open(const char *path, int flags, char *file, sqlite3 **adb,
    char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int n;

	*adb = NULL;
	n = snprintf(file, SQLITE_FILE_MAX, "%s" SQLITE_ACCESS_SUFFIX, path);
	if (n < 0 || n >= SQLITE_FILE_MAX) {
		snprintf(err, errlen, "store: sqlite: path too long");
		return -1;
	}
	if (sq_open_file(file, flags, &db, err, errlen) != 0)
		return -1;
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_handler(db, sq_busy, NULL);
	sqlite3_wal_autocheckpoint(db, SQLITE_WAL_INLINE_PAGES);
	if (sq_wal(db, "PRAGMA journal_mode = WAL", err, errlen) != 0 ||
	    sq_pragma(db, "PRAGMA synchronous = NORMAL", err, errlen) != 0 ||
	    sq_pragma(db, "PRAGMA secure_delete = ON", err, errlen) != 0 ||
	    ((flags & STORE_OPEN_CURRENT) ?
	    sq_access_schema_current(db, file, err, errlen) :
	    sq_access_schema(db, err, errlen)) != 0) {
		sqlite3_close(db);
		return -1;
	}
	*adb = db;
	return 0;
}

/* The schema of a store opened to change nothing: 0 when it is this
 * program's, else -1 with err set. */
static int
sq_schema_current(sqlite3 *db, char *err, size_t errlen)
{
	int version;

	if (sq_user_version(db, &version) != 0) {
		snprintf(err, errlen, "store: reading the schema version: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	return store_schema_current(version, SQLITE_SCHEMA_VERSION, err,
	    errlen);
}

/* The store's connection; file is the access file's, for the step
 * that moves the index there. */
static int
sq_setup(sqlite3 *db, const char *file, int flags, char *err, size_t errlen)
{
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_handler(db, sq_busy, NULL);
	if (sq_wal(db, "PRAGMA journal_mode = WAL", err, errlen) != 0)
		return -1;
	/* NORMAL under WAL: a power loss may drop the last commits but never
	 * corrupts. Commits whose success a caller is told of go through
	 * sq_durable instead. */
	/* secure_delete: an erased value (contract §6) is overwritten in its
	 * page and in freed pages, not left for a file reader to find. */
	/* The WAL is checkpointed by store_checkpoint, off the request
	 * paths: SQLite's default, 1000 pages, had the commit that crossed
	 * it copy them back while the requests queued behind it waited. */
	if (sq_pragma(db, "PRAGMA synchronous = NORMAL", err, errlen) != 0 ||
	    sq_pragma(db, "PRAGMA foreign_keys = ON", err, errlen) != 0 ||
	    sq_pragma(db, "PRAGMA secure_delete = ON", err, errlen) != 0)
		return -1;
	sqlite3_wal_autocheckpoint(db, SQLITE_WAL_INLINE_PAGES);
	if (flags & STORE_OPEN_CURRENT)
		return sq_schema_current(db, err, errlen);
	return sq_migrate(db, file, err, errlen);
}

/* SQLite's default counts every allocation it makes and frees under one
 * mutex of the process, for sqlite3_memory_used and a soft heap limit,
 * which the gateway reads nowhere: a tenth of the instructions of the
 * outbox's statements, and a lock every thread's store shares. Only
 * possible before SQLite initialises, which its first open does.
 * A statement's undo journal stays in memory, whatever its size: SQLite
 * 3.40 (Debian 12) fails with SQLITE_FULL a statement whose in-memory
 * journal spills to a file past some 128 KiB, and with the 1 MiB spill
 * size set here before, erasing a subject with 2,000 versions failed
 * (test_erase_long_history, before step 19), as did clearing a run's
 * sorted copy (sq_access_run_start). SQLite's own 64 KiB works, but makes
 * a temporary file for most sequencer batches and run chunks: durable
 * audit appends at 64 writers fell from 165k to 109k/s (bench/audit.sh).
 * No statement the store makes changes more than a few MiB of pages. */
static void
sq_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
}

struct store *
store_sqlite_open(const char *path, const char *password, int flags,
    char *err, size_t errlen)
{
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	struct sqlite_store *ss;
	sqlite3 *db = NULL, *adb;
	char file[SQLITE_FILE_MAX];

	pthread_once(&configured, sq_configure);
	if (*path == '\0') {
		snprintf(err, errlen, "store: sqlite: empty path");
		return NULL;
	}
	if (password != NULL) {
		snprintf(err, errlen, "store: sqlite: a file store takes no "
		    "password");
		return NULL;
	}
	/* The access file first: a store of step 16 moves its index there. */
	if (sq_access_open(path, flags, file, &adb, err, errlen) != 0)
		return NULL;
	if (sq_open_file(path, flags, &db, err, errlen) != 0 ||
	    sq_setup(db, file, flags, err, errlen) != 0)
		goto fail;
	if ((ss = calloc(1, sizeof(*ss))) == NULL) {
		snprintf(err, errlen, "store: out of memory");
		goto fail;
	}
	ss->base.ops = &sqlite_ops;
	ss->db = db;
	ss->adb = adb;
	if (sqlite3_create_function(db, "tellonce_inflight", 1, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, ss, sq_inflight_fn, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store: sqlite: %s", sqlite3_errmsg(db));
		sq_close(&ss->base);
		return NULL;
	}
	if (sq_access_erase_pending(ss) != STORE_OK) {
		snprintf(err, errlen, "store: finishing an erasure in the access "
		    "index: %s", sqlite3_errmsg(db));
		sq_close(&ss->base);
		return NULL;
	}
	return &ss->base;
fail:
	sqlite3_close(db);
	sqlite3_close(adb);
	return NULL;
}

static void
sq_close(struct store *st)
{
	struct sqlite_store *ss = sq(st);

	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(ss->stmts[i]);
	sqlite3_close(ss->db);
	sqlite3_close(ss->adb);
	store_inflight_close(ss->inflight);
	free(ss);
}

/* Readable and writable: commit one small row. Taking the write lock
 * alone succeeds on a full disk, where every real write fails. */
static int
sq_ping(struct store *st)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;

	if (sqlite3_db_readonly(ss->db, "main") != 0 ||
	    (s = sq_stmt(ss, Q_HEALTH_WRITE)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, clock_now_ms());
	return sq_exec(ss, s, "health write") == STORE_OK ? 0 : -1;
}

/* ---- links ---------------------------------------------------------- */

/* Copies a view key column; -1 when it is not one (NULL included). */
static int
sq_copy_view_key(sqlite3_stmt *s, int col, unsigned char *view_key)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, col) != STORE_VIEW_KEY_LEN)
		return -1;
	memcpy(view_key, sqlite3_column_blob(s, col), STORE_VIEW_KEY_LEN);
	return 0;
}

static enum store_status sq_view_key_get(struct store *st,
    const char *subject, unsigned char *view_key);

static enum store_status
sq_link_subject(struct store *st, const char *service, const char *local_id,
    char *subject, unsigned char *view_key)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;
	int has_key = 0;

	if ((s = sq_stmt(ss, Q_LINK_SUBJECT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, service);
	sq_bind_text(s, 2, local_id);
	rc = sq_row(ss, s, "link subject");
	if (rc == STORE_OK && sq_copy_subject(sqlite3_column_text(s, 0),
	    subject) != 0) {
		log_error("store: sqlite: malformed subject in links");
		rc = STORE_ERROR;
	}
	if (rc == STORE_OK && view_key != NULL)
		has_key = sq_copy_view_key(s, 1, view_key) == 0;
	sqlite3_reset(s);
	if (rc == STORE_OK && view_key != NULL && !has_key)
		rc = sq_view_key_get(st, subject, view_key);
	return rc;
}

struct sq_link {
	const char *service, *local_id, *subject;
	int pivot_version;
	int *created;
};

/* ON CONFLICT DO NOTHING makes the insert race-free: of two threads
 * linking the same pair, one creates it and the other finds it. A
 * conflict on either unique key leaves the row unchanged, and the lookup
 * tells an existing identical link from a real conflict. */
static enum store_status
sq_link_put_row(struct sqlite_store *ss, void *arg)
{
	const struct sq_link *l = arg;
	char existing[STORE_SUBJECT_LEN];
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_LINK_INSERT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, l->service);
	sq_bind_text(s, 2, l->local_id);
	sq_bind_text(s, 3, l->subject);
	sqlite3_bind_int64(s, 4, clock_now_ms());
	sqlite3_bind_int(s, 5, l->pivot_version);
	if ((rc = sq_exec(ss, s, "link insert")) != STORE_OK)
		return rc;
	if (sqlite3_changes(ss->db) == 1) {
		*l->created = 1;
		return STORE_OK;
	}
	rc = sq_link_subject(&ss->base, l->service, l->local_id, existing, NULL);
	if (rc == STORE_NOT_FOUND)   /* the subject has another local id */
		return STORE_CONFLICT;
	if (rc != STORE_OK)
		return rc;
	return strcmp(existing, l->subject) == 0 ? STORE_OK : STORE_CONFLICT;
}

static enum store_status
sq_link_put(struct store *st, const char *service, const char *local_id,
    const char *subject, int pivot_version, int *created)
{
	struct sq_link l = { service, local_id, subject, pivot_version, created };

	*created = 0;
	return sq_durable(sq(st), sq_link_put_row, &l);
}

static enum store_status
sq_link_local_id(struct store *st, const char *service, const char *subject,
    char **local_id)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;

	*local_id = NULL;
	if ((s = sq_stmt(ss, Q_LINK_LOCAL_ID)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, service);
	sq_bind_text(s, 2, subject);
	rc = sq_row(ss, s, "link local id");
	if (rc == STORE_OK &&
	    (*local_id = strdup((const char *)sqlite3_column_text(s, 0))) == NULL)
		rc = STORE_ERROR;
	sqlite3_reset(s);
	return rc;
}

/* Appends "service\0local_id\0" from the current row's columns first
 * and first + 1 to pairs; -1 when they do not fit in size. */
static int
sq_link_pair(sqlite3_stmt *s, int first, char *pairs, size_t size,
    size_t *len)
{
	for (int col = first; col < first + 2; col++) {
		/* The text first: its length is that of the text form. */
		const unsigned char *text = sqlite3_column_text(s, col);
		size_t n = (size_t)sqlite3_column_bytes(s, col) + 1;

		if (text == NULL || n > size - *len)
			return -1;
		memcpy(pairs + *len, text, n);
		*len += n;
	}
	return 0;
}

static enum store_status
sq_link_local_ids(struct store *st, const char *subject, char *pairs,
    size_t size, size_t *len)
{
	struct sqlite_store *ss = sq(st);
	enum store_status rc = STORE_OK;
	sqlite3_stmt *s;
	int step;

	*len = 0;
	if ((s = sq_stmt(ss, Q_LINK_LOCAL_IDS)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	while (rc == STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
		if (sq_link_pair(s, 0, pairs, size, len) != 0)
			rc = STORE_CONFLICT;
	if (rc == STORE_OK && step != SQLITE_DONE)
		rc = sq_fail(ss, "link local ids");
	sqlite3_reset(s);
	return rc;
}

/* The first row's subject, view key (has_key: one was there) and
 * objection flag. */
static enum store_status
sq_link_facts_first(sqlite3_stmt *s, char *subject, unsigned char *view_key,
    int *has_key, int *objected)
{
	if (sq_copy_subject(sqlite3_column_text(s, 0), subject) != 0) {
		log_error("store: sqlite: malformed subject in links");
		return STORE_ERROR;
	}
	*has_key = sq_copy_view_key(s, 1, view_key) == 0;
	*objected = sqlite3_column_int(s, 2) != 0;
	return STORE_OK;
}

static enum store_status
sq_link_subject_facts(struct store *st, const char *service,
    const char *local_id, char *subject, unsigned char *view_key, char *pairs,
    size_t size, size_t *len, int *objected)
{
	struct sqlite_store *ss = sq(st);
	enum store_status rc = STORE_NOT_FOUND;
	int step = SQLITE_DONE, has_key = 0, fit = 1;
	sqlite3_stmt *s;

	*len = 0;
	if ((s = sq_stmt(ss, Q_LINK_SUBJECT_FACTS)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, service);
	sq_bind_text(s, 2, local_id);
	while (rc != STORE_ERROR && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (rc == STORE_NOT_FOUND)
			rc = sq_link_facts_first(s, subject, view_key, &has_key,
			    objected);
		if (fit && sq_link_pair(s, 3, pairs, size, len) != 0)
			fit = 0;
	}
	if (rc != STORE_ERROR && step != SQLITE_DONE)
		rc = sq_fail(ss, "link subject facts");
	sqlite3_reset(s);
	if (!fit)
		*len = 0;
	if (rc == STORE_OK && !has_key)
		rc = sq_view_key_get(st, subject, view_key);
	return rc;
}

static enum store_status
sq_subject_linked(struct store *st, const char *subject, int pivot_version)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_SUBJECT_LINKED)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sqlite3_bind_int(s, 2, pivot_version);
	rc = sq_row(ss, s, "subject linked");
	sqlite3_reset(s);
	return rc;
}

/* ---- view keys ------------------------------------------------------ */

static enum store_status
sq_view_key_read(struct sqlite_store *ss, const char *subject,
    unsigned char *view_key)
{
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_VIEW_KEY_GET)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	rc = sq_row(ss, s, "view key get");
	if (rc == STORE_OK && sq_copy_view_key(s, 0, view_key) != 0) {
		log_error("store: sqlite: malformed view key");
		rc = STORE_ERROR;
	}
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_view_key_put_row(struct sqlite_store *ss, void *arg)
{
	const char *subject = arg;
	unsigned char drawn[STORE_VIEW_KEY_LEN];
	enum store_status rc;
	sqlite3_stmt *s;

	if ((s = sq_stmt(ss, Q_VIEW_KEY_PUT)) == NULL)
		return STORE_ERROR;
	store_random(drawn, sizeof(drawn));
	sq_bind_text(s, 1, subject);
	sqlite3_bind_blob(s, 2, drawn, sizeof(drawn), SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	rc = sq_exec(ss, s, "view key put");
	OPENSSL_cleanse(drawn, sizeof(drawn));
	return rc;
}

/* Of two threads drawing a first key at once, the insert of one wins and
 * both read that one back. The key is durable before any entry committed
 * under it can be: lost to a power cut, it would leave them unreadable to
 * their subject for good. */
static enum store_status
sq_view_key_get(struct store *st, const char *subject,
    unsigned char *view_key)
{
	struct sqlite_store *ss = sq(st);
	enum store_status rc = sq_view_key_read(ss, subject, view_key);

	if (rc != STORE_NOT_FOUND)
		return rc;
	if ((rc = sq_durable(ss, sq_view_key_put_row, (void *)subject)) != STORE_OK)
		return rc;
	return sq_view_key_read(ss, subject, view_key);
}

/* ---- erasing a subject's access rows -------------------------------- */

static enum store_status
sq_access_delete_rows(struct sqlite_store *ss, void *subject)
{
	enum sqlite_stmt steps[] = { Q_ACCESS_DELETE, Q_ACCESS_DELETE_RUNS,
	    Q_ACCESS_DELETE_RECENT };
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < 3 && rc == STORE_OK; i++)
		rc = sq_exec_text(ss, steps[i], subject);
	return rc == STORE_OK ? sq_simple(ss, Q_ACCESS_FILL_ERASED) : rc;
}

static enum store_status
sq_access_erase_done(struct sqlite_store *ss, void *subject)
{
	return sq_exec_text(ss, Q_ACCESS_ERASE_DONE, subject);
}

/* The end of an erasure, once the transaction that erased the rest of
 * subject and noted it in access_erasures is on disk: its rows leave the
 * access file, on disk (synchronous FULL) before the note goes. A crash
 * in between leaves the note, which the next open finishes
 * (sq_access_erase_pending): rows of an erased subject never outlive a
 * crash. Not within a batch, whose one commit would drop the note with
 * the store's file first. */
static enum store_status
sq_access_erase(struct sqlite_store *ss, const char *subject)
{
	enum store_status rc;

	rc = sq_access_durable(ss, sq_access_delete_rows, (void *)subject);
	if (rc != STORE_OK)
		return rc;
	return sq_transaction(ss, sq_access_erase_done, (void *)subject);
}

/* Finishes the erasures a crash or a failure left noted: reads the
 * notes alone, none in the usual case, never the index. */
static enum store_status
sq_access_erase_pending(struct sqlite_store *ss)
{
	char subject[STORE_SUBJECT_LEN];
	enum store_status rc;
	sqlite3_stmt *s;

	for (;;) {
		if ((s = sq_stmt(ss, Q_ACCESS_ERASE_PENDING)) == NULL)
			return STORE_ERROR;
		rc = sq_row(ss, s, "access erasures");
		if (rc == STORE_OK &&
		    sq_copy_subject(sqlite3_column_text(s, 0), subject) != 0)
			rc = STORE_ERROR;
		sqlite3_reset(s);
		if (rc == STORE_NOT_FOUND)
			return STORE_OK;
		if (rc != STORE_OK ||
		    (rc = sq_access_erase(ss, subject)) != STORE_OK)
			return rc;
	}
}

static enum store_status
sq_view_key_erase_rows(struct sqlite_store *ss, void *arg)
{
	const char *subject = arg;
	enum sqlite_stmt steps[] = { Q_VIEW_KEY_DELETE, Q_ACCESS_ERASE_NOTE };
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < 2 && rc == STORE_OK; i++) {
		sqlite3_stmt *s = sq_stmt(ss, steps[i]);

		if (s == NULL)
			return STORE_ERROR;
		sq_bind_text(s, 1, subject);
		rc = sq_exec(ss, s, sqlite_sql[steps[i]]);
	}
	return rc;
}

static enum store_status
sq_view_key_erase(struct store *st, const char *subject)
{
	enum store_status rc;

	if ((rc = sq_durable(sq(st), sq_view_key_erase_rows, (void *)subject))
	    != STORE_OK)
		return rc;
	return sq_access_erase(sq(st), subject);
}

/* ---- consents ------------------------------------------------------- */

/* Inserts names[0..n) for `id` in order through `insert` (id, position,
 * name): a consent's attributes, a mandate's datasets. */
static enum store_status
sq_names_put(struct sqlite_store *ss, enum sqlite_stmt insert, const char *id,
    char *const *names, size_t n)
{
	sqlite3_stmt *s;
	enum store_status rc;

	for (size_t i = 0; i < n; i++) {
		if ((s = sq_stmt(ss, insert)) == NULL)
			return STORE_ERROR;
		sq_bind_text(s, 1, id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)i);
		sq_bind_text(s, 3, names[i]);
		if ((rc = sq_exec(ss, s, sqlite_sql[insert])) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static enum store_status
sq_consent_insert_rows(struct sqlite_store *ss, void *arg)
{
	const struct store_consent *c = arg;
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_CONSENT_INSERT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, c->id);
	sq_bind_text(s, 2, c->subject);
	sq_bind_text(s, 3, c->consumer);
	sq_bind_text(s, 4, c->provider);
	sq_bind_text(s, 5, c->dataset);
	sq_bind_text(s, 6, c->purpose);
	sqlite3_bind_int64(s, 7, c->created_ms);
	sqlite3_bind_int64(s, 8, c->expires_ms);
	sqlite3_bind_int64(s, 9, c->revoked_ms);
	sq_bind_text(s, 10, c->mandate);
	sq_bind_text(s, 11, c->mediator);
	sq_bind_text(s, 12, c->helper);
	if ((rc = sq_exec(ss, s, "consent insert")) != STORE_OK)
		return rc;
	return sq_names_put(ss, Q_CONSENT_ATTR_INSERT, c->id, c->attributes,
	    c->nattributes);
}

static enum store_status
sq_consent_insert(struct store *st, const struct store_consent *c)
{
	return sq_durable(sq(st), sq_consent_insert_rows, (void *)c);
}

/* The names a query of one text column gives for `id` (a consent's
 * attributes, a mandate's datasets), appended to *names (owned). */
static enum store_status
sq_names(struct sqlite_store *ss, enum sqlite_stmt id_query, const char *id,
    char ***names, size_t *n)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc;

	if ((s = sq_stmt(ss, id_query)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char *name = strdup((const char *)sqlite3_column_text(s, 0));

		if (name == NULL)
			break;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			char **grown = reallocarray(*names, ncap, sizeof(*grown));

			if (grown == NULL) {
				free(name);
				break;
			}
			*names = grown;
			cap = ncap;
		}
		(*names)[(*n)++] = name;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		sq_fail(ss, sqlite_sql[id_query]);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

static char *
sq_column_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *text = sqlite3_column_text(s, col);

	return text ? strdup((const char *)text) : NULL;
}

/* Copies a row's id (column 0) and subject (column 1); 0, or -1 after
 * logging a malformed `what` row. */
static int
sq_row_id(sqlite3_stmt *s, char id[STORE_ID_LEN],
    char subject[STORE_SUBJECT_LEN], const char *what)
{
	const unsigned char *text = sqlite3_column_text(s, 0);

	if (text == NULL || strlen((const char *)text) >= STORE_ID_LEN ||
	    sq_copy_subject(sqlite3_column_text(s, 1), subject) != 0) {
		log_error("store: sqlite: malformed %s row", what);
		return -1;
	}
	memcpy(id, text, strlen((const char *)text) + 1);
	return 0;
}

/* Fills out, a struct store_consent, from the current row of a
 * CONSENT_COLUMNS query and its attributes. On error it is cleared. */
static enum store_status
sq_consent_read(struct sqlite_store *ss, sqlite3_stmt *s, void *out)
{
	struct store_consent *c = out;

	memset(c, 0, sizeof(*c));
	if (sq_row_id(s, c->id, c->subject, "consent") != 0)
		return STORE_ERROR;
	c->consumer = sq_column_dup(s, 2);
	c->provider = sq_column_dup(s, 3);
	c->dataset = sq_column_dup(s, 4);
	c->purpose = sq_column_dup(s, 5);
	c->created_ms = sqlite3_column_int64(s, 6);
	c->expires_ms = sqlite3_column_int64(s, 7);
	c->revoked_ms = sqlite3_column_int64(s, 8);
	c->mandate = sq_column_dup(s, 9);
	c->mediator = sq_column_dup(s, 10);
	c->helper = sq_column_dup(s, 11);
	if (c->consumer == NULL || c->provider == NULL || c->dataset == NULL ||
	    c->purpose == NULL || (c->mediator == NULL) !=
	    (sqlite3_column_type(s, 10) == SQLITE_NULL) ||
	    sq_names(ss, Q_CONSENT_ATTRS, c->id, &c->attributes,
	    &c->nattributes) != STORE_OK) {
		store_consent_clear(c);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* The row that `get` gives for id, read into out (size bytes, zeroed
 * when there is none) by read: a consent, a mandate. */
static enum store_status
sq_get_by_id(struct sqlite_store *ss, enum sqlite_stmt get, const char *id,
    enum store_status (*read)(struct sqlite_store *, sqlite3_stmt *, void *),
    void *out, size_t size)
{
	sqlite3_stmt *s;
	enum store_status rc;

	memset(out, 0, size);
	if ((s = sq_stmt(ss, get)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, id);
	if ((rc = sq_row(ss, s, sqlite_sql[get])) == STORE_OK)
		rc = read(ss, s, out);
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_consent_get(struct store *st, const char *id, struct store_consent *out)
{
	return sq_get_by_id(sq(st), Q_CONSENT_GET, id, sq_consent_read, out,
	    sizeof(*out));
}

/* A revocation through sq_durable: sets revoked_ms of row `id` through
 * `revoke` if not yet revoked, keeping the first time; STORE_NOT_FOUND
 * (asked through `exists`) when there is no such row. For consents and
 * mandates. */
struct sq_revoke {
	enum sqlite_stmt revoke, exists;
	const char *id;
	int64_t now_ms;
};

static enum store_status
sq_revoke_row(struct sqlite_store *ss, void *arg)
{
	const struct sq_revoke *r = arg;
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, r->revoke)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, r->id);
	sqlite3_bind_int64(s, 2, r->now_ms);
	if ((rc = sq_exec(ss, s, sqlite_sql[r->revoke])) != STORE_OK)
		return rc;
	if (sqlite3_changes(ss->db) == 1)
		return STORE_OK;
	/* Nothing changed: already revoked (keep the first time) or absent. */
	if ((s = sq_stmt(ss, r->exists)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, r->id);
	rc = sq_row(ss, s, sqlite_sql[r->exists]);
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_consent_revoke(struct store *st, const char *id, int64_t now_ms)
{
	struct sq_revoke r = { Q_CONSENT_REVOKE, Q_CONSENT_EXISTS, id, now_ms };

	return sq_durable(sq(st), sq_revoke_row, &r);
}

/* What sq_rows collects: items of `size` bytes, each filled by read
 * from the current row, and the list's free. */
struct sq_rows_kind {
	size_t size;
	enum store_status (*read)(struct sqlite_store *, sqlite3_stmt *, void *);
	void (*free_list)(void *items, size_t n);
	const char *what;
};

/* Collects every row of a query (already bound) into *list (owned, its
 * kind's free_list frees it). */
static enum store_status
sq_rows(struct sqlite_store *ss, sqlite3_stmt *s, const struct sq_rows_kind *k,
    void **list, size_t *n)
{
	unsigned char *items = NULL;
	size_t count = 0, cap = 0;
	enum store_status rc = STORE_OK;
	int step;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			unsigned char *grown = reallocarray(items, ncap, k->size);

			if (grown == NULL) {
				rc = STORE_ERROR;
				break;
			}
			items = grown;
			cap = ncap;
		}
		if ((rc = k->read(ss, s, items + count * k->size)) != STORE_OK)
			break;
		count++;
	}
	if (rc == STORE_OK && step != SQLITE_DONE)
		rc = sq_fail(ss, k->what);
	sqlite3_reset(s);
	if (rc != STORE_OK) {
		k->free_list(items, count);
		return rc;
	}
	*list = items;
	*n = count;
	return STORE_OK;
}

static void
sq_consents_free(void *items, size_t n)
{
	store_consents_free(items, n);
}

/* Collects every row of a CONSENT_COLUMNS query (already bound). */
static enum store_status
sq_consent_rows(struct sqlite_store *ss, sqlite3_stmt *s,
    struct store_consent **list, size_t *n)
{
	static const struct sq_rows_kind kind = { sizeof(**list),
	    sq_consent_read, sq_consents_free, "consent list" };
	void *items = NULL;
	enum store_status rc = sq_rows(ss, s, &kind, &items, n);

	*list = items;
	return rc;
}

static enum store_status
sq_consent_find(struct store *st, const char *subject, const char *consumer,
    const char *provider, const char *dataset, struct store_consent **list,
    size_t *n)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;

	*list = NULL;
	*n = 0;
	if ((s = sq_stmt(ss, Q_CONSENT_FIND)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sq_bind_text(s, 2, consumer);
	sq_bind_text(s, 3, provider);
	sq_bind_text(s, 4, dataset);
	return sq_consent_rows(ss, s, list, n);
}

static enum store_status
sq_consent_list_for(struct store *st, const char *subject, const char *service,
    struct store_consent **list, size_t *n)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;

	*list = NULL;
	*n = 0;
	if ((s = sq_stmt(ss, Q_CONSENT_LIST_FOR)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sq_bind_text(s, 2, service);
	return sq_consent_rows(ss, s, list, n);
}

/* ---- mandates ------------------------------------------------------- */

static enum store_status
sq_mandate_insert_rows(struct sqlite_store *ss, void *arg)
{
	const struct store_mandate *m = arg;
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_MANDATE_INSERT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, m->id);
	sq_bind_text(s, 2, m->subject);
	sq_bind_text(s, 3, m->mediator);
	sq_bind_text(s, 4, m->helper);
	sqlite3_bind_int64(s, 5, m->actions);
	sqlite3_bind_int64(s, 6, m->created_ms);
	sqlite3_bind_int64(s, 7, m->expires_ms);
	sqlite3_bind_int64(s, 8, m->revoked_ms);
	if ((rc = sq_exec(ss, s, "mandate insert")) != STORE_OK)
		return rc;
	return sq_names_put(ss, Q_MANDATE_DATASET_INSERT, m->id, m->datasets,
	    m->ndatasets);
}

static enum store_status
sq_mandate_insert(struct store *st, const struct store_mandate *m)
{
	return sq_durable(sq(st), sq_mandate_insert_rows, (void *)m);
}

/* Fills out, a struct store_mandate, from the current row of a
 * MANDATE_COLUMNS query and its datasets. On error it is cleared. */
static enum store_status
sq_mandate_read(struct sqlite_store *ss, sqlite3_stmt *s, void *out)
{
	struct store_mandate *m = out;

	memset(m, 0, sizeof(*m));
	if (sq_row_id(s, m->id, m->subject, "mandate") != 0)
		return STORE_ERROR;
	m->mediator = sq_column_dup(s, 2);
	m->helper = sq_column_dup(s, 3);
	m->actions = (unsigned)sqlite3_column_int64(s, 4);
	m->created_ms = sqlite3_column_int64(s, 5);
	m->expires_ms = sqlite3_column_int64(s, 6);
	m->revoked_ms = sqlite3_column_int64(s, 7);
	if (m->mediator == NULL || m->helper == NULL ||
	    sq_names(ss, Q_MANDATE_DATASETS, m->id, &m->datasets,
	    &m->ndatasets) != STORE_OK) {
		store_mandate_clear(m);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static enum store_status
sq_mandate_get(struct store *st, const char *id, struct store_mandate *out)
{
	return sq_get_by_id(sq(st), Q_MANDATE_GET, id, sq_mandate_read, out,
	    sizeof(*out));
}

static enum store_status
sq_mandate_revoke(struct store *st, const char *id, int64_t now_ms)
{
	struct sq_revoke r = { Q_MANDATE_REVOKE, Q_MANDATE_EXISTS, id, now_ms };

	return sq_durable(sq(st), sq_revoke_row, &r);
}

static void
sq_mandates_free(void *items, size_t n)
{
	store_mandates_free(items, n);
}

static enum store_status
sq_mandate_find(struct store *st, const char *subject, const char *mediator,
    struct store_mandate **list, size_t *n)
{
	static const struct sq_rows_kind kind = { sizeof(**list),
	    sq_mandate_read, sq_mandates_free, "mandate find" };
	struct sqlite_store *ss = sq(st);
	void *items = NULL;
	enum store_status rc;
	sqlite3_stmt *s;

	*list = NULL;
	*n = 0;
	if ((s = sq_stmt(ss, Q_MANDATE_FIND)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sq_bind_text(s, 2, mediator);
	rc = sq_rows(ss, s, &kind, &items, n);
	*list = items;
	return rc;
}

/* ---- objections ----------------------------------------------------- */

static enum store_status
sq_objection_insert_row(struct sqlite_store *ss, void *arg)
{
	const struct store_objection *o = arg;
	sqlite3_stmt *s;

	if ((s = sq_stmt(ss, Q_OBJECTION_INSERT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, o->id);
	sq_bind_text(s, 2, o->subject);
	sq_bind_text(s, 3, o->dataset);
	sq_bind_text(s, 4, o->purpose);
	sq_bind_text(s, 5, o->consumer);
	sqlite3_bind_int64(s, 6, o->created_ms);
	return sq_exec(ss, s, "objection insert");
}

static enum store_status
sq_objection_insert(struct store *st, const struct store_objection *o)
{
	return sq_durable(sq(st), sq_objection_insert_row, (void *)o);
}

static enum store_status
sq_objection_find(struct store *st, struct store_objection *o)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_OBJECTION_FIND)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, o->subject);
	sq_bind_text(s, 2, o->dataset);
	sq_bind_text(s, 3, o->purpose);
	sq_bind_text(s, 4, o->consumer);
	rc = sq_row(ss, s, "objection find");
	if (rc == STORE_OK && sq_row_id(s, o->id, o->subject, "objection") != 0)
		rc = STORE_ERROR;
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_objection_match(struct store *st, const char *subject, const char *dataset,
    const char *purpose, const char *consumer)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;

	if ((s = sq_stmt(ss, Q_OBJECTION_MATCH)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sq_bind_text(s, 2, dataset);
	sq_bind_text(s, 3, purpose);
	sq_bind_text(s, 4, consumer);
	rc = sq_row(ss, s, "objection match");
	sqlite3_reset(s);
	return rc;
}

/* ---- the access index ----------------------------------------------- */

struct sq_access_batch {
	const struct store_access *rows;
	size_t n;
};

/* The batch's lowest index: a sequencer's batch is in order, but a
 * caller's need not be. */
static uint64_t
sq_access_first(const struct sq_access_batch *b)
{
	uint64_t first = UINT64_MAX;

	for (size_t i = 0; i < b->n; i++)
		if (b->rows[i].audit_index < first)
			first = b->rows[i].audit_index;
	return first;
}

/* The one integer query id of the access file answers, arg bound to its
 * parameter if it has one; STORE_NOT_FOUND if it gives no row. */
static enum store_status
sq_access_scalar(struct sqlite_store *ss, enum sqlite_stmt id,
    sqlite3_int64 arg, sqlite3_int64 *value)
{
	sqlite3_stmt *s = sq_stmt(ss, id);
	enum store_status rc;

	if (s == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, arg);
	if ((rc = sq_row(ss, s, sqlite_sql[id])) == STORE_OK)
		*value = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc;
}

/* SQLite integers are signed 64-bit; audit indexes never get near 2^63.
 * A row at or under moved, which readers skip in access_recent, goes to
 * access_base. */
static enum store_status
sq_access_put_row(struct sqlite_store *ss, const struct store_access *row,
    sqlite3_int64 moved)
{
	sqlite3_stmt *s;

	if (row->audit_index > INT64_MAX) {
		log_error("store: sqlite: audit index out of range");
		return STORE_ERROR;
	}
	if ((s = sq_stmt(ss, (sqlite3_int64)row->audit_index <= moved ?
	    Q_ACCESS_PUT_BASE : Q_ACCESS_PUT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, row->subject);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)row->audit_index);
	sq_bind_text(s, 3, row->mandate);
	sq_bind_text(s, 4, row->mediator);
	sq_bind_text(s, 5, row->helper);
	return sq_exec(ss, s, "access put");
}

/* The batch's rows, and a mark on the run being filled if they may be
 * under its bound (Q_ACCESS_FILL_LATE). */
static enum store_status
sq_access_put_all(struct sqlite_store *ss, void *arg)
{
	const struct sq_access_batch *b = arg;
	sqlite3_int64 moved;
	enum store_status rc;
	sqlite3_stmt *s;

	if ((rc = sq_access_scalar(ss, Q_ACCESS_MOVED_GET, 0, &moved)) !=
	    STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
	for (size_t i = 0; i < b->n && rc == STORE_OK; i++)
		rc = sq_access_put_row(ss, &b->rows[i], moved);
	if (rc != STORE_OK)
		return rc;
	if ((s = sq_stmt(ss, Q_ACCESS_FILL_LATE)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)sq_access_first(b));
	return sq_exec(ss, s, "access fill late");
}

/* One transaction per audit batch: the sequencer calls this once per
 * group commit, not once per entry. On disk before the batch is written
 * (sq_access_durable): nothing in an entry can rebuild its row, so a row
 * lost to a power cut while its entry survived would leave that entry
 * out of its subject's access log for good. */
static enum store_status
sq_access_put(struct store *st, const struct store_access *rows, size_t n)
{
	struct sq_access_batch b = { rows, n };

	if (n == 0)
		return STORE_OK;
	return sq_access_durable(sq(st), sq_access_put_all, &b);
}

static enum store_status
sq_access_mandate(struct store *st, const char *subject, uint64_t audit_index,
    char **mediator, char **helper)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;

	*mediator = *helper = NULL;
	if ((s = sq_stmt(ss, Q_ACCESS_MANDATE)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sqlite3_bind_int64(s, 2, audit_index > INT64_MAX ? INT64_MAX :
	    (sqlite3_int64)audit_index);
	rc = sq_row(ss, s, "access mandate");
	if (rc == STORE_OK) {
		*mediator = sq_column_dup(s, 0);
		*helper = sq_column_dup(s, 1);
		if (*mediator == NULL || *helper == NULL) {
			free(*mediator);
			free(*helper);
			*mediator = *helper = NULL;
			rc = STORE_ERROR;
		}
	}
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_access_list(struct store *st, const char *subject, uint64_t before,
    size_t limit, uint64_t **indexes, size_t *n)
{
	struct sqlite_store *ss = sq(st);
	uint64_t *items = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *s;
	int step;

	*indexes = NULL;
	*n = 0;
	if ((s = sq_stmt(ss, Q_ACCESS_LIST)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subject);
	sqlite3_bind_int64(s, 2, before > INT64_MAX ? INT64_MAX :
	    (sqlite3_int64)before);
	sqlite3_bind_int64(s, 3, limit > INT64_MAX ? INT64_MAX :
	    (sqlite3_int64)limit);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			uint64_t *grown = reallocarray(items, ncap, sizeof(*grown));

			if (grown == NULL)
				break;
			items = grown;
			cap = ncap;
		}
		items[count++] = (uint64_t)sqlite3_column_int64(s, 0);
	}
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		sq_fail(ss, "access list");
	sqlite3_reset(s);
	if (step != SQLITE_DONE) {   /* an error, or out of memory mid-rows */
		free(items);
		return STORE_ERROR;
	}
	*indexes = items;
	*n = count;
	return STORE_OK;
}

/* ---- pushed records and the delivery outbox ------------------------ */

/* The in-flight set of the connection's file; NULL when out of memory. */
static struct store_inflight *
sq_inflight(struct sqlite_store *ss)
{
	const char *path;

	if (ss->inflight != NULL)
		return ss->inflight;
	if ((path = sqlite3_db_filename(ss->db, "main")) == NULL)
		path = "";
	return ss->inflight = store_inflight_open(path);
}

/* tellonce_inflight(seq): 1 when the delivery seq is in flight in this
 * process (the connection's store is the function's user data). */
static void
sq_inflight_fn(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	struct sqlite_store *ss = sqlite3_user_data(c);

	sqlite3_result_int(c, ss->inflight != NULL &&
	    store_inflight_has(ss->inflight, sqlite3_value_int64(argv[0])));
}

struct sq_accept {
	const struct store_push *p;
	struct store_push_result *res;
	size_t n;
	const struct store_cursor *cursor;
};

/* STORE_CONFLICT with the first response when the key was used before. */
static enum store_status
sq_push_key_check(struct sqlite_store *ss, const struct store_push *p,
    struct store_push_result *res)
{
	sqlite3_stmt *s;
	enum store_status rc;

	if (p->idempotency_key == NULL)
		return STORE_OK;
	if ((s = sq_stmt(ss, Q_PUSH_KEY_GET)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, p->provider);
	sq_bind_text(s, 2, p->idempotency_key);
	rc = sq_row(ss, s, "push key get");
	if (rc == STORE_OK) {
		res->same = strcmp((const char *)sqlite3_column_text(s, 0),
		    p->request_sha256) == 0;
		res->audited = sqlite3_column_int(s, 2);
		res->previous = sq_column_dup(s, 1);
		rc = res->previous != NULL ? STORE_CONFLICT : STORE_ERROR;
	} else if (rc == STORE_NOT_FOUND) {
		rc = STORE_OK;
	}
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_push_key_put(struct sqlite_store *ss, const struct store_push *p,
    int64_t record_seq)
{
	sqlite3_stmt *s;

	if (p->idempotency_key == NULL)
		return STORE_OK;
	if ((s = sq_stmt(ss, Q_PUSH_KEY_PUT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, p->provider);
	sq_bind_text(s, 2, p->idempotency_key);
	sq_bind_text(s, 3, p->request_sha256);
	sq_bind_text(s, 4, p->response);
	sqlite3_bind_int64(s, 5, p->now_ms);
	sqlite3_bind_int64(s, 6, record_seq);
	return sq_exec(ss, s, "push key put");
}

/* Supersedes what p's subscribers from `first` on, at most SQLITE_FANOUT
 * of them, have pending in the record's chains and not in flight (a row
 * each at most), a few rows read whole before any changes, until none is
 * left. */
static enum store_status
sq_delivery_supersede(struct sqlite_store *ss, const struct store_push *p,
    size_t first)
{
	struct store_inflight *f = sq_inflight(ss);
	int64_t seqs[SQLITE_FANOUT];
	size_t n;
	sqlite3_stmt *s;
	enum store_status rc;
	int step = SQLITE_DONE;

	if (f == NULL)
		return STORE_ERROR;
	do {
		if ((s = sq_stmt(ss, Q_DELIVERY_PENDING)) == NULL)
			return STORE_ERROR;
		sq_bind_text(s, 1, p->subject);
		sq_bind_text(s, 2, p->dataset);
		for (size_t i = 0; i < SQLITE_FANOUT &&
		    first + i < p->nsubscribers; i++)
			sq_bind_text(s, 3 + (int)i, p->subscribers[first + i]);
		n = 0;
		while (n < SQLITE_FANOUT && (step = sqlite3_step(s)) == SQLITE_ROW)
			if (!store_inflight_has(f, sqlite3_column_int64(s, 0)))
				seqs[n++] = sqlite3_column_int64(s, 0);
		rc = step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK :
		    sq_fail(ss, "delivery pending");
		sqlite3_reset(s);
		for (size_t i = 0; rc == STORE_OK && i < n; i++) {
			if ((s = sq_stmt(ss, Q_DELIVERY_SUPERSEDE)) == NULL)
				return STORE_ERROR;
			sqlite3_bind_int64(s, 1, seqs[i]);
			sqlite3_bind_int64(s, 2, p->now_ms);
			rc = sq_exec(ss, s, "delivery supersede");
		}
	} while (rc == STORE_OK && n == SQLITE_FANOUT);
	return rc;
}

/* Queues the deliveries of p to its subscribers from `first` on, at most
 * SQLITE_FANOUT of them, in one statement. */
static enum store_status
sq_delivery_insert(struct sqlite_store *ss, const struct store_push *p,
    int64_t record_seq, size_t first)
{
	char ids[SQLITE_FANOUT][STORE_ID_LEN];
	sqlite3_stmt *s;

	if ((s = sq_stmt(ss, Q_DELIVERY_INSERT)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, record_seq);
	sq_bind_text(s, 2, p->subject);
	sq_bind_text(s, 3, p->dataset);
	sqlite3_bind_int64(s, 4, p->now_ms);
	for (size_t i = 0; i < SQLITE_FANOUT && first + i < p->nsubscribers;
	    i++) {
		store_new_ordered_id(ids[i], p->now_ms);
		sq_bind_text(s, 5 + 2 * (int)i, ids[i]);
		sq_bind_text(s, 6 + 2 * (int)i, p->subscribers[first + i]);
	}
	return sq_exec(ss, s, "delivery insert");
}

static enum store_status
sq_accept_one(struct sqlite_store *ss, const struct store_push *p,
    struct store_push_result *res)
{
	sqlite3_stmt *s;
	enum store_status rc;
	int64_t seq;

	if ((rc = sq_push_key_check(ss, p, res)) != STORE_OK)
		return rc;
	if ((s = sq_stmt(ss, Q_RECORD_INSERT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, p->record_id);
	sq_bind_text(s, 2, p->provider);
	sq_bind_text(s, 3, p->subject);
	sq_bind_text(s, 4, p->dataset);
	sq_bind_text(s, 5, p->record);
	sqlite3_bind_int64(s, 6, p->now_ms);
	if (p->traceparent != NULL)
		sq_bind_text(s, 7, p->traceparent);
	else
		sqlite3_bind_null(s, 7);
	if ((rc = sq_exec(ss, s, "record insert")) != STORE_OK)
		return rc;
	seq = sqlite3_last_insert_rowid(ss->db);
	for (size_t i = 0; i < p->nsubscribers; i += SQLITE_FANOUT)
		if ((rc = sq_delivery_supersede(ss, p, i)) != STORE_OK)
			return rc;
	for (size_t i = 0; i < p->nsubscribers; i += SQLITE_FANOUT)
		if ((rc = sq_delivery_insert(ss, p, seq, i)) != STORE_OK)
			return rc;
	return sq_push_key_put(ss, p, seq);
}

struct sq_push_audits {
	const struct store_push_audit *a;
	size_t n;
};

static enum store_status
sq_push_audited_rows(struct sqlite_store *ss, void *arg)
{
	const struct sq_push_audits *m = arg;
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < m->n && rc == STORE_OK; i++) {
		sqlite3_stmt *s = sq_stmt(ss, Q_PUSH_KEY_AUDITED);

		if (s == NULL)
			return STORE_ERROR;
		sq_bind_text(s, 1, m->a[i].provider);
		sq_bind_text(s, 2, m->a[i].key);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)m->a[i].audit_index);
		rc = sq_exec(ss, s, "push key audited");
	}
	return rc;
}

static enum store_status
sq_push_audited(struct store *st, const struct store_push_audit *a, size_t n)
{
	struct sq_push_audits m = { a, n };

	return n > 0 ? sq_transaction(sq(st), sq_push_audited_rows, &m) :
	    STORE_OK;
}

static enum store_status
sq_cursor_put(struct sqlite_store *ss, const struct store_cursor *c)
{
	sqlite3_stmt *s = sq_stmt(ss, Q_CURSOR_PUT);

	if (s == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, c->service);
	sq_bind_text(s, 2, c->cursor);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	return sq_exec(ss, s, "poll cursor put");
}

static enum store_status
sq_poll_cursor(struct store *st, const char *service, char **cursor)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;
	enum store_status rc;

	*cursor = NULL;
	if ((s = sq_stmt(ss, Q_CURSOR_GET)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, service);
	rc = sq_row(ss, s, "poll cursor get");
	if (rc == STORE_OK && (*cursor = sq_column_dup(s, 0)) == NULL)
		rc = STORE_ERROR;
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_accept_rows(struct sqlite_store *ss, void *arg)
{
	struct sq_accept *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		a->res[i].status = sq_accept_one(ss, &a->p[i], &a->res[i]);
		/* A conflict without a first response broke a unique rule. */
		if (a->res[i].status == STORE_ERROR ||
		    (a->res[i].status == STORE_CONFLICT &&
		    a->res[i].previous == NULL))
			return STORE_ERROR;
	}
	return a->cursor != NULL ? sq_cursor_put(ss, a->cursor) : STORE_OK;
}

static enum store_status
sq_record_accept(struct store *st, const struct store_push *p, size_t n,
    struct store_push_result *res, const struct store_cursor *cursor)
{
	struct sq_accept a = { .p = p, .res = res, .n = n, .cursor = cursor };
	enum store_status rc;

	memset(res, 0, n * sizeof(*res));
	/* One WAL fsync per batch: the price of the group commit. */
	rc = sq_durable(sq(st), sq_accept_rows, &a);
	if (rc == STORE_OK)
		return STORE_OK;
	store_push_results_fail(res, n);
	return rc;
}

/* Fills rec from RECORD_COLUMNS starting at column `col`. */
static enum store_status
sq_record_read(sqlite3_stmt *s, int col, struct store_record *rec)
{
	const unsigned char *id = sqlite3_column_text(s, col + 1);

	memset(rec, 0, sizeof(*rec));
	if (id == NULL || strlen((const char *)id) >= STORE_ID_LEN ||
	    sq_copy_subject(sqlite3_column_text(s, col + 2), rec->subject) != 0) {
		log_error("store: sqlite: malformed record row");
		return STORE_ERROR;
	}
	rec->seq = sqlite3_column_int64(s, col);
	memcpy(rec->id, id, strlen((const char *)id) + 1);
	rec->provider = sq_column_dup(s, col + 3);
	rec->dataset = sq_column_dup(s, col + 4);
	rec->record = sq_column_dup(s, col + 5);
	rec->version = sqlite3_column_int64(s, col + 6);
	rec->created_ms = sqlite3_column_int64(s, col + 7);
	rec->has_view_key = sq_copy_view_key(s, col + 8, rec->view_key) == 0;
	if (sqlite3_column_type(s, col + 9) != SQLITE_NULL &&
	    (rec->traceparent = sq_column_dup(s, col + 9)) == NULL) {
		store_record_clear(rec);
		return STORE_ERROR;
	}
	if (rec->provider == NULL || rec->dataset == NULL || rec->record == NULL) {
		store_record_clear(rec);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static enum store_status
sq_change_list(struct store *st, const char *dataset, int64_t after,
    size_t limit, struct store_record **list, size_t *n)
{
	struct sqlite_store *ss = sq(st);
	struct store_record *items;
	enum store_status rc = STORE_OK;
	sqlite3_stmt *s;
	size_t count = 0;
	int step = SQLITE_DONE;

	*list = NULL;
	*n = 0;
	if ((items = calloc(limit + 1, sizeof(*items))) == NULL)
		return STORE_ERROR;
	if ((s = sq_stmt(ss, Q_CHANGE_LIST)) == NULL) {
		free(items);
		return STORE_ERROR;
	}
	sq_bind_text(s, 1, dataset);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
	while (count < limit && (step = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = sq_record_read(s, 0, &items[count++])) != STORE_OK)
			break;
	if (rc == STORE_OK && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = sq_fail(ss, "change list");
	sqlite3_reset(s);
	if (rc != STORE_OK) {
		store_records_free(items, count);
		return rc;
	}
	*list = items;
	*n = count;
	return STORE_OK;
}

/* Fills d from the current row of a DELIVERY_COLUMNS query. */
static enum store_status
sq_delivery_read(sqlite3_stmt *s, struct store_delivery *d)
{
	const unsigned char *id = sqlite3_column_text(s, 1), *sha;

	memset(d, 0, sizeof(*d));
	if (id == NULL || strlen((const char *)id) >= STORE_ID_LEN) {
		log_error("store: sqlite: malformed delivery row");
		return STORE_ERROR;
	}
	d->seq = sqlite3_column_int64(s, 0);
	memcpy(d->id, id, strlen((const char *)id) + 1);
	d->subscriber = sq_column_dup(s, 2);
	d->state = (enum store_delivery_state)sqlite3_column_int(s, 3);
	d->attempts = sqlite3_column_int(s, 4);
	d->since_ms = sqlite3_column_int64(s, 5);
	d->due_ms = sqlite3_column_int64(s, 6);
	d->updated_ms = sqlite3_column_int64(s, 7);
	d->last_error = sq_column_dup(s, 8);
	/* After the record's columns, from 9. */
	d->audit_index = sqlite3_column_type(s, 9 + RECORD_NCOLUMNS) ==
	    SQLITE_NULL ? -1 : sqlite3_column_int64(s, 9 + RECORD_NCOLUMNS);
	sha = sqlite3_column_text(s, 10 + RECORD_NCOLUMNS);
	if (sha != NULL && strlen((const char *)sha) < sizeof(d->audit_sha256))
		memcpy(d->audit_sha256, sha, strlen((const char *)sha) + 1);
	if (d->subscriber == NULL || sq_record_read(s, 9, &d->rec) != STORE_OK) {
		store_delivery_clear(d);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Room for one more in *items, of which count are used and *cap
 * allocated: the array grows with the rows read, as a take asks for as
 * many as its subscriber has room for, and mostly finds a few. -1 when
 * out of memory (*items unchanged). */
static int
sq_deliveries_room(struct store_delivery **items, size_t count, size_t *cap)
{
	struct store_delivery *grown;
	size_t more = *cap ? *cap * 2 : 8;

	if (count < *cap)
		return 0;
	if ((grown = reallocarray(*items, more, sizeof(**items))) == NULL)
		return -1;
	*items = grown;
	*cap = more;
	return 0;
}

/* Collects up to `limit` rows of a bound DELIVERY_COLUMNS query (*list
 * NULL when there are none). */
static enum store_status
sq_delivery_rows(struct sqlite_store *ss, sqlite3_stmt *s, size_t limit,
    struct store_delivery **list, size_t *n)
{
	struct store_delivery *items = NULL;
	enum store_status rc = STORE_OK;
	size_t count = 0, cap = 0;
	int step = SQLITE_DONE;

	*list = NULL;
	*n = 0;
	while (count < limit && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sq_deliveries_room(&items, count, &cap) != 0) {
			rc = STORE_ERROR;
			break;
		}
		if ((rc = sq_delivery_read(s, &items[count++])) != STORE_OK)
			break;
	}
	if (rc == STORE_OK && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = sq_fail(ss, "delivery list");
	sqlite3_reset(s);
	if (rc != STORE_OK) {
		store_deliveries_free(items, count);
		return rc;
	}
	*list = items;
	*n = count;
	return STORE_OK;
}

static enum store_status
sq_recover_rows(struct sqlite_store *ss, void *arg)
{
	enum store_status rc = sq_simple(ss, Q_DELIVERY_UNSEND);

	return rc == STORE_OK ? sq_simple(ss, Q_DELIVERY_SUPERSEDE_OLDER) : rc;
}

/* What was in flight is pending again; so are rows marked sending by a
 * build from before store_inflight.c. */
static enum store_status
sq_delivery_recover(struct store *st)
{
	struct sqlite_store *ss = sq(st);

	if (sq_inflight(ss) != NULL)
		store_inflight_clear(ss->inflight);
	return sq_transaction(ss, sq_recover_rows, NULL);
}

/* Takes the due row the take's statement s is on, unless its chain is
 * in flight: STORE_OK with *d filled, STORE_NOT_FOUND when it is passed
 * over. */
static enum store_status
sq_take_row(struct sqlite_store *ss, sqlite3_stmt *s, struct store_delivery *d)
{
	enum store_status rc;
	uint64_t chain;
	int taken;

	if ((rc = sq_delivery_read(s, d)) != STORE_OK)
		return rc;
	chain = store_inflight_chain(d->subscriber, d->rec.subject,
	    d->rec.dataset);
	taken = store_inflight_take(ss->inflight, ss, d->seq, chain, ss->batch);
	if (taken <= 0) {
		store_delivery_clear(d);
		return taken == 0 ? STORE_NOT_FOUND : STORE_ERROR;
	}
	d->state = STORE_DELIVERY_SENDING;
	return STORE_OK;
}

/* Reads the due rows in order, passing over those in flight and those
 * whose chain is: a chain has at most one row waiting besides the one in
 * flight (a push supersedes the others), so this reads at most a row more
 * than it takes per chain in flight. Nothing is written: the rows taken
 * are in flight in memory (store_inflight.h), tentatively within a batch.
 * Read outside a write transaction, a row may be superseded by a push
 * right after: it is then in flight, and stored as such by its finish. */
static enum store_status
sq_delivery_take(struct store *st, const char *subscriber, int64_t now_ms,
    size_t limit, struct store_delivery **list, size_t *n)
{
	struct sqlite_store *ss = sq(st);
	struct store_delivery *items = NULL;
	enum store_status rc = STORE_OK;
	size_t count = 0, cap = 0;
	sqlite3_stmt *s;
	int step = SQLITE_DONE;

	*list = NULL;
	*n = 0;
	if (sq_inflight(ss) == NULL)
		return STORE_ERROR;
	if ((s = sq_stmt(ss, Q_DELIVERY_DUE)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, subscriber);
	sqlite3_bind_int64(s, 2, now_ms);
	while (count < limit && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sq_deliveries_room(&items, count, &cap) != 0) {
			rc = STORE_ERROR;
			break;
		}
		rc = sq_take_row(ss, s, &items[count]);
		if (rc == STORE_NOT_FOUND) {
			rc = STORE_OK;
			continue;
		}
		if (rc != STORE_OK)
			break;
		count++;
	}
	if (rc == STORE_OK && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = sq_fail(ss, "delivery take");
	sqlite3_reset(s);
	if (rc != STORE_OK) {
		for (size_t i = 0; i < count; i++)
			store_inflight_remove(ss->inflight, ss, items[i].seq, 0);
		store_deliveries_free(items, count);
		return rc;
	}
	*list = items;
	*n = count;
	return STORE_OK;
}

struct sq_finish {
	const struct store_delivery_outcome *o;
	size_t n;
	int64_t now_ms;
};

static enum store_status
sq_finish_rows(struct sqlite_store *ss, void *arg)
{
	struct sq_finish *f = arg;
	enum store_status rc;

	for (size_t i = 0; i < f->n; i++) {
		const struct store_delivery_outcome *o = &f->o[i];
		sqlite3_stmt *s = sq_stmt(ss, Q_DELIVERY_FINISH);

		if (s == NULL)
			return STORE_ERROR;
		/* By seq, the rowid: not a search of the ids' index. */
		sqlite3_bind_int64(s, 1, o->seq);
		sqlite3_bind_int(s, 2, (int)o->state);
		sqlite3_bind_int(s, 3, o->attempts);
		sqlite3_bind_int64(s, 4, o->due_ms);
		sq_bind_text(s, 5, o->error);
		sqlite3_bind_int64(s, 6, f->now_ms);
		if (o->audit_index >= 0)
			sqlite3_bind_int64(s, 7, o->audit_index);
		sq_bind_text(s, 8, o->audit_sha256);
		if ((rc = sq_exec(ss, s, "delivery finish")) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static enum store_status
sq_delivery_finish(struct store *st, const struct store_delivery_outcome *o,
    size_t n, int64_t now_ms)
{
	struct sqlite_store *ss = sq(st);
	struct sq_finish f = { .o = o, .n = n, .now_ms = now_ms };
	enum store_status rc = sq_transaction(ss, sq_finish_rows, &f);

	/* Out of flight once stored: at the batch's commit, within one. */
	for (size_t i = 0; rc == STORE_OK && sq_inflight(ss) != NULL && i < n;
	    i++)
		store_inflight_remove(ss->inflight, ss, o[i].seq, ss->batch);
	return rc;
}

static enum store_status
sq_delivery_list(struct store *st, enum store_delivery_state state,
    int64_t after, size_t limit, struct store_delivery **list, size_t *n)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;

	*list = NULL;
	*n = 0;
	/* deliveries_dead serves only a query that names its state. */
	if ((s = sq_stmt(ss, state == STORE_DELIVERY_DEAD ?
	    Q_DELIVERY_LIST_DEAD : Q_DELIVERY_LIST)) == NULL)
		return STORE_ERROR;
	if (state != STORE_DELIVERY_DEAD)
		sqlite3_bind_int(s, 1, (int)state);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
	return sq_delivery_rows(ss, s, limit, list, n);
}

struct sq_retry {
	const char *id;
	int64_t now_ms;
	struct store_delivery *out;
};

static enum store_status
sq_retry_rows(struct sqlite_store *ss, void *arg)
{
	struct sq_retry *r = arg;
	struct store_delivery *found;
	sqlite3_stmt *s;
	enum store_status rc;
	size_t n;

	if ((s = sq_stmt(ss, Q_DELIVERY_GET)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, r->id);
	if ((rc = sq_delivery_rows(ss, s, 1, &found, &n)) != STORE_OK)
		return rc;
	if (n == 0 || found[0].state != STORE_DELIVERY_DEAD) {
		store_deliveries_free(found, n);
		return STORE_NOT_FOUND;
	}
	*r->out = found[0];
	free(found);
	if ((s = sq_stmt(ss, Q_DELIVERY_NEWER)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, r->id);
	rc = sq_row(ss, s, "delivery newer");
	sqlite3_reset(s);
	if (rc != STORE_NOT_FOUND)
		return rc == STORE_OK ? STORE_CONFLICT : rc;
	if ((s = sq_stmt(ss, Q_DELIVERY_REQUEUE)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, r->id);
	sqlite3_bind_int64(s, 2, r->now_ms);
	if ((rc = sq_exec(ss, s, "delivery requeue")) == STORE_OK)
		r->out->state = STORE_DELIVERY_PENDING;
	return rc;
}

static enum store_status
sq_delivery_retry(struct store *st, const char *id, int64_t now_ms,
    struct store_delivery *out)
{
	struct sq_retry r = { .id = id, .now_ms = now_ms, .out = out };
	enum store_status rc;

	memset(out, 0, sizeof(*out));
	rc = sq_transaction(sq(st), sq_retry_rows, &r);
	if (rc != STORE_OK && rc != STORE_CONFLICT)
		store_delivery_clear(out);
	return rc;
}

/* ---- metrics -------------------------------------------------------- */

static enum store_status
sq_outbox_counts(struct store *st, struct store_outbox_count **list,
    size_t *n)
{
	struct sqlite_store *ss = sq(st);
	struct store_outbox_count *items = NULL, *grown;
	size_t count = 0;
	sqlite3_stmt *s;
	int step;

	*list = NULL;
	*n = 0;
	if ((s = sq_stmt(ss, Q_OUTBOX_COUNTS)) == NULL)
		return STORE_ERROR;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if ((grown = reallocarray(items, count + 1, sizeof(*items))) == NULL)
			break;
		items = grown;
		items[count].waiting = (uint64_t)sqlite3_column_int64(s, 1);
		items[count].dead = (uint64_t)sqlite3_column_int64(s, 2);
		if ((items[count].subscriber = sq_column_dup(s, 0)) == NULL)
			break;
		count++;
	}
	if (step != SQLITE_DONE) {
		if (step == SQLITE_ROW)
			log_error("store: sqlite: outbox counts: out of memory");
		else
			sq_fail(ss, "outbox counts");
		sqlite3_reset(s);
		store_outbox_counts_free(items, count);
		return STORE_ERROR;
	}
	sqlite3_reset(s);
	*list = items;
	*n = count;
	return STORE_OK;
}

/* ---- retention and erasure ------------------------------------------ */

/* The record versions due for erasure (store.h, struct store_purge), as
 * `head` (a select list) over them. Retention differs by dataset: the
 * rules are a VALUES table, ?5 and on, behind a (NULL, NULL) row that
 * matches no dataset, so that no rule is still valid SQL. ?1 now, ?2 the
 * default, ?3 the limit, ?4 the shortest retention (which lets the age
 * index narrow the scan). Caller frees. */
static char *
sq_purge_sql(const char *head, const char *tail, size_t nrules)
{
	static const char due[] = " FROM records r LEFT JOIN rules u ON "
	    "u.dataset = r.dataset WHERE r.created_ms <= ?1 - ?4 AND "
	    "r.created_ms <= ?1 - coalesce(u.ms, ?2)";
	size_t len = 64 + nrules * 24 + strlen(head) + sizeof(due) +
	    strlen(tail), used;
	char *sql = malloc(len);

	if (sql == NULL)
		return NULL;
	used = (size_t)snprintf(sql, len, "WITH rules(dataset, ms) AS "
	    "(VALUES (NULL, NULL)");
	for (size_t i = 0; i < nrules; i++)
		used += (size_t)snprintf(sql + used, len - used, ", (?%zu, ?%zu)",
		    5 + 2 * i, 6 + 2 * i);
	snprintf(sql + used, len - used, ") %s%s%s", head, due, tail);
	return sql;
}

static sqlite3_stmt *
sq_purge_prepare(struct sqlite_store *ss, const struct store_purge *p,
    const char *head, const char *tail)
{
	char *sql = sq_purge_sql(head, tail, p->nrules);
	int64_t shortest = p->default_ms;
	sqlite3_stmt *s = NULL;

	if (sql == NULL)
		return NULL;
	if (sqlite3_prepare_v2(ss->db, sql, -1, &s, NULL) != SQLITE_OK) {
		sq_fail(ss, "purge prepare");
		free(sql);
		return NULL;
	}
	free(sql);
	for (size_t i = 0; i < p->nrules; i++) {
		sq_bind_text(s, 5 + 2 * (int)i, p->rules[i].dataset);
		sqlite3_bind_int64(s, 6 + 2 * (int)i, p->rules[i].retention_ms);
		if (p->rules[i].retention_ms < shortest)
			shortest = p->rules[i].retention_ms;
	}
	sqlite3_bind_int64(s, 1, p->now_ms);
	sqlite3_bind_int64(s, 2, p->default_ms);
	sqlite3_bind_int64(s, 4, shortest);
	return s;
}

struct sq_purge_run {
	const struct store_purge *p;
	size_t limit;
	uint64_t erased;
};

/* Deletes one record version and what belongs to it; adds the rows to
 * *erased. */
static enum store_status
sq_erase_record(struct sqlite_store *ss, int64_t seq, uint64_t *erased)
{
	static const enum sqlite_stmt steps[] = { Q_ERASE_RECORD_KEYS,
		Q_ERASE_RECORD_DELIVERIES, Q_ERASE_RECORD };
	enum store_status rc;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		sqlite3_stmt *s = sq_stmt(ss, steps[i]);

		if (s == NULL)
			return STORE_ERROR;
		sqlite3_bind_int64(s, 1, seq);
		if ((rc = sq_exec(ss, s, sqlite_sql[steps[i]])) != STORE_OK)
			return rc;
		if (steps[i] != Q_ERASE_RECORD_KEYS)
			*erased += (uint64_t)sqlite3_changes(ss->db);
	}
	return STORE_OK;
}

/* Settled: no delivery pending (0) or sending (1). Oldest first in the
 * age index's order, which SQLite then reads from the start of the range
 * alone: ordered by seq it read every record instead, once a second,
 * however few were due. */
static enum store_status
sq_purge_rows(struct sqlite_store *ss, void *arg)
{
	struct sq_purge_run *run = arg;
	sqlite3_stmt *s = sq_purge_prepare(ss, run->p, "SELECT r.seq",
	    " AND (r.created_ms <= ?1 - 2 * coalesce(u.ms, ?2) OR NOT EXISTS "
	    "(SELECT 1 FROM deliveries d WHERE d.record_seq = r.seq AND "
	    "d.state IN (0, 1))) ORDER BY r.created_ms, r.seq LIMIT ?3");
	int64_t *seqs;
	size_t n = 0;
	enum store_status rc = STORE_OK;
	int step = SQLITE_DONE;

	if (s == NULL)
		return STORE_ERROR;
	if ((seqs = calloc(run->limit, sizeof(*seqs))) == NULL) {
		sqlite3_finalize(s);
		return STORE_ERROR;
	}
	sqlite3_bind_int64(s, 3, (sqlite3_int64)run->limit);
	while (n < run->limit && (step = sqlite3_step(s)) == SQLITE_ROW)
		seqs[n++] = sqlite3_column_int64(s, 0);
	if (n < run->limit && step != SQLITE_DONE)
		rc = sq_fail(ss, "purge select");
	sqlite3_finalize(s);
	for (size_t i = 0; i < n && rc == STORE_OK; i++)
		rc = sq_erase_record(ss, seqs[i], &run->erased);
	free(seqs);
	return rc;
}

static enum store_status
sq_purge(struct store *st, const struct store_purge *p, size_t limit,
    uint64_t *erased)
{
	struct sq_purge_run run = { .p = p, .limit = limit };
	enum store_status rc;

	*erased = 0;
	if (limit == 0)
		return STORE_OK;
	if ((rc = sq_transaction(sq(st), sq_purge_rows, &run)) == STORE_OK)
		*erased = run.erased;
	return rc;
}

static enum store_status
sq_purge_backlog(struct store *st, const struct store_purge *p,
    uint64_t *count)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s = sq_purge_prepare(ss, p, "SELECT count(*) + "
	    "coalesce(sum((SELECT count(*) FROM deliveries d WHERE "
	    "d.record_seq = r.seq)), 0)", "");
	enum store_status rc;

	*count = 0;
	if (s == NULL)
		return STORE_ERROR;
	if ((rc = sq_row(ss, s, "purge backlog")) == STORE_OK)
		*count = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc;
}

struct sq_erase_run {
	const char *subject;
	uint64_t erased;
};

static enum store_status
sq_erase_subject_rows(struct sqlite_store *ss, void *arg)
{
	static const enum sqlite_stmt steps[] = { Q_ERASE_SUBJECT_KEYS,
		Q_ERASE_SUBJECT_DELIVERIES, Q_ERASE_SUBJECT_RECORDS,
		Q_VIEW_KEY_DELETE, Q_ACCESS_ERASE_NOTE };
	struct sq_erase_run *run = arg;
	enum store_status rc;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((rc = sq_exec_text(ss, steps[i], run->subject)) != STORE_OK)
			return rc;
		if (steps[i] == Q_ERASE_SUBJECT_DELIVERIES ||
		    steps[i] == Q_ERASE_SUBJECT_RECORDS)
			run->erased += (uint64_t)sqlite3_changes(ss->db);
	}
	return STORE_OK;
}

static enum store_status
sq_erase_subject(struct store *st, const char *subject, uint64_t *erased)
{
	struct sq_erase_run run = { .subject = subject };
	enum store_status rc;

	*erased = 0;
	if ((rc = sq_durable(sq(st), sq_erase_subject_rows, &run)) !=
	    STORE_OK || (rc = sq_access_erase(sq(st), subject)) != STORE_OK)
		return rc;
	*erased = run.erased;
	return STORE_OK;
}

/* TRUNCATE: the log is emptied, so the frames that held erased values
 * are gone, not just marked reusable. It needs every reader on the
 * latest snapshot; waiting long for them would hold up writers, which
 * queue behind it. */
static enum store_status
sq_compact(struct store *st)
{
	struct sqlite_store *ss = sq(st);
	long wait_ms = SQLITE_COMPACT_WAIT_MS;
	int rc;

	for (int i = 0; i < 2; i++) {
		sqlite3 *db = i == 0 ? ss->db : ss->adb;

		sqlite3_busy_handler(db, sq_busy, &wait_ms);
		rc = sqlite3_wal_checkpoint_v2(db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_busy_handler(db, sq_busy, NULL);
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
			return STORE_CONFLICT;
		if (rc != SQLITE_OK)
			return sq_fail_on(db, "checkpoint");
	}
	return STORE_OK;
}

/* The rows of access_recent up to index *bound go into the next run:
 * those of its first SQLITE_ACCESS_RUN_ROWS indexes, at most that many
 * rows (an entry about no subject has none). STORE_NOT_FOUND while it
 * spans fewer indexes. */
static enum store_status
sq_access_run_bound(struct sqlite_store *ss, sqlite3_int64 *bound)
{
	return sq_access_scalar(ss, Q_ACCESS_RUN_BOUND,
	    SQLITE_ACCESS_RUN_ROWS - 1, bound);
}

/* The first id of level's runs: each level's ids are a range. */
static sqlite3_int64
sq_access_level(int level)
{
	return (sqlite3_int64)level << SQLITE_ACCESS_LEVEL_SHIFT;
}

/* A new run of level, its id in *id, in the transaction that puts its
 * first rows. */
static enum store_status
sq_access_run_new(struct sqlite_store *ss, int level, sqlite3_int64 *id)
{
	sqlite3_stmt *s = sq_stmt(ss, Q_ACCESS_RUN_NEW);
	enum store_status rc;

	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, sq_access_level(level));
	sqlite3_bind_int64(s, 2, sq_access_level(level + 1));
	if ((rc = sq_exec(ss, s, "access run new")) == STORE_OK)
		*id = sqlite3_last_insert_rowid(ss->adb);
	return rc;
}

/* A new run of level 0, unregistered while it fills: its id in ss->run,
 * the rows of access_recent up to index bound its own. The rows of one
 * that a crash or a failure left go first: the id is taken again. */
static enum store_status
sq_access_fill_new(struct sqlite_store *ss, void *arg)
{
	const sqlite3_int64 *bound = arg;
	enum store_status rc;
	sqlite3_stmt *s;

	if ((rc = sq_simple(ss, Q_ACCESS_FILL_ORPHANS)) != STORE_OK ||
	    (rc = sq_simple(ss, Q_ACCESS_FILL_FORGET)) != STORE_OK)
		return rc;
	if ((s = sq_stmt(ss, Q_ACCESS_FILL_NEW)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, sq_access_level(0));
	sqlite3_bind_int64(s, 2, sq_access_level(1));
	sqlite3_bind_int64(s, 3, *bound);
	if ((rc = sq_exec(ss, s, "access fill new")) == STORE_OK)
		ss->run.id = sqlite3_last_insert_rowid(ss->adb);
	return rc;
}

/* Whether the run ss->run names is still the one filling, and what
 * happened meanwhile (Q_ACCESS_FILL_LATE, Q_ACCESS_FILL_ERASED).
 * STORE_NOT_FOUND if another connection took the run over. */
static enum store_status
sq_access_fill_own(struct sqlite_store *ss, int *late, int *erased)
{
	sqlite3_stmt *s = sq_stmt(ss, Q_ACCESS_FILL_OWN);
	enum store_status rc;

	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, ss->run.id);
	if ((rc = sq_row(ss, s, "access fill own")) == STORE_OK) {
		*late = sqlite3_column_int(s, 0);
		*erased = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	return rc;
}

/* Copies the next chunk of the run into it from the sorted copy, in one
 * transaction, reading nothing of access_recent. Its rows stay there,
 * where readers find them until the run is registered: only the copy is
 * written, a leaf after another, not the leaves of access_recent all
 * over. STORE_CONFLICT once an erasure ran since the sort (the copy may
 * hold the subject's rows) or another connection took the run over. */
static enum store_status
sq_access_run_fill(struct sqlite_store *ss, void *arg)
{
	struct sq_access_run *r = &ss->run;
	int late, erased;
	enum store_status rc;
	sqlite3_stmt *s;

	(void)arg;
	if ((rc = sq_access_fill_own(ss, &late, &erased)) != STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_CONFLICT : rc;
	if (erased)
		return STORE_CONFLICT;
	if ((s = sq_stmt(ss, Q_ACCESS_RUN_FILL)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, r->next);
	sqlite3_bind_int64(s, 3, r->next + SQLITE_ACCESS_CHUNK_ROWS - 1);
	return sq_exec(ss, s, "access run fill");
}

/* Registers the run filled, and in the same transaction hides its rows
 * in access_recent from readers, who find each row in one place before
 * and after. The rows up to the run's bound are all its own, so that
 * moving access_moved's mark to it hides them, and they leave later
 * (sq_access_drain); unless a batch put rows there after the sort (its
 * entries' indexes taken again after a crash): then only those the run
 * holds leave, at once, and the mark stays. STORE_CONFLICT if another
 * connection took the run over. */
static enum store_status
sq_access_run_register(struct sqlite_store *ss, void *arg)
{
	enum sqlite_stmt steps[] = { Q_ACCESS_RUN_REGISTER, Q_ACCESS_RUN_HIDE,
	    Q_ACCESS_FILL_FORGET };
	struct sq_access_run *r = &ss->run;
	int late, erased;
	enum store_status rc;
	sqlite3_stmt *s;

	(void)arg;
	if ((rc = sq_access_fill_own(ss, &late, &erased)) != STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_CONFLICT : rc;
	if (late)
		steps[1] = Q_ACCESS_RUN_DROP_LATE;
	for (size_t i = 0; i < 3 && rc == STORE_OK; i++) {
		if ((s = sq_stmt(ss, steps[i])) == NULL)
			return STORE_ERROR;
		sqlite3_bind_int64(s, 1, r->id);
		sqlite3_bind_int64(s, 2, r->bound);
		rc = sq_exec(ss, s, sqlite_sql[steps[i]]);
	}
	return rc;
}

/* This connection's own tables for what its checkpoints read without
 * the lock that the sequencer waits for: a run's rows sorted
 * (access_sorted), a merge chunk's (access_merging). No rollback journal
 * for the temporary file: with secure_delete the clear of a run's 32k
 * rows would journal some 3 MiB, for tables that a failed read clears
 * and fills again anyway. Nothing else is written there. */
static enum store_status
sq_access_temp(struct sqlite_store *ss)
{
	if (sqlite3_exec(ss->adb, "PRAGMA temp.journal_mode = OFF;"
	    "CREATE TEMP TABLE IF NOT EXISTS access_sorted ("
	    SQLITE_ACCESS_COLUMNS ");"
	    "CREATE TEMP TABLE IF NOT EXISTS access_merging ("
	    SQLITE_ACCESS_COLUMNS ")", NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail_on(ss->adb, "access temporary tables");
	return STORE_OK;
}

/* A run due: noted, then its rows, up to its bound, sorted into
 * temp.access_sorted, once. The note commits first: a batch put after
 * it and at or under the bound is seen by the registration, whether or
 * not the sort saw its rows. */
static enum store_status
sq_access_run_start(struct sqlite_store *ss, sqlite3_int64 bound)
{
	struct sq_access_run *r = &ss->run;
	enum store_status rc;
	sqlite3_stmt *s;

	if ((rc = sq_access_transaction(ss, sq_access_fill_new, &bound)) !=
	    STORE_OK)
		return rc;
	if ((rc = sq_access_temp(ss)) != STORE_OK ||
	    (rc = sq_simple(ss, Q_ACCESS_SORT_CLEAR)) != STORE_OK ||
	    (s = sq_stmt(ss, Q_ACCESS_SORT_FILL)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, bound);
	if ((rc = sq_exec(ss, s, "access sort")) != STORE_OK)
		return rc;
	r->open = 1;
	r->next = 1;
	r->rows = sqlite3_changes64(ss->adb);
	r->bound = bound;
	return STORE_OK;
}

/* Deletes a chunk of the rows of access_recent that registered runs
 * hold, which readers no longer read; *deleted how many. */
static enum store_status
sq_access_drain(struct sqlite_store *ss, void *arg)
{
	sqlite3_int64 *deleted = arg;
	sqlite3_stmt *s = sq_stmt(ss, Q_ACCESS_DRAIN);
	enum store_status rc;

	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(s, 1, SQLITE_ACCESS_CHUNK_ROWS);
	if ((rc = sq_exec(ss, s, "access drain")) == STORE_OK)
		*deleted = sqlite3_changes64(ss->adb);
	return rc;
}

/* Deletes the next chunk of the rows registered runs hold, or copies
 * the next chunk of the run in progress, or registers it once whole,
 * or starts a new one once access_recent spans enough indexes; *done
 * once nothing is left to delete and no run is due. The read that finds
 * a run due takes no lock: most calls find too few rows. */
static enum store_status
sq_access_chunk(struct sqlite_store *ss, int *done)
{
	struct sq_access_run *r = &ss->run;
	sqlite3_int64 bound, deleted;
	enum store_status rc;

	*done = 1;
	if (!r->drained) {
		rc = sq_access_transaction(ss, sq_access_drain, &deleted);
		if (rc != STORE_OK)
			return rc;
		if (deleted > 0) {
			*done = 0;
			return STORE_OK;
		}
		r->drained = 1;
	}
	if (!r->open) {
		if ((rc = sq_access_run_bound(ss, &bound)) != STORE_OK)
			return rc == STORE_NOT_FOUND ? STORE_OK : rc;
		if ((rc = sq_access_run_start(ss, bound)) != STORE_OK)
			return rc;
	}
	if (r->next <= r->rows) {
		rc = sq_access_transaction(ss, sq_access_run_fill, NULL);
		if (rc == STORE_CONFLICT) {   /* made again at the next call */
			r->open = 0;
			return STORE_OK;
		}
		if (rc != STORE_OK)
			return rc;
		r->next += SQLITE_ACCESS_CHUNK_ROWS;
		*done = 0;
		return STORE_OK;
	}
	rc = sq_access_transaction(ss, sq_access_run_register, NULL);
	if (rc == STORE_OK || rc == STORE_CONFLICT)
		r->open = 0;
	if (rc == STORE_OK) {
		r->drained = 0;
		*done = 0;
	}
	return rc;
}

/* Off the request paths (the checkpointer's thread): a run due is
 * copied whole, a chunk per transaction, with a pause between two for
 * the sequencer's batches that waited for the access file's lock, then
 * registered, and its rows leave access_recent, a chunk per transaction
 * too. After a failure the next checkpoint goes on where it stopped; a
 * crash before the registration leaves the rows in access_recent, and
 * the next run, made again, drops the copy; one after it leaves rows
 * for the next start's checkpoint to delete. */
static enum store_status
sq_access_settle(struct sqlite_store *ss)
{
	struct timespec pause = { 0, SQLITE_ACCESS_CHUNK_PAUSE_US * 1000L };
	enum store_status rc;
	int done;

	while ((rc = sq_access_chunk(ss, &done)) == STORE_OK && !done)
		nanosleep(&pause, NULL);
	return rc;
}

/* Starts the merge of the oldest runs of the lowest level that holds
 * SQLITE_ACCESS_MERGE_RUNS of them; none is open if no level does. */
static enum store_status
sq_access_merge_start(struct sqlite_store *ss)
{
	struct sq_access_merge *m = &ss->merge;
	enum store_status rc;
	sqlite3_stmt *s;
	int n = 0, step;

	if ((s = sq_stmt(ss, Q_ACCESS_MERGE_DUE)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(s, 1, SQLITE_ACCESS_MERGE_RUNS);
	sqlite3_bind_int64(s, 2, sq_access_level(1));
	*m = (struct sq_access_merge){ 0 };
	if ((rc = sq_row(ss, s, "access merge due")) == STORE_OK)
		m->level = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (rc != STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_OK : rc;
	if ((s = sq_stmt(ss, Q_ACCESS_MERGE_RUNS)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, sq_access_level(m->level));
	sqlite3_bind_int64(s, 2, sq_access_level(m->level + 1));
	sqlite3_bind_int(s, 3, SQLITE_ACCESS_MERGE_RUNS);
	while ((step = sqlite3_step(s)) == SQLITE_ROW &&
	    n < SQLITE_ACCESS_MERGE_RUNS)
		m->runs[n++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (step != SQLITE_DONE || n != SQLITE_ACCESS_MERGE_RUNS)
		return sq_fail_on(ss->adb, "access merge runs");
	if ((rc = sq_access_temp(ss)) != STORE_OK)
		return rc;
	m->open = 1;
	return STORE_OK;
}

/* A chunk of a merge: the rows up to key (subject, index), or the rest
 * (last); rows of them read into temp.access_merging. */
struct sq_access_merge_chunk {
	char subject[STORE_SUBJECT_LEN];
	sqlite3_int64 index;
	int last;
	sqlite3_int64 rows;
};

/* The key the next chunk goes up to, SQLITE_ACCESS_MERGE_CHUNK_ROWS
 * rows on in the merge's runs; the rest once they hold no more. Read
 * without the lock: a merge's runs change under no one else but an
 * erasure, whose rows this bound then merely spans. */
static enum store_status
sq_access_merge_bound(struct sqlite_store *ss, struct sq_access_merge_chunk *c)
{
	struct sq_access_merge *m = &ss->merge;
	enum store_status rc;
	sqlite3_stmt *s;

	if ((s = sq_stmt(ss, Q_ACCESS_MERGE_BOUND)) == NULL)
		return STORE_ERROR;
	for (int i = 0; i < SQLITE_ACCESS_MERGE_RUNS; i++)
		sqlite3_bind_int64(s, i + 1, m->runs[i]);
	sqlite3_bind_int(s, SQLITE_ACCESS_MERGE_RUNS + 1,
	    SQLITE_ACCESS_MERGE_CHUNK_ROWS - 1);
	c->last = 0;
	if ((rc = sq_row(ss, s, "access merge bound")) == STORE_NOT_FOUND) {
		c->last = 1;
		rc = STORE_OK;
	} else if (rc == STORE_OK) {
		c->index = sqlite3_column_int64(s, 1);
		if (sq_copy_subject(sqlite3_column_text(s, 0), c->subject) != 0)
			rc = sq_fail_on(ss->adb, "access merge bound");
	}
	sqlite3_reset(s);
	return rc;
}

/* Binds a merge chunk's statement: ?1 the new run, ?2 and ?3 the
 * first and last of the runs merged, ?4 and ?5 the chunk's key, those
 * of them that s takes. */
static void
sq_access_merge_bind(struct sqlite_store *ss, sqlite3_stmt *s,
    const struct sq_access_merge_chunk *c)
{
	struct sq_access_merge *m = &ss->merge;
	int params = sqlite3_bind_parameter_count(s);

	sqlite3_bind_int64(s, 1, m->into);
	if (params < 3)
		return;
	sqlite3_bind_int64(s, 2, m->runs[0]);
	sqlite3_bind_int64(s, 3, m->runs[SQLITE_ACCESS_MERGE_RUNS - 1]);
	if (params < 5)
		return;
	sq_bind_text(s, 4, c->subject);
	sqlite3_bind_int64(s, 5, c->index);
}

/* Reads a chunk's rows from the merge's runs, in the key's order, into
 * temp.access_merging, without the lock: the chunk's transaction then
 * copies them from there alone. Read in the transaction, they held the
 * lock 0.41 of the 0.5 ms a chunk took on the small store. */
static enum store_status
sq_access_merge_read(struct sqlite_store *ss, struct sq_access_merge_chunk *c)
{
	enum store_status rc;
	sqlite3_stmt *s;

	if ((rc = sq_simple(ss, Q_ACCESS_MERGE_CLEAR)) != STORE_OK)
		return rc;
	if ((s = sq_stmt(ss, c->last ? Q_ACCESS_MERGE_READ_REST :
	    Q_ACCESS_MERGE_READ)) == NULL)
		return STORE_ERROR;
	sq_access_merge_bind(ss, s, c);
	if ((rc = sq_exec(ss, s, "access merge read")) == STORE_OK)
		c->rows = sqlite3_changes64(ss->adb);
	return rc;
}

/* Moves a chunk of the merge from its runs into the one they make, in
 * one transaction: a crash between two leaves every row in exactly one
 * run, the merged rows in the new one, the rest where they were, which
 * a later merge takes (not in the same one: that goes unsaved). Only an
 * erasure deletes from the runs merged, and nothing else adds to them:
 * a delete that finds other rows than the read found means that one
 * took some since, which the copy must not bring back (STORE_CONFLICT,
 * rolled back, for the chunk to be read again). */
static enum store_status
sq_access_merge_fill(struct sqlite_store *ss, void *arg)
{
	/* The drop second in both, its rows counted. */
	static const enum sqlite_stmt upto[] = { Q_ACCESS_MERGE_COPY,
		Q_ACCESS_MERGE_DROP },
	    rest[] = { Q_ACCESS_MERGE_COPY, Q_ACCESS_MERGE_DROP_REST,
		Q_ACCESS_MERGE_FORGET };
	struct sq_access_merge *m = &ss->merge;
	const struct sq_access_merge_chunk *c = arg;
	const enum sqlite_stmt *steps = c->last ? rest : upto;
	size_t nsteps = c->last ? 3 : 2;
	enum store_status rc = STORE_OK;

	if (m->into == 0 &&
	    (rc = sq_access_run_new(ss, m->level + 1, &m->into)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < nsteps && rc == STORE_OK; i++) {
		sqlite3_stmt *s = sq_stmt(ss, steps[i]);

		if (s == NULL)
			return STORE_ERROR;
		sq_access_merge_bind(ss, s, c);
		rc = sq_exec(ss, s, sqlite_sql[steps[i]]);
		if (rc == STORE_OK && i == 1 &&
		    sqlite3_changes64(ss->adb) != c->rows)
			rc = STORE_CONFLICT;
	}
	return rc;
}

/* Merges runs, SQLITE_ACCESS_MERGE_RUNS of one level into one of the
 * next, at most SQLITE_ACCESS_MERGE_CHUNKS chunks per call, each its
 * own transaction with a pause before the next for the sequencer's
 * batches that waited, as a run's move does. Readers find each row in
 * one run throughout (sq_access_merge_fill). */
static enum store_status
sq_access_merge(struct sqlite_store *ss)
{
	struct timespec pause = { 0, SQLITE_ACCESS_CHUNK_PAUSE_US * 1000L };
	struct sq_access_merge *m = &ss->merge;
	struct sq_access_merge_chunk c;
	enum store_status rc;

	for (int i = 0; i < SQLITE_ACCESS_MERGE_CHUNKS; i++) {
		sqlite3_int64 into;

		if (!m->open && ((rc = sq_access_merge_start(ss)) != STORE_OK ||
		    !m->open))
			return rc;
		if (i > 0)
			nanosleep(&pause, NULL);
		if ((rc = sq_access_merge_bound(ss, &c)) != STORE_OK ||
		    (rc = sq_access_merge_read(ss, &c)) != STORE_OK)
			return rc;
		into = m->into;
		rc = sq_access_transaction(ss, sq_access_merge_fill, &c);
		if (rc != STORE_OK)
			m->into = into;   /* rolled back with its run's id */
		if (rc == STORE_CONFLICT)
			continue;
		if (rc != STORE_OK)
			return rc;
		if (c.last) {
			m->open = 0;
			/* Not left there until the next merge: an erasure
			 * would not reach them. */
			if ((rc = sq_simple(ss, Q_ACCESS_MERGE_CLEAR)) != STORE_OK)
				return rc;
		}
	}
	return STORE_OK;
}

/* PASSIVE: copies what no reader still needs, waiting for no one, so a
 * thread may run it as often as it likes without holding anyone up.
 * First the access index's newest rows, once there are enough of them,
 * go into a run of their own, whose pages this checkpoint then copies. */
static enum store_status
sq_checkpoint(struct store *st)
{
	struct sqlite_store *ss = sq(st);
	enum store_status status = sq_access_settle(ss);

	/* A run half moved stays level 0's newest, not merged meanwhile. */
	if (status == STORE_OK && !ss->run.open)
		status = sq_access_merge(ss);

	for (int i = 0; i < 2; i++) {
		sqlite3 *db = i == 0 ? ss->db : ss->adb;
		int rc = sqlite3_wal_checkpoint_v2(db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

		/* Another checkpoint (a compaction, a commit past the inline
		 * threshold) is running: it does the work. */
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
			if (status == STORE_OK)
				status = STORE_CONFLICT;
		} else if (rc != SQLITE_OK)
			return sq_fail_on(db, "checkpoint");
	}
	return status;
}

struct sq_unlink {
	const char *service, *local_id;
	int64_t now_ms;
	char *subject;
};

static enum store_status
sq_link_delete_rows(struct sqlite_store *ss, void *arg)
{
	struct sq_unlink *u = arg;
	sqlite3_stmt *s;
	enum store_status rc;

	if ((rc = sq_link_subject(&ss->base, u->service, u->local_id,
	    u->subject, NULL)) != STORE_OK)
		return rc;
	if ((s = sq_stmt(ss, Q_LINK_DELETE)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, u->service);
	sq_bind_text(s, 2, u->local_id);
	if ((rc = sq_exec(ss, s, "link delete")) != STORE_OK)
		return rc;
	if ((s = sq_stmt(ss, Q_CONSENT_REVOKE_PARTY)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, u->subject);
	sq_bind_text(s, 2, u->service);
	sqlite3_bind_int64(s, 3, u->now_ms);
	if ((rc = sq_exec(ss, s, "consent revoke for an unlink")) != STORE_OK)
		return rc;
	/* A mediator that no longer knows the citizen holds no mandate. */
	if ((s = sq_stmt(ss, Q_MANDATE_REVOKE_MEDIATOR)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, u->subject);
	sq_bind_text(s, 2, u->service);
	sqlite3_bind_int64(s, 3, u->now_ms);
	return sq_exec(ss, s, "mandate revoke for an unlink");
}

static enum store_status
sq_link_delete(struct store *st, const char *service, const char *local_id,
    int64_t now_ms, char *subject)
{
	struct sq_unlink u = { service, local_id, now_ms, subject };

	return sq_durable(sq(st), sq_link_delete_rows, &u);
}

static enum store_status
sq_audit_head_get(struct store *st, const char *origin, uint64_t *size,
    unsigned char *root)
{
	struct sqlite_store *ss = sq(st);
	enum store_status rc;
	sqlite3_stmt *s;

	if ((s = sq_stmt(ss, Q_AUDIT_HEAD_GET)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, origin);
	rc = sq_row(ss, s, "audit head get");
	if (rc == STORE_OK) {
		if (sqlite3_column_int64(s, 0) < 0 ||
		    sqlite3_column_bytes(s, 1) != STORE_ROOT_LEN) {
			rc = sq_fail(ss, "audit head get: a malformed row");
		} else {
			*size = (uint64_t)sqlite3_column_int64(s, 0);
			memcpy(root, sqlite3_column_blob(s, 1), STORE_ROOT_LEN);
		}
	}
	sqlite3_reset(s);
	return rc;
}

static enum store_status
sq_audit_head_put(struct store *st, const char *origin, uint64_t size,
    const unsigned char *root)
{
	struct sqlite_store *ss = sq(st);
	sqlite3_stmt *s;

	if (size > INT64_MAX || (s = sq_stmt(ss, Q_AUDIT_HEAD_PUT)) == NULL)
		return STORE_ERROR;
	sq_bind_text(s, 1, origin);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_blob(s, 3, root, STORE_ROOT_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, clock_now_ms());
	return sq_exec(ss, s, "audit head put");
}

/* SQLite's online backup of the database of connection src, in one
 * step: it reads one snapshot of it (WAL lets writers go on meanwhile)
 * into a new private file. */
static enum store_status
sq_backup_one(sqlite3 *src, const char *path, char *err, size_t errlen)
{
	sqlite3_backup *b;
	sqlite3 *dst = NULL;
	int fd, rc;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return STORE_ERROR;
	}
	close(fd);
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		if ((b = sqlite3_backup_init(dst, "main", src, "main")) != NULL) {
			for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) ==
			    SQLITE_BUSY && sq_busy(NULL, tries); tries++)
				;
			sqlite3_backup_finish(b);
		}
		rc = sqlite3_errcode(dst);
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		snprintf(err, errlen, "%s: %s", path, dst ? sqlite3_errmsg(dst) :
		    "out of memory");
	sqlite3_close(dst);
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		unlink(path);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* The store's file to path, then the access file next to it (path with
 * SQLITE_ACCESS_SUFFIX), as a gateway opens them. In this order an
 * erasure that runs between the two copies either is not in the first
 * (the second may lack the rows it erased) or is, noted until the second
 * lost them, or noted in the copy and finished when it is opened: the
 * copies never hold access rows of a subject erased in the first. */
static enum store_status
sq_backup(struct store *st, const char *path, char *err, size_t errlen)
{
	struct sqlite_store *ss = sq(st);
	char access[SQLITE_FILE_MAX];
	enum store_status rc;
	int n;

	n = snprintf(access, sizeof(access), "%s" SQLITE_ACCESS_SUFFIX, path);
	if (n < 0 || (size_t)n >= sizeof(access)) {
		snprintf(err, errlen, "%s: name too long", path);
		return STORE_ERROR;
	}
	if ((rc = sq_backup_one(ss->db, path, err, errlen)) != STORE_OK)
		return rc;
	if ((rc = sq_backup_one(ss->adb, access, err, errlen)) != STORE_OK)
		unlink(path);
	return rc;
}

static const struct store_ops sqlite_ops = {
	/* A file only the serving process opens. */
	.cacheable = 1,
	.one_writer = 1,
	.close = sq_close,
	.ping = sq_ping,
	.link_put = sq_link_put,
	.link_subject = sq_link_subject,
	.view_key_get = sq_view_key_get,
	.view_key_erase = sq_view_key_erase,
	.link_local_id = sq_link_local_id,
	.link_local_ids = sq_link_local_ids,
	.link_subject_facts = sq_link_subject_facts,
	.subject_linked = sq_subject_linked,
	.consent_insert = sq_consent_insert,
	.consent_get = sq_consent_get,
	.consent_revoke = sq_consent_revoke,
	.consent_find = sq_consent_find,
	.consent_list_for = sq_consent_list_for,
	.objection_insert = sq_objection_insert,
	.objection_find = sq_objection_find,
	.objection_match = sq_objection_match,
	.mandate_insert = sq_mandate_insert,
	.mandate_get = sq_mandate_get,
	.mandate_revoke = sq_mandate_revoke,
	.mandate_find = sq_mandate_find,
	.access_put = sq_access_put,
	.access_mandate = sq_access_mandate,
	.access_list = sq_access_list,
	.batch_begin = sq_batch_begin,
	.batch_end = sq_batch_end,
	.record_accept = sq_record_accept,
	.push_audited = sq_push_audited,
	.poll_cursor = sq_poll_cursor,
	.change_list = sq_change_list,
	.delivery_recover = sq_delivery_recover,
	.delivery_take = sq_delivery_take,
	.delivery_finish = sq_delivery_finish,
	.delivery_list = sq_delivery_list,
	.delivery_retry = sq_delivery_retry,
	.purge = sq_purge,
	.purge_backlog = sq_purge_backlog,
	.erase_subject = sq_erase_subject,
	.compact = sq_compact,
	.checkpoint = sq_checkpoint,
	.link_delete = sq_link_delete,
	.outbox_counts = sq_outbox_counts,
	.audit_head_get = sq_audit_head_get,
	.audit_head_put = sq_audit_head_put,
	.backup = sq_backup,
};
