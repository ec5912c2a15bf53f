//! Tokio side of edo's benchmarks.
//!
//! Usage: tokio-bench WORKLOAD [--workers N] [--ops N]
//!
//! Each run prints exactly one line on stdout, in the same format as edo-bench:
//!   bench=WORKLOAD peer=tokio ns_per_op=X ops=N
//!   bench=idle_task_memory peer=tokio bytes_per_task=B
//!   bench=idle_conn_memory peer=tokio bytes_per_conn=B
//!   bench=sleep_overshoot peer=tokio p50_us=X p99_us=Y max_us=M wall_ms=Z
//!   bench=fairness peer=tokio all_ran_ms=A late_max_ms=L
//!
//! The spawn, yield and ping-pong workloads mirror Tokio's own
//! benches/rt_multi_threaded.rs; the timer ones (timeout_cancel,
//! sleep_overshoot), ping_pong_pairs, fairness and the memory one have no
//! counterpart there. Only the measured part is timed: the runtime is built,
//! its workers are started and a smaller warm-up round of the same workload has
//! run before the clock starts (sleep_overshoot and fairness, which measure
//! lateness, skip the warm-up).
//!
//! Exit status: 0 ok, 2 unknown workload (bench/run.sh relies on this), 64 bad
//! command line.
//!
//! Keep this building with Debian 12's rustc 1.63 and tokio 1.24: no let-else,
//! no std::hint::black_box, no OnceLock.

use std::env;
use std::fs;
use std::process;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Handle, Runtime};

mod conn;
mod echo_conn;
mod files;
mod lines;

const DEFAULT_OPS: usize = 1_000_000;
const DEFAULT_WORKERS: usize = 2;
/// yield_many runs this many tasks, as Tokio's own bench (rt_multi_threaded: 200 tasks x
/// 1000 yields); each yields ops / 200 times (5000 at the default ops).
const YIELD_TASKS: usize = 200;
/// Warm-up rounds run this fraction of the measured ops.
const WARMUP_DIVISOR: usize = 10;
/// sleep_overshoot spawns this many sleeping tasks unless --ops says otherwise.
const SLEEP_TASKS: usize = 100_000;
/// Longest sleep_overshoot sleep, in ms; each task sleeps 1..=this.
const SLEEP_MAX_MS: u64 = 1_000;
/// timeout_cancel's timeout: long enough never to fire.
const TIMEOUT_CANCEL_AFTER: Duration = Duration::from_secs(10);
/// fairness: tiny tasks spawned from a plain thread unless --ops says otherwise.
const FAIRNESS_TASKS: usize = 1_000;
/// fairness: each busy task spins this long between yields.
const FAIRNESS_SPIN: Duration = Duration::from_millis(1);
/// fairness: the sleeper sleeps this long, this many times.
const FAIRNESS_SLEEP: Duration = Duration::from_millis(1);
const FAIRNESS_SLEEPS: usize = 20;
/// fairness: a measurement not done by then reports this (both sides use it).
const FAIRNESS_CAP: Duration = Duration::from_secs(60);
/// ping_pong_pairs: hops (one oneshot send and the wake it causes) unless
/// --ops says otherwise.
const PAIRS_HOPS: usize = 8_000_000;
/// idle_conn_memory: connections unless --ops says otherwise.
const IDLE_CONNS: usize = 10_000;
/// signal: deliveries to time unless --ops says otherwise.
const SIGNAL_DELIVERIES: usize = 10_000;
/// SIGUSR1 on x86-64 and aarch64 Linux (edo's platforms).
const SIGUSR1: i32 = 10;

const EXIT_UNKNOWN_WORKLOAD: i32 = 2;
const EXIT_USAGE: i32 = 64;

const WORKLOADS: &[&str] = &[
    "spawn_many",
    "spawn_many_remote",
    "yield_many",
    "chained_spawn",
    "idle_task_memory",
    "idle_conn_memory",
    "timeout_cancel",
    "sleep_overshoot",
    "mutex_contended",
    "semaphore_contended",
    "ping_pong",
    "ping_pong_pairs",
    "mpsc",
    "fairness",
    "lines",
    "fs_read_small",
    "fs_metadata",
    "fs_write_fsync",
    "read_dir",
    "signal",
    "process",
];

