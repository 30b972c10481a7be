/* store_pg.c — the PostgreSQL backend of store.h, on libpq.
 *
 * One connection per thread, as for SQLite: a worker runs one store call
 * at a time and waits for it, so a pool would only hold idle connections.
 * Every statement is prepared once per connection (on first use, again
 * after a reconnect) and takes its values as parameters; none is built
 * from values. Writes that span several statements run in BEGIN ...
 * COMMIT. The accept transaction needs no pragma to be durable: with
 * synchronous_commit at its default (on), COMMIT returns once the WAL is
 * flushed, on the standbys too when synchronous_standby_names asks for it.
 *
 * A PostgreSQL that fails must cost a request a 503, never a hung worker:
 * the connection has a connect timeout, TCP keepalives and a user timeout,
 * and every statement a statement_timeout (defaults that the URL may
 * override). A server that stops answering altogether (frozen, or its
 * machine gone while the kernel still holds the socket) enforces none of
 * those, so each call also has a deadline of its own, PG_CALL_MS, past
 * which its session is dropped. A broken connection is reset on the next
 * call, at most every PG_RECONNECT_MS, so the gateway recovers by itself
 * when the server is back.
 *
 * Errors are logged as SQLSTATE and primary message only, in terse
 * verbosity: the DETAIL of a unique violation would quote the key, and
 * keys are pseudonyms and local ids. */
#include "store_backend.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "encode.h"
#include "log.h"
#include "store_sql.h"

#define PG_RECONNECT_MS 500   /* between two tries while the server is away */
#define PG_CALL_MS 6000       /* a call's deadline: statement timeout, margin */
#define PG_LEASE_MS 8000      /* unless store_outbox_node says otherwise */
#define PG_RECLAIM_MS 1000    /* between two looks for leases that ran out */
#define PG_IDLE_POLL_MS 200   /* between takes when no node said anything */
/* Leases are read against the server's clock, the one clock all nodes
 * share: theirs may drift apart. */
#define PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define PG_INT_LEN 24         /* an int64 in decimal, sign and NUL */
#define PG_SQLSTATE_UNIQUE "23505"
/* The advisory lock namespace of tellonce ("tl"), and its locks. */
#define PG_LOCK_CLASS "29804"
#define PG_LOCK_MIGRATE "pg_advisory_lock(" PG_LOCK_CLASS ", 1)"
#define PG_UNLOCK_MIGRATE "pg_advisory_unlock(" PG_LOCK_CLASS ", 1)"
#define PG_LOCK_RECORDS "pg_advisory_xact_lock(" PG_LOCK_CLASS ", 2)"
/* Held by the session of the one audit integrator (store_audit_lead). */
#define PG_LOCK_AUDIT "pg_try_advisory_lock(" PG_LOCK_CLASS ", 3)"

/* Connection settings given before the URL, which may override each.
 * The keepalives and user timeout of libpq are the client's; the server
 * needs its own (those of options) to drop the session of a node whose
 * machine vanished: an idle backend sends nothing, and one whose answer
 * is never acknowledged retransmits for a quarter of an hour, keeping
 * that node's locks (the audit signer's role, the audit log's
 * coordination row that every node's appends wait for) meanwhile. */
static const char *const pg_default_keys[] = {
	"connect_timeout", "keepalives", "keepalives_idle",
	"keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"options", "application_name",
};
static const char *const pg_default_values[] = {
	"3", "1", "5", "2", "2", "5000",
	"-c statement_timeout=5000 -c tcp_keepalives_idle=2"
	" -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3"
	" -c tcp_user_timeout=5000", "tellonce",
};
#define PG_NDEFAULTS (sizeof(pg_default_keys) / sizeof(pg_default_keys[0]))

/* The schema, one step per version, numbered as store_sqlite.c's steps
 * (the same tables in PostgreSQL types): step i brings the version kept in
 * tellonce_schema from i to i + 1 in its own transaction. Append new
 * steps; never edit old ones. */
static const char *const pg_migrations[] = {
	/* 1: consents.seq is the insertion order SQLite's rowid gives. */
	"CREATE TABLE links ("
	"  service TEXT NOT NULL,"
	"  local_id TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL,"
	"  PRIMARY KEY (service, local_id),"
	"  UNIQUE (service, subject)"
	");"
	"CREATE TABLE consents ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY,"
	"  id TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  consumer TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL,"
	"  expires_ms BIGINT NOT NULL DEFAULT 0,"
	"  revoked_ms BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX consents_by_subject ON consents (subject, created_ms);"
	"CREATE TABLE consent_attributes ("
	"  consent_id TEXT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY (consent_id, position),"
	"  UNIQUE (consent_id, name)"
	");"
	"CREATE TABLE objections ("
	"  id TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  consumer TEXT,"
	"  created_ms BIGINT NOT NULL"
	");"
	"CREATE INDEX objections_by_subject ON objections (subject, dataset, purpose);"
	"CREATE TABLE access_index ("
	"  subject TEXT NOT NULL,"
	"  audit_index BIGINT NOT NULL,"
	"  PRIMARY KEY (subject, audit_index)"
	");"
	"CREATE INDEX access_index_by_index ON access_index (audit_index);",
	/* 2: pushed records, the delivery outbox, idempotency keys. The
	 * states of deliveries are enum store_delivery_state. */
	"CREATE TABLE records ("
	"  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  provider TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  version BIGINT NOT NULL,"
	"  record TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL"
	");"
	"CREATE INDEX records_by_dataset ON records (dataset, seq);"
	"CREATE INDEX records_by_subject ON records (subject, dataset, version);"
	"CREATE TABLE push_keys ("
	"  provider TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  request_sha256 TEXT NOT NULL,"
	"  response TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL,"
	"  PRIMARY KEY (provider, key)"
	");"
	"CREATE TABLE deliveries ("
	"  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  record_seq BIGINT NOT NULL REFERENCES records (seq),"
	"  subscriber TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  since_ms BIGINT NOT NULL,"
	"  due_ms BIGINT NOT NULL,"
	"  updated_ms BIGINT NOT NULL,"
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
	"  updated_ms BIGINT NOT NULL"
	");",
	/* 4: the pivot normalisation each subject was derived under
	 * (docs/identity.md): every link before this step was version 1. */
	"ALTER TABLE links"
	"  ADD COLUMN pivot_version INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX links_by_subject ON links (subject, pivot_version);",
	/* 5: retention (contract §6). Records are found by age, and the
	 * deliveries and idempotency keys of a record version by its seq, so
	 * that a purge erases them together; keys stored before this step
	 * name their record in their response. A response that is not JSON
	 * leaves its key unnamed rather than failing the migration: each
	 * row's cast is tried on its own. */
	"CREATE INDEX records_by_age ON records (created_ms);"
	"CREATE INDEX deliveries_by_record ON deliveries (record_seq);"
	"ALTER TABLE push_keys ADD COLUMN record_seq BIGINT;"
	"DO $$ DECLARE k record; BEGIN"
	"  FOR k IN SELECT ctid AS at, response FROM push_keys LOOP"
	"    BEGIN"
	"      UPDATE push_keys SET record_seq = (SELECT seq FROM records"
	"        WHERE id = k.response::jsonb ->> 'id') WHERE ctid = k.at;"
	"    EXCEPTION WHEN invalid_text_representation THEN NULL;"
	"    END;"
	"  END LOOP;"
	"END $$;"
	"CREATE INDEX push_keys_by_record ON push_keys (record_seq);",
	/* 6: each subject's view key (contract §5), random, kept apart from
	 * the links so that erasing it (GDPR art. 17) leaves them be. Subjects
	 * linked before this step get theirs at their next entry. */
	"CREATE TABLE view_keys ("
	"  subject TEXT PRIMARY KEY,"
	"  key BYTEA NOT NULL,"
	"  created_ms BIGINT NOT NULL"
	");",
	/* 7: one row that readiness rewrites, so that /readyz proves the
	 * store can commit, not only that the server answers. */
	"CREATE TABLE health ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  written_ms BIGINT NOT NULL"
	");",
	/* 8: the W3C traceparent of the push that brought a record, so its
	 * deliveries join that trace; NULL before this step and for polled
	 * records. */
	"ALTER TABLE records ADD COLUMN traceparent TEXT;",
	/* 9: the audit entry that covers what was sent or accepted: a
	 * delivery's `deliver` entry, written before the send, with the
	 * payload it names; a push key's `push` entry. */
	"ALTER TABLE deliveries ADD COLUMN audit_index BIGINT;"
	"ALTER TABLE deliveries ADD COLUMN audit_sha256 TEXT;"
	"ALTER TABLE push_keys ADD COLUMN audit_index BIGINT;",
	/* 10: mediators' mandates (contract §8), the consents given under
	 * them, and who acted in each entry made under one. actions holds
	 * STORE_MANDATE_* bits; seq is the insertion order SQLite's rowid
	 * gives. */
	"CREATE TABLE mandates ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY,"
	"  id TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  mediator TEXT NOT NULL,"
	"  helper TEXT NOT NULL,"
	"  actions INTEGER NOT NULL,"
	"  created_ms BIGINT NOT NULL,"
	"  expires_ms BIGINT NOT NULL,"
	"  revoked_ms BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX mandates_by_subject ON mandates "
	"  (subject, mediator, created_ms);"
	"CREATE TABLE mandate_datasets ("
	"  mandate_id TEXT NOT NULL REFERENCES mandates (id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY (mandate_id, position),"
	"  UNIQUE (mandate_id, name)"
	");"
	"ALTER TABLE consents ADD COLUMN mandate TEXT;"
	"ALTER TABLE consents ADD COLUMN mediator TEXT;"
	"ALTER TABLE consents ADD COLUMN helper TEXT;"
	"ALTER TABLE access_index ADD COLUMN mandate TEXT;"
	"ALTER TABLE access_index ADD COLUMN mediator TEXT;"
	"ALTER TABLE access_index ADD COLUMN helper TEXT;",
	/* 11: the last checkpoint signed for each audit log origin, so that
	 * an older copy of the audit directory is refused at start instead
	 * of forking the published log. */
	"CREATE TABLE audit_heads ("
	"  origin TEXT PRIMARY KEY,"
	"  size BIGINT NOT NULL,"
	"  root BYTEA NOT NULL,"
	"  signed_ms BIGINT NOT NULL"
	");",
	/* 12: the node that took a delivery and until when its lease holds
	 * (store.h, store_outbox_node), read by the other nodes' takes. */
	"ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;"
	"ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;"
	"CREATE INDEX deliveries_leased ON deliveries (claimed_by) "
	"  WHERE state = 1;",
	/* 13: one audit log for every node (store.h, "the audit log of
	 * several nodes"): the coordination row, which numbers the entries
	 * and holds the last checkpoint (its root starts as the empty
	 * tree's, SHA-256 of nothing); the entries; the tiles and bundles.
	 * Entries and notes are BYTEA: their bytes are hashed and signed, and
	 * no server encoding may convert them. SQLite's step 13 made its
	 * outbox indexes partial; here the same indexes made bench/push.sh
	 * deliver a fifth as fast (100 deliveries/s against 460-490), so
	 * they stay whole. */
	"CREATE TABLE audit_state ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  next_idx BIGINT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  root BYTEA NOT NULL,"
	"  checkpoint BYTEA"
	");"
	"INSERT INTO audit_state (id, next_idx, size, root) VALUES (1, 0, 0, "
	"  decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',"
	"  'hex'));"
	"CREATE TABLE audit_entries ("
	"  idx BIGINT PRIMARY KEY,"
	"  entry BYTEA NOT NULL"
	");"
	"CREATE TABLE audit_tiles ("
	"  path TEXT PRIMARY KEY,"
	"  data BYTEA NOT NULL"
	");",
	/* 14: SQLite's step 14 replaced its deliveries_by_state with an
	 * index of dead letters only. Here the outbox keeps its whole
	 * indexes (step 13), which count the waiting rows per subscriber;
	 * the step keeps both stores' versions in step. */
	"SELECT 1;",
	/* 15: as SQLite's: no query looks the access index up by entry
	 * alone, and this second index took an insert for every entry. */
	"DROP INDEX IF EXISTS access_index_by_index;",
	/* 16: SQLite's step 16 adds the state to its partial
	 * deliveries_chain. Here that index is whole and holds the state
	 * already (step 2); the step keeps both stores' versions in step. */
	"SELECT 1;",
};

#define PG_SCHEMA_VERSION \
	((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))

enum pg_stmt {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_HEALTH_WRITE,
	Q_LINK_INSERT,
	Q_LINK_SUBJECT,
	Q_LINK_LOCAL_ID,
	Q_SUBJECT_LINKED,
	Q_VIEW_KEY_GET,
	Q_VIEW_KEY_PUT,
	Q_VIEW_KEY_DELETE,
	Q_ACCESS_DELETE,
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
	Q_RECORDS_LOCK,
	Q_PUSH_KEY_GET,
	Q_PUSH_KEY_AUDITED,
	Q_RECORD_STORE,
	Q_CHANGE_LIST,
	Q_DELIVERY_RECLAIM,
	Q_DELIVERY_SUPERSEDE_OLDER,
	Q_DELIVERY_CLAIM,
	Q_DELIVERY_RENEW,
	Q_DELIVERY_FINISH,
	Q_DELIVERY_LIST,
	Q_DELIVERY_GET,
	Q_DELIVERY_NEWER,
	Q_DELIVERY_REQUEUE,
	Q_CURSOR_GET,
	Q_CURSOR_PUT,
	Q_PURGE_DUE,
	Q_PURGE_BACKLOG,
	Q_ERASE_RECORDS_KEYS,
	Q_ERASE_RECORDS_DELIVERIES,
	Q_ERASE_RECORDS,
	Q_ERASE_SUBJECT_KEYS,
	Q_ERASE_SUBJECT_DELIVERIES,
	Q_ERASE_SUBJECT_RECORDS,
	Q_LINK_DELETE,
	Q_CONSENT_REVOKE_PARTY,
	Q_OUTBOX_COUNTS,
	Q_OUTBOX_LISTEN,
	Q_OUTBOX_NOTIFY,
	Q_AUDIT_HEAD_GET,
	Q_AUDIT_HEAD_PUT,
	Q_AUDIT_APPEND,
	Q_AUDIT_STATE,
	Q_AUDIT_ENTRIES,
	Q_AUDIT_TILE,
	Q_AUDIT_TILES_PUT,
	Q_AUDIT_PARTIALS_DROP,
	Q_AUDIT_PUBLISH,
	Q_AUDIT_DROP,
	Q_AUDIT_LEAD,
	Q_COUNT
};

/* The record versions due for erasure (store.h, struct store_purge), as
 * the FROM and WHERE of a select over them: $1 now, $2 the default
 * retention, $3 the shortest (which lets the age index narrow the scan),
 * $4 and $5 the datasets and retentions of the rules, as two arrays. */
