//! tokio-http: the Tokio side of the HTTP/1.1 keep-alive hello world of
//! bench/net/run.sh, the same minimal responder as bench/net/http.h: a request
//! ends at its blank line, each gets the same fixed response, and the
//! responses to pipelined requests go out in one write.

#[path = "server.rs"]
mod server;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
/// The largest request head kept; a longer one closes the connection.
const MAX_REQUEST: usize = 4096;
/// Responses one write carries at most.
const BATCH: usize = 16;

/// How many complete requests `buf` holds, and how many bytes they take.
fn requests(buf: &[u8]) -> (usize, usize) {
    let (mut n, mut at) = (0, 0);
    while let Some(end) = buf[at..].windows(4).position(|w| w == b"\r\n\r\n") {
        at += end + 4;
        n += 1;
    }
    (n, at)
}

async fn serve(mut conn: TcpStream, batch: &'static [u8]) {
    let mut buf = [0u8; MAX_REQUEST];
    let mut have = 0;
    loop {
        match conn.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        let (mut k, used) = requests(&buf[..have]);
        while k > 0 {
            let m = k.min(BATCH);
            if conn.write_all(&batch[..m * RESPONSE.len()]).await.is_err() {
                return;
            }
            k -= m;
        }
        buf.copy_within(used..have, 0);
        have -= used;
        if have == buf.len() {
            return;
        }
    }
}

fn main() {
    let batch: &'static [u8] = Box::leak(RESPONSE.repeat(BATCH).into_boxed_slice());
    server::run("tokio-http", move |conn| serve(conn, batch));
}
