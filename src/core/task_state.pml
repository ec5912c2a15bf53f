/* A spin model of the task state word (src/core/task.c): keep in step with the C.
 *
 * Every step that touches the word is one atomic step here, as it is one atomic instruction
 * there: a load is one step, the CAS after it another, each fetch_or / fetch_and / fetch_sub
 * one. Steps that touch only memory private to one actor are folded into the step beside them.
 * Spin interleaves sequentially consistently: the model checks the protocol (which thread does
 * what in which state), not the C11 memory orders (TSan and the orders' comments cover those).
 *
 * Actors: two workers popping notifications from a run queue and polling, one remote thread
 * holding the wakers that the tasks' polls registered (it wakes them, by value or by
 * reference, or drops them), and the join handle of task 0 (join, abort, free). NT tasks
 * (default 3); task 0 has a handle, the others are detached. A poll may register a waker, wake
 * a registered waker itself (one task waking another), yield, or complete.
 *
 * The run queue is abstracted to a channel (its own model is queue.pml). Left out: PINNED (where
 * a task is queued, not how its word moves), RT_REF (a runtime reference dropped at free),
 * SHIELDED and drop_deferred (cancellation deferred by a scope), JOINED's -EALREADY, the
 * self-join -EDEADLK check, the owned table.
 *
 * Properties, checked by assertions on every step and by the end-state check (`timeout`: no
 * actor can move):
 *   - none freed while referenced: every access asserts the task is not freed, and at the end
 *     the count equals the holders left, the task freed exactly when none are;
 *   - none run twice at once, none polled after completion, none completed twice;
 *   - never queued twice (one notification at most);
 *   - every wake after the last poll leads to a poll (or completion): `woken` is set by a wake's
 *     CAS and cleared when a poll starts; at the end no task is left woken;
 *   - an aborted task completes; a handle waiting to join a completed task was woken;
 *     the join waker is never used after it was dropped nor written while the completer reads
 *     it; a completed task's output is taken or dropped exactly once.
 *
 * Broken variants (-DBROKEN_..., each flips one transition; .ci/models.sh expects a
 * counterexample from each): see docs/models.md.
 */

#ifndef NT
#define NT 3
#endif
#if NT > 3
#error "take_registered picks among 3 tasks at most"
#endif

/* The flags of task.h (the bits the model keeps), and the count above them. */
#define RUNNING 1
#define COMPLETE 2
#define NOTIFIED 4
#define CANCELLED 8
#define JOIN_INTEREST 16
#define JOIN_WAKER 32
#define JOINED 64
#define REF_ONE 128
#define REFS(s) ((s) / REF_ONE)
#define HAS(s, f) (((s) & (f)) != 0)

int st[NT];            /* the state word */
bool freed[NT];
bool polling[NT];      /* a worker is inside the future's poll */
bool queued[NT];       /* a notification sits in the run queue */
bool woken[NT];        /* a wake that no poll has answered yet */
byte reg[NT];          /* waker clones held by the remote thread (registered by a poll) */
bool completed[NT];
bool out_taken[NT], out_dropped[NT];
bool aborted[NT];

/* The join waker field of task 0, and the handle. */
bool jw_live;          /* the field holds a live waker */
byte jw_busy;          /* actors inside an access to the field (must never be two) */
bool join_woken;       /* the handle's waker was woken */
bool handle_alive = true;
bool handle_waiting;   /* the handle is blocked waiting for join_woken */

chan runq = [NT] of { byte };

#define TOUCH(t) assert(!freed[t])

/* ---- the word's atomic operations ---------------------------------------------------------- */

inline load(t, s) { d_step { TOUCH(t); s = st[t] } }

/* cas_state (weak or strong alike: a spurious failure is a retry, which the loop covers). */
inline cas(t, s, next, ok)
{
    d_step {
        TOUCH(t);
        if
        :: st[t] == s -> st[t] = next; ok = true
        :: else -> s = st[t]; ok = false
        fi
    }
}