#define PG_PURGE_DUE " FROM records r LEFT JOIN unnest($4::text[], " \
	"$5::bigint[]) AS u (dataset, ms) ON u.dataset = r.dataset " \
	"WHERE r.created_ms <= $1::bigint - $3::bigint " \
	"AND r.created_ms <= $1::bigint - coalesce(u.ms, $2::bigint)"

/* The same statements as store_sqlite.c's, in PostgreSQL's dialect. A
 * parameter only tested for NULL gets a cast: the server cannot infer its
 * type from that. */
static const char *const pg_sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	/* A standby refuses it as a read-only transaction: readiness fails
	 * on a node whose URL leads to a server that is not the primary. */
	[Q_HEALTH_WRITE] = "INSERT INTO health (id, written_ms) VALUES (1, $1) "
	    "ON CONFLICT (id) DO UPDATE SET written_ms = excluded.written_ms",
	[Q_LINK_INSERT] = "INSERT INTO links (service, local_id, subject, "
	    "created_ms, pivot_version) VALUES ($1, $2, $3, $4, $5) "
	    "ON CONFLICT DO NOTHING",
	[Q_LINK_SUBJECT] = "SELECT l.subject, v.key FROM links l "
	    "LEFT JOIN view_keys v ON v.subject = l.subject "
	    "WHERE l.service = $1 AND l.local_id = $2",
	[Q_LINK_LOCAL_ID] = "SELECT local_id FROM links "
	    "WHERE service = $1 AND subject = $2",
	[Q_SUBJECT_LINKED] = "SELECT 1 FROM links "
	    "WHERE subject = $1 AND pivot_version = $2 LIMIT 1",
	[Q_VIEW_KEY_GET] = "SELECT key FROM view_keys WHERE subject = $1",
	[Q_VIEW_KEY_PUT] = "INSERT INTO view_keys (subject, key, created_ms) "
	    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
	[Q_VIEW_KEY_DELETE] = "DELETE FROM view_keys WHERE subject = $1",
	[Q_ACCESS_DELETE] = "DELETE FROM access_index WHERE subject = $1",
	[Q_CONSENT_INSERT] = "INSERT INTO consents (" CONSENT_COLUMNS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
	[Q_CONSENT_ATTR_INSERT] = "INSERT INTO consent_attributes "
	    "(consent_id, position, name) VALUES ($1, $2, $3)",
	[Q_CONSENT_GET] = "SELECT " CONSENT_COLUMNS " FROM consents WHERE id = $1",
	[Q_CONSENT_ATTRS] = "SELECT name FROM consent_attributes "
	    "WHERE consent_id = $1 ORDER BY position",
	[Q_CONSENT_REVOKE] = "UPDATE consents SET revoked_ms = $2 "
	    "WHERE id = $1 AND revoked_ms = 0",
	[Q_CONSENT_EXISTS] = "SELECT 1 FROM consents WHERE id = $1",
	[Q_CONSENT_FIND] = "SELECT " CONSENT_COLUMNS " FROM consents "
	    "WHERE subject = $1 AND ($2::text IS NULL OR consumer = $2) "
	    "AND ($3::text IS NULL OR provider = $3) "
	    "AND ($4::text IS NULL OR dataset = $4) "
	    "ORDER BY created_ms DESC, seq DESC",
	[Q_CONSENT_LIST_FOR] = "SELECT " CONSENT_COLUMNS " FROM consents "
	    "WHERE subject = $1 AND (consumer = $2 OR provider = $2 "
	    "OR mediator = $2) ORDER BY created_ms DESC, seq DESC",
	[Q_OBJECTION_INSERT] = "INSERT INTO objections (id, subject, dataset, "
	    "purpose, consumer, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
	[Q_OBJECTION_FIND] = "SELECT id FROM objections WHERE subject = $1 "
	    "AND dataset = $2 AND purpose = $3 "
	    "AND consumer IS NOT DISTINCT FROM $4 LIMIT 1",
	[Q_OBJECTION_MATCH] = "SELECT 1 FROM objections WHERE subject = $1 "
	    "AND dataset = $2 AND purpose = $3 "
	    "AND (consumer IS NULL OR consumer = $4) LIMIT 1",
	[Q_MANDATE_INSERT] = "INSERT INTO mandates (" MANDATE_COLUMNS ") "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	[Q_MANDATE_DATASET_INSERT] = "INSERT INTO mandate_datasets "
	    "(mandate_id, position, name) VALUES ($1, $2, $3)",
	[Q_MANDATE_GET] = "SELECT " MANDATE_COLUMNS " FROM mandates WHERE id = $1",
	[Q_MANDATE_DATASETS] = "SELECT name FROM mandate_datasets "
	    "WHERE mandate_id = $1 ORDER BY position",
	[Q_MANDATE_REVOKE] = "UPDATE mandates SET revoked_ms = $2 "
	    "WHERE id = $1 AND revoked_ms = 0",
	[Q_MANDATE_EXISTS] = "SELECT 1 FROM mandates WHERE id = $1",
	[Q_MANDATE_FIND] = "SELECT " MANDATE_COLUMNS " FROM mandates "
	    "WHERE subject = $1 AND mediator = $2 "
	    "ORDER BY created_ms DESC, seq DESC",
	[Q_MANDATE_REVOKE_MEDIATOR] = "UPDATE mandates SET revoked_ms = $3 "
	    "WHERE subject = $1 AND mediator = $2 AND revoked_ms = 0",
	[Q_ACCESS_PUT] = "INSERT INTO access_index (subject, audit_index, "
	    "mandate, mediator, helper) VALUES ($1, $2, $3, $4, $5) "
	    "ON CONFLICT DO NOTHING",
	[Q_ACCESS_MANDATE] = "SELECT mediator, helper FROM access_index "
	    "WHERE subject = $1 AND audit_index = $2 AND mediator IS NOT NULL",
	[Q_ACCESS_LIST] = "SELECT audit_index FROM access_index "
	    "WHERE subject = $1 AND audit_index < $2 "
	    "ORDER BY audit_index DESC LIMIT $3",
	/* Accepts run one at a time: a record's seq then follows commit
	 * order, so the changes feed read after a seq never skips a record
	 * committed later under a lower one, and versions count right. */
	[Q_RECORDS_LOCK] = "SELECT " PG_LOCK_RECORDS,
	[Q_PUSH_KEY_GET] = "SELECT request_sha256, response, "
	    "audit_index IS NOT NULL FROM push_keys "
	    "WHERE provider = $1 AND key = $2",
	[Q_PUSH_KEY_AUDITED] = "UPDATE push_keys SET audit_index = $3 "
	    "WHERE provider = $1 AND key = $2",
	/* One push in one statement (a round trip, not one per subscriber):
	 * the record version, its deliveries ($8 subscribers, $9 their new
	 * ids) superseding the pending ones of the same chains, and its
	 * idempotency key ($10, NULL: none). The CTEs share one snapshot, so
	 * the update never sees the rows this statement inserts. */
	[Q_RECORD_STORE] = "WITH rec AS (INSERT INTO records (id, provider, "
	    "subject, dataset, version, record, created_ms, traceparent) "
	    "VALUES ($1, $2, $3, $4, (SELECT coalesce(max(version), 0) + 1 "
	    "FROM records WHERE subject = $3 AND dataset = $4), $5, $6, $7) "
	    "RETURNING seq), "
	    "superseded AS (UPDATE deliveries SET state = 4, updated_ms = $6 "
	    "WHERE subscriber = ANY ($8::text[]) AND subject = $3 "
	    "AND dataset = $4 AND state = 0), "
	    "queued AS (INSERT INTO deliveries (id, record_seq, subscriber, "
	    "subject, dataset, state, attempts, since_ms, due_ms, updated_ms) "
	    "SELECT u.id, rec.seq, u.subscriber, $3, $4, 0, 0, $6, $6, $6 "
	    "FROM rec, unnest($8::text[], $9::text[]) AS u (subscriber, id)), "
	    "keyed AS (INSERT INTO push_keys (provider, key, request_sha256, "
	    "response, created_ms, record_seq) SELECT $2, $10::text, "
	    "$11::text, $12::text, $6, rec.seq FROM rec "
	    "WHERE $10::text IS NOT NULL) "
	    "SELECT seq FROM rec",
	[Q_CHANGE_LIST] = "SELECT " RECORD_COLUMNS " FROM records r "
	    RECORD_VIEW_KEY
	    "WHERE r.dataset = $1 AND r.seq > $2 ORDER BY r.seq LIMIT $3",
	/* Sending, with a lease run out or none (taken before step 10), or
	 * taken by node $1 (NULL: none) before it restarted. */
	[Q_DELIVERY_RECLAIM] = "UPDATE deliveries SET state = 0, "
	    "claimed_by = NULL, lease_until = NULL WHERE state = 1 AND "
	    "(lease_until IS NULL OR lease_until < " PG_NOW_MS " OR "
	    "claimed_by = $1::text)",
	[Q_DELIVERY_SUPERSEDE_OLDER] = "UPDATE deliveries SET state = 4 "
	    "WHERE state = 0 AND EXISTS (SELECT 1 FROM deliveries n WHERE "
	    DELIVERY_SAME_CHAIN("n", "deliveries") " AND n.state = 0 "
	    "AND n.seq > deliveries.seq)",
	/* One statement finds, locks and marks: rows another node is taking
	 * are skipped, not waited for. A chain has at most one pending row
	 * (accepts, outcomes and reclaims supersede the older), and the one
	 * row is locked by one node, so no two nodes take one chain. */
	[Q_DELIVERY_CLAIM] = "WITH due AS (SELECT d.seq FROM deliveries d "
	    "WHERE d.subscriber = $1 AND d.state = 0 AND d.due_ms <= $2 "
	    "AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE "
	    DELIVERY_SAME_CHAIN("s", "d") " AND s.state = 1) "
	    "ORDER BY d.due_ms, d.seq LIMIT $3 FOR UPDATE SKIP LOCKED), "
	    "claimed AS (UPDATE deliveries SET state = 1, updated_ms = $2, "
	    "claimed_by = $4, lease_until = " PG_NOW_MS " + $5::bigint "
	    "FROM due WHERE deliveries.seq = due.seq RETURNING deliveries.*) "
	    "SELECT " DELIVERY_COLUMNS " FROM claimed d JOIN records r "
	    "ON r.seq = d.record_seq " RECORD_VIEW_KEY
	    "ORDER BY d.due_ms, d.seq",
	[Q_DELIVERY_RENEW] = "UPDATE deliveries SET lease_until = " PG_NOW_MS
	    " + $2::bigint WHERE claimed_by = $1 AND state = 1",
	[Q_DELIVERY_FINISH] = "UPDATE deliveries SET state = CASE "
	    "WHEN $2::integer = 0 AND EXISTS (SELECT 1 FROM deliveries n WHERE "
	    DELIVERY_SAME_CHAIN("n", "deliveries") " AND n.seq > deliveries.seq "
	    "AND n.state IN " DELIVERY_LIVE ") THEN 4 ELSE $2::integer END, "
	    "attempts = $3, due_ms = $4, last_error = $5, updated_ms = $6, "
	    "audit_index = $7, audit_sha256 = $8, claimed_by = NULL, "
	    "lease_until = NULL WHERE seq = $1::bigint AND state = 1 "
	    "AND claimed_by = $9",
	[Q_DELIVERY_LIST] = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
	    "WHERE d.state = $1 AND d.seq > $2 ORDER BY d.seq LIMIT $3",
	[Q_DELIVERY_GET] = "SELECT " DELIVERY_COLUMNS DELIVERY_FROM
	    "WHERE d.id = $1",
	[Q_DELIVERY_NEWER] = "SELECT 1 FROM deliveries d, deliveries n "
	    "WHERE d.id = $1 AND " DELIVERY_SAME_CHAIN("n", "d")
	    " AND n.seq > d.seq AND n.state IN " DELIVERY_LIVE " LIMIT 1",
	[Q_DELIVERY_REQUEUE] = "UPDATE deliveries SET state = 0, attempts = 0, "
	    "since_ms = $2, due_ms = $2, updated_ms = $2, last_error = NULL "
	    "WHERE id = $1 AND state = 3",
	[Q_CURSOR_GET] = "SELECT cursor FROM poll_cursors WHERE service = $1",
	[Q_CURSOR_PUT] = "INSERT INTO poll_cursors (service, cursor, updated_ms) "
	    "VALUES ($1, $2, $3) ON CONFLICT (service) DO UPDATE SET "
	    "cursor = excluded.cursor, updated_ms = excluded.updated_ms",
	[Q_PURGE_DUE] = "SELECT r.seq" PG_PURGE_DUE " AND (r.created_ms <= "
	    "$1::bigint - 2 * coalesce(u.ms, $2::bigint) OR NOT EXISTS (SELECT 1 FROM "
	    "deliveries d WHERE d.record_seq = r.seq AND d.state IN (0, 1))) "
	    "ORDER BY r.created_ms, r.seq LIMIT $6",
	[Q_PURGE_BACKLOG] = "SELECT count(*) + coalesce(sum((SELECT count(*) "
	    "FROM deliveries d WHERE d.record_seq = r.seq)), 0)" PG_PURGE_DUE,
	[Q_ERASE_RECORDS_KEYS] = "DELETE FROM push_keys "
	    "WHERE record_seq = ANY ($1::bigint[])",
	[Q_ERASE_RECORDS_DELIVERIES] = "DELETE FROM deliveries "
	    "WHERE record_seq = ANY ($1::bigint[])",
	[Q_ERASE_RECORDS] = "DELETE FROM records WHERE seq = ANY ($1::bigint[])",
	[Q_ERASE_SUBJECT_KEYS] = "DELETE FROM push_keys WHERE record_seq IN "
	    "(SELECT seq FROM records WHERE subject = $1)",
	[Q_ERASE_SUBJECT_DELIVERIES] = "DELETE FROM deliveries WHERE "
	    "record_seq IN (SELECT seq FROM records WHERE subject = $1)",
	[Q_ERASE_SUBJECT_RECORDS] = "DELETE FROM records WHERE subject = $1",
	/* One statement finds and deletes: of two nodes unlinking the same
	 * local id at once, one gets the subject and the other NOT_FOUND. */
	[Q_LINK_DELETE] = "DELETE FROM links WHERE service = $1 "
	    "AND local_id = $2 RETURNING subject",
	[Q_CONSENT_REVOKE_PARTY] = "UPDATE consents SET revoked_ms = $3 "
	    "WHERE subject = $1 AND (consumer = $2 OR provider = $2) "
	    "AND revoked_ms = 0",
	/* Read by deliveries_by_state: only the rows that wait or died, not
	 * the delivered history. */
	[Q_OUTBOX_COUNTS] = "SELECT subscriber, "
	    "count(*) FILTER (WHERE state IN (0, 1)), "
	    "count(*) FILTER (WHERE state = 3) FROM deliveries "
	    "WHERE state IN (0, 1, 3) GROUP BY subscriber",
	/* Every node's delivery worker listens; a commit that queues a
	 * delivery or frees a chain notifies (once per transaction: the
	 * server folds equal notifications), so that idle nodes need not
	 * poll the outbox every few milliseconds. */
	[Q_OUTBOX_LISTEN] = "LISTEN tellonce_outbox",
	[Q_OUTBOX_NOTIFY] = "SELECT pg_notify('tellonce_outbox', '')",
	[Q_AUDIT_HEAD_GET] = "SELECT size, root FROM audit_heads "
	    "WHERE origin = $1",
	[Q_AUDIT_HEAD_PUT] = "INSERT INTO audit_heads (origin, size, root, "
	    "signed_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (origin) DO UPDATE "
	    "SET size = excluded.size, root = excluded.root, "
	    "signed_ms = excluded.signed_ms "
	    "WHERE excluded.size >= audit_heads.size",
	/* One statement, one round trip, for a batch: the coordination row
	 * is held from the UPDATE to the COMMIT, so batches of all nodes
	 * take their indexes one after the other, each once the one before
	 * committed. $1 entries ($2); access rows: subjects ($3), offsets in
	 * the batch ($4), mandate, mediator and helper ($5-$7, "" for none:
	 * an array literal has no NULL of ours). */
	[Q_AUDIT_APPEND] = "WITH s AS (UPDATE audit_state SET next_idx = "
	    "next_idx + $1::bigint WHERE id = 1 "
	    "RETURNING next_idx - $1::bigint AS first), "
	    "e AS (INSERT INTO audit_entries (idx, entry) "
	    "SELECT s.first + u.o - 1, u.e FROM s, "
	    "unnest($2::bytea[]) WITH ORDINALITY AS u (e, o)), "
	    "a AS (INSERT INTO access_index (subject, audit_index, mandate, "
	    "mediator, helper) SELECT u.subject, s.first + u.off, "
	    "nullif(u.mandate, ''), nullif(u.mediator, ''), "
	    "nullif(u.helper, '') FROM s, unnest($3::text[], $4::bigint[], "
	    "$5::text[], $6::text[], $7::text[]) AS u (subject, off, mandate, "
	    "mediator, helper) ON CONFLICT DO NOTHING) "
	    "SELECT first FROM s",
	[Q_AUDIT_STATE] = "SELECT next_idx, size, root, checkpoint "
	    "FROM audit_state WHERE id = 1",
	[Q_AUDIT_ENTRIES] = "SELECT entry, idx FROM audit_entries "
	    "WHERE idx >= $1 ORDER BY idx LIMIT $2",
	[Q_AUDIT_TILE] = "SELECT data FROM audit_tiles WHERE path = $1",
	/* Two integrators write the same bytes under one path: the tree
	 * over the same numbered entries is the same. */
	[Q_AUDIT_TILES_PUT] = "INSERT INTO audit_tiles (path, data) "
	    "SELECT * FROM unnest($1::text[], $2::bytea[]) "
	    "ON CONFLICT (path) DO NOTHING",
	/* Tile paths hold no _ or %: the patterns ("tile/0/001.p/%") match
	 * the partial versions of the full tiles just stored, nothing else. */
	[Q_AUDIT_PARTIALS_DROP] = "DELETE FROM audit_tiles "
	    "WHERE path LIKE ANY ($1::text[])",
	/* The compare-and-set: 0 rows when the last checkpoint stored is
	 * no longer the one the integrator's tree grew from. */
	[Q_AUDIT_PUBLISH] = "UPDATE audit_state SET size = $1, root = $2, "
	    "checkpoint = $3 WHERE id = 1 AND size = $4 AND root = $5",
	[Q_AUDIT_DROP] = "DELETE FROM audit_entries WHERE idx < $1",
	[Q_AUDIT_LEAD] = "SELECT " PG_LOCK_AUDIT,
};

