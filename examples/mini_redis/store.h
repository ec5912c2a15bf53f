/* The key space: a hash table cut into shards, each behind its own mutex, so connections on
 * different workers rarely meet on a lock. Nothing suspends while a shard is locked (replies
 * are appended to the connection's write buffer, which never waits), so a plain mutex is the
 * right lock here: an async lock would only add its queueing to every command.
 *
 * Keys expire two ways, as in redis: an expired key found by a command is removed then (lazily),
 * and a sweeper task visits the shards a few times a second and removes what has expired. */
#ifndef MINI_REDIS_STORE_H
#define MINI_REDIS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edo.h"

typedef struct store store;

/* Times are in milliseconds on edo_now()'s clock; 0 means "never expires". */
int64_t store_now_ms(void);

/* A store of `shards` shards (a power of two). Returns 0, -EINVAL, -ENOMEM. */
/* Parses `len` bytes as a decimal int64 as redis does (no spaces, no '+', no leading zero, no
 * "-0"): values for INCRBY, and every integer argument. */
bool store_parse_int(const char *s, size_t len, int64_t *out);

int store_new(size_t shards, store **out);
void store_free(store *st);

/* GET: appends the value as a bulk string (or the null bulk) to `reply`. Returns 0 or -ENOMEM. */
int store_get(store *st, const char *key, size_t klen, edo_bytes *reply);

/* How SET treats a key that exists (NX: only if absent; XX: only if present), and its TTL. */
enum { SET_NX = 1, SET_XX = 2, SET_KEEPTTL = 4 };
/* SET: stores the value (expiring at `expire_at`, 0: never) unless the flags forbid it. Returns
 * 1 when stored, 0 when the flags forbade it, -ENOMEM. */
int store_set(store *st, const char *key, size_t klen, const char *val, size_t vlen,
              int64_t expire_at, int flags);
/* DEL and EXISTS of one key: 1 (it was there) or 0. */
int store_del(store *st, const char *key, size_t klen);
int store_exists(store *st, const char *key, size_t klen);
/* INCRBY: adds `delta` to the integer the key holds (a missing key holds 0), keeping its TTL.
 * Returns 0 and the new value, -EINVAL (not an integer), -ERANGE (overflow), -ENOMEM. */
int store_incr(store *st, const char *key, size_t klen, int64_t delta, int64_t *out);
/* EXPIRE: sets the key's expiry time (at or before now: the key goes). 1 if the key exists,
 * else 0. */
int store_expire(store *st, const char *key, size_t klen, int64_t expire_at);
/* TTL in milliseconds: -2 for a missing key, -1 for one without expiry. */
int64_t store_ttl(store *st, const char *key, size_t klen);
/* Removes the expired keys in the next `buckets` buckets of one shard (the sweeper goes round
 * them, a bounded step at a time so a shard is never locked for long); returns how many. */
size_t store_sweep_shard(store *st, size_t shard, size_t buckets);
size_t store_shard_count(const store *st);
/* Keys held (expired ones not yet removed included). */
size_t store_key_count(store *st);

#endif
