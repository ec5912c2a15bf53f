//! lines: the Tokio side of edo-bench's `lines` (bench/stream_workloads.h), the same shape: a
//! task writes n lines of LINES_LEN bytes ("\n" included) into an io::duplex of 64 KiB, in
//! writes of 819 lines (65,520 bytes); another reads them with BufReader::lines (the default
//! capacity, 8 KiB). Timed from the spawns to the last line.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::runtime::Runtime;

pub const LINES_LEN: usize = 80;
/// --ops unless given: 1 GiB of lines.
pub const LINES_DEFAULT_OPS: usize = (1 << 30) / LINES_LEN;
const DUPLEX_BUFFER: usize = 64 * 1024;
/// The most whole lines in 64 KiB.
const CHUNK_LINES: usize = 819;

pub fn lines(rt: &Runtime, n: usize) -> Duration {
    let (a, mut b) = tokio::io::duplex(DUPLEX_BUFFER);
    let mut chunk = vec![0u8; CHUNK_LINES * LINES_LEN];
    for (i, line) in chunk.chunks_mut(LINES_LEN).enumerate() {
        for (k, c) in line.iter_mut().enumerate() {
            *c = b'a' + ((i + k) % 26) as u8;
        }
        line[LINES_LEN - 1] = b'\n';
    }
    let start = Instant::now();
    let writer = rt.spawn(async move {
        let mut left = n;
        while left > 0 {
            let count = left.min(CHUNK_LINES);
            b.write_all(&chunk[..count * LINES_LEN]).await.unwrap();
            left -= count;
        }
        // Dropping the end: the reader reads the end of the stream.
    });
    let reader = rt.spawn(async move {
        let mut lines = BufReader::new(a).lines();
        let (mut count, mut bytes) = (0usize, 0usize);
        while let Some(line) = lines.next_line().await.unwrap() {
            count += 1;
            bytes += line.len();
        }
        (count, bytes)
    });
    let (count, bytes) = rt.block_on(reader).unwrap();
    let took = start.elapsed();
    rt.block_on(writer).unwrap();
    assert_eq!(count, n, "lines: lines read");
    assert_eq!(bytes, n * (LINES_LEN - 1), "lines: bytes read");
    took
}