struct Args {
    workload: String,
    workers: usize,
    /// None: the workload's own default.
    ops: Option<usize>,
}

fn usage(msg: &str) -> ! {
    eprintln!("tokio-bench: {}", msg);
    eprintln!(
        "usage: tokio-bench WORKLOAD [--workers N] [--ops N]\n  workloads: {}",
        WORKLOADS.join(" ")
    );
    process::exit(EXIT_USAGE);
}

fn parse_count(flag: &str, value: Option<String>) -> usize {
    match value.as_deref().map(str::parse::<usize>) {
        Some(Ok(n)) if n > 0 => n,
        _ => usage(&format!("{} needs a positive integer", flag)),
    }
}

fn parse_args() -> Args {
    let mut it = env::args().skip(1);
    let mut workload = None;
    let mut workers = DEFAULT_WORKERS;
    let mut ops = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--workers" => workers = parse_count("--workers", it.next()),
            "--ops" => ops = Some(parse_count("--ops", it.next())),
            "-h" | "--help" => usage("help"),
            s if s.starts_with('-') => usage(&format!("unknown option {}", s)),
            _ if workload.is_some() => usage("only one WORKLOAD"),
            _ => workload = Some(arg),
        }
    }
    match workload {
        Some(workload) => Args {
            workload,
            workers,
            ops,
        },
        None => usage("missing WORKLOAD"),
    }
}

/// Same shape as Tokio's bench runtime (`new_multi_thread().enable_all()`),
/// with our worker count.
fn build_runtime(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("failed to build the Tokio runtime")
}

/// Counts down from `n`; whoever takes it to zero sends on `done`.
/// Tokio's benches use this same AtomicUsize + std mpsc pattern, with a
/// Relaxed count; ours is AcqRel so that once `done` is received, everything
/// each task wrote before its hit is visible (sleep_overshoot reads what its
/// tasks stored). On x86 both are the same locked xadd.
#[derive(Clone)]
struct Countdown {
    rem: Arc<AtomicUsize>,
    done: mpsc::SyncSender<()>,
}

impl Countdown {
    fn new(n: usize) -> (Countdown, mpsc::Receiver<()>) {
        let (done, rx) = mpsc::sync_channel(1);
        let rem = Arc::new(AtomicUsize::new(n));
        (Countdown { rem, done }, rx)
    }

    fn hit(&self) {
        if self.rem.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.send(()).unwrap();
        }
    }
}

/// Spawns `n` empty tasks through `tokio::spawn`, i.e. on whatever runtime the
/// calling thread is in.
fn spawn_n(n: usize, cd: &Countdown) {
    for _ in 0..n {
        let cd = cd.clone();
        tokio::spawn(async move { cd.hit() });
    }
}

/// spawn_many: the spawning loop runs inside the runtime, as a task on a worker
/// thread, so spawns take the worker-local queue. (Tokio's bench spawns from
/// the block_on future; on the multi-thread runtime block_on runs on the
/// caller's thread, which is not a worker, so in tokio 1.24 those spawns go
/// through the remote inject queue exactly like spawn_many_remote does.)
fn spawn_many(rt: &Runtime, n: usize) -> Duration {
    let (cd, rx) = Countdown::new(n);
    let start = Instant::now();
    rt.block_on(async move {
        tokio::spawn(async move { spawn_n(n, &cd) }).await.unwrap();
    });
    rx.recv().unwrap();
    start.elapsed()
}

/// spawn_many_remote: a plain std thread, not in the runtime, spawns through a
/// Handle (the inject queue).
fn spawn_many_remote(rt: &Runtime, n: usize) -> Duration {
    let handle: Handle = rt.handle().clone();
    let (cd, rx) = Countdown::new(n);
    let spawner = thread::spawn(move || {
        let start = Instant::now();
        for _ in 0..n {
            let cd = cd.clone();
            handle.spawn(async move { cd.hit() });
        }
        rx.recv().unwrap();
        start.elapsed()
    });
    spawner.join().unwrap()
}