struct pg_store {
	struct store base;      /* first: a struct store * is a pg_store * */
	PGconn *conn;
	unsigned char prepared[Q_COUNT];   /* on this session */
	int64_t retry_ms;       /* no reconnect before this (0: none failed) */
	/* The outbox's leases (store_outbox_node). */
	char node[128];         /* "": a store that takes no deliveries */
	int64_t lease_ms;
	int64_t renew_ms, reclaim_ms;   /* next due, monotonic */
	/* Its notifications (store_outbox_changed): LISTEN is per session. */
	int listening;
	int64_t idle_poll_ms;   /* next take without a notification */
	/* This session holds the audit integrator's lock: a session lock,
	 * gone with the session, so a reconnect clears it. */
	int leading;
};

static const struct store_ops pg_ops;

static struct pg_store *
pg(struct store *st)
{
	return (struct pg_store *)st;
}

/* ---- running statements -------------------------------------------- */

/* An int64 parameter as text, in buf (PG_INT_LEN); returns buf. */
static const char *
pg_int(char buf[PG_INT_LEN], int64_t v)
{
	snprintf(buf, PG_INT_LEN, "%" PRId64, v);
	return buf;
}

/* A text array literal ("{\"a\",\"b\"}") of n values, value(i) each,
 * every element quoted and its quotes and backslashes escaped, for one
 * parameter; malloc'd, caller frees. */
static char *
pg_text_array(size_t n, const char *(*value)(const void *, size_t),
    const void *arg)
{
	size_t len = 3;
	char *out, *o;

	for (size_t i = 0; i < n; i++)
		len += 2 * strlen(value(arg, i)) + 3;
	if ((o = out = malloc(len)) == NULL)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (const char *c = value(arg, i); *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* An int64 array literal ("{1,2}") of n values, value(i) each; malloc'd. */
static char *
pg_int_array(size_t n, int64_t (*value)(const void *, size_t), const void *arg)
{
	size_t len = n * PG_INT_LEN + 3;
	char *out = malloc(len), *o = out;

	if (out == NULL)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		o += snprintf(o, len - (size_t)(o - out), "%s%" PRId64,
		    i > 0 ? "," : "", value(arg, i));
	*o++ = '}';
	*o = '\0';
	return out;
}

static int64_t
pg_get_int(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* The value, malloc'd, or NULL when it is SQL NULL or memory ran out. */
static char *
pg_get_dup(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int
pg_copy_text(const char *text, char *out, size_t len)
{
	size_t n = strlen(text);

	if (n == 0 || n >= len)
		return -1;
	memcpy(out, text, n + 1);
	return 0;
}

static void
pg_log_result(const PGresult *r, const char *what)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	/* A session lost has no fields, only libpq's own message. */
	if (msg == NULL)
		msg = PQresultErrorMessage(r);
	log_ratelimited(LOG_LEVEL_ERROR, "store: postgresql: %.60s: %s %.*s",
	    what, state ? state : "-", (int)strcspn(msg, "\n"), msg);
}

static void
pg_log_conn(struct pg_store *ps, const char *what)
{
	const char *msg = PQerrorMessage(ps->conn);

	log_ratelimited(LOG_LEVEL_ERROR, "store: postgresql: %s: %.*s", what,
	    (int)strcspn(msg, "\n"), msg);
}

/* The result of the command just sent, waited for until PG_CALL_MS from
 * now. A server silent that long loses the session: its socket is shut,
 * which libpq reads as the server closing it, so the call fails now and
 * the next one reconnects. NULL when there is no result. */
static PGresult *
pg_result(struct pg_store *ps)
{
	struct pollfd p = { .fd = PQsocket(ps->conn), .events = POLLIN };
	int64_t left, deadline = clock_mono_ms() + PG_CALL_MS;
	PGresult *r, *last = NULL;

	while (PQisBusy(ps->conn)) {
		if ((left = deadline - clock_mono_ms()) <= 0) {
			log_ratelimited(LOG_LEVEL_ERROR, "store: postgresql: no "
			    "answer in %d ms; dropping the session", PG_CALL_MS);
			shutdown(p.fd, SHUT_RDWR);
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (PQconsumeInput(ps->conn) == 0)
			break;
	}
	/* A command gives one result, then NULL; on a dead session, the
	 * error result then NULL. */
	while ((r = PQgetResult(ps->conn)) != NULL) {
		PQclear(last);
		last = r;
	}
	return last;
}

/* Prepares statement id on this session unless it is already. */
static int
pg_prepare(struct pg_store *ps, enum pg_stmt id)
{
	char name[16];
	PGresult *r;
	int ok;

	if (ps->prepared[id])
		return 0;
	snprintf(name, sizeof(name), "q%d", (int)id);
	if (!PQsendPrepare(ps->conn, name, pg_sql[id], 0, NULL) ||
	    (r = pg_result(ps)) == NULL) {
		pg_log_conn(ps, "prepare");
		return -1;
	}
	if (!(ok = PQresultStatus(r) == PGRES_COMMAND_OK))
		pg_log_result(r, "prepare");
	PQclear(r);
	ps->prepared[id] = (unsigned char)ok;
	return ok ? 0 : -1;
}

/* Runs statement id with n text parameters (NULL: SQL NULL). STORE_OK
 * with *out the result (caller PQclears; out may be NULL), STORE_CONFLICT
 * on a unique violation, STORE_ERROR (logged). */
static enum store_status
pg_run(struct pg_store *ps, enum pg_stmt id, const char *const *params,
    int n, PGresult **out)
{
	char name[16];
	PGresult *r;
	ExecStatusType status;
	const char *state;

	if (out != NULL)
		*out = NULL;
	if (pg_prepare(ps, id) != 0)
		return STORE_ERROR;
	snprintf(name, sizeof(name), "q%d", (int)id);
	if (!PQsendQueryPrepared(ps->conn, name, n, params, NULL, NULL, 0) ||
	    (r = pg_result(ps)) == NULL) {
		pg_log_conn(ps, "exec");
		return STORE_ERROR;
	}
	status = PQresultStatus(r);
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
		if (out != NULL)
			*out = r;
		else
			PQclear(r);
		return STORE_OK;
	}
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, PG_SQLSTATE_UNIQUE) == 0) {
		PQclear(r);
		return STORE_CONFLICT;
	}
	pg_log_result(r, pg_sql[id]);
	PQclear(r);
	return STORE_ERROR;
}

/* A statement expected to give at most one row: STORE_OK with *out the
 * result, STORE_NOT_FOUND, or the error. */
static enum store_status
pg_row(struct pg_store *ps, enum pg_stmt id, const char *const *params,
    int n, PGresult **out)
{
	enum store_status rc = pg_run(ps, id, params, n, out);

	if (rc == STORE_OK && PQntuples(*out) == 0) {
		PQclear(*out);
		*out = NULL;
		return STORE_NOT_FOUND;
	}
	return rc;
}

/* STORE_OK or STORE_NOT_FOUND from whether the statement found a row. */
static enum store_status
pg_exists(struct pg_store *ps, enum pg_stmt id, const char *const *params,
    int n)
{
	PGresult *r;
	enum store_status rc = pg_row(ps, id, params, n, &r);

	PQclear(r);
	return rc;
}

/* How many rows a write changed, -1 on error. */
static int64_t
pg_changes(struct pg_store *ps, enum pg_stmt id, const char *const *params,
    int n)
{
	PGresult *r;
	int64_t changed;

	if (pg_run(ps, id, params, n, &r) != STORE_OK)
		return -1;
	changed = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return changed;
}

/* Whether an idle session is still there. It has nothing to read unless
 * the server sent something on its own, a notice or the FATAL message of
 * a shutdown: read all of it, and a session the server closed ends in
 * EOF, which marks the connection bad. Never blocks. */
static int
pg_alive(PGconn *c)
{
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

	while (PQstatus(c) == CONNECTION_OK && poll(&p, 1, 0) == 1)
		if (PQconsumeInput(c) == 0)
			break;
	return PQstatus(c) == CONNECTION_OK;
}

/* Makes the connection usable for a call: a session the server dropped is
 * reset here. A server that stays away is tried again only every
 * PG_RECONNECT_MS, so that the calls in between fail at once instead of
 * each waiting out the connect timeout. 0, or -1 (logged). */
static int
pg_ready(struct pg_store *ps)
{
	int64_t now;

	if (pg_alive(ps->conn)) {
		if (PQtransactionStatus(ps->conn) == PQTRANS_IDLE)
			return 0;
		/* A transaction left open by a failure in the middle. */
		if (PQsendQuery(ps->conn, "ROLLBACK"))
			PQclear(pg_result(ps));
		return PQtransactionStatus(ps->conn) == PQTRANS_IDLE ? 0 : -1;
	}
	now = clock_now_ms();
	if (now < ps->retry_ms)
		return -1;
	PQreset(ps->conn);
	memset(ps->prepared, 0, sizeof(ps->prepared));
	ps->listening = 0;
	ps->leading = 0;
	if (PQstatus(ps->conn) != CONNECTION_OK) {
		if (ps->retry_ms == 0)
			pg_log_conn(ps, "reconnecting");
		ps->retry_ms = now + PG_RECONNECT_MS;
		return -1;
	}
	ps->retry_ms = 0;
	log_info("store: postgresql: reconnected");
	return 0;
}

/* Runs fn inside BEGIN ... COMMIT; rolls back unless it returns STORE_OK. */
static enum store_status
pg_transaction(struct pg_store *ps,
    enum store_status (*fn)(struct pg_store *, void *), void *arg)
{
	enum store_status rc;

	if ((rc = pg_run(ps, Q_BEGIN, NULL, 0, NULL)) != STORE_OK)
		return rc;
	if ((rc = fn(ps, arg)) != STORE_OK) {
		pg_run(ps, Q_ROLLBACK, NULL, 0, NULL);
		return rc;
	}
	if ((rc = pg_run(ps, Q_COMMIT, NULL, 0, NULL)) != STORE_OK)
		pg_run(ps, Q_ROLLBACK, NULL, 0, NULL);
	return rc;
}

/* How the rows of one kind are read: each into an item of `size` bytes
 * (cleared on error), and a list of them freed. */
struct pg_reader {
	size_t size;
	enum store_status (*read)(struct pg_store *ps, const PGresult *r,
	    int row, void *item);
	void (*free)(void *items, size_t n);
};

/* Runs statement id and reads every row into *list (calloc'd, one spare
 * item; free with rd->free). The caller made the connection ready. */
static enum store_status
pg_rows(struct pg_store *ps, enum pg_stmt id, const char *const *params,
    int nparams, const struct pg_reader *rd, void **list, size_t *n)
{
	enum store_status rc = STORE_OK;
	unsigned char *items;
	PGresult *r;
	int rows, count = 0;

	*list = NULL;
	*n = 0;
	if (pg_run(ps, id, params, nparams, &r) != STORE_OK)
		return STORE_ERROR;
	rows = PQntuples(r);
	if ((items = calloc((size_t)rows + 1, rd->size)) == NULL)
		rc = STORE_ERROR;
	for (; rc == STORE_OK && count < rows; count++)
		if ((rc = rd->read(ps, r, count, items + (size_t)count *
		    rd->size)) != STORE_OK)
			break;
	PQclear(r);
	if (rc != STORE_OK) {
		rd->free(items, (size_t)count);
		return rc;
	}
	*list = items;
	*n = (size_t)count;
	return STORE_OK;
}

/* The one row statement id finds for `id` into out, or STORE_NOT_FOUND. */
static enum store_status
pg_get(struct store *st, enum pg_stmt stmt, const char *id,
    const struct pg_reader *rd, void *out)
{
	struct pg_store *ps = pg(st);
	const char *v[] = { id };
	enum store_status rc;
	PGresult *r;

	memset(out, 0, rd->size);
	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	if ((rc = pg_row(ps, stmt, v, 1, &r)) == STORE_OK)
		rc = rd->read(ps, r, 0, out);
	PQclear(r);
	return rc;
}

/* ---- opening and the schema ---------------------------------------- */

static int
pg_exec_simple(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	const char *msg;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(err, errlen, "store: postgresql: %.40s: %s", sql,
	    msg ? msg : "no answer");
	PQclear(r);
	return -1;
}

static int
pg_schema_version(PGconn *c, int *version, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT version FROM tellonce_schema");

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(err, errlen, "store: postgresql: reading the schema "
		    "version: %s", PQntuples(r) > 1 ? "several rows" :
		    "tellonce_schema unreadable");
		PQclear(r);
		return -1;
	}
	*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* Applies step `version` and records it, in one transaction. */
static int
pg_migrate_step(PGconn *c, int version, char *err, size_t errlen)
{
	char next[PG_INT_LEN];
	const char *params[] = { pg_int(next, version + 1) };
	PGresult *r;

	if (pg_exec_simple(c, "BEGIN", err, errlen) != 0)
		return -1;
	if (pg_exec_simple(c, pg_migrations[version], err, errlen) != 0)
		goto fail;
	r = PQexecParams(c, "UPDATE tellonce_schema SET version = $1", 1, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "store: postgresql: recording schema "
		    "version %d", version + 1);
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (pg_exec_simple(c, "COMMIT", err, errlen) != 0)
		goto fail;
	log_info("store: schema migrated to version %d", version + 1);
	return 0;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

static int
pg_migrate_locked(PGconn *c, char *err, size_t errlen)
{
	int version;

	if (pg_exec_simple(c, "CREATE TABLE IF NOT EXISTS tellonce_schema "
	    "(version INTEGER NOT NULL)", err, errlen) != 0 ||
	    pg_exec_simple(c, "INSERT INTO tellonce_schema SELECT 0 WHERE NOT "
	    "EXISTS (SELECT 1 FROM tellonce_schema)", err, errlen) != 0 ||
	    pg_schema_version(c, &version, err, errlen) != 0)
		return -1;
	if (version > PG_SCHEMA_VERSION) {
		snprintf(err, errlen, "store: schema version %d is newer than "
		    "this program (%d)", version, PG_SCHEMA_VERSION);
		return -1;
	}
	for (; version < PG_SCHEMA_VERSION; version++)
		if (pg_migrate_step(c, version, err, errlen) != 0)
			return -1;
	return 0;
}

/* Nodes starting together all get here: the session lock lets one
 * migrate while the others wait, then find the schema current. The wait
 * is not bounded by the statement timeout, as a migration may be long. */
static int
pg_migrate(PGconn *c, char *err, size_t errlen)
{
	int rc;

	if (pg_exec_simple(c, "SET statement_timeout = 0", err, errlen) != 0 ||
	    pg_exec_simple(c, "SELECT " PG_LOCK_MIGRATE, err, errlen) != 0)
		return -1;
	rc = pg_migrate_locked(c, err, errlen);
	if (pg_exec_simple(c, "SELECT " PG_UNLOCK_MIGRATE, err, errlen) != 0 ||
	    pg_exec_simple(c, "RESET statement_timeout", err, errlen) != 0)
		rc = -1;
	return rc;
}

/* Server notices (a FATAL at shutdown, NOTICEs of DDL) go to the log at
 * debug level, never to stderr; terse, like the errors. */
static void
pg_notice(void *arg, const char *message)
{
	log_debug("store: postgresql: %.*s", (int)strcspn(message, "\n"),
	    message);
}

/* A 202 is only as durable as COMMIT: say so when the server would answer
 * COMMIT before the WAL is flushed. */
static void
pg_check_durability(PGconn *c)
{
	PGresult *r = PQexec(c, "SHOW synchronous_commit");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    strcmp(PQgetvalue(r, 0, 0), "off") == 0)
		log_warn("store: postgresql: synchronous_commit is off: a "
		    "crash of the server may lose pushes already answered 202");
	PQclear(r);
}

int
store_pg_check(const char *url, char *err, size_t errlen)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &msg);
	int rc = 0;

	if (opts == NULL) {
		snprintf(err, errlen, "not a valid PostgreSQL URL: %.*s",
		    msg ? (int)strcspn(msg, "\n") : 14, msg ? msg : "out of memory");
		PQfreemem(msg);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
			snprintf(err, errlen, "secrets are never written inline: "
			    "give the password in gateway.store_password (env:NAME "
			    "or file:PATH)");
			rc = -1;
		}
	}
	PQconninfoFree(opts);
	return rc;
}