/* task_dealloc: drops the join waker field, frees the block. */
inline dealloc(t)
{
    d_step {
        TOUCH(t);
        freed[t] = true;
        if :: t == 0 -> assert(jw_busy == 0); jw_live = false :: else fi
    }
}

/* ref_dec_n: one fetch_sub; the actor that takes the count to zero frees. */
inline ref_dec(t, n, prev)
{
    d_step { TOUCH(t); prev = st[t]; assert(REFS(prev) >= n); st[t] = st[t] - n * REF_ONE };
    if
    :: REFS(prev) == n -> dealloc(t)
    :: else
    fi
}

/* edo__schedule: the notification goes into a queue (queue.pml models the queues). */
inline push(t)
{
    d_step { assert(!queued[t]); queued[t] = true };
    runq!t
}

/* ---- wakers (waker_wake, waker_wake_by_ref) -------------------------------------------------- */

/* waker_wake: consumes the waker's reference. */
inline wake(t, s, next, ok, sched, prev)
{
    load(t, s);
    do
    :: true ->
        if
        :: HAS(s, RUNNING) ->
#ifdef BROKEN_WAKE_RUNNING_NO_NOTIFY
            next = s - REF_ONE; /* broken: the poller never learns of the wake */
#else
            next = (s | NOTIFIED) - REF_ONE;
#endif
            sched = false
        :: !HAS(s, RUNNING) && HAS(s, COMPLETE | NOTIFIED) -> next = s - REF_ONE; sched = false
        :: !HAS(s, RUNNING | COMPLETE | NOTIFIED) -> next = s | NOTIFIED; sched = true
        fi;
        d_step {
            TOUCH(t);
            if
            :: st[t] == s -> st[t] = next; ok = true;
                if :: !HAS(s, COMPLETE) -> woken[t] = true :: else fi
            :: else -> s = st[t]; ok = false
            fi
        };
        if :: ok -> break :: else fi
    od;
    if
    :: sched -> push(t)
    :: !sched && REFS(next) == 0 -> dealloc(t)
    :: else
    fi
}

/* waker_wake_by_ref: the caller keeps its reference; a new one goes with the notification.
 * Finding NOTIFIED, it returns: the pending notification must answer this wake too, so the
 * wake counts as one (`woken`) whichever way it ends. */
inline wake_by_ref(t, s, next, ok, sched)
{
    d_step {
        TOUCH(t); s = st[t];
        if :: HAS(s, NOTIFIED) && !HAS(s, COMPLETE) -> woken[t] = true :: else fi
    };
    do
    :: true ->
        if
        :: HAS(s, COMPLETE | NOTIFIED) -> sched = false; break
        :: else
        fi;
        if
        :: HAS(s, RUNNING) -> next = s | NOTIFIED; sched = false
        :: else -> next = (s | NOTIFIED) + REF_ONE; sched = true
        fi;
        d_step {
            TOUCH(t);
            if
            :: st[t] == s -> st[t] = next; ok = true; woken[t] = true
            :: else -> s = st[t]; ok = false;
                if :: HAS(s, NOTIFIED) && !HAS(s, COMPLETE) -> woken[t] = true :: else fi
            fi
        };
        if :: ok -> break :: else fi
    od;
    if :: sched -> push(t) :: else fi
}

/* Takes one registered waker of a task other than `self` (NT for none) into `t`, in one step:
 * blocks when there is none. */
inline take_registered(pick, self)
{
    atomic {
        if
        :: reg[0] > 0 && self != 0 -> pick = 0
#if NT > 1
        :: reg[1] > 0 && self != 1 -> pick = 1
#endif
#if NT > 2
        :: reg[2] > 0 && self != 2 -> pick = 2
#endif
        fi;
        reg[pick]--
    }
}

/* The waker taken by take_registered is used: woken by value, woken by reference then dropped,
 * or only dropped (the resource went away). */
inline use_registered_waker(t, s, next, ok, sched, prev)
{
    if
    :: wake(t, s, next, ok, sched, prev)
    :: wake_by_ref(t, s, next, ok, sched); ref_dec(t, 1, prev)
    :: ref_dec(t, 1, prev)
    fi
}

