//! tokio-echo: the Tokio echo server of bench/net/run.sh. A task per
//! connection reads into a buffer and writes it all back, like edo's
//! examples/echo_server.c.

#[path = "server.rs"]
mod server;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn echo(mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn main() {
    server::run("tokio-echo", echo);
}
