/* store_inflight.c — the deliveries in flight on a SQLite store, in memory
 * (store_inflight.h says why).
 *
 * Two open-addressing tables with tombstones: seq -> its chain and its
 * unsettled change, and chain -> how many of it are in flight. A worker
 * has at most its subscribers' `concurrency` in flight, so both stay
 * small; a table is rebuilt when its tombstones and entries fill it.
 * Every connection of the process to one store file shares its set (a
 * registry by path), under the set's mutex: a take and a finish hold it
 * for a few lookups. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_inflight.h"

enum { SLOT_EMPTY, SLOT_LIVE, SLOT_GONE };
/* A seq's change not yet settled. */
enum { CHANGE_NONE, CHANGE_ADDING, CHANGE_REMOVING };

struct slot {
	uint64_t key;
	uint64_t chain;        /* the seq table's */
	uint32_t count;        /* the chain table's */
	unsigned char state, change;
	const void *owner;     /* the seq table's: who made the change */
};

struct table {
	struct slot *slots;
	size_t cap;            /* a power of two, or 0 */
	size_t used;           /* live and gone */
};

struct store_inflight {
	pthread_mutex_t lock;
	struct table seqs, chains;
	size_t unsettled;      /* seqs with a change */
	char *path;            /* the registry's, under its mutex: */
	unsigned refs;
	struct store_inflight *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_inflight *registry;

static uint64_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static struct slot *
table_find(const struct table *t, uint64_t key)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = mix(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct slot *s = &t->slots[i];

		if (s->state == SLOT_EMPTY)
			return NULL;
		if (s->state == SLOT_LIVE && s->key == key)
			return s;
	}
}

/* Room for one more entry: the live ones moved into a table twice their
 * number (at least 64), without the gone ones. -1 when out of memory. */
static int
table_reserve(struct table *t)
{
	struct table grown = { 0 };
	size_t live = 0;

	if (t->cap != 0 && (t->used + 1) * 4 <= t->cap * 3)
		return 0;
	for (size_t i = 0; i < t->cap; i++)
		live += t->slots[i].state == SLOT_LIVE;
	grown.cap = 64;
	while (grown.cap < (live + 1) * 2)
		grown.cap *= 2;
	if ((grown.slots = calloc(grown.cap, sizeof(*grown.slots))) == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		struct slot *s = &t->slots[i];
		size_t j;

		if (s->state != SLOT_LIVE)
			continue;
		for (j = mix(s->key) & (grown.cap - 1);
		    grown.slots[j].state != SLOT_EMPTY;
		    j = (j + 1) & (grown.cap - 1))
			;
		grown.slots[j] = *s;
		grown.used++;
	}
	free(t->slots);
	*t = grown;
	return 0;
}

/* A new live slot for key, which is not in t; NULL when out of memory. */
static struct slot *
table_insert(struct table *t, uint64_t key)
{
	size_t i;

	if (table_reserve(t) != 0)
		return NULL;
	for (i = mix(key) & (t->cap - 1); t->slots[i].state == SLOT_LIVE;
	    i = (i + 1) & (t->cap - 1))
		;
	if (t->slots[i].state == SLOT_EMPTY)
		t->used++;
	t->slots[i] = (struct slot){ .key = key, .state = SLOT_LIVE };
	return &t->slots[i];
}

/* A chain at 0 stays in the table until `drop`: a removal not yet
 * settled may need it back, and must not need memory for that. */
static void
chain_down(struct store_inflight *f, uint64_t chain, int drop)
{
	struct slot *c = table_find(&f->chains, chain);

	if (c == NULL)
		return;
	if (c->count > 0)
		c->count--;
	if (drop && c->count == 0)
		c->state = SLOT_GONE;
}

/* The chain's slot, kept at 0 by a removal, goes once it settled. */
static void
chain_drop_idle(struct store_inflight *f, uint64_t chain)
{
	struct slot *c = table_find(&f->chains, chain);

	if (c != NULL && c->count == 0)
		c->state = SLOT_GONE;
}

/* -1 when out of memory. */
static int
chain_up(struct store_inflight *f, uint64_t chain)
{
	struct slot *c = table_find(&f->chains, chain);

	if (c == NULL && (c = table_insert(&f->chains, chain)) == NULL)
		return -1;
	c->count++;
	return 0;
}

struct store_inflight *
store_inflight_open(const char *path)
{
	struct store_inflight *f;

	pthread_mutex_lock(&registry_lock);
	for (f = registry; f != NULL && strcmp(f->path, path) != 0; f = f->next)
		;
	if (f == NULL && (f = calloc(1, sizeof(*f))) != NULL) {
		if ((f->path = strdup(path)) == NULL) {
			free(f);
			f = NULL;
		} else {
			pthread_mutex_init(&f->lock, NULL);
			f->next = registry;
			registry = f;
		}
	}
	if (f != NULL)
		f->refs++;
	pthread_mutex_unlock(&registry_lock);
	return f;
}