/// yield_many: `tasks` tasks each yield `per_task` times, spawned from outside
/// like Tokio's bench; ops = tasks * per_task yields.
fn yield_many(rt: &Runtime, tasks: usize, per_task: usize) -> Duration {
    let (cd, rx) = Countdown::new(tasks);
    let start = Instant::now();
    for _ in 0..tasks {
        let cd = cd.clone();
        rt.spawn(async move {
            for _ in 0..per_task {
                tokio::task::yield_now().await;
            }
            cd.hit();
        });
    }
    rx.recv().unwrap();
    start.elapsed()
}

/// One link of chained_spawn: spawn the next link, or signal at the end.
fn chain(done: mpsc::SyncSender<()>, n: usize) {
    if n == 0 {
        done.send(()).unwrap();
    } else {
        tokio::spawn(async move { chain(done, n - 1) });
    }
}

/// chained_spawn: each task spawns the next, `n` deep, as in Tokio's bench.
fn chained_spawn(rt: &Runtime, n: usize) -> Duration {
    let (done, rx) = mpsc::sync_channel(1);
    let start = Instant::now();
    // The first link is spawned from the block_on future, like Tokio's bench;
    // every later link is spawned from a worker.
    rt.block_on(async move {
        tokio::spawn(async move { chain(done, n - 1) });
    });
    rx.recv().unwrap();
    start.elapsed()
}

/// Tasks contending in mutex_contended and semaphore_contended.
const CONTENDING_TASKS: usize = 10;
/// Permits of semaphore_contended's semaphore.
const CONTENDED_PERMITS: usize = 2;

/// mutex_contended: CONTENDING_TASKS tasks share `n` lock / increment / unlock rounds on one
/// tokio::sync::Mutex. semaphore_contended: the same with acquire(1) / release on a semaphore of
/// CONTENDED_PERMITS permits. Time from the first spawn until every task is done.
fn sync_contended(rt: &Runtime, n: usize, semaphore: bool) -> Duration {
    let per_task = n / CONTENDING_TASKS;
    let mutex = Arc::new(tokio::sync::Mutex::new(0usize));
    let sem = Arc::new(tokio::sync::Semaphore::new(CONTENDED_PERMITS));
    let (cd, rx) = Countdown::new(CONTENDING_TASKS);
    let start = Instant::now();
    for _ in 0..CONTENDING_TASKS {
        let (cd, mutex, sem) = (cd.clone(), mutex.clone(), sem.clone());
        rt.spawn(async move {
            for _ in 0..per_task {
                if semaphore {
                    let permit = sem.acquire().await.unwrap();
                    black_box(&permit);
                } else {
                    *mutex.lock().await += 1;
                }
            }
            cd.hit();
        });
    }
    rx.recv().unwrap();
    start.elapsed()
}

/// mpsc: MPSC_PRODUCERS tasks send n / MPSC_PRODUCERS messages each into one bounded channel of
/// MPSC_CAPACITY; one task receives them all. Time from the first spawn to the last receive.
const MPSC_PRODUCERS: usize = 4;
const MPSC_CAPACITY: usize = 1024;

fn mpsc_bounded(rt: &Runtime, n: usize) -> Duration {
    let per = n / MPSC_PRODUCERS;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<usize>(MPSC_CAPACITY);
    let start = Instant::now();
    for _ in 0..MPSC_PRODUCERS {
        let tx = tx.clone();
        rt.spawn(async move {
            for i in 0..per {
                tx.send(i).await.unwrap();
            }
        });
    }
    drop(tx);
    let got = rt.block_on(async move {
        tokio::spawn(async move {
            let mut count = 0usize;
            while let Some(v) = rx.recv().await {
                black_box(v);
                count += 1;
            }
            count
        })
        .await
        .unwrap()
    });
    assert_eq!(got, per * MPSC_PRODUCERS);
    start.elapsed()
}

/// process: children in flight at once.
const PROCESS_CONCURRENCY: usize = 32;
/// process: children spawned unless --ops says otherwise.
const PROCESS_CHILDREN: usize = 1_000;