#define PG_NPARAMS (PG_NDEFAULTS + 3)

/* Fills keys and values, NULL-terminated, PG_NPARAMS long, with the
 * parameters of a connection to url. */
static void
pg_params(const char *url, const char *password, const char **keys,
    const char **values)
{
	size_t n = 0;

	for (; n < PG_NDEFAULTS; n++) {
		keys[n] = pg_default_keys[n];
		values[n] = pg_default_values[n];
	}
	keys[n] = "dbname";   /* expanded: the URL's settings come after */
	values[n++] = url;
	if (password != NULL) {
		keys[n] = "password";
		values[n++] = password;
	}
	keys[n] = values[n] = NULL;
}

int
store_pg_reachable(const char *url, const char *password)
{
	const char *keys[PG_NPARAMS], *values[PG_NPARAMS];
	PGPing ping;

	pg_params(url, password, keys, values);
	ping = PQpingParams(keys, values, 1);
	/* REJECT is a server starting or stopping; NO_ATTEMPT, parameters
	 * that no wait mends, which the open then reports. */
	return ping != PQPING_NO_RESPONSE && ping != PQPING_REJECT;
}

static PGconn *
pg_connect(const char *url, const char *password, char *err, size_t errlen)
{
	const char *keys[PG_NPARAMS], *values[PG_NPARAMS];
	PGconn *c;

	pg_params(url, password, keys, values);
	if ((c = PQconnectdbParams(keys, values, 1)) == NULL) {
		snprintf(err, errlen, "store: postgresql: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(c);

		snprintf(err, errlen, "store: postgresql: cannot connect: %.*s",
		    (int)strcspn(msg, "\n"), msg);
		PQfinish(c);
		return NULL;
	}
	PQsetErrorVerbosity(c, PQERRORS_TERSE);
	PQsetNoticeProcessor(c, pg_notice, NULL);
	return c;
}

/* For an open that changes nothing (STORE_OPEN_CURRENT): 0 when the
 * database holds this program's schema, else -1 with err set. */
static int
pg_schema_current(PGconn *c, char *err, size_t errlen)
{
	int version;

	if (pg_schema_version(c, &version, err, errlen) != 0)
		return -1;
	return store_schema_current(version, PG_SCHEMA_VERSION, err, errlen);
}

struct store *
store_pg_open(const char *url, const char *password, int flags, char *err,
    size_t errlen)
{
	struct pg_store *ps;
	char why[256];
	PGconn *c;

	if (store_pg_check(url, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "store: %s", why);
		return NULL;
	}
	if ((c = pg_connect(url, password, err, errlen)) == NULL)
		return NULL;
	if (((flags & STORE_OPEN_CURRENT) ? pg_schema_current(c, err, errlen) :
	    pg_migrate(c, err, errlen)) != 0) {
		PQfinish(c);
		return NULL;
	}
	pg_check_durability(c);
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(err, errlen, "store: out of memory");
		PQfinish(c);
		return NULL;
	}
	ps->base.ops = &pg_ops;
	ps->conn = c;
	ps->lease_ms = PG_LEASE_MS;
	return &ps->base;
}

static void
pg_close(struct store *st)
{
	struct pg_store *ps = pg(st);

	PQfinish(ps->conn);
	free(ps);
}

/* Reachable, and commits: a primary (a standby refuses the write) with
 * room for its WAL. */
static int
pg_ping(struct store *st)
{
	struct pg_store *ps = pg(st);
	char now[PG_INT_LEN];
	const char *v[] = { pg_int(now, clock_now_ms()) };

	if (pg_ready(ps) != 0)
		return -1;
	return pg_run(ps, Q_HEALTH_WRITE, v, 1, NULL) == STORE_OK ? 0 : -1;
}

/* ---- links ---------------------------------------------------------- */

/* Copies a BYTEA column of exactly len bytes from a text-format result;
 * -1 when it is not one (NULL included). PQunescapeBytea reads both of
 * the server's bytea_output forms. */
static int
pg_copy_bytea(const PGresult *r, int row, int col, unsigned char *out,
    size_t len)
{
	unsigned char *raw;
	size_t got;
	int rc = -1;

	if (PQgetisnull(r, row, col) || (raw = PQunescapeBytea((const unsigned
	    char *)PQgetvalue(r, row, col), &got)) == NULL)
		return -1;
	if (got == len) {
		memcpy(out, raw, len);
		rc = 0;
	}
	OPENSSL_cleanse(raw, got);
	PQfreemem(raw);
	return rc;
}

static enum store_status pg_view_key_get_ready(struct pg_store *ps,
    const char *subject, unsigned char *view_key);

/* view_key (else NULL) gets the subject's view key, drawn if it has none. */
static enum store_status
pg_link_subject_get(struct pg_store *ps, const char *service,
    const char *local_id, char *subject, unsigned char *view_key)
{
	const char *v[] = { service, local_id };
	PGresult *r;
	enum store_status rc = pg_row(ps, Q_LINK_SUBJECT, v, 2, &r);
	int has_key = 0;

	if (rc == STORE_OK && pg_copy_text(PQgetvalue(r, 0, 0), subject,
	    STORE_SUBJECT_LEN) != 0) {
		log_error("store: postgresql: malformed subject in links");
		rc = STORE_ERROR;
	}
	if (rc == STORE_OK && view_key != NULL)
		has_key = pg_copy_bytea(r, 0, 1, view_key,
		    STORE_VIEW_KEY_LEN) == 0;
	PQclear(r);
	if (rc == STORE_OK && view_key != NULL && !has_key)
		rc = pg_view_key_get_ready(ps, subject, view_key);
	return rc;
}

static enum store_status
pg_link_subject(struct store *st, const char *service, const char *local_id,
    char *subject, unsigned char *view_key)
{
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_link_subject_get(pg(st), service, local_id, subject,
	    view_key);
}

/* ON CONFLICT DO NOTHING makes the insert race-free, across nodes too: of
 * two linking the same pair, one creates it and the other finds it. */
static enum store_status
pg_link_put(struct store *st, const char *service, const char *local_id,
    const char *subject, int pivot_version, int *created)
{
	struct pg_store *ps = pg(st);
	char now[PG_INT_LEN], ver[PG_INT_LEN], existing[STORE_SUBJECT_LEN];
	const char *v[] = { service, local_id, subject,
	    pg_int(now, clock_now_ms()), pg_int(ver, pivot_version) };
	enum store_status rc;
	int64_t changed;

	*created = 0;
	if (pg_ready(ps) != 0 ||
	    (changed = pg_changes(ps, Q_LINK_INSERT, v, 5)) < 0)
		return STORE_ERROR;
	if (changed == 1) {
		*created = 1;
		return STORE_OK;
	}
	rc = pg_link_subject_get(ps, service, local_id, existing, NULL);
	if (rc == STORE_NOT_FOUND)   /* the subject has another local id */
		return STORE_CONFLICT;
	if (rc != STORE_OK)
		return rc;
	return strcmp(existing, subject) == 0 ? STORE_OK : STORE_CONFLICT;
}

static enum store_status
pg_link_local_id(struct store *st, const char *service, const char *subject,
    char **local_id)
{
	struct pg_store *ps = pg(st);
	const char *v[] = { service, subject };
	enum store_status rc;
	PGresult *r;

	*local_id = NULL;
	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	rc = pg_row(ps, Q_LINK_LOCAL_ID, v, 2, &r);
	if (rc == STORE_OK && (*local_id = pg_get_dup(r, 0, 0)) == NULL)
		rc = STORE_ERROR;
	PQclear(r);
	return rc;
}

static enum store_status
pg_subject_linked(struct store *st, const char *subject, int pivot_version)
{
	char ver[PG_INT_LEN];
	const char *v[] = { subject, pg_int(ver, pivot_version) };

	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_exists(pg(st), Q_SUBJECT_LINKED, v, 2);
}

/* ---- view keys ------------------------------------------------------ */

static enum store_status
pg_view_key_read(struct pg_store *ps, const char *subject,
    unsigned char *view_key)
{
	const char *v[] = { subject };
	PGresult *r;
	enum store_status rc = pg_row(ps, Q_VIEW_KEY_GET, v, 1, &r);

	if (rc == STORE_OK &&
	    pg_copy_bytea(r, 0, 0, view_key, STORE_VIEW_KEY_LEN) != 0) {
		log_error("store: postgresql: malformed view key");
		rc = STORE_ERROR;
	}
	PQclear(r);
	return rc;
}

/* Of two nodes drawing a first key at once, the insert of one wins and
 * both read that one back. The key goes as a bytea in hex text form. */
static enum store_status
pg_view_key_get_ready(struct pg_store *ps, const char *subject,
    unsigned char *view_key)
{
	unsigned char drawn[STORE_VIEW_KEY_LEN];
	char hex[2 + 2 * STORE_VIEW_KEY_LEN + 1] = "\\x", now[PG_INT_LEN];
	const char *v[] = { subject, hex, pg_int(now, clock_now_ms()) };
	enum store_status rc = pg_view_key_read(ps, subject, view_key);

	if (rc != STORE_NOT_FOUND)
		return rc;
	store_random(drawn, sizeof(drawn));
	encode_hex(drawn, sizeof(drawn), hex + 2);
	rc = pg_run(ps, Q_VIEW_KEY_PUT, v, 3, NULL);
	OPENSSL_cleanse(drawn, sizeof(drawn));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc != STORE_OK)
		return rc;
	return pg_view_key_read(ps, subject, view_key);
}

static enum store_status
pg_view_key_get(struct store *st, const char *subject,
    unsigned char *view_key)
{
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_view_key_get_ready(pg(st), subject, view_key);
}

static enum store_status
pg_view_key_erase_rows(struct pg_store *ps, void *arg)
{
	const char *v[] = { arg };
	enum store_status rc = pg_run(ps, Q_VIEW_KEY_DELETE, v, 1, NULL);

	return rc == STORE_OK ? pg_run(ps, Q_ACCESS_DELETE, v, 1, NULL) : rc;
}