/* ---- completing (complete) ----------------------------------------------------------------- */

inline complete(t, cancelled, s, next, ok, prev)
{
    /* the future is dropped and the output written: private to the poller until the CAS */
    d_step { polling[t] = false; TOUCH(t); s = st[t] };
    do
    :: true ->
        next = (s & ~RUNNING) | COMPLETE;
        if :: cancelled -> next = next | CANCELLED :: else -> next = next & ~CANCELLED fi;
        d_step {
            TOUCH(t);
            if
            :: st[t] == s -> st[t] = next; ok = true;
                assert(!completed[t]); completed[t] = true; woken[t] = false
            :: else -> s = st[t]; ok = false
            fi
        };
        if :: ok -> break :: else fi
    od;
    if
    :: !HAS(s, JOIN_INTEREST) && !cancelled -> /* drop_unclaimed_output */
        d_step { assert(!out_dropped[t] && !out_taken[t]); out_dropped[t] = true }
    :: else
    fi;
#ifdef BROKEN_COMPLETE_IGNORES_JOIN_WAKER
    if
    :: HAS(s, JOIN_INTEREST) ->  /* broken: reads the field without owning it */
#else
    if
    :: HAS(s, JOIN_INTEREST) && HAS(s, JOIN_WAKER) ->
#endif
        d_step { jw_busy++; assert(jw_busy == 1) };
        d_step { assert(jw_live); join_woken = true; jw_busy-- }; /* wake_by_ref(&join_waker) */
        d_step { TOUCH(t); prev = st[t]; st[t] = st[t] & ~JOIN_WAKER }; /* fetch_and */
        if
        :: !HAS(prev, JOIN_INTEREST) -> /* the handle is gone: the field is ours to drop */
            d_step { jw_busy++; assert(jw_busy == 1) };
            d_step { jw_live = false; jw_busy-- }
        :: else
        fi
    :: else
    fi;
    ref_dec(t, 2, prev) /* the run's and the scheduler's */
}

/* ---- running (transition_to_running, edo__task_poll_begin / _end) ---------------------------- */

proctype worker()
{
    byte t, u;
    int s, next, prev;
    bool ok, sched, self_woken;

end:
    do
    :: atomic { runq?t; assert(queued[t]); queued[t] = false };
        /* transition_to_running */
        load(t, s);
        if
        :: HAS(s, RUNNING) -> /* back from a yield: still claimed */
            if
            :: HAS(s, NOTIFIED) ->
                d_step { TOUCH(t); s = st[t] & ~NOTIFIED; st[t] = s }
            :: else
            fi
        :: else ->
            do
            :: HAS(s, COMPLETE) -> break
            :: else ->
                next = (s & ~NOTIFIED) | RUNNING;
                cas(t, s, next, ok);
                if :: ok -> s = next; break :: else fi
            od
        fi;
        /* edo__task_poll_begin */
        if
        :: HAS(s, COMPLETE) -> ref_dec(t, 1, prev) /* finished meanwhile: drop the notification */
        :: !HAS(s, COMPLETE) && HAS(s, CANCELLED) -> complete(t, true, s, next, ok, prev)
        :: !HAS(s, COMPLETE | CANCELLED) ->
            /* the future's poll */
            d_step {
                assert(!polling[t] && !completed[t] && HAS(st[t], RUNNING));
                polling[t] = true; woken[t] = false
            };
            self_woken = false;
            if
            :: skip                                   /* pending, nothing new */
            :: reg[t] == 0 ->                         /* pending, registers a waker clone */
                d_step { TOUCH(t); st[t] = st[t] + REF_ONE; reg[t]++ }
            :: self_woken = true                      /* pending, woke itself (a yield) */
            :: take_registered(u, t);                 /* pending, wakes another task */
                use_registered_waker(u, s, next, ok, sched, prev)
            :: complete(t, false, s, next, ok, prev); goto done  /* ready */
            fi;
            /* edo__task_poll_end, pending: the poll has returned */
            d_step { polling[t] = false; TOUCH(t); s = st[t] };
            if
            :: self_woken && !HAS(s, CANCELLED) -> push(t) /* a yield keeps RUNNING and the ref */
            :: else ->
                do
                :: HAS(s, CANCELLED) -> complete(t, true, s, next, ok, prev); break
                :: else ->
                    if
                    :: HAS(s, NOTIFIED) -> next = (s & ~RUNNING) | NOTIFIED; sched = true
                    :: else -> next = (s & ~RUNNING) - REF_ONE; sched = false
                    fi;
#ifdef BROKEN_POLL_END_STORE
                    d_step { TOUCH(t); st[t] = next }; ok = true /* broken: a store, not a CAS */
#else
                    cas(t, s, next, ok);
#endif
                    if
                    :: ok -> assert(REFS(next) >= 1);
                        if :: sched -> push(t) :: else fi;
                        break
                    :: else
                    fi
                od
            fi
        fi;
done:   /* forget the finished run, so that states differing only in dead locals are one */
        skip;
        d_step { t = 0; u = 0; s = 0; next = 0; prev = 0; ok = false; sched = false; self_woken = false }
    od
}