/// process: PROCESS_CONCURRENCY tasks each keep one Command for /bin/true and spawn and wait
/// for children from it until n have run.
fn process_spawn(rt: &Runtime, n: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    rt.block_on(async move {
        let mut tasks = Vec::with_capacity(PROCESS_CONCURRENCY);
        for _ in 0..PROCESS_CONCURRENCY {
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                let mut cmd = tokio::process::Command::new("/bin/true");
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let status = cmd.spawn().expect("spawn").wait().await.expect("wait");
                    assert!(status.success());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    start.elapsed()
}

/// Concurrent pairs in ping_pong; each does ops / PING_PAIRS round trips.
const PING_PAIRS: usize = 1_000;

/// ping_pong: PING_PAIRS tasks each run rounds of: make two oneshot channels, spawn a responder
/// that waits on the first and answers on the second, send on the first, wait for the answer
/// (Tokio's own rt_multi_threaded ping_pong, with many pings in flight at once).
fn ping_pong(rt: &Runtime, n: usize) -> Duration {
    let rounds = n / PING_PAIRS;
    let (cd, rx) = Countdown::new(PING_PAIRS);
    let start = Instant::now();
    for _ in 0..PING_PAIRS {
        let cd = cd.clone();
        rt.spawn(async move {
            for _ in 0..rounds {
                let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(async move {
                    rx1.await.unwrap();
                    tx2.send(()).unwrap();
                });
                tx1.send(()).unwrap();
                rx2.await.unwrap();
            }
            cd.hit();
        });
    }
    rx.recv().unwrap();
    start.elapsed()
}

/// Round trips per pair for `n` hops in ping_pong_pairs (at least one).
fn pairs_rounds(n: usize) -> usize {
    (n / (2 * PING_PAIRS)).max(1)
}

/// ping_pong_pairs' message: the sender the other side answers on.
struct Ball(tokio::sync::oneshot::Sender<Ball>);

/// ping_pong_pairs: PING_PAIRS long-lived pairs of tasks. Each round trip the
/// pinger makes a new oneshot, sends its sender in a Ball over the pair's
/// current oneshot, and waits on it; the ponger receives the Ball, makes the
/// next oneshot and sends its sender back in the reply. `n` hops, two per round
/// trip; the pinger ends by dropping its last sender, which ends the ponger.
/// Time from the first spawn until every pinger is done.
fn ping_pong_pairs(rt: &Runtime, n: usize) -> Duration {
    let rounds = pairs_rounds(n);
    let (cd, rx) = Countdown::new(PING_PAIRS);
    let start = Instant::now();
    for _ in 0..PING_PAIRS {
        let cd = cd.clone();
        let (first_tx, first_rx) = tokio::sync::oneshot::channel::<Ball>();
        rt.spawn(async move {
            let mut inbox = first_rx;
            while let Ok(Ball(reply)) = inbox.await {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if reply.send(Ball(tx)).is_err() {
                    break;
                }
                inbox = rx;
            }
        });
        rt.spawn(async move {
            let mut to_ponger = first_tx;
            for _ in 0..rounds {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if to_ponger.send(Ball(tx)).is_err() {
                    panic!("the ponger went away");
                }
                let Ball(next) = rx.await.expect("the ponger dropped its reply");
                to_ponger = next;
            }
            cd.hit();
        });
    }
    rx.recv().unwrap();
    start.elapsed()
}

/// std::hint::black_box needs rustc 1.66; a volatile read is the usual stand-in:
/// the optimiser must treat the value as used and as unknown afterwards.
fn black_box<T>(x: T) -> T {
    // SAFETY: `x` is a valid T; forgetting it after the bitwise copy moves
    // ownership to the copy, so nothing is dropped twice.
    unsafe {
        let y = ptr::read_volatile(&x);
        std::mem::forget(x);
        y
    }
}

/// timeout_cancel: `n` timeouts around an already-ready future, in one loop
/// on a worker thread (spawned from block_on, as in spawn_many). Each creates
/// a timer entry that is never registered and drops it again (in tokio 1.24
/// the drop still takes the timer driver's lock), so this is the cost of a
/// timeout that does not fire.
fn timeout_cancel(rt: &Runtime, n: usize) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = tokio::time::timeout(TIMEOUT_CANCEL_AFTER, std::future::ready(i)).await;
                black_box(r).expect("a ready future cannot time out");
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

/// SplitMix64 (Steele, Lea and Flood): one step from state `x`. Gives the
/// sleep lengths; edo-bench's sleep_overshoot must draw with the same function
/// so that both sides sleep the same durations.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `d` in milliseconds.
fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct SleepStats {
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    wall: Duration,
}

/// sleep_overshoot: `n` tasks each sleep 1..=SLEEP_MAX_MS ms and record how
/// much later than asked they woke, in µs. Wall time runs from just before the
/// first spawn until the last task is done. Each task stores into its own slot
/// (no shared lock to distort the timing); the countdown makes the stores
/// visible here.
fn sleep_overshoot(rt: &Runtime, n: usize) -> SleepStats {
    let slots: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let (cd, rx) = Countdown::new(n);
    let start = Instant::now();
    for i in 0..n {
        let (cd, slots) = (cd.clone(), slots.clone());
        let asked = Duration::from_millis(1 + splitmix64(i as u64) % SLEEP_MAX_MS);
        rt.spawn(async move {
            let before = Instant::now();
            tokio::time::sleep(asked).await;
            let late = before.elapsed().saturating_sub(asked);
            slots[i].store(late.as_micros() as u64, Ordering::Relaxed);
            cd.hit();
        });
    }
    rx.recv().unwrap();
    let wall = start.elapsed();
    let mut late: Vec<u64> = slots.iter().map(|s| s.load(Ordering::Relaxed)).collect();
    late.sort_unstable();
    // Value at index floor(q * (n - 1)), in integers so that it is exact.
    let last = n - 1;
    SleepStats {
        p50_us: late[last / 2],
        p99_us: late[last * 99 / 100],
        max_us: late[last],
        wall,
    }
}

/// fairness, in ms: how long until all tiny tasks had run, and the worst
/// lateness of the sleeper's sleeps. Either is FAIRNESS_CAP when it was not
/// done by then.
struct Fairness {
    all_ran_ms: f64,
    late_max_ms: f64,
}

/// Spins on the clock for `d` (CPU-bound work between yields).
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// fairness: one busy task per worker, each spinning FAIRNESS_SPIN and then
/// yielding, until told to stop. Once they run, a task sleeps FAIRNESS_SLEEP
/// FAIRNESS_SLEEPS times recording the worst lateness, and meanwhile a plain
/// thread spawns `n` tiny tasks, the last of which to run records the time
/// since that thread's first spawn.
fn fairness(rt: &Runtime, workers: usize, n: usize) -> Fairness {
    let stop = Arc::new(AtomicBool::new(false));
    let busy_started = Arc::new(AtomicUsize::new(0));
    let mut busy = Vec::new();
    for _ in 0..workers {
        let (stop, busy_started) = (stop.clone(), busy_started.clone());
        busy.push(rt.spawn(async move {
            busy_started.fetch_add(1, Ordering::Relaxed);
            while !stop.load(Ordering::Relaxed) {
                spin_for(FAIRNESS_SPIN);
                tokio::task::yield_now().await;
            }
        }));
    }
    while busy_started.load(Ordering::Relaxed) < workers {
        thread::sleep(Duration::from_millis(1));
    }

    let (late_tx, late_rx) = mpsc::sync_channel(1);
    rt.spawn(async move {
        let mut worst = Duration::ZERO;
        for _ in 0..FAIRNESS_SLEEPS {
            let before = Instant::now();
            tokio::time::sleep(FAIRNESS_SLEEP).await;
            worst = worst.max(before.elapsed().saturating_sub(FAIRNESS_SLEEP));
        }
        // The receiver is gone when the cap passed first.
        let _ = late_tx.send(worst);
    });
    let (ran_tx, ran_rx) = mpsc::sync_channel(1);
    let handle = rt.handle().clone();
    let spawner = thread::spawn(move || {
        let ran = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        for _ in 0..n {
            let (ran, ran_tx) = (ran.clone(), ran_tx.clone());
            handle.spawn(async move {
                if ran.fetch_add(1, Ordering::Relaxed) + 1 == n {
                    let _ = ran_tx.send(start.elapsed());
                }
            });
        }
    });

    let deadline = Instant::now() + FAIRNESS_CAP;
    let capped = |rx: &mpsc::Receiver<Duration>| {
        let left = deadline.saturating_duration_since(Instant::now());
        duration_ms(rx.recv_timeout(left).unwrap_or(FAIRNESS_CAP))
    };
    let result = Fairness {
        all_ran_ms: capped(&ran_rx),
        late_max_ms: capped(&late_rx),
    };
    stop.store(true, Ordering::Relaxed);
    spawner.join().unwrap();
    rt.block_on(async move {
        for b in busy {
            b.await.unwrap();
        }
    });
    result
}

/// Resident set size in bytes, from /proc/self/statm (second field, pages).
fn rss_bytes() -> usize {
    extern "C" {
        fn sysconf(name: i32) -> i64;
    }
    const SC_PAGESIZE: i32 = 30; // glibc and musl on Linux
    let statm = fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("parse /proc/self/statm");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { sysconf(SC_PAGESIZE) };
    pages * if page > 0 { page as usize } else { 4096 }
}

/// idle_task_memory: RSS growth per spawned task parked on a Notify that is
/// never notified (as a task waiting for work or for shutdown is): the task
/// and its place in the Notify's wait list, with its waker.
fn idle_task_memory(rt: &Runtime, n: usize) -> usize {
    let polled = Arc::new(AtomicUsize::new(0));
    let notify = Arc::new(tokio::sync::Notify::new());
    let before = rss_bytes();
    for _ in 0..n {
        let (polled, notify) = (polled.clone(), notify.clone());
        // Count the first poll, which goes on to queue the waiter: once
        // every task has counted, each is parked (but for the last few, still
        // inside that first poll).
        rt.spawn(async move {
            polled.fetch_add(1, Ordering::Release);
            notify.notified().await
        });
    }
    while polled.load(Ordering::Acquire) < n {
        thread::sleep(Duration::from_millis(1));
    }
    let after = rss_bytes();
    after.saturating_sub(before) / n
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn getpid() -> i32;
}

/// signal: a task listens for SIGUSR1, then `n` times sends it to its own
/// process and waits for the listener to be woken; the median latency in ns.
fn signal_latency(rt: &Runtime, n: usize) -> f64 {
    use tokio::signal::unix::{signal, SignalKind};
    let task = rt.spawn(async move {
        let mut sig = signal(SignalKind::user_defined1()).expect("signal");
        let mut latency = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            // SAFETY: plain libc calls with valid arguments.
            if unsafe { kill(getpid(), SIGUSR1) } != 0 {
                panic!("kill failed");
            }
            sig.recv().await.expect("signal stream ended");
            latency.push(start.elapsed().as_nanos() as f64);
        }
        latency
    });
    let mut latency = rt.block_on(task).expect("signal task");
    latency.sort_by(|a, b| a.partial_cmp(b).unwrap());
    latency[n / 2]
}

fn report_time(name: &str, elapsed: Duration, ops: usize) {
    let ns = elapsed.as_nanos() as f64 / ops as f64;
    println!("bench={} peer=tokio ns_per_op={:.1} ops={}", name, ns, ops);
}

fn main() {
    let argv: Vec<String> = env::args().collect();
    if argv.len() == 4 && argv[1] == "idle_conn_client" {
        // idle_conn_memory's other process.
        process::exit(conn::idle_conn_client(&argv[2], &argv[3]));
    }
    let args = parse_args();
    if !WORKLOADS.contains(&args.workload.as_str()) {
        eprintln!("tokio-bench: unknown workload {}", args.workload);
        process::exit(EXIT_UNKNOWN_WORKLOAD);
    }
    let rt = build_runtime(args.workers);
    let default_ops = match args.workload.as_str() {
        "sleep_overshoot" => SLEEP_TASKS,
        "fairness" => FAIRNESS_TASKS,
        "ping_pong_pairs" => PAIRS_HOPS,
        "lines" => lines::LINES_DEFAULT_OPS,
        "idle_conn_memory" => IDLE_CONNS,
        "fs_read_small" | "fs_metadata" => files::SMALL_DEFAULT_OPS,
        "fs_write_fsync" => files::FSYNC_DEFAULT_OPS,
        "read_dir" => files::DIR_DEFAULT_OPS,
        "signal" => SIGNAL_DELIVERIES,
        "process" => PROCESS_CHILDREN,
        _ => DEFAULT_OPS,
    };
    let n = args.ops.unwrap_or(default_ops);
    let warm = (n / WARMUP_DIVISOR).max(1);
    let name = args.workload.as_str();

    match name {
        "spawn_many" => {
            spawn_many(&rt, warm);
            report_time(name, spawn_many(&rt, n), n);
        }
        "spawn_many_remote" => {
            spawn_many_remote(&rt, warm);
            report_time(name, spawn_many_remote(&rt, n), n);
        }
        "yield_many" => {
            let tasks = YIELD_TASKS.min(n);
            let per_task = n / tasks;
            yield_many(&rt, tasks, (per_task / WARMUP_DIVISOR).max(1));
            report_time(name, yield_many(&rt, tasks, per_task), tasks * per_task);
        }
        "chained_spawn" => {
            chained_spawn(&rt, warm);
            report_time(name, chained_spawn(&rt, n), n);
        }
        "idle_task_memory" => {
            // No warm-up: it would leave idle tasks behind. Starting the
            // runtime already touched its own memory before the first reading.
            let per_task = idle_task_memory(&rt, n);
            println!("bench={} peer=tokio bytes_per_task={}", name, per_task);
            // Skip tearing down a million tasks; the number is out.
            process::exit(0);
        }
        "idle_conn_memory" => {
            let per_conn = conn::idle_conn_memory(&rt, n, rss_bytes);
            println!("bench={} peer=tokio bytes_per_conn={}", name, per_conn);
            process::exit(0);
        }
        "timeout_cancel" => {
            timeout_cancel(&rt, warm);
            report_time(name, timeout_cancel(&rt, n), n);
        }
        "process" => {
            process_spawn(&rt, warm);
            report_time(name, process_spawn(&rt, n), n);
        }
        "mpsc" => {
            mpsc_bounded(&rt, warm);
            report_time(name, mpsc_bounded(&rt, n), (n / MPSC_PRODUCERS) * MPSC_PRODUCERS);
        }
        "lines" => {
            lines::lines(&rt, warm);
            report_time(name, lines::lines(&rt, n), n);
        }
        "fs_read_small" => {
            files::read_small(&rt, warm);
            report_time(name, files::read_small(&rt, n), n);
        }
        "fs_metadata" => {
            files::metadata(&rt, warm);
            report_time(name, files::metadata(&rt, n), n);
        }
        "fs_write_fsync" => {
            files::write_fsync(&rt, warm);
            report_time(name, files::write_fsync(&rt, n), n);
        }
        "read_dir" => {
            files::read_dir(&rt, warm);
            report_time(name, files::read_dir(&rt, n), n);
        }
        "ping_pong" => {
            ping_pong(&rt, warm);
            report_time(name, ping_pong(&rt, n), (n / PING_PAIRS) * PING_PAIRS);
        }
        "ping_pong_pairs" => {
            ping_pong_pairs(&rt, warm);
            let hops = pairs_rounds(n) * 2 * PING_PAIRS;
            report_time(name, ping_pong_pairs(&rt, n), hops);
        }
        "mutex_contended" | "semaphore_contended" => {
            let semaphore = name == "semaphore_contended";
            sync_contended(&rt, warm, semaphore);
            let per_task = n / CONTENDING_TASKS;
            report_time(name, sync_contended(&rt, n, semaphore), per_task * CONTENDING_TASKS);
        }
        "sleep_overshoot" => {
            // No warm-up: this measures how late timers fire, not a
            // throughput, and the runtime is already up before the first
            // spawn; a warm-up round would only add another second of sleep.
            let s = sleep_overshoot(&rt, n);
            println!(
                "bench={} peer=tokio p50_us={} p99_us={} max_us={} wall_ms={:.1}",
                name,
                s.p50_us,
                s.p99_us,
                s.max_us,
                duration_ms(s.wall)
            );
        }
        "fairness" => {
            // No warm-up, as for sleep_overshoot: it measures latency.
            let f = fairness(&rt, args.workers, n);
            let cap = duration_ms(FAIRNESS_CAP);
            if f.all_ran_ms >= cap || f.late_max_ms >= cap {
                eprintln!("tokio-bench: {} not done after {:?}: printing the cap", name, FAIRNESS_CAP);
            }
            println!(
                "bench={} peer=tokio all_ran_ms={:.1} late_max_ms={:.2}",
                name, f.all_ran_ms, f.late_max_ms
            );
        }
        "signal" => {
            signal_latency(&rt, warm);
            println!(
                "bench={} peer=tokio ns_per_op={:.1} ops={}",
                name,
                signal_latency(&rt, n),
                n
            );
        }
        _ => unreachable!(),
    }
}