void
store_inflight_close(struct store_inflight *f)
{
	struct store_inflight **p;

	if (f == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	if (--f->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (p = &registry; *p != f; p = &(*p)->next)
		;
	*p = f->next;
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_destroy(&f->lock);
	free(f->seqs.slots);
	free(f->chains.slots);
	free(f->path);
	free(f);
}

uint64_t
store_inflight_chain(const char *subscriber, const char *subject,
    const char *dataset)
{
	const char *parts[] = { subscriber, subject, dataset };
	uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a, each part and its NUL */

	for (size_t i = 0; i < 3; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];

		do {
			h ^= *p;
			h *= 0x100000001b3ULL;
		} while (*p++ != '\0');
	}
	return h;
}

int
store_inflight_has(struct store_inflight *f, int64_t seq)
{
	const struct slot *s;
	int has;

	pthread_mutex_lock(&f->lock);
	s = table_find(&f->seqs, (uint64_t)seq);
	has = s != NULL && s->change != CHANGE_REMOVING;
	pthread_mutex_unlock(&f->lock);
	return has;
}

/* store_inflight_take with f->lock held. */
static int
inflight_take(struct store_inflight *f, const void *owner, int64_t seq,
    uint64_t chain, int tentative)
{
	struct slot *s = table_find(&f->seqs, (uint64_t)seq);
	const struct slot *c = table_find(&f->chains, chain);

	if ((s != NULL && s->change != CHANGE_REMOVING) ||
	    (c != NULL && c->count > 0))
		return 0;
	if (chain_up(f, chain) != 0)
		return -1;
	if (s != NULL) {
		/* Its outcome and its next take in one batch: in flight
		 * whether the batch commits or not. */
		s->change = CHANGE_NONE;
		f->unsettled--;
		return 1;
	}
	if ((s = table_insert(&f->seqs, (uint64_t)seq)) == NULL) {
		chain_down(f, chain, 1);
		return -1;
	}
	s->chain = chain;
	if (tentative) {
		s->change = CHANGE_ADDING;
		s->owner = owner;
		f->unsettled++;
	}
	return 1;
}

int
store_inflight_take(struct store_inflight *f, const void *owner, int64_t seq,
    uint64_t chain, int tentative)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	rc = inflight_take(f, owner, seq, chain, tentative);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void
store_inflight_remove(struct store_inflight *f, const void *owner,
    int64_t seq, int tentative)
{
	struct slot *s;

	pthread_mutex_lock(&f->lock);
	s = table_find(&f->seqs, (uint64_t)seq);
	if (s == NULL || s->change == CHANGE_REMOVING) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	chain_down(f, s->chain, !tentative || s->change == CHANGE_ADDING);
	if (tentative && s->change == CHANGE_NONE) {
		s->change = CHANGE_REMOVING;
		s->owner = owner;
		f->unsettled++;
	} else {
		if (s->change == CHANGE_ADDING)
			f->unsettled--;
		s->state = SLOT_GONE;
	}
	pthread_mutex_unlock(&f->lock);
}

/* One change settled; 1 when its seq leaves the set. */
static int
inflight_settle_one(struct store_inflight *f, struct slot *s, int committed)
{
	int gone;

	if (s->change == CHANGE_ADDING) {
		gone = !committed;
		if (gone)
			chain_down(f, s->chain, 1);
	} else {
		/* A removal undone puts its chain back in the slot the
		 * removal kept (chain_down). */
		gone = committed;
		if (gone)
			chain_drop_idle(f, s->chain);
		else
			chain_up(f, s->chain);
	}
	s->change = CHANGE_NONE;
	f->unsettled--;
	return gone;
}

void
store_inflight_settle(struct store_inflight *f, const void *owner,
    int committed)
{
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; f->unsettled > 0 && i < f->seqs.cap; i++) {
		struct slot *s = &f->seqs.slots[i];

		if (s->state == SLOT_LIVE && s->change != CHANGE_NONE &&
		    s->owner == owner && inflight_settle_one(f, s, committed))
			s->state = SLOT_GONE;
	}
	pthread_mutex_unlock(&f->lock);
}

void
store_inflight_clear(struct store_inflight *f)
{
	pthread_mutex_lock(&f->lock);
	free(f->seqs.slots);
	free(f->chains.slots);
	f->seqs = f->chains = (struct table){ 0 };
	f->unsettled = 0;
	pthread_mutex_unlock(&f->lock);
}
