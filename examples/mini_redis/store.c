/* The sharded key space (see store.h). Each shard is a chained hash table that doubles when it
 * holds as many keys as buckets; an entry is one allocation holding its key and value. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo/resp.h"
#include "store.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t expire_at; /* ms; 0: never */
    size_t klen, vlen;
    char data[]; /* key, then value */
} entry;

/* A shard per cache line pair, so two workers locking neighbouring shards do not share a line. */
typedef struct shard {
    _Alignas(128) pthread_mutex_t lock;
    entry **buckets;
    size_t mask; /* buckets - 1 */
    size_t count;
    size_t sweep_cursor; /* the next bucket the sweeper visits */
} shard;

struct store {
    size_t nshards;
    shard shards[];
};

int64_t store_now_ms(void) { return (int64_t)(edo_now() / 1000000u); }

/* FNV-1a: keys are short; the low bits pick the shard, the high bits the bucket. */
static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211u;
    return h ^ (h >> 29);
}

int store_new(size_t nshards, store **out)
{
    if (nshards == 0 || (nshards & (nshards - 1)) != 0 || !out)
        return -EINVAL;
    store *st = aligned_alloc(128, (sizeof *st + nshards * sizeof(shard) + 127) / 128 * 128);
    if (!st)
        return -ENOMEM;
    st->nshards = nshards;
    for (size_t i = 0; i < nshards; i++) {
        shard *sh = &st->shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        sh->mask = 15;
        sh->count = 0;
        sh->buckets = calloc(sh->mask + 1, sizeof *sh->buckets);
        if (!sh->buckets) {
            st->nshards = i + 1;
            store_free(st);
            return -ENOMEM;
        }
    }
    *out = st;
    return 0;
}

void store_free(store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nshards; i++) {
        shard *sh = &st->shards[i];
        for (size_t b = 0; sh->buckets && b <= sh->mask; b++)
            for (entry *e = sh->buckets[b], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    free(st);
}

size_t store_shard_count(const store *st) { return st->nshards; }

static shard *lock_shard(store *st, uint64_t hash)
{
    shard *sh = &st->shards[hash & (st->nshards - 1)];
    pthread_mutex_lock(&sh->lock);
    return sh;
}

static entry **bucket_of(shard *sh, uint64_t hash) { return &sh->buckets[(hash >> 16) & sh->mask]; }

/* Takes the entry `*link` points at out of its chain and frees it. */
static void unlink_entry(shard *sh, entry **link)
{
    entry *e = *link;
    *link = e->next;
    sh->count--;
    free(e);
}

static bool is_expired(const entry *e, int64_t now)
{
    return e->expire_at != 0 && e->expire_at <= now;
}

/* The link that points at the key's entry (or at the NULL ending its chain). An expired entry
 * found on the way is unlinked and freed (lazy expiry). */
static entry **find(shard *sh, uint64_t hash, const char *key, size_t klen)
{
    entry **link = bucket_of(sh, hash);
    int64_t now = -1; /* read the clock only for a key with an expiry */
    while (*link) {
        entry *e = *link;
        if (e->hash == hash && e->klen == klen && memcmp(e->data, key, klen) == 0) {
            if (e->expire_at != 0) {
                if (now < 0)
                    now = store_now_ms();
                if (is_expired(e, now)) {
                    unlink_entry(sh, link);
                    continue;
                }
            }
            return link;
        }
        link = &e->next;
    }
    return link;
}

/* Doubles the bucket array (when it fails the table just stays more loaded). */
static void grow(shard *sh)
{
    size_t n = (sh->mask + 1) * 2;
    entry **buckets = calloc(n, sizeof *buckets);
    if (!buckets)
        return;
    for (size_t b = 0; b <= sh->mask; b++)
        for (entry *e = sh->buckets[b], *next; e; e = next) {
            next = e->next;
            entry **to = &buckets[(e->hash >> 16) & (n - 1)];
            e->next = *to;
            *to = e;
        }
    free(sh->buckets);
    sh->buckets = buckets;
    sh->mask = n - 1;
}

int store_get(store *st, const char *key, size_t klen, edo_bytes *reply)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    entry *e = *find(sh, h, key, klen);
    int rc = e ? edo_resp_append_bulk(reply, e->data + e->klen, e->vlen)
               : edo_resp_append_null(reply);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* Replaces (or inserts at) *link a new entry for key/value; the old one's TTL kept on request. */
static int put(shard *sh, entry **link, uint64_t h, const char *key, size_t klen,
               const char *val, size_t vlen, int64_t expire_at, bool keep_ttl)
{
    if (vlen > SIZE_MAX - sizeof(entry) - klen)
        return -ENOMEM;
    entry *old = *link;
    entry *e = malloc(sizeof *e + klen + vlen);
    if (!e)
        return -ENOMEM;
    e->hash = h;
    e->klen = klen;
    e->vlen = vlen;
    e->expire_at = keep_ttl && old ? old->expire_at : expire_at;
    memcpy(e->data, key, klen);
    if (vlen)
        memcpy(e->data + klen, val, vlen);
    if (old) {
        e->next = old->next;
        free(old);
    } else {
        e->next = NULL;
        sh->count++;
    }
    *link = e;
    if (!old && sh->count > sh->mask + 1)
        grow(sh);
    return 1;
}

int store_set(store *st, const char *key, size_t klen, const char *val, size_t vlen,
              int64_t expire_at, int flags)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    entry **link = find(sh, h, key, klen);
    int rc;
    if (((flags & SET_NX) && *link) || ((flags & SET_XX) && !*link))
        rc = 0;
    else
        rc = put(sh, link, h, key, klen, val, vlen, expire_at, flags & SET_KEEPTTL);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

int store_del(store *st, const char *key, size_t klen)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    entry **link = find(sh, h, key, klen);
    entry *e = *link;
    if (e)
        unlink_entry(sh, link);
    pthread_mutex_unlock(&sh->lock);
    return e != NULL;
}

