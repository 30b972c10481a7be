/* store_sql.h — SQL text that store_sqlite.c and store_pg.c share, the
 * same in both dialects: the column lists their row readers expect, and
 * the conditions on a delivery's version chain. */
#ifndef TELLONCE_STORE_SQL_H
#define TELLONCE_STORE_SQL_H

#define CONSENT_COLUMNS "id, subject, consumer, provider, dataset, purpose, " \
	"created_ms, expires_ms, revoked_ms, mandate, mediator, helper"
#define MANDATE_COLUMNS "id, subject, mediator, helper, actions, created_ms, " \
	"expires_ms, revoked_ms"

#define RECORD_COLUMNS "r.seq, r.id, r.subject, r.provider, r.dataset, " \
	"r.record, r.version, r.created_ms, v.key, r.traceparent"
#define RECORD_NCOLUMNS 10
/* The view key of a record's subject, read with the record. */
#define RECORD_VIEW_KEY " LEFT JOIN view_keys v ON v.subject = r.subject "
#define DELIVERY_COLUMNS "d.seq, d.id, d.subscriber, d.state, d.attempts, " \
	"d.since_ms, d.due_ms, d.updated_ms, d.last_error, " RECORD_COLUMNS \
	", d.audit_index, d.audit_sha256"
#define DELIVERY_FROM " FROM deliveries d JOIN records r ON r.seq = d.record_seq " \
	RECORD_VIEW_KEY
/* Another delivery of the same version chain: (subscriber, subject, dataset). */
#define DELIVERY_SAME_CHAIN(n, d) n ".subscriber = " d ".subscriber AND " \
	n ".subject = " d ".subject AND " n ".dataset = " d ".dataset"
/* States a newer version in the chain may be in for an older one to be
 * moot: pending, sending or delivered (not dead, superseded or denied). */
#define DELIVERY_LIVE "(0, 1, 2)"

#endif