static enum store_status
pg_view_key_erase(struct store *st, const char *subject)
{
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_view_key_erase_rows, (void *)subject);
}

/* ---- consents ------------------------------------------------------- */

/* Inserts the names of a row's list (id, position, name): a consent's
 * attributes, a mandate's datasets. */
static enum store_status
pg_names_put(struct pg_store *ps, enum pg_stmt id, const char *owner,
    char *const *names, size_t n)
{
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		char pos[PG_INT_LEN];
		const char *v[] = { owner, pg_int(pos, (int64_t)i), names[i] };

		rc = pg_run(ps, id, v, 3, NULL);
	}
	return rc;
}

/* The names of a row's list, in order, appended to *names (owned; the
 * caller's clear frees them, read or not). */
static enum store_status
pg_names(struct pg_store *ps, enum pg_stmt id, const char *owner,
    char ***names, size_t *n)
{
	const char *v[] = { owner };
	PGresult *r;
	int rows;

	if (pg_run(ps, id, v, 1, &r) != STORE_OK)
		return STORE_ERROR;
	rows = PQntuples(r);
	if (rows > 0 && (*names = calloc((size_t)rows, sizeof(**names))) == NULL) {
		PQclear(r);
		return STORE_ERROR;
	}
	for (int i = 0; i < rows; i++) {
		if (((*names)[i] = pg_get_dup(r, i, 0)) == NULL) {
			PQclear(r);
			return STORE_ERROR;
		}
		(*n)++;
	}
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_consent_insert_rows(struct pg_store *ps, void *arg)
{
	const struct store_consent *c = arg;
	char created[PG_INT_LEN], expires[PG_INT_LEN], revoked[PG_INT_LEN];
	const char *v[] = { c->id, c->subject, c->consumer, c->provider,
	    c->dataset, c->purpose, pg_int(created, c->created_ms),
	    pg_int(expires, c->expires_ms), pg_int(revoked, c->revoked_ms),
	    c->mandate, c->mediator, c->helper };
	enum store_status rc;

	if ((rc = pg_run(ps, Q_CONSENT_INSERT, v, 12, NULL)) != STORE_OK)
		return rc;
	return pg_names_put(ps, Q_CONSENT_ATTR_INSERT, c->id, c->attributes,
	    c->nattributes);
}

static enum store_status
pg_consent_insert(struct store *st, const struct store_consent *c)
{
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_consent_insert_rows, (void *)c);
}

/* Fills *c from row `row` of a CONSENT_COLUMNS result and its attributes.
 * On error *c is cleared. */
static enum store_status
pg_consent_read(struct pg_store *ps, const PGresult *r, int row, void *item)
{
	struct store_consent *c = item;

	memset(c, 0, sizeof(*c));
	if (pg_copy_text(PQgetvalue(r, row, 0), c->id, STORE_ID_LEN) != 0 ||
	    pg_copy_text(PQgetvalue(r, row, 1), c->subject,
	    STORE_SUBJECT_LEN) != 0) {
		log_error("store: postgresql: malformed consent row");
		return STORE_ERROR;
	}
	c->consumer = pg_get_dup(r, row, 2);
	c->provider = pg_get_dup(r, row, 3);
	c->dataset = pg_get_dup(r, row, 4);
	c->purpose = pg_get_dup(r, row, 5);
	c->created_ms = pg_get_int(r, row, 6);
	c->expires_ms = pg_get_int(r, row, 7);
	c->revoked_ms = pg_get_int(r, row, 8);
	/* Given under a mandate, or all three NULL. */
	if (!PQgetisnull(r, row, 9) &&
	    ((c->mandate = pg_get_dup(r, row, 9)) == NULL ||
	    (c->mediator = pg_get_dup(r, row, 10)) == NULL ||
	    (c->helper = pg_get_dup(r, row, 11)) == NULL)) {
		store_consent_clear(c);
		return STORE_ERROR;
	}
	if (c->consumer == NULL || c->provider == NULL || c->dataset == NULL ||
	    c->purpose == NULL || pg_names(ps, Q_CONSENT_ATTRS, c->id,
	    &c->attributes, &c->nattributes) != STORE_OK) {
		store_consent_clear(c);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static void
pg_consents_free(void *items, size_t n)
{
	store_consents_free(items, n);
}

static const struct pg_reader pg_consent_reader = {
	sizeof(struct store_consent), pg_consent_read, pg_consents_free,
};

static enum store_status
pg_consent_get(struct store *st, const char *id, struct store_consent *out)
{
	return pg_get(st, Q_CONSENT_GET, id, &pg_consent_reader, out);
}

/* Revokes row `id` with statement `revoke`, unless it was already (the
 * first time is kept); STORE_NOT_FOUND when `exists` finds no such row. */
static enum store_status
pg_revoke(struct pg_store *ps, enum pg_stmt revoke, enum pg_stmt exists,
    const char *id, int64_t now_ms)
{
	char now[PG_INT_LEN];
	const char *v[] = { id, pg_int(now, now_ms) };
	int64_t changed;

	if (pg_ready(ps) != 0 || (changed = pg_changes(ps, revoke, v, 2)) < 0)
		return STORE_ERROR;
	if (changed == 1)
		return STORE_OK;
	return pg_exists(ps, exists, v, 1);
}

static enum store_status
pg_consent_revoke(struct store *st, const char *id, int64_t now_ms)
{
	return pg_revoke(pg(st), Q_CONSENT_REVOKE, Q_CONSENT_EXISTS, id, now_ms);
}

static enum store_status
pg_consent_find(struct store *st, const char *subject, const char *consumer,
    const char *provider, const char *dataset, struct store_consent **list,
    size_t *n)
{
	const char *v[] = { subject, consumer, provider, dataset };
	enum store_status rc;
	void *items;

	*list = NULL;
	*n = 0;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_rows(pg(st), Q_CONSENT_FIND, v, 4, &pg_consent_reader,
	    &items, n)) == STORE_OK)
		*list = items;
	return rc;
}

static enum store_status
pg_consent_list_for(struct store *st, const char *subject, const char *service,
    struct store_consent **list, size_t *n)
{
	const char *v[] = { subject, service };
	enum store_status rc;
	void *items;

	*list = NULL;
	*n = 0;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_rows(pg(st), Q_CONSENT_LIST_FOR, v, 2, &pg_consent_reader,
	    &items, n)) == STORE_OK)
		*list = items;
	return rc;
}

/* ---- objections ----------------------------------------------------- */

static enum store_status
pg_objection_insert(struct store *st, const struct store_objection *o)
{
	char created[PG_INT_LEN];
	const char *v[] = { o->id, o->subject, o->dataset, o->purpose,
	    o->consumer, pg_int(created, o->created_ms) };

	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_run(pg(st), Q_OBJECTION_INSERT, v, 6, NULL);
}

static enum store_status
pg_objection_find(struct store *st, struct store_objection *o)
{
	const char *v[] = { o->subject, o->dataset, o->purpose, o->consumer };
	enum store_status rc;
	PGresult *r;

	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	rc = pg_row(pg(st), Q_OBJECTION_FIND, v, 4, &r);
	if (rc == STORE_OK && pg_copy_text(PQgetvalue(r, 0, 0), o->id,
	    sizeof(o->id)) != 0)
		rc = STORE_ERROR;
	PQclear(r);
	return rc;
}

static enum store_status
pg_objection_match(struct store *st, const char *subject, const char *dataset,
    const char *purpose, const char *consumer)
{
	const char *v[] = { subject, dataset, purpose, consumer };

	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_exists(pg(st), Q_OBJECTION_MATCH, v, 4);
}

/* ---- mandates ------------------------------------------------------- */

static enum store_status
pg_mandate_insert_rows(struct pg_store *ps, void *arg)
{
	const struct store_mandate *m = arg;
	char actions[PG_INT_LEN], created[PG_INT_LEN], expires[PG_INT_LEN],
	    revoked[PG_INT_LEN];
	const char *v[] = { m->id, m->subject, m->mediator, m->helper,
	    pg_int(actions, m->actions), pg_int(created, m->created_ms),
	    pg_int(expires, m->expires_ms), pg_int(revoked, m->revoked_ms) };
	enum store_status rc;

	if ((rc = pg_run(ps, Q_MANDATE_INSERT, v, 8, NULL)) != STORE_OK)
		return rc;
	return pg_names_put(ps, Q_MANDATE_DATASET_INSERT, m->id, m->datasets,
	    m->ndatasets);
}

static enum store_status
pg_mandate_insert(struct store *st, const struct store_mandate *m)
{
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_mandate_insert_rows, (void *)m);
}

/* Fills *m from row `row` of a MANDATE_COLUMNS result and its datasets.
 * On error *m is cleared. */
static enum store_status
pg_mandate_read(struct pg_store *ps, const PGresult *r, int row, void *item)
{
	struct store_mandate *m = item;

	memset(m, 0, sizeof(*m));
	if (pg_copy_text(PQgetvalue(r, row, 0), m->id, STORE_ID_LEN) != 0 ||
	    pg_copy_text(PQgetvalue(r, row, 1), m->subject,
	    STORE_SUBJECT_LEN) != 0) {
		log_error("store: postgresql: malformed mandate row");
		return STORE_ERROR;
	}
	m->mediator = pg_get_dup(r, row, 2);
	m->helper = pg_get_dup(r, row, 3);
	m->actions = (unsigned)pg_get_int(r, row, 4);
	m->created_ms = pg_get_int(r, row, 5);
	m->expires_ms = pg_get_int(r, row, 6);
	m->revoked_ms = pg_get_int(r, row, 7);
	if (m->mediator == NULL || m->helper == NULL ||
	    pg_names(ps, Q_MANDATE_DATASETS, m->id, &m->datasets,
	    &m->ndatasets) != STORE_OK) {
		store_mandate_clear(m);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static void
pg_mandates_free(void *items, size_t n)
{
	store_mandates_free(items, n);
}

static const struct pg_reader pg_mandate_reader = {
	sizeof(struct store_mandate), pg_mandate_read, pg_mandates_free,
};

static enum store_status
pg_mandate_get(struct store *st, const char *id, struct store_mandate *out)
{
	return pg_get(st, Q_MANDATE_GET, id, &pg_mandate_reader, out);
}

static enum store_status
pg_mandate_revoke(struct store *st, const char *id, int64_t now_ms)
{
	return pg_revoke(pg(st), Q_MANDATE_REVOKE, Q_MANDATE_EXISTS, id, now_ms);
}

static enum store_status
pg_mandate_find(struct store *st, const char *subject, const char *mediator,
    struct store_mandate **list, size_t *n)
{
	const char *v[] = { subject, mediator };
	enum store_status rc;
	void *items;

	*list = NULL;
	*n = 0;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_rows(pg(st), Q_MANDATE_FIND, v, 2, &pg_mandate_reader,
	    &items, n)) == STORE_OK)
		*list = items;
	return rc;
}

/* ---- the access index ----------------------------------------------- */

struct pg_access_batch {
	const struct store_access *rows;
	size_t n;
};

/* BIGINT is signed 64-bit; audit indexes never get near 2^63. */
static enum store_status
pg_access_put_all(struct pg_store *ps, void *arg)
{
	const struct pg_access_batch *b = arg;
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < b->n && rc == STORE_OK; i++) {
		const struct store_access *row = &b->rows[i];
		char idx[PG_INT_LEN];
		const char *v[] = { row->subject,
		    pg_int(idx, (int64_t)row->audit_index), row->mandate,
		    row->mediator, row->helper };

		if (row->audit_index > INT64_MAX) {
			log_error("store: postgresql: audit index out of range");
			return STORE_ERROR;
		}
		rc = pg_run(ps, Q_ACCESS_PUT, v, 5, NULL);
	}
	return rc;
}

static enum store_status
pg_access_put(struct store *st, const struct store_access *rows, size_t n)
{
	struct pg_access_batch b = { rows, n };

	if (n == 0)
		return STORE_OK;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_access_put_all, &b);
}

static enum store_status
pg_access_mandate(struct store *st, const char *subject, uint64_t audit_index,
    char **mediator, char **helper)
{
	struct pg_store *ps = pg(st);
	char idx[PG_INT_LEN];
	const char *v[] = { subject, pg_int(idx, audit_index > INT64_MAX ?
	    INT64_MAX : (int64_t)audit_index) };
	enum store_status rc;
	PGresult *r;

	*mediator = *helper = NULL;
	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	rc = pg_row(ps, Q_ACCESS_MANDATE, v, 2, &r);
	if (rc == STORE_OK && ((*mediator = pg_get_dup(r, 0, 0)) == NULL ||
	    (*helper = pg_get_dup(r, 0, 1)) == NULL)) {
		free(*mediator);
		*mediator = NULL;
		rc = STORE_ERROR;
	}
	PQclear(r);
	return rc;
}

