/* A spin model of the run queues (src/core/queue.h, queue.c, and how worker.c uses them): keep
 * in step with the C.
 *
 * Modelled: each worker's local ring (the owner's edo__local_push_back with its overflow,
 * edo__local_pop; edo__local_steal_into by the other worker), the run-next (LIFO) slot of
 * schedule_local, and the global queue as one Vyukov inject queue (edo__inject_push_batch,
 * pop_one under the pop lock, the pushed/popped counts). Every access to a shared word is one
 * atomic step, as it is one atomic instruction in the C: a load then a CAS are two steps, the
 * copy of each stolen slot is a load and a store. Spin interleaves sequentially consistently, so
 * the model checks the protocol, not the C11 memory orders.
 *
 * Sizes: 2 workers and 1 remote thread, NT = 3 tasks, a ring of CAP = 2 slots (so that three
 * tasks overflow it; the C has 256, and the logic does not depend on the size beyond the
 * halving). Worker 0 spawns tasks 1 and 2 (into the run-next slot, or straight into its ring,
 * as a yield or a spent run-next turn does); the remote thread spawns task 3 into the global
 * queue. A worker takes work from its run-next slot, its ring, the global queue (one task: the
 * batch a worker takes is pop_global_batch's loop of the same steps), or by stealing from the
 * other. A task taken is run, and may be requeued once into the runner's ring (RUN_REQUEUE:
 * woken while it ran). Left out: the global queue's two parts (which part a task joins decides
 * order, not loss), the pinned queue (another inject queue), parking.
 *
 * Properties: a task is never taken while it runs (none runs twice at once) nor after it
 * finished; and when every actor has stopped (each may stop between operations), every task is
 * finished or found exactly once in the queues (none lost, none duplicated).
 *
 * Broken variants (-DBROKEN_..., each flips one transition; .ci/models.sh expects a
 * counterexample from each): see docs/models.md.
 */

#define NT 3
#define CAP 2
#define HALF 1                     /* EDO__LOCAL_CAP / 2 */
#define NIL 255                    /* a null link */
#define STUB 0                     /* the inject queue's stub node; tasks are 1..NT */

/* The local rings: head packs (steal, real); updating both is one step, as it is one word. */
byte hsteal[2], hreal[2], tail[2];
byte buf[2 * CAP];
#define SLOT(w, pos) buf[(w) * CAP + (pos) % CAP]
byte lifo[2];                      /* the run-next slot (the worker's own; global to check) */

/* The inject queue: links (node 0 is the stub), the producers' tail, the consumers' head. */
byte inext[NT + 1];
byte itail = STUB, ihead = STUB;
byte ipushed, ipopped;
bool ilock;

bool running[NT + 1], finished[NT + 1];
byte requeues[NT + 1];

/* ---- the inject queue (queue.c: link_batch, edo__inject_push_batch, pop_one) ---------------- */

/* link_batch: appends first..last (already linked). */
inline link_batch(first, last, prev)
{
    atomic { inext[last] = NIL; prev = itail; itail = last }; /* set_next(last, NULL); exchange */
    inext[prev] = first                                      /* store(prev->next), release */
}

/* edo__inject_push_batch: counted before linking, so the length never reads negative. */
inline inject_push_batch(first, last, n, prev)
{
    atomic { ipushed = ipushed + n };                        /* fetch_add(pushed) */
    link_batch(first, last, prev)
}

/* edo__inject_pop_batch with max 1: `got` is the task, or NIL. */
inline inject_pop(got, h, nx, prev, popped)
{
    got = NIL;
    atomic { popped = ipopped };
    if
    :: ipushed - popped == 0 -> skip                          /* edo__inject_is_empty */
    :: else ->
        atomic { !ilock -> ilock = true };                    /* edo__spin_lock */
        /* pop_one */
        atomic { h = ihead; nx = inext[h] };
        if
        :: h == STUB && nx == NIL -> goto unlock
        :: h == STUB && nx != NIL -> atomic { ihead = nx; h = nx; nx = inext[h] }
        :: else
        fi;
        if
        :: nx != NIL -> ihead = nx; got = h; goto popped_one
        :: else
        fi;
        if
        :: h != itail -> goto unlock                          /* a producer is linking */
        :: else
        fi;
        link_batch(STUB, STUB, prev);                      /* the stub behind the last task */
        atomic { nx = inext[h] };
        if
        :: nx != NIL -> ihead = nx; got = h
        :: else
        fi;
popped_one:
        if
        :: got != NIL -> atomic { inext[got] = NIL; ipopped = ipopped + 1 }
        :: else
        fi;
unlock:
        ilock = false
    fi
}