/* ---- the remote thread: wakes with the wakers the polls registered -------------------------- */

proctype remote()
{
    byte t;
    int s, next, prev;
    bool ok, sched;

end:
    do
    :: take_registered(t, NT); use_registered_waker(t, s, next, ok, sched, prev);
        d_step { t = 0; s = 0; next = 0; prev = 0; ok = false; sched = false }
    od
}

/* ---- the handle of task 0 (edo_task_abort, edo_task_poll_join, edo_task_free) --------------- */

inline abort(t, s, next, ok, sched)
{
    load(t, s);
    do
    :: HAS(s, COMPLETE | CANCELLED) -> sched = false; break
    :: else ->
        if
        :: HAS(s, RUNNING) -> next = s | CANCELLED | NOTIFIED; sched = false
        :: !HAS(s, RUNNING) && HAS(s, NOTIFIED) ->
#ifdef BROKEN_ABORT_QUEUED_SCHEDULES
            next = (s | CANCELLED) + REF_ONE; sched = true /* broken: queues it a second time */
#else
            next = s | CANCELLED; sched = false
#endif
        :: !HAS(s, RUNNING | NOTIFIED) -> next = (s | CANCELLED | NOTIFIED) + REF_ONE; sched = true
        fi;
        d_step {
            TOUCH(t);
            if
            :: st[t] == s -> st[t] = next; ok = true; aborted[t] = true
            :: else -> s = st[t]; ok = false
            fi
        };
        if :: ok -> break :: else fi
    od;
    if :: sched -> push(t) :: else fi
}

/* take_result */
inline take_result(t, s)
{
    d_step { TOUCH(t); st[t] = st[t] | JOINED };
    d_step {
        if
        :: !HAS(s, CANCELLED) -> assert(!out_dropped[t] && !out_taken[t]); out_taken[t] = true
        :: else
        fi
    }
}

/* edo_task_poll_join: ready = the result was taken. */
inline poll_join(t, s, ready, ok, other_waker)
{
    ready = false;
    load(t, s);
    if
    :: HAS(s, COMPLETE) -> take_result(t, s); ready = true
    :: else ->
        if
        :: HAS(s, JOIN_WAKER) && !other_waker -> skip /* will_wake: the same waker, pending */
        :: else ->
            if
            :: HAS(s, JOIN_WAKER) -> /* take the field back to replace the waker */
                do
                :: HAS(s, COMPLETE) -> take_result(t, s); ready = true; break
                :: else -> cas(t, s, s & ~JOIN_WAKER, ok); if :: ok -> s = s & ~JOIN_WAKER; break :: else fi
                od
            :: else
            fi;
            if
            :: !ready -> /* set_join_waker: the field is the handle's while JOIN_WAKER is clear */
                d_step { jw_busy++; assert(jw_busy == 1) };
                d_step { jw_live = true; jw_busy-- };
                load(t, s);
                do
                :: HAS(s, COMPLETE) ->
                    d_step { jw_busy++; assert(jw_busy == 1) };
                    d_step { jw_live = false; jw_busy-- };
                    load(t, s); take_result(t, s); ready = true; break
                :: else -> cas(t, s, s | JOIN_WAKER, ok); if :: ok -> break :: else fi
                od
            :: else
            fi
        fi
    fi
}

