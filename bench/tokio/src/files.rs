//! fs_read_small, fs_metadata, fs_write_fsync, read_dir: the Tokio side of edo-bench's file-system workloads
//! (bench/fs_workloads.h), the same shapes over the same files (made here with std::fs when
//! missing, in $TMPDIR/edo-bench-fs/ as edo-bench does): 64 tasks each taking the next file
//! until all are done; read_dir lists a directory of n files with tokio::fs::read_dir.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

pub const SMALL_DEFAULT_OPS: usize = 10_000;
pub const FSYNC_DEFAULT_OPS: usize = 2_000;
pub const DIR_DEFAULT_OPS: usize = 100_000;
const CONCURRENCY: usize = 64;
const SMALL_SIZE: usize = 4096;

fn bench_dir(name: &str) -> PathBuf {
    let tmp = env::var("TMPDIR").ok().filter(|t| !t.is_empty()).unwrap_or_else(|| "/tmp".into());
    PathBuf::from(tmp).join("edo-bench-fs").join(name)
}

/// The directory `name` with n files of `size` bytes named 0 .. n-1 (and "done" once
/// finished), as edo-bench makes it.
fn ensure_files(name: &str, n: usize, size: usize) -> PathBuf {
    let dir = bench_dir(name);
    if dir.join("done").exists() {
        return dir;
    }
    fs::create_dir_all(&dir).unwrap();
    let bytes = vec![b'x'; size];
    for i in 0..n {
        fs::write(dir.join(i.to_string()), &bytes).unwrap();
    }
    fs::write(dir.join("done"), b"").unwrap();
    dir
}

/// Runs `CONCURRENCY` tasks, each calling `one(i)` for the next i until n: the time for all.
fn run_concurrent<F, Fut>(rt: &Runtime, n: usize, one: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let one = Arc::new(one);
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(CONCURRENCY);
        for _ in 0..CONCURRENCY {
            let next = next.clone();
            let one = one.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    one(i).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    start.elapsed()
}

pub fn read_small(rt: &Runtime, n: usize) -> Duration {
    let dir = Arc::new(ensure_files(&format!("small-{}", n), n, SMALL_SIZE));
    run_concurrent(rt, n, move |i| {
        let path = dir.join(i.to_string());
        async move {
            let data = tokio::fs::read(&path).await.unwrap();
            assert_eq!(data.len(), SMALL_SIZE);
        }
    })
}

pub fn metadata(rt: &Runtime, n: usize) -> Duration {
    let dir = Arc::new(ensure_files(&format!("small-{}", n), n, SMALL_SIZE));
    run_concurrent(rt, n, move |i| {
        let path = dir.join(i.to_string());
        async move {
            let meta = tokio::fs::metadata(&path).await.unwrap();
            assert!(meta.is_file() && meta.len() == SMALL_SIZE as u64);
        }
    })
}

pub fn write_fsync(rt: &Runtime, n: usize) -> Duration {
    let dir = Arc::new(bench_dir("fsync"));
    fs::create_dir_all(&*dir).unwrap();
    run_concurrent(rt, n, move |i| {
        let path = dir.join(i.to_string());
        async move {
            let bytes = [0u8; SMALL_SIZE];
            let mut f = tokio::fs::File::create(&path).await.unwrap();
            f.write_all(&bytes).await.unwrap();
            f.sync_all().await.unwrap();
        }
    })
}

pub fn read_dir(rt: &Runtime, n: usize) -> Duration {
    let dir = ensure_files(&format!("dir-{}", n), n, 0);
    let start = Instant::now();
    let count = rt.block_on(async move {
        tokio::spawn(async move {
            let mut rd = tokio::fs::read_dir(&dir).await.unwrap();
            let mut count = 0usize;
            while let Some(_entry) = rd.next_entry().await.unwrap() {
                count += 1;
            }
            count
        })
        .await
        .unwrap()
    });
    assert_eq!(count, n + 1); // and "done"
    start.elapsed()
}