/* ---- the ring (queue.h: edo__local_push_back, edo__local_pop; queue.c: the rest) ------------ */

/* edo__local_push_overflow: ok when the oldest half plus t went to the global queue. */
inline push_overflow(w, t, real, ok, i, prev, first, last)
{
    atomic {
        if
        :: hsteal[w] == real && hreal[w] == real ->
            hsteal[w] = real + HALF; hreal[w] = real + HALF; ok = true
        :: else -> ok = false
        fi
    };
    if
    :: ok ->
        /* The claimed slots are ours: link them, oldest first, then t (edo__fifo_push). */
        i = 0; first = NIL; last = NIL;
        do
        :: i < HALF ->
            atomic {
                if :: first == NIL -> first = SLOT(w, real + i) :: else -> inext[last] = SLOT(w, real + i) fi;
                last = SLOT(w, real + i)
            };
            i++
        :: else -> break
        od;
        atomic { inext[last] = t; last = t };
        inject_push_batch(first, last, HALF + 1, prev)
    :: else
    fi
}

inline push_back(w, t, steal, real, tl, ok, i, prev, first, last)
{
    do
    :: atomic { steal = hsteal[w]; real = hreal[w] };          /* load(head) */
        tl = tail[w];
        if
        :: tl - steal < CAP ->
#ifdef BROKEN_PUSH_TAIL_FIRST
            tail[w] = tl + 1;                                    /* broken: published first */
            SLOT(w, tl) = t;
#else
            SLOT(w, tl) = t;                                     /* store the slot */
            tail[w] = tl + 1;                                    /* store(tail), release */
#endif
            break
        :: tl - steal >= CAP && steal != real ->
            /* a stealer is draining the ring: t goes to the global queue */
            inject_push_batch(t, t, 1, prev);
            break
        :: tl - steal >= CAP && steal == real ->
            push_overflow(w, t, real, ok, i, prev, first, last);
            if :: ok -> break :: else fi
        fi
    od
}

/* edo__local_pop: `got` is the task, or NIL. */
inline local_pop(w, got, steal, real, ok)
{
    got = NIL;
    atomic { steal = hsteal[w]; real = hreal[w] };              /* load(head) */
    do
    :: real == tail[w] -> break                                  /* empty */
    :: else ->
#ifdef BROKEN_POP_STORE
        /* broken: a store instead of the CAS: a stealer's claim in between is overwritten */
        if
        :: steal == real -> atomic { hsteal[w] = real + 1; hreal[w] = real + 1 }
        :: else -> hreal[w] = real + 1
        fi;
        ok = true;
#else
        atomic {
            if
            :: hsteal[w] == steal && hreal[w] == real ->
                if
                :: steal == real -> hsteal[w] = real + 1
                :: else
                fi;
                hreal[w] = real + 1; ok = true
            :: else -> steal = hsteal[w]; real = hreal[w]; ok = false
            fi
        };
#endif
        if
        :: ok -> got = SLOT(w, real); break                     /* load the slot */
        :: else
        fi
    od
}

/* edo__local_steal_into(victim v, dst d): `got` is the task to run, or NIL. */
inline steal_into(v, d, got, steal, real, tl, n, first, i, dtail, x)
{
    got = NIL;
    dtail = tail[d];
    atomic { x = hsteal[d] };
    if
    :: dtail - x > HALF -> skip                                  /* no room for half of any victim */
    :: else ->
        atomic { steal = hsteal[v]; real = hreal[v] };
        do
        :: steal != real -> n = 0; break                         /* another stealer is at work */
        :: else ->
            tl = tail[v];                                        /* load(tail), acquire */
            n = tl - real; n = n - n / 2;
            if
            :: n == 0 -> break
            :: else
            fi;
            if :: n > HALF -> n = HALF :: else fi;
            atomic {
                if
                :: hsteal[v] == steal && hreal[v] == real -> hreal[v] = real + n; first = real; ok_steal = true
                :: else -> steal = hsteal[v]; real = hreal[v]; ok_steal = false
                fi
            };
            if :: ok_steal -> break :: else fi
        od;
        if
        :: n > 0 ->
#ifdef BROKEN_STEAL_RELEASE_FIRST
            steal_release(v, steal, real);                      /* broken: before the copy */
#endif
            i = 0;
            do
            :: i < n -> x = SLOT(v, first + i); SLOT(d, dtail + i) = x; i++
            :: else -> break
            od;
#ifndef BROKEN_STEAL_RELEASE_FIRST
            steal_release(v, steal, real);
#endif
            n--;
            got = SLOT(d, dtail + n);
            if :: n > 0 -> tail[d] = dtail + n :: else fi
        :: else
        fi
    fi
}