/* edo_task_free */
inline task_free(t, s, next, ok, prev)
{
#ifdef BROKEN_FREE_DEC_FIRST
    ref_dec(t, 1, prev); /* broken: the reference goes before JOIN_INTEREST */
#endif
    load(t, s);
    do
    :: true ->
        next = s & ~JOIN_INTEREST;
        if :: !HAS(s, COMPLETE) -> next = next & ~JOIN_WAKER :: else fi;
        cas(t, s, next, ok);
        if :: ok -> break :: else fi
    od;
    if
    :: !HAS(s, COMPLETE) || !HAS(s, JOIN_WAKER) ->
        d_step { jw_busy++; assert(jw_busy == 1) };
        d_step { jw_live = false; jw_busy-- }
    :: else
    fi;
    if
    :: HAS(s, COMPLETE) && !HAS(s, CANCELLED | JOINED) -> /* drop_unclaimed_output */
        d_step { assert(!out_dropped[t] && !out_taken[t]); out_dropped[t] = true }
    :: else
    fi;
    handle_alive = false;
#ifndef BROKEN_FREE_DEC_FIRST
    ref_dec(t, 1, prev)
#endif
}

proctype handle()
{
    int s, next, prev;
    bool ok, sched, ready, other;
    byte repolls;

    if :: abort(0, s, next, ok, sched) :: skip fi;
    if
    :: do
        :: other = false;
            if :: other = true :: skip fi;  /* joined from another waker this time */
            poll_join(0, s, ready, ok, other);
            if
            :: ready -> break
            :: !ready -> handle_waiting = true;
endwait:        join_woken; d_step { join_woken = false; handle_waiting = false }
            :: !ready && repolls < 1 -> repolls++ /* polled again unwoken (a select's turn) */
            :: !ready -> break                    /* gives up waiting: the handle is dropped */
            fi
        od
    :: skip
    fi;
    task_free(0, s, next, ok, prev)
}

/* ---- the end-state check ----------------------------------------------------------------- */

/* No actor can move: every notification was run, and the books must balance. */
proctype quiescent()
{
    byte t;
    timeout ->
    atomic {
        t = 0;
        do
        :: t < NT ->
            assert(!queued[t] && !polling[t] && !woken[t]);
            assert(!HAS(st[t], RUNNING | NOTIFIED) || HAS(st[t], COMPLETE));
            /* holders left: the scheduler (until completion), the handle, registered wakers */
            assert(REFS(st[t]) ==
                   (completed[t] -> 0 : 1) + ((t == 0 && handle_alive) -> 1 : 0) + reg[t]);
            assert(freed[t] == (REFS(st[t]) == 0));
            assert(!aborted[t] || completed[t]);
            assert(!(completed[t] && !HAS(st[t], CANCELLED) && !(t == 0 && handle_alive))
                   || out_taken[t] || out_dropped[t]);
            t++
        :: else -> break
        od;
        assert(!(handle_waiting && completed[0] && !join_woken))
    }
}

init
{
    byte t;
    atomic {
        /* edo__task_new: scheduler + notification (+ handle), NOTIFIED; then edo__schedule */
        t = 0;
        do
        :: t < NT ->
            st[t] = NOTIFIED | (t == 0 -> JOIN_INTEREST : 0) | ((t == 0 -> 3 : 2) * REF_ONE);
            queued[t] = true;
            runq!t;
            t++
        :: else -> break
        od;
        run worker(); run worker(); run remote(); run handle(); run quiescent()
    }
}
