//! The echo of one connection, as tokio-echo serves it (and idle_conn_memory
//! measures it): read into a 4 KiB buffer, write it all back.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn echo(mut conn: TcpStream) {
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