static enum store_status
pg_access_list(struct store *st, const char *subject, uint64_t before,
    size_t limit, uint64_t **indexes, size_t *n)
{
	struct pg_store *ps = pg(st);
	char b[PG_INT_LEN], l[PG_INT_LEN];
	const char *v[] = { subject,
	    pg_int(b, before > INT64_MAX ? INT64_MAX : (int64_t)before),
	    pg_int(l, limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };
	uint64_t *items;
	PGresult *r;
	int rows;

	*indexes = NULL;
	*n = 0;
	if (pg_ready(ps) != 0 || pg_run(ps, Q_ACCESS_LIST, v, 3, &r) != STORE_OK)
		return STORE_ERROR;
	rows = PQntuples(r);
	if ((items = calloc((size_t)rows + 1, sizeof(*items))) == NULL) {
		PQclear(r);
		return STORE_ERROR;
	}
	for (int i = 0; i < rows; i++)
		items[i] = (uint64_t)pg_get_int(r, i, 0);
	PQclear(r);
	*indexes = items;
	*n = (size_t)rows;
	return STORE_OK;
}

/* ---- pushed records and the delivery outbox ------------------------ */

struct pg_accept {
	const struct store_push *p;
	struct store_push_result *res;
	size_t n;
	const struct store_cursor *cursor;
};

/* STORE_CONFLICT with the first response when the key was used before. */
static enum store_status
pg_push_key_check(struct pg_store *ps, const struct store_push *p,
    struct store_push_result *res)
{
	const char *v[] = { p->provider, p->idempotency_key };
	enum store_status rc;
	PGresult *r;

	if (p->idempotency_key == NULL)
		return STORE_OK;
	rc = pg_row(ps, Q_PUSH_KEY_GET, v, 2, &r);
	if (rc == STORE_OK) {
		res->same = strcmp(PQgetvalue(r, 0, 0), p->request_sha256) == 0;
		res->audited = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
		res->previous = pg_get_dup(r, 0, 1);
		rc = res->previous != NULL ? STORE_CONFLICT : STORE_ERROR;
	} else if (rc == STORE_NOT_FOUND) {
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

static const char *
pg_id_at(const void *arg, size_t i)
{
	return ((const char (*)[STORE_ID_LEN])arg)[i];
}

static const char *
pg_string_at(const void *arg, size_t i)
{
	return ((const char *const *)arg)[i];
}

/* Stores one push (Q_RECORD_STORE) unless its key was used before. */
static enum store_status
pg_accept_one(struct pg_store *ps, const struct store_push *p,
    struct store_push_result *res)
{
	char now[PG_INT_LEN], (*ids)[STORE_ID_LEN];
	char *subscribers = NULL, *idlist = NULL;
	enum store_status rc;
	PGresult *r;

	if ((rc = pg_push_key_check(ps, p, res)) != STORE_OK)
		return rc;
	if ((ids = calloc(p->nsubscribers + 1, sizeof(*ids))) == NULL)
		return STORE_ERROR;
	for (size_t i = 0; i < p->nsubscribers; i++)
		store_new_ordered_id(ids[i], p->now_ms);
	if ((subscribers = pg_text_array(p->nsubscribers, pg_string_at,
	    p->subscribers)) == NULL || (idlist = pg_text_array(
	    p->nsubscribers, pg_id_at, ids)) == NULL) {
		rc = STORE_ERROR;
	} else {
		const char *v[] = { p->record_id, p->provider, p->subject,
		    p->dataset, p->record, pg_int(now, p->now_ms),
		    p->traceparent, subscribers, idlist, p->idempotency_key,
		    p->request_sha256, p->response };

		if ((rc = pg_row(ps, Q_RECORD_STORE, v, 12, &r)) ==
		    STORE_NOT_FOUND)
			rc = STORE_ERROR;
		PQclear(r);
	}
	free(subscribers);
	free(idlist);
	free(ids);
	return rc;
}

struct pg_push_audits {
	const struct store_push_audit *a;
	size_t n;
};

static enum store_status
pg_push_audited_rows(struct pg_store *ps, void *arg)
{
	const struct pg_push_audits *m = arg;
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < m->n && rc == STORE_OK; i++) {
		char index[PG_INT_LEN];
		const char *v[] = { m->a[i].provider, m->a[i].key,
		    pg_int(index, (int64_t)m->a[i].audit_index) };

		rc = pg_run(ps, Q_PUSH_KEY_AUDITED, v, 3, NULL);
	}
	return rc;
}

static enum store_status
pg_push_audited(struct store *st, const struct store_push_audit *a, size_t n)
{
	struct pg_push_audits m = { a, n };

	if (n == 0)
		return STORE_OK;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_push_audited_rows, &m);
}

static enum store_status
pg_cursor_put(struct pg_store *ps, const struct store_cursor *c)
{
	char now[PG_INT_LEN];
	const char *v[] = { c->service, c->cursor, pg_int(now, clock_now_ms()) };

	return pg_run(ps, Q_CURSOR_PUT, v, 3, NULL);
}

static enum store_status
pg_poll_cursor(struct store *st, const char *service, char **cursor)
{
	struct pg_store *ps = pg(st);
	const char *v[] = { service };
	enum store_status rc;
	PGresult *r;

	*cursor = NULL;
	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	rc = pg_row(ps, Q_CURSOR_GET, v, 1, &r);
	if (rc == STORE_OK && (*cursor = pg_get_dup(r, 0, 0)) == NULL)
		rc = STORE_ERROR;
	PQclear(r);
	return rc;
}

static enum store_status
pg_accept_rows(struct pg_store *ps, void *arg)
{
	struct pg_accept *a = arg;
	enum store_status rc;

	if ((rc = pg_run(ps, Q_RECORDS_LOCK, NULL, 0, NULL)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < a->n; i++) {
		a->res[i].status = pg_accept_one(ps, &a->p[i], &a->res[i]);
		/* A conflict without a first response broke a unique rule. */
		if (a->res[i].status == STORE_ERROR ||
		    (a->res[i].status == STORE_CONFLICT &&
		    a->res[i].previous == NULL))
			return STORE_ERROR;
	}
	if (a->cursor != NULL && (rc = pg_cursor_put(ps, a->cursor)) != STORE_OK)
		return rc;
	return pg_run(ps, Q_OUTBOX_NOTIFY, NULL, 0, NULL);
}

static enum store_status
pg_record_accept(struct store *st, const struct store_push *p, size_t n,
    struct store_push_result *res, const struct store_cursor *cursor)
{
	struct pg_accept a = { .p = p, .res = res, .n = n, .cursor = cursor };
	enum store_status rc;

	memset(res, 0, n * sizeof(*res));
	if (pg_ready(pg(st)) != 0)
		rc = STORE_ERROR;
	else
		rc = pg_transaction(pg(st), pg_accept_rows, &a);
	if (rc == STORE_OK)
		return STORE_OK;
	store_push_results_fail(res, n);
	return rc;
}

/* Fills rec from RECORD_COLUMNS starting at column `col`. */
static enum store_status
pg_record_read(const PGresult *r, int row, int col, struct store_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (pg_copy_text(PQgetvalue(r, row, col + 1), rec->id,
	    STORE_ID_LEN) != 0 || pg_copy_text(PQgetvalue(r, row, col + 2),
	    rec->subject, STORE_SUBJECT_LEN) != 0) {
		log_error("store: postgresql: malformed record row");
		return STORE_ERROR;
	}
	rec->seq = pg_get_int(r, row, col);
	rec->provider = pg_get_dup(r, row, col + 3);
	rec->dataset = pg_get_dup(r, row, col + 4);
	rec->record = pg_get_dup(r, row, col + 5);
	rec->version = pg_get_int(r, row, col + 6);
	rec->created_ms = pg_get_int(r, row, col + 7);
	rec->has_view_key = pg_copy_bytea(r, row, col + 8, rec->view_key,
	    STORE_VIEW_KEY_LEN) == 0;
	if (!PQgetisnull(r, row, col + 9) &&
	    (rec->traceparent = pg_get_dup(r, row, col + 9)) == NULL) {
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
pg_change_list(struct store *st, const char *dataset, int64_t after,
    size_t limit, struct store_record **list, size_t *n)
{
	struct pg_store *ps = pg(st);
	char a[PG_INT_LEN], l[PG_INT_LEN];
	const char *v[] = { dataset, pg_int(a, after),
	    pg_int(l, limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };
	struct store_record *items;
	enum store_status rc = STORE_OK;
	PGresult *r;
	int rows, count = 0;

	*list = NULL;
	*n = 0;
	if (pg_ready(ps) != 0 || pg_run(ps, Q_CHANGE_LIST, v, 3, &r) != STORE_OK)
		return STORE_ERROR;
	rows = PQntuples(r);
	if ((items = calloc((size_t)rows + 1, sizeof(*items))) == NULL)
		rc = STORE_ERROR;
	for (; rc == STORE_OK && count < rows; count++)
		if ((rc = pg_record_read(r, count, 0, &items[count])) != STORE_OK)
			break;
	PQclear(r);
	if (rc != STORE_OK) {
		store_records_free(items, (size_t)count);
		return rc;
	}
	*list = items;
	*n = (size_t)count;
	return STORE_OK;
}

/* Fills d from row `row` of a DELIVERY_COLUMNS result. */
static enum store_status
pg_delivery_read(struct pg_store *ps, const PGresult *r, int row, void *item)
{
	struct store_delivery *d = item;

	memset(d, 0, sizeof(*d));
	if (pg_copy_text(PQgetvalue(r, row, 1), d->id, STORE_ID_LEN) != 0) {
		log_error("store: postgresql: malformed delivery row");
		return STORE_ERROR;
	}
	d->seq = pg_get_int(r, row, 0);
	d->subscriber = pg_get_dup(r, row, 2);
	d->state = (enum store_delivery_state)pg_get_int(r, row, 3);
	d->attempts = (int)pg_get_int(r, row, 4);
	d->since_ms = pg_get_int(r, row, 5);
	d->due_ms = pg_get_int(r, row, 6);
	d->updated_ms = pg_get_int(r, row, 7);
	d->last_error = pg_get_dup(r, row, 8);
	/* After the record's columns, from 9. */
	d->audit_index = PQgetisnull(r, row, 9 + RECORD_NCOLUMNS) ? -1 :
	    pg_get_int(r, row, 9 + RECORD_NCOLUMNS);
	if (!PQgetisnull(r, row, 10 + RECORD_NCOLUMNS))
		pg_copy_text(PQgetvalue(r, row, 10 + RECORD_NCOLUMNS),
		    d->audit_sha256, sizeof(d->audit_sha256));
	if (d->subscriber == NULL || pg_record_read(r, row, 9, &d->rec)
	    != STORE_OK) {
		store_delivery_clear(d);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static void
pg_deliveries_free(void *items, size_t n)
{
	store_deliveries_free(items, n);
}

static const struct pg_reader pg_delivery_reader = {
	sizeof(struct store_delivery), pg_delivery_read, pg_deliveries_free,
};

/* Runs a DELIVERY_COLUMNS query and reads every row. */
static enum store_status
pg_delivery_rows(struct pg_store *ps, enum pg_stmt id,
    const char *const *params, int nparams, struct store_delivery **list,
    size_t *n)
{
	enum store_status rc;
	void *items;

	if ((rc = pg_rows(ps, id, params, nparams, &pg_delivery_reader,
	    &items, n)) == STORE_OK)
		*list = items;
	return rc;
}

/* Puts back in the queue what was being sent under a lease that ran out,
 * and leaves the newest of any chain that then has several pending. */
static enum store_status
pg_reclaim_rows(struct pg_store *ps, void *arg)
{
	const char *v[] = { arg };
	int64_t changed = pg_changes(ps, Q_DELIVERY_RECLAIM, v, 1);

	if (changed < 0)
		return STORE_ERROR;
	if (changed == 0)
		return STORE_OK;
	log_info("store: %" PRId64 " deliveries whose lease ran out are queued "
	    "again", changed);
	if (pg_run(ps, Q_DELIVERY_SUPERSEDE_OLDER, NULL, 0, NULL) != STORE_OK)
		return STORE_ERROR;
	return pg_run(ps, Q_OUTBOX_NOTIFY, NULL, 0, NULL);
}

/* Another node may be sending: only what no live lease holds goes back,
 * and what this node had taken before it restarted (a node keeps its name
 * across restarts). */
static enum store_status
pg_delivery_recover(struct store *st)
{
	struct pg_store *ps = pg(st);

	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	return pg_transaction(ps, pg_reclaim_rows, ps->node);
}

static void
pg_outbox_node(struct store *st, const char *node, int64_t lease_ms)
{
	struct pg_store *ps = pg(st);

	snprintf(ps->node, sizeof(ps->node), "%s", node);
	ps->lease_ms = lease_ms;
}

/* A lease is renewed four times in its length, so that a renewal late by
 * up to three quarters of it keeps the delivery. */
static enum store_status
pg_delivery_renew(struct store *st)
{
	struct pg_store *ps = pg(st);
	char lease[PG_INT_LEN];
	const char *v[] = { ps->node, pg_int(lease, ps->lease_ms) };
	int64_t now = clock_mono_ms();

	if (now < ps->renew_ms)
		return STORE_OK;
	if (pg_ready(ps) != 0 ||
	    pg_run(ps, Q_DELIVERY_RENEW, v, 2, NULL) != STORE_OK)
		return STORE_ERROR;
	ps->renew_ms = now + ps->lease_ms / 4;
	return STORE_OK;
}

/* Whether a take may find something new: a notification came (LISTEN
 * starts with the first call, and again after a reconnect, which may
 * have missed some), or PG_IDLE_POLL_MS went by, for retries that came
 * due and circuits that closed, which nobody announces. Never blocks. */
static int
pg_outbox_changed(struct store *st)
{
	struct pg_store *ps = pg(st);
	int64_t now = clock_mono_ms();
	int changed = 0;
	PGnotify *n;

	if (!ps->listening && pg_ready(ps) == 0 &&
	    pg_run(ps, Q_OUTBOX_LISTEN, NULL, 0, NULL) == STORE_OK)
		ps->listening = changed = 1;
	PQconsumeInput(ps->conn);
	while ((n = PQnotifies(ps->conn)) != NULL) {
		changed = 1;
		PQfreemem(n);
	}
	if (!changed && now < ps->idle_poll_ms)
		return 0;
	ps->idle_poll_ms = now + PG_IDLE_POLL_MS;
	return 1;
}

/* Leases that ran out are looked for every PG_RECLAIM_MS (or quarter
 * lease, if shorter), not at every take: a node takes every few
 * milliseconds when idle. */
static enum store_status
pg_delivery_take(struct store *st, const char *subscriber, int64_t now_ms,
    size_t limit, struct store_delivery **list, size_t *n)
{
	struct pg_store *ps = pg(st);
	char now[PG_INT_LEN], l[PG_INT_LEN], lease[PG_INT_LEN];
	const char *v[] = { subscriber, pg_int(now, now_ms),
	    pg_int(l, limit > INT64_MAX ? INT64_MAX : (int64_t)limit),
	    ps->node, pg_int(lease, ps->lease_ms) };
	int64_t mono = clock_mono_ms();

	*list = NULL;
	*n = 0;
	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	if (mono >= ps->reclaim_ms) {
		if (pg_transaction(ps, pg_reclaim_rows, NULL) != STORE_OK)
			return STORE_ERROR;
		ps->reclaim_ms = mono + (ps->lease_ms / 4 < PG_RECLAIM_MS ?
		    ps->lease_ms / 4 : PG_RECLAIM_MS);
	}
	return pg_delivery_rows(ps, Q_DELIVERY_CLAIM, v, 5, list, n);
}

struct pg_finish {
	const struct store_delivery_outcome *o;
	size_t n;
	int64_t now_ms;
};

static enum store_status
pg_finish_rows(struct pg_store *ps, void *arg)
{
	struct pg_finish *f = arg;
	char now[PG_INT_LEN];

	pg_int(now, f->now_ms);
	for (size_t i = 0; i < f->n; i++) {
		const struct store_delivery_outcome *o = &f->o[i];
		char seq[PG_INT_LEN], state[PG_INT_LEN], attempts[PG_INT_LEN],
		    due[PG_INT_LEN], index[PG_INT_LEN];
		const char *v[] = { pg_int(seq, o->seq),
		    pg_int(state, (int64_t)o->state),
		    pg_int(attempts, o->attempts), pg_int(due, o->due_ms),
		    o->error, now, o->audit_index >= 0 ?
		    pg_int(index, o->audit_index) : NULL, o->audit_sha256,
		    ps->node };
		int64_t changed = pg_changes(ps, Q_DELIVERY_FINISH, v, 9);

		if (changed < 0)
			return STORE_ERROR;
		/* Its lease ran out and another node took it over (that one
		 * sends it again, under the same Idempotency-Key), or it was
		 * erased meanwhile. */
		if (changed == 0)
			log_warn("delivery %s: its outcome is not kept: another "
			    "node took it over, or it was erased", o->id);
	}
	/* A chain freed, or a retry set: the next take may find it. */
	return pg_run(ps, Q_OUTBOX_NOTIFY, NULL, 0, NULL);
}

static enum store_status
pg_delivery_finish(struct store *st, const struct store_delivery_outcome *o,
    size_t n, int64_t now_ms)
{
	struct pg_finish f = { .o = o, .n = n, .now_ms = now_ms };

	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_finish_rows, &f);
}

static enum store_status
pg_delivery_list(struct store *st, enum store_delivery_state state,
    int64_t after, size_t limit, struct store_delivery **list, size_t *n)
{
	char s[PG_INT_LEN], a[PG_INT_LEN], l[PG_INT_LEN];
	const char *v[] = { pg_int(s, (int64_t)state), pg_int(a, after),
	    pg_int(l, limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };

	*list = NULL;
	*n = 0;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_delivery_rows(pg(st), Q_DELIVERY_LIST, v, 3, list, n);
}

struct pg_retry {
	const char *id;
	int64_t now_ms;
	struct store_delivery *out;
};

static enum store_status
pg_retry_rows(struct pg_store *ps, void *arg)
{
	struct pg_retry *r = arg;
	char now[PG_INT_LEN];
	const char *v[] = { r->id, pg_int(now, r->now_ms) };
	struct store_delivery *found;
	enum store_status rc;
	size_t n;

	if ((rc = pg_delivery_rows(ps, Q_DELIVERY_GET, v, 1, &found, &n))
	    != STORE_OK)
		return rc;
	if (n == 0 || found[0].state != STORE_DELIVERY_DEAD) {
		store_deliveries_free(found, n);
		return STORE_NOT_FOUND;
	}
	*r->out = found[0];
	free(found);
	rc = pg_exists(ps, Q_DELIVERY_NEWER, v, 1);
	if (rc != STORE_NOT_FOUND)
		return rc == STORE_OK ? STORE_CONFLICT : rc;
	if ((rc = pg_run(ps, Q_DELIVERY_REQUEUE, v, 2, NULL)) != STORE_OK)
		return rc;
	r->out->state = STORE_DELIVERY_PENDING;
	return pg_run(ps, Q_OUTBOX_NOTIFY, NULL, 0, NULL);
}

static enum store_status
pg_delivery_retry(struct store *st, const char *id, int64_t now_ms,
    struct store_delivery *out)
{
	struct pg_retry r = { .id = id, .now_ms = now_ms, .out = out };
	enum store_status rc;

	memset(out, 0, sizeof(*out));
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	rc = pg_transaction(pg(st), pg_retry_rows, &r);
	if (rc != STORE_OK && rc != STORE_CONFLICT)
		store_delivery_clear(out);
	return rc;
}

/* ---- metrics -------------------------------------------------------- */

static enum store_status
pg_outbox_counts(struct store *st, struct store_outbox_count **list,
    size_t *n)
{
	struct pg_store *ps = pg(st);
	struct store_outbox_count *items;
	PGresult *r;
	int rows, count = 0;

	*list = NULL;
	*n = 0;
	if (pg_ready(ps) != 0 ||
	    pg_run(ps, Q_OUTBOX_COUNTS, NULL, 0, &r) != STORE_OK)
		return STORE_ERROR;
	rows = PQntuples(r);
	if ((items = calloc((size_t)rows + 1, sizeof(*items))) == NULL) {
		PQclear(r);
		return STORE_ERROR;
	}
	for (; count < rows; count++) {
		if ((items[count].subscriber = pg_get_dup(r, count, 0)) == NULL)
			break;
		items[count].waiting = (uint64_t)pg_get_int(r, count, 1);
		items[count].dead = (uint64_t)pg_get_int(r, count, 2);
	}
	PQclear(r);
	if (count < rows) {
		store_outbox_counts_free(items, (size_t)count);
		return STORE_ERROR;
	}
	*list = items;
	*n = (size_t)count;
	return STORE_OK;
}

/* ---- retention and erasure ------------------------------------------ */

static const char *
pg_rule_dataset(const void *arg, size_t i)
{
	return ((const struct store_retention *)arg)[i].dataset;
}

static int64_t
pg_rule_ms(const void *arg, size_t i)
{
	return ((const struct store_retention *)arg)[i].retention_ms;
}

static int64_t
pg_seq_at(const void *arg, size_t i)
{
	return ((const int64_t *)arg)[i];
}

/* The five parameters of PG_PURGE_DUE, in bufs; the arrays are malloc'd
 * into (*datasets, *ms), which the caller frees. -1 when out of memory. */
static int
pg_purge_params(const struct store_purge *p, char bufs[3][PG_INT_LEN],
    char **datasets, char **ms, const char *v[5])
{
	int64_t shortest = p->default_ms;

	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].retention_ms < shortest)
			shortest = p->rules[i].retention_ms;
	*datasets = pg_text_array(p->nrules, pg_rule_dataset, p->rules);
	*ms = pg_int_array(p->nrules, pg_rule_ms, p->rules);
	v[0] = pg_int(bufs[0], p->now_ms);
	v[1] = pg_int(bufs[1], p->default_ms);
	v[2] = pg_int(bufs[2], shortest);
	v[3] = *datasets;
	v[4] = *ms;
	return *datasets != NULL && *ms != NULL ? 0 : -1;
}

struct pg_purge_run {
	const struct store_purge *p;
	size_t limit;
	uint64_t erased;
};

/* Deletes the record versions in seqs (an int64 array literal) with their
 * idempotency keys and deliveries; adds the rows to *erased. */
static enum store_status
pg_erase_records(struct pg_store *ps, const char *seqs, uint64_t *erased)
{
	static const enum pg_stmt steps[] = { Q_ERASE_RECORDS_KEYS,
		Q_ERASE_RECORDS_DELIVERIES, Q_ERASE_RECORDS };
	const char *v[] = { seqs };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t changed = pg_changes(ps, steps[i], v, 1);

		if (changed < 0)
			return STORE_ERROR;
		if (steps[i] != Q_ERASE_RECORDS_KEYS)
			*erased += (uint64_t)changed;
	}
	return STORE_OK;
}

/* Under the accept lock, as accepts would otherwise add deliveries to
 * the chains being judged settled; two nodes purging at once take turns. */
static enum store_status
pg_purge_rows(struct pg_store *ps, void *arg)
{
	struct pg_purge_run *run = arg;
	char bufs[3][PG_INT_LEN], lim[PG_INT_LEN], *datasets, *ms, *list = NULL;
	const char *v[6];
	int64_t *seqs = NULL;
	enum store_status rc;
	PGresult *r = NULL;
	int rows = 0;

	v[5] = pg_int(lim, run->limit > INT64_MAX ? INT64_MAX :
	    (int64_t)run->limit);
	rc = pg_purge_params(run->p, bufs, &datasets, &ms, v) == 0 ?
	    pg_run(ps, Q_RECORDS_LOCK, NULL, 0, NULL) : STORE_ERROR;
	if (rc == STORE_OK)
		rc = pg_run(ps, Q_PURGE_DUE, v, 6, &r);
	if (rc == STORE_OK && (rows = PQntuples(r)) > 0 &&
	    (seqs = calloc((size_t)rows, sizeof(*seqs))) == NULL)
		rc = STORE_ERROR;
	for (int i = 0; rc == STORE_OK && i < rows; i++)
		seqs[i] = pg_get_int(r, i, 0);
	if (rc == STORE_OK && rows > 0 &&
	    (list = pg_int_array((size_t)rows, pg_seq_at, seqs)) == NULL)
		rc = STORE_ERROR;
	if (list != NULL)
		rc = pg_erase_records(ps, list, &run->erased);
	PQclear(r);
	free(seqs);
	free(list);
	free(datasets);
	free(ms);
	return rc;
}

static enum store_status
pg_purge(struct store *st, const struct store_purge *p, size_t limit,
    uint64_t *erased)
{
	struct pg_purge_run run = { .p = p, .limit = limit };
	enum store_status rc;

	*erased = 0;
	if (limit == 0)
		return STORE_OK;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_transaction(pg(st), pg_purge_rows, &run)) == STORE_OK)
		*erased = run.erased;
	return rc;
}

static enum store_status
pg_purge_backlog(struct store *st, const struct store_purge *p,
    uint64_t *count)
{
	struct pg_store *ps = pg(st);
	char bufs[3][PG_INT_LEN], *datasets, *ms;
	const char *v[5];
	enum store_status rc = STORE_ERROR;
	PGresult *r;

	*count = 0;
	if (pg_purge_params(p, bufs, &datasets, &ms, v) == 0 &&
	    pg_ready(ps) == 0 &&
	    (rc = pg_row(ps, Q_PURGE_BACKLOG, v, 5, &r)) == STORE_OK) {
		*count = (uint64_t)pg_get_int(r, 0, 0);
		PQclear(r);
	}
	free(datasets);
	free(ms);
	return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
}

struct pg_erase_run {
	const char *subject;
	uint64_t erased;
};

/* Under the accept lock: a version accepted between two of these
 * statements could otherwise have its deliveries kept and its record
 * deleted. */
static enum store_status
pg_erase_subject_rows(struct pg_store *ps, void *arg)
{
	static const enum pg_stmt steps[] = { Q_RECORDS_LOCK,
		Q_ERASE_SUBJECT_KEYS, Q_ERASE_SUBJECT_DELIVERIES,
		Q_ERASE_SUBJECT_RECORDS, Q_VIEW_KEY_DELETE, Q_ACCESS_DELETE };
	struct pg_erase_run *run = arg;
	const char *v[] = { run->subject };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t changed = pg_changes(ps, steps[i], v,
		    steps[i] == Q_RECORDS_LOCK ? 0 : 1);

		if (changed < 0)
			return STORE_ERROR;
		if (steps[i] == Q_ERASE_SUBJECT_DELIVERIES ||
		    steps[i] == Q_ERASE_SUBJECT_RECORDS)
			run->erased += (uint64_t)changed;
	}
	return STORE_OK;
}

static enum store_status
pg_erase_subject(struct store *st, const char *subject, uint64_t *erased)
{
	struct pg_erase_run run = { .subject = subject };
	enum store_status rc;

	*erased = 0;
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_transaction(pg(st), pg_erase_subject_rows, &run)) ==
	    STORE_OK)
		*erased = run.erased;
	return rc;
}

