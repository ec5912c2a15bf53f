/* Publish/subscribe channels (see pubsub.h). The registry (name to channel) is one mutex: it is
 * taken by SUBSCRIBE, UNSUBSCRIBE and PUBLISH only, never while anything suspends. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "edo/resp.h"
#include "pubsub.h"

struct channel {
    channel *next;          /* in the registry's list */
    size_t subscribers;
    edo_broadcast *bcast;   /* carries sequence numbers */
    pthread_mutex_t lock;   /* the payload ring and `sent` */
    uint64_t sent;          /* messages published: the next sequence number */
    edo_bytes_slice ring[PUBSUB_BACKLOG];
    size_t name_len;
    char name[];
};

struct pubsub {
    pthread_mutex_t lock;
    channel *channels; /* a list: a server has few channels (a table would come with many) */
};

int pubsub_new(pubsub **out)
{
    pubsub *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    pthread_mutex_init(&ps->lock, NULL);
    *out = ps;
    return 0;
}

static void channel_free(channel *ch)
{
    edo_broadcast_sender_close(ch->bcast);
    for (size_t i = 0; i < PUBSUB_BACKLOG; i++)
        edo_bytes_slice_drop(&ch->ring[i]);
    pthread_mutex_destroy(&ch->lock);
    free(ch);
}

void pubsub_free(pubsub *ps)
{
    if (!ps)
        return;
    for (channel *ch = ps->channels, *next; ch; ch = next) {
        next = ch->next;
        channel_free(ch);
    }
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}

/* The link pointing at channel `name` (or at the NULL ending the list). Under ps->lock. */
static channel **find(pubsub *ps, const char *name, size_t len)
{
    channel **link = &ps->channels;
    while (*link && !((*link)->name_len == len && memcmp((*link)->name, name, len) == 0))
        link = &(*link)->next;
    return link;
}

static channel *channel_new(const char *name, size_t len)
{
    channel *ch = calloc(1, sizeof *ch + len + 1);
    if (!ch)
        return NULL;
    if (edo_broadcast_new(PUBSUB_BACKLOG, sizeof(uint64_t), &ch->bcast) < 0) {
        free(ch);
        return NULL;
    }
    pthread_mutex_init(&ch->lock, NULL);
    memcpy(ch->name, name, len);
    ch->name_len = len;
    return ch;
}

int pubsub_subscribe(pubsub *ps, const char *name, size_t len, subscription *sub)
{
    pthread_mutex_lock(&ps->lock);
    channel **link = find(ps, name, len);
    channel *ch = *link;
    if (!ch) {
        ch = channel_new(name, len);
        if (!ch) {
            pthread_mutex_unlock(&ps->lock);
            return -ENOMEM;
        }
        *link = ch;
    }
    int rc = edo_broadcast_subscribe(ch->bcast, &sub->rx);
    if (rc == 0) {
        ch->subscribers++;
        sub->ch = ch;
    } else if (ch->subscribers == 0) {
        *link = ch->next;
        channel_free(ch);
    }
    pthread_mutex_unlock(&ps->lock);
    return rc;
}

void pubsub_unsubscribe(pubsub *ps, subscription *sub)
{
    pthread_mutex_lock(&ps->lock);
    edo_broadcast_receiver_close(sub->rx);
    channel *ch = sub->ch;
    if (--ch->subscribers == 0) {
        channel **link = find(ps, ch->name, ch->name_len);
        *link = ch->next;
        channel_free(ch);
    }
    pthread_mutex_unlock(&ps->lock);
    sub->ch = NULL;
    sub->rx = NULL;
}

const char *pubsub_channel_name(const subscription *sub, size_t *len)
{
    *len = sub->ch->name_len;
    return sub->ch->name;
}

int pubsub_publish(pubsub *ps, const char *name, size_t len, const char *msg, size_t mlen)
{
    edo_bytes_slice payload;
    if (edo_bytes_slice_copy(msg, mlen, &payload) < 0)
        return -ENOMEM;
    pthread_mutex_lock(&ps->lock);
    channel *ch = *find(ps, name, len);
    int receivers = 0;
    if (ch) {
        /* The payload is in the ring before its number is sent: a subscriber woken by the
         * number finds it. */
        pthread_mutex_lock(&ch->lock);
        uint64_t seq = ch->sent++;
        edo_bytes_slice *slot = &ch->ring[seq % PUBSUB_BACKLOG];
        edo_bytes_slice_drop(slot);
        *slot = payload;
        pthread_mutex_unlock(&ch->lock);
        edo_broadcast_send(ch->bcast, &seq);
        receivers = (int)ch->subscribers;
    } else {
        edo_bytes_slice_drop(&payload);
    }
    pthread_mutex_unlock(&ps->lock);
    return receivers;
}

int pubsub_append_message(const subscription *sub, uint64_t seq, edo_bytes *out)
{
    channel *ch = sub->ch;
    pthread_mutex_lock(&ch->lock);
    int rc = 0;
    if (seq + PUBSUB_BACKLOG >= ch->sent) {
        const edo_bytes_slice *slot = &ch->ring[seq % PUBSUB_BACKLOG];
        rc = edo_resp_append_array(out, 3);
        if (rc == 0)
            rc = edo_resp_append_bulk(out, "message", 7);
        if (rc == 0)
            rc = edo_resp_append_bulk(out, ch->name, ch->name_len);
        if (rc == 0)
            rc = edo_resp_append_bulk(out, edo_bytes_slice_data(slot), edo_bytes_slice_len(slot));
        if (rc == 0)
            rc = 1;
    }
    pthread_mutex_unlock(&ch->lock);
    return rc;
}
