/* Publish/subscribe channels on edo's broadcast channels (edo/sync.h).
 *
 * A broadcast channel copies fixed-size messages, and a message a slow receiver missed is simply
 * overwritten: a pointer to a payload sent through it would leak whenever that happens. So each
 * channel keeps the payloads itself, in a ring of the broadcast's capacity indexed by sequence
 * number, and the broadcast carries only sequence numbers. A subscriber that receives a number
 * copies the payload out if it is still held, and otherwise counts it as missed, as the
 * broadcast does. Channels are made by their first subscriber and go with their last. */
#ifndef MINI_REDIS_PUBSUB_H
#define MINI_REDIS_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "edo.h"

typedef struct pubsub pubsub;
typedef struct channel channel;

/* One connection's subscription to one channel. */
typedef struct subscription {
    channel *ch;
    edo_broadcast_receiver *rx;
    uint64_t seq;                  /* what the receive future delivers */
    edo_broadcast_recv_future recv; /* the receive in progress, while waiting */
} subscription;

/* Messages a channel holds for subscribers that lag. */
#define PUBSUB_BACKLOG 1024

int pubsub_new(pubsub **out);
void pubsub_free(pubsub *ps);

/* Subscribes `sub` to channel `name`. Returns 0, -ENOMEM. */
int pubsub_subscribe(pubsub *ps, const char *name, size_t len, subscription *sub);
/* Ends the subscription (no receive may be in progress on it). */
void pubsub_unsubscribe(pubsub *ps, subscription *sub);
/* The subscription's channel name. */
const char *pubsub_channel_name(const subscription *sub, size_t *len);
/* Sends `msg` to the channel's subscribers: returns how many there are (0: nobody listens),
 * or -ENOMEM. */
int pubsub_publish(pubsub *ps, const char *name, size_t len, const char *msg, size_t mlen);
/* Appends the message with sequence `seq` as redis's ["message", channel, payload] reply to
 * `out`; returns 1, 0 when it was overwritten meanwhile (missed), -ENOMEM. */
int pubsub_append_message(const subscription *sub, uint64_t seq, edo_bytes *out);

#endif