/* Nothing to do here. PostgreSQL never overwrites a deleted row: VACUUM
 * (autovacuum) only marks its space reusable, and the WAL, its archives
 * and base backups keep it until they expire. A VACUUM here would hold a
 * worker for as long as the table is large and promise nothing more, so
 * what an operator does is in docs/configuration.md instead. */
static enum store_status
pg_compact(struct store *st)
{
	(void)st;
	return STORE_OK;
}

struct pg_unlink {
	const char *service, *local_id;
	int64_t now_ms;
	char *subject;
};

static enum store_status
pg_link_delete_rows(struct pg_store *ps, void *arg)
{
	struct pg_unlink *u = arg;
	char now[PG_INT_LEN];
	const char *del[] = { u->service, u->local_id };
	const char *rev[] = { u->subject, u->service, pg_int(now, u->now_ms) };
	enum store_status rc;
	PGresult *r;

	if ((rc = pg_row(ps, Q_LINK_DELETE, del, 2, &r)) != STORE_OK)
		return rc;
	if (pg_copy_text(PQgetvalue(r, 0, 0), u->subject,
	    STORE_SUBJECT_LEN) != 0) {
		log_error("store: postgresql: malformed subject in links");
		rc = STORE_ERROR;
	}
	PQclear(r);
	if (rc != STORE_OK ||
	    (rc = pg_run(ps, Q_CONSENT_REVOKE_PARTY, rev, 3, NULL)) != STORE_OK)
		return rc;
	/* A mediator that no longer knows the citizen holds no mandate. */
	return pg_run(ps, Q_MANDATE_REVOKE_MEDIATOR, rev, 3, NULL);
}

static enum store_status
pg_link_delete(struct store *st, const char *service, const char *local_id,
    int64_t now_ms, char *subject)
{
	struct pg_unlink u = { service, local_id, now_ms, subject };

	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	return pg_transaction(pg(st), pg_link_delete_rows, &u);
}

/* ---- the audit log's last signed checkpoint ------------------------- */

static enum store_status
pg_audit_head_get(struct store *st, const char *origin, uint64_t *size,
    unsigned char *root)
{
	struct pg_store *ps = pg(st);
	const char *v[] = { origin };
	enum store_status rc;
	PGresult *r;

	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	if ((rc = pg_row(ps, Q_AUDIT_HEAD_GET, v, 1, &r)) == STORE_OK &&
	    (pg_get_int(r, 0, 0) < 0 ||
	    pg_copy_bytea(r, 0, 1, root, STORE_ROOT_LEN) != 0)) {
		log_error("store: postgresql: audit head get: a malformed row");
		rc = STORE_ERROR;
	}
	if (rc == STORE_OK)
		*size = (uint64_t)pg_get_int(r, 0, 0);
	PQclear(r);
	return rc;
}

/* The server's synchronous_commit decides, as for every other commit:
 * losing the last few only leaves an older head remembered. */