/* The stealer lets steal catch up with real: a CAS loop on the head. */
inline steal_release(v, steal, real)
{
    atomic { steal = hsteal[v]; real = hreal[v] };
    do
    :: atomic {
           if
           :: hsteal[v] == steal && hreal[v] == real -> hsteal[v] = real; ok_steal = true
           :: else -> steal = hsteal[v]; real = hreal[v]; ok_steal = false
           fi
       };
       if :: ok_steal -> break :: else fi
    od
}

/* ---- the workers ------------------------------------------------------------------------------ */

/* A task taken from a queue is run: never while it runs, never after it finished. */
inline take(t)
{
    atomic { assert(t >= 1 && t <= NT); assert(!running[t] && !finished[t]); running[t] = true }
}

proctype worker(byte me)
{
    byte t, spawned, steal, real, tl, n, first, last, i, dtail, x, h, nx, prev, popped;
    bool ok, ok_steal;

    do
    :: /* spawn the next of its tasks (worker 0: tasks 1 and 2): schedule_local */
        me == 0 && spawned < 2 ->
        spawned++; t = spawned;
        if
        :: /* into the run-next slot; its previous occupant goes to the ring */
            x = lifo[me]; lifo[me] = t;
            if :: x != 0 -> t = x; push_back(me, t, steal, real, tl, ok, i, prev, first, last) :: else fi
        :: push_back(me, t, steal, real, tl, ok, i, prev, first, last) /* a yield, or LIFO off */
        fi;
        t = 0
    :: /* run something: next_task's order, or steal_work */
        if
        :: lifo[me] != 0 -> t = lifo[me]; lifo[me] = 0
        :: local_pop(me, t, steal, real, ok)
        :: inject_pop(t, h, nx, prev, popped)
        :: steal_into(1 - me, me, t, steal, real, tl, n, first, i, dtail, x)
        fi;
        if
        :: t != NIL && t != 0 ->
            take(t);
            if
            :: atomic { running[t] = false; finished[t] = true }
            :: requeues[t] == 0 ->   /* woken while it ran: back of the ring (push_local) */
                atomic { running[t] = false; requeues[t]++ };
                push_back(me, t, steal, real, tl, ok, i, prev, first, last)
            fi
        :: else
        fi;
        atomic { t = 0; steal = 0; real = 0; tl = 0; n = 0; first = 0; last = 0; i = 0; dtail = 0;
                 x = 0; h = 0; nx = 0; prev = 0; popped = 0; ok = false; ok_steal = false }
    :: me != 0 || spawned == 2 -> break   /* stops between operations, its tasks spawned */
    od
}

/* A remote thread spawns task 3 into the global queue (schedule_remote). */
proctype remote()
{
    byte prev;
    inject_push_batch(3, 3, 1, prev)
}

init
{
    byte t, pos, cnt, w;
    atomic {
        t = 0;
        do :: t <= NT -> inext[t] = NIL; t++ :: else -> break od;
        run worker(0); run worker(1); run remote()
    }
    _nr_pr == 1;
    /* Everyone stopped: each task is finished or queued exactly once. */
    t = 1;
    do
    :: t <= NT ->
        cnt = 0;
        w = 0;
        do
        :: w < 2 ->
            if :: lifo[w] == t -> cnt++ :: else fi;
            pos = hsteal[w];
            assert(hsteal[w] == hreal[w]);
            do
            :: pos != tail[w] -> if :: SLOT(w, pos) == t -> cnt++ :: else fi; pos++
            :: else -> break
            od;
            w++
        :: else -> break
        od;
        pos = ihead;
        do
        :: pos != NIL -> if :: pos == t -> cnt++ :: else fi; pos = inext[pos]
        :: else -> break
        od;
        assert(!running[t]);
        assert(cnt == (finished[t] -> 0 : 1));
        t++
    :: else -> break
    od;
    /* the counts agree with the list */
    cnt = 0; pos = ihead;
    do :: pos != NIL -> if :: pos != STUB -> cnt++ :: else fi; pos = inext[pos] :: else -> break od;
    assert(ipushed - ipopped == cnt)
}