int store_exists(store *st, const char *key, size_t klen)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    int found = *find(sh, h, key, klen) != NULL;
    pthread_mutex_unlock(&sh->lock);
    return found;
}

bool store_parse_int(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0') || (len > 1 && s[0] == '-' && s[1] == '0'))
        return false;
    char buf[21];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || end == buf || buf[0] == '+' || buf[0] == ' ')
        return false;
    *out = v;
    return true;
}

int store_incr(store *st, const char *key, size_t klen, int64_t delta, int64_t *out)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    entry **link = find(sh, h, key, klen);
    int64_t v = 0;
    int rc = 0;
    if (*link && !store_parse_int((*link)->data + (*link)->klen, (*link)->vlen, &v))
        rc = -EINVAL;
    else if ((delta > 0 && v > INT64_MAX - delta) || (delta < 0 && v < INT64_MIN - delta))
        rc = -ERANGE;
    if (rc == 0) {
        v += delta;
        char text[24];
        int n = snprintf(text, sizeof text, "%lld", (long long)v);
        rc = put(sh, link, h, key, klen, text, (size_t)n, 0, true);
        if (rc > 0) {
            *out = v;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

int store_expire(store *st, const char *key, size_t klen, int64_t expire_at)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    entry **link = find(sh, h, key, klen);
    entry *e = *link;
    if (e) {
        if (expire_at <= store_now_ms())
            unlink_entry(sh, link);
        else
            e->expire_at = expire_at;
    }
    pthread_mutex_unlock(&sh->lock);
    return e != NULL;
}

int64_t store_ttl(store *st, const char *key, size_t klen)
{
    uint64_t h = hash_key(key, klen);
    shard *sh = lock_shard(st, h);
    entry *e = *find(sh, h, key, klen);
    /* An entry find returns has not expired: its TTL is at least 1 ms. */
    int64_t ttl = !e ? -2 : e->expire_at == 0 ? -1 : e->expire_at - store_now_ms();
    pthread_mutex_unlock(&sh->lock);
    return ttl;
}

size_t store_sweep_shard(store *st, size_t index, size_t buckets)
{
    shard *sh = &st->shards[index & (st->nshards - 1)];
    size_t removed = 0;
    pthread_mutex_lock(&sh->lock);
    int64_t now = store_now_ms();
    for (size_t i = 0; i < buckets && i <= sh->mask; i++) {
        size_t b = sh->sweep_cursor++ & sh->mask;
        for (entry **link = &sh->buckets[b]; *link;) {
            entry *e = *link;
            if (is_expired(e, now)) {
                unlink_entry(sh, link);
                removed++;
            } else {
                link = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return removed;
}

size_t store_key_count(store *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->nshards; i++) {
        pthread_mutex_lock(&st->shards[i].lock);
        n += st->shards[i].count;
        pthread_mutex_unlock(&st->shards[i].lock);
    }
    return n;
}