static enum store_status
pg_audit_head_put(struct store *st, const char *origin, uint64_t size,
    const unsigned char *root)
{
	char hex[2 + 2 * STORE_ROOT_LEN + 1] = "\\x", n[PG_INT_LEN],
	    now[PG_INT_LEN];
	const char *v[] = { origin, pg_int(n, (int64_t)size), hex,
	    pg_int(now, clock_now_ms()) };

	if (size > INT64_MAX || pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	encode_hex(root, STORE_ROOT_LEN, hex + 2);
	return pg_run(pg(st), Q_AUDIT_HEAD_PUT, v, 4, NULL);
}

/* ---- the audit log of several nodes ---------------------------------- */

/* A BYTEA parameter in text form ("\x" and hex); malloc'd. */
static char *
pg_bytea_param(const void *data, size_t len)
{
	char *out = malloc(2 * len + 3);

	if (out == NULL)
		return NULL;
	out[0] = '\\';
	out[1] = 'x';
	encode_hex(data, len, out + 2);
	return out;
}

/* A BYTEA column into out (data malloc'd, NUL terminated); -1 when NULL
 * or out of memory. */
static int
pg_get_blob(const PGresult *r, int row, int col, struct store_blob *out)
{
	unsigned char *raw;
	size_t len;

	out->data = NULL;
	if (PQgetisnull(r, row, col) || (raw = PQunescapeBytea((const unsigned
	    char *)PQgetvalue(r, row, col), &len)) == NULL)
		return -1;
	if ((out->data = malloc(len + 1)) != NULL) {
		memcpy(out->data, raw, len);
		out->data[len] = '\0';
		out->len = len;
	}
	PQfreemem(raw);
	return out->data != NULL ? 0 : -1;
}

/* The parameters of Q_AUDIT_APPEND: arrays of the batch's entries and of
 * its access rows, each an array literal; malloc'd. */
struct pg_audit_batch {
	const struct store_audit_entry *e;
	size_t n;
	char **hex;             /* the entries as BYTEA parameters */
	size_t *rows;           /* the offsets of the entries with a subject */
	size_t nrows;
	char *arrays[6];        /* entries, subjects, offsets, mandates, ... */
};

static const char *
pg_batch_hex(const void *arg, size_t i)
{
	return ((const struct pg_audit_batch *)arg)->hex[i];
}

static int64_t
pg_batch_offset(const void *arg, size_t i)
{
	return (int64_t)((const struct pg_audit_batch *)arg)->rows[i];
}

/* One text column of the batch's access rows: the subject, the mandate,
 * the mediator or the helper of each entry about a subject. */
struct pg_batch_column {
	const struct pg_audit_batch *b;
	size_t member;          /* offsetof(struct store_audit_entry, ...) */
};

/* Member of access row i; "" for none. */
static const char *
pg_batch_text(const void *arg, size_t i)
{
	const struct pg_batch_column *c = arg;
	const struct store_audit_entry *e = &c->b->e[c->b->rows[i]];
	const char *v = *(const char *const *)((const char *)e + c->member);

	return v != NULL ? v : "";
}

static void
pg_batch_clear(struct pg_audit_batch *b)
{
	for (size_t i = 0; b->hex != NULL && i < b->n; i++)
		free(b->hex[i]);
	free(b->hex);
	free(b->rows);
	for (size_t i = 0; i < 6; i++)
		free(b->arrays[i]);
}

/* Fills b's arrays; 0, or -1 when out of memory. */
static int
pg_batch_fill(struct pg_audit_batch *b)
{
	if ((b->hex = calloc(b->n, sizeof(*b->hex))) == NULL ||
	    (b->rows = calloc(b->n, sizeof(*b->rows))) == NULL)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		if ((b->hex[i] = pg_bytea_param(b->e[i].json,
		    b->e[i].len)) == NULL)
			return -1;
		if (b->e[i].subject != NULL)
			b->rows[b->nrows++] = i;
	}
	/* The access rows' text columns: their parameter, and the member. */
	static const size_t text[][2] = {
		{ 1, offsetof(struct store_audit_entry, subject) },
		{ 3, offsetof(struct store_audit_entry, mandate) },
		{ 4, offsetof(struct store_audit_entry, mediator) },
		{ 5, offsetof(struct store_audit_entry, helper) },
	};

	b->arrays[0] = pg_text_array(b->n, pg_batch_hex, b);
	b->arrays[2] = pg_int_array(b->nrows, pg_batch_offset, b);
	for (size_t i = 0; i < 4; i++) {
		struct pg_batch_column c = { b, text[i][1] };

		b->arrays[text[i][0]] = pg_text_array(b->nrows, pg_batch_text, &c);
	}
	for (size_t i = 0; i < 6; i++)
		if (b->arrays[i] == NULL)
			return -1;
	return 0;
}

static enum store_status
pg_audit_append(struct store *st, const struct store_audit_entry *e, size_t n,
    uint64_t *first)
{
	struct pg_audit_batch b = { .e = e, .n = n };
	char count[PG_INT_LEN];
	enum store_status rc = STORE_ERROR;
	PGresult *r = NULL;

	if (n == 0 || pg_ready(pg(st)) != 0)
		return n == 0 ? STORE_OK : STORE_ERROR;
	if (pg_batch_fill(&b) == 0) {
		const char *v[] = { pg_int(count, (int64_t)n), b.arrays[0],
		    b.arrays[1], b.arrays[2], b.arrays[3], b.arrays[4],
		    b.arrays[5] };

		rc = pg_row(pg(st), Q_AUDIT_APPEND, v, 7, &r);
	}
	if (rc == STORE_OK)
		*first = (uint64_t)pg_get_int(r, 0, 0);
	else if (rc == STORE_NOT_FOUND)   /* no coordination row: altered */
		rc = STORE_ERROR;
	PQclear(r);
	pg_batch_clear(&b);
	return rc;
}

static enum store_status
pg_audit_state(struct store *st, struct store_audit_state *out)
{
	struct store_blob note = { 0 };
	enum store_status rc;
	PGresult *r;

	memset(out, 0, sizeof(*out));
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_row(pg(st), Q_AUDIT_STATE, NULL, 0, &r)) != STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_ERROR : rc;
	if (pg_get_int(r, 0, 0) < 0 || pg_get_int(r, 0, 1) < 0 ||
	    pg_copy_bytea(r, 0, 2, out->root, STORE_ROOT_LEN) != 0 ||
	    (!PQgetisnull(r, 0, 3) && pg_get_blob(r, 0, 3, &note) != 0)) {
		log_error("store: postgresql: audit state: a malformed row");
		PQclear(r);
		return STORE_ERROR;
	}
	out->next = (uint64_t)pg_get_int(r, 0, 0);
	out->size = (uint64_t)pg_get_int(r, 0, 1);
	out->note = (char *)note.data;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_audit_entries(struct store *st, uint64_t from, size_t limit,
    struct store_blob **list, size_t *n)
{
	char f[PG_INT_LEN], l[PG_INT_LEN];
	const char *v[] = { pg_int(f, (int64_t)from), pg_int(l, (int64_t)limit) };
	PGresult *r;
	int rows;

	*list = NULL;
	*n = 0;
	if (from > INT64_MAX || pg_ready(pg(st)) != 0 ||
	    pg_run(pg(st), Q_AUDIT_ENTRIES, v, 2, &r) != STORE_OK)
		return STORE_ERROR;
	rows = PQntuples(r);
	/* Indexes are committed in order, so only the first can be missing:
	 * dropped once a checkpoint's bundles held it. */
	if (rows > 0 && pg_get_int(r, 0, 1) != (int64_t)from) {
		PQclear(r);
		return STORE_NOT_FOUND;
	}
	if ((*list = calloc((size_t)rows + 1, sizeof(**list))) == NULL) {
		PQclear(r);
		return STORE_ERROR;
	}
	for (; *n < (size_t)rows; (*n)++)
		if (pg_get_blob(r, (int)*n, 0, &(*list)[*n]) != 0) {
			PQclear(r);
			store_blobs_free(*list, *n);
			*list = NULL;
			*n = 0;
			return STORE_ERROR;
		}
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_audit_tile(struct store *st, const char *path, struct store_blob *out)
{
	const char *v[] = { path };
	enum store_status rc;
	PGresult *r;

	memset(out, 0, sizeof(*out));
	if (pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	if ((rc = pg_row(pg(st), Q_AUDIT_TILE, v, 1, &r)) == STORE_OK &&
	    pg_get_blob(r, 0, 0, out) != 0)
		rc = STORE_ERROR;
	PQclear(r);
	return rc;
}

/* The arrays of Q_AUDIT_TILES_PUT and Q_AUDIT_PARTIALS_DROP. */
struct pg_audit_tiles {
	const struct store_audit_publish *p;
	char **hex;             /* the tiles as BYTEA parameters */
	char **partials;        /* "<full path>.p/%" per full tile */
	size_t nfull;
};

static const char *
pg_tiles_path(const void *arg, size_t i)
{
	return ((const struct pg_audit_tiles *)arg)->p->paths[i];
}

static const char *
pg_tiles_hex(const void *arg, size_t i)
{
	return ((const struct pg_audit_tiles *)arg)->hex[i];
}

static const char *
pg_tiles_partial(const void *arg, size_t i)
{
	return ((const struct pg_audit_tiles *)arg)->partials[i];
}

/* Inserts the tiles, then drops the partial versions of the full ones. */
static enum store_status
pg_audit_tiles_put(struct pg_store *ps, struct pg_audit_tiles *t)
{
	const struct store_audit_publish *p = t->p;
	char *arrays[3] = { NULL, NULL, NULL };
	enum store_status rc = STORE_ERROR;

	for (size_t i = 0; i < p->ntiles; i++) {
		if ((t->hex[i] = pg_bytea_param(p->tiles[i].data,
		    p->tiles[i].len)) == NULL)
			return STORE_ERROR;
		if (strstr(p->paths[i], ".p/") == NULL &&
		    asprintf(&t->partials[t->nfull++], "%s.p/%%",
		    p->paths[i]) < 0) {
			t->partials[--t->nfull] = NULL;
			return STORE_ERROR;
		}
	}
	arrays[0] = pg_text_array(p->ntiles, pg_tiles_path, t);
	arrays[1] = pg_text_array(p->ntiles, pg_tiles_hex, t);
	arrays[2] = pg_text_array(t->nfull, pg_tiles_partial, t);
	if (arrays[0] != NULL && arrays[1] != NULL && arrays[2] != NULL &&
	    (rc = pg_run(ps, Q_AUDIT_TILES_PUT, (const char *const *)arrays,
	    2, NULL)) == STORE_OK && t->nfull > 0)
		rc = pg_run(ps, Q_AUDIT_PARTIALS_DROP,
		    (const char *const *)arrays + 2, 1, NULL);
	for (size_t i = 0; i < 3; i++)
		free(arrays[i]);
	return rc;
}

/* The tiles, the entries their bundles hold, then the compare-and-set
 * last: the coordination row, which every append waits for, is held only
 * from there to the COMMIT. */
static enum store_status
pg_audit_publish_rows(struct pg_store *ps, void *arg)
{
	struct pg_audit_tiles *t = arg;
	const struct store_audit_publish *p = t->p;
	char size[PG_INT_LEN], from[PG_INT_LEN], below[PG_INT_LEN];
	char root[2 + 2 * STORE_ROOT_LEN + 1] = "\\x",
	    from_root[2 + 2 * STORE_ROOT_LEN + 1] = "\\x";
	char *note;
	const char *v[5];
	enum store_status rc = STORE_ERROR;
	int64_t changed;

	if (p->note == NULL)
		return pg_audit_tiles_put(ps, t);
	note = pg_bytea_param(p->note, strlen(p->note));
	v[0] = pg_int(size, (int64_t)p->size);
	v[1] = root;
	v[2] = note;
	v[3] = pg_int(from, (int64_t)p->from_size);
	v[4] = from_root;
	encode_hex(p->root, STORE_ROOT_LEN, root + 2);
	encode_hex(p->from_root, STORE_ROOT_LEN, from_root + 2);
	pg_int(below, (int64_t)p->drop_below);
	if (note != NULL && (p->ntiles == 0 ||
	    pg_audit_tiles_put(ps, t) == STORE_OK) && (p->drop_below == 0 ||
	    pg_run(ps, Q_AUDIT_DROP, (const char *[]){ below }, 1, NULL) ==
	    STORE_OK)) {
		changed = pg_changes(ps, Q_AUDIT_PUBLISH, v, 5);
		rc = changed == 1 ? STORE_OK : changed == 0 ? STORE_CONFLICT :
		    STORE_ERROR;
	}
	free(note);
	return rc;
}

static enum store_status
pg_audit_publish(struct store *st, const struct store_audit_publish *p)
{
	struct pg_audit_tiles t = { .p = p };
	enum store_status rc = STORE_ERROR;

	if (p->size > INT64_MAX || p->drop_below > p->from_size ||
	    pg_ready(pg(st)) != 0)
		return STORE_ERROR;
	t.hex = calloc(p->ntiles + 1, sizeof(*t.hex));
	t.partials = calloc(p->ntiles + 1, sizeof(*t.partials));
	if (t.hex != NULL && t.partials != NULL)
		rc = pg_transaction(pg(st), pg_audit_publish_rows, &t);
	for (size_t i = 0; t.hex != NULL && i < p->ntiles; i++)
		free(t.hex[i]);
	for (size_t i = 0; i < t.nfull; i++)
		free(t.partials[i]);
	free(t.hex);
	free(t.partials);
	return rc;
}

/* pg_try_advisory_lock stacks: asked again by the session that holds it,
 * it says true and counts once more. Asking only until it is held keeps
 * the count at one; the session's end releases it whatever the count. */
static enum store_status
pg_audit_lead(struct store *st)
{
	struct pg_store *ps = pg(st);
	enum store_status rc;
	PGresult *r;

	if (pg_ready(ps) != 0)
		return STORE_ERROR;
	if (ps->leading)
		return STORE_OK;
	if ((rc = pg_row(ps, Q_AUDIT_LEAD, NULL, 0, &r)) != STORE_OK)
		return STORE_ERROR;
	ps->leading = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return ps->leading ? STORE_OK : STORE_CONFLICT;
}

/* Not cacheable (store_cache.c): other nodes write, and a cached link or
 * objection would miss an unlinking or an objection made on one of them.
 * No batch either: see store_backend.h. */
static const struct store_ops pg_ops = {
	.close = pg_close,
	.ping = pg_ping,
	.link_put = pg_link_put,
	.link_subject = pg_link_subject,
	.view_key_get = pg_view_key_get,
	.view_key_erase = pg_view_key_erase,
	.link_local_id = pg_link_local_id,
	.subject_linked = pg_subject_linked,
	.consent_insert = pg_consent_insert,
	.consent_get = pg_consent_get,
	.consent_revoke = pg_consent_revoke,
	.consent_find = pg_consent_find,
	.consent_list_for = pg_consent_list_for,
	.objection_insert = pg_objection_insert,
	.objection_find = pg_objection_find,
	.objection_match = pg_objection_match,
	.mandate_insert = pg_mandate_insert,
	.mandate_get = pg_mandate_get,
	.mandate_revoke = pg_mandate_revoke,
	.mandate_find = pg_mandate_find,
	.access_put = pg_access_put,
	.access_mandate = pg_access_mandate,
	.access_list = pg_access_list,
	.record_accept = pg_record_accept,
	.push_audited = pg_push_audited,
	.poll_cursor = pg_poll_cursor,
	.change_list = pg_change_list,
	.delivery_recover = pg_delivery_recover,
	.delivery_take = pg_delivery_take,
	.outbox_node = pg_outbox_node,
	.outbox_changed = pg_outbox_changed,
	.delivery_renew = pg_delivery_renew,
	.delivery_finish = pg_delivery_finish,
	.delivery_list = pg_delivery_list,
	.delivery_retry = pg_delivery_retry,
	.audit_head_get = pg_audit_head_get,
	.audit_head_put = pg_audit_head_put,
	.audit_append = pg_audit_append,
	.audit_state = pg_audit_state,
	.audit_entries = pg_audit_entries,
	.audit_tile = pg_audit_tile,
	.audit_publish = pg_audit_publish,
	.audit_lead = pg_audit_lead,
	.purge = pg_purge,
	.purge_backlog = pg_purge_backlog,
	.erase_subject = pg_erase_subject,
	.compact = pg_compact,
	.link_delete = pg_link_delete,
	.outbox_counts = pg_outbox_counts,
};
