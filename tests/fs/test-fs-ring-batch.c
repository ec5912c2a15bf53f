/* SQEs published without entering the ring, to be entered once per worker turn for all the
 * tasks that ran in it (edo__runtime_cring_submit_unlock, edo__worker_flush_io): on a current-thread
 * ring runtime, a read started while another task waits in the run-next slot is deferred (its
 * task suspends, the other task runs first), and entered when the worker has nothing else to
 * do, with no wake from outside; a read dropped between its publication and the entry is
 * entered all the same (the kernel owns its record), leaves nothing behind (descriptors, slots,
 * memory under ASan) and the ring works after. A kernel without io_uring skips them. */
#include <stdatomic.h>
#include <unistd.h>

#include "edo/fs.h"
#include "edo/sync.h"
#include "fs/fs_test.h"
#include "io/uring/completions.h"

#define SIZE 3000

static char pattern[SIZE];

static void make_file(const char *path)
{
    for (size_t i = 0; i < SIZE; i++)
        pattern[i] = (char)(i * 13 + 1);
    CHECK_EQ(edo_fs_write(path, pattern, SIZE), 0);
}

typedef struct other {
    atomic_bool *reader_done;
    bool saw_reader_done; /* whether the reader had finished when this first ran */
    edo_notify *go;
} other;

/* The other task: looks whether the reader finished, then parks until told to end. */
static void *other_task(void *arg)
{
    other *o = arg;
    o->saw_reader_done = atomic_load(o->reader_done);
    CHECK_EQ(edo_notify_wait(o->go), 0);
    return NULL;
}

static void deferred_entered_when_idle(fs_dir *d)
{
    const char *path = fs_path(d, 0, "small");
    make_file(path);
    atomic_bool reader_done = false;
    other o = {.reader_done = &reader_done};
    CHECK_EQ(edo_notify_new(&o.go), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(other_task, &o, &t), 0); /* waits in the run-next slot */
    void *data;
    size_t len;
    /* Deferred: this task suspends, the other runs and parks, and then only the worker's
     * own flush (nothing else is left to wake anyone) can finish the read. */
    CHECK_EQ(edo_fs_read(path, &data, &len), 0);
    atomic_store(&reader_done, true);
    CHECK_EQ(len, (size_t)SIZE);
    CHECK(memcmp(data, pattern, SIZE) == 0);
    free(data);
    edo_notify_one(o.go);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    CHECK(!o.saw_reader_done); /* the read was deferred, not done inline */
    edo_notify_free(o.go);
    CHECK_EQ(edo_fs_remove_file(path), 0);
}

TEST(deferred_entered_when_idle)
{
    fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, deferred_entered_when_idle);
}

static void *nothing(void *arg) { return arg; }

static void dropped_before_entry(fs_dir *d)
{
    const char *path = fs_path(d, 0, "small");
    make_file(path);
    edo__cring *c = edo__runtime_cring(edo_runtime_current());
    CHECK(c != NULL);
    for (int round = 0; round < 50; round++) {
        edo_task *t;
        CHECK_EQ(edo_spawn(nothing, NULL, &t), 0); /* more to run: the read is deferred */
        void *data = NULL;
        size_t len = 0;
        edo_fs_future f;
        edo_fs_read_future_init(&f, path, &data, &len);
        edo_context cx;
        edo_context_init(&cx, NULL, NULL);
        CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
        CHECK(atomic_load(&c->unentered)); /* published, not entered */
        edo_future_drop(&f.base);
        CHECK(data == NULL); /* nothing delivered to a dropped future */
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
    }
    /* A read with nothing else to run enters at once, taking in what the dropped reads' last
     * steps published meanwhile: then every dropped read has ended, nothing is in flight and
     * every slot is back. */
    fs_check_contents(path, pattern, SIZE);
    CHECK(!atomic_load(&c->unentered));
    CHECK_EQ(atomic_load(&c->inflight), 0);
    CHECK_EQ(c->nfree, c->nslots);
    CHECK_EQ(edo_fs_remove_file(path), 0);
}

TEST(dropped_before_entry) { fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, dropped_before_entry); }
