//! idle_conn_memory: RSS growth per idle echo connection, the Tokio side of
//! edo's bench/conn_workloads.c. Each connection is served by a task shaped as
//! tokio-echo's (a 4 KiB buffer, read, write_all), parked in a read after one
//! echo;
//! the clients are this program re-run as `idle_conn_client` in a process of
//! its own, so only the server's side is measured.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream as StdTcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tokio::net::TcpSocket;
use tokio::runtime::Runtime;

use crate::echo_conn::echo;

/// Bytes of RSS per connection once `n` connections are parked.
pub fn idle_conn_memory(rt: &Runtime, n: usize, rss: fn() -> usize) -> usize {
    let listener = rt
        .block_on(async {
            let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
            let socket = TcpSocket::new_v4()?;
            socket.bind(addr)?;
            socket.listen(4096)
        })
        .expect("listen");
    let port = listener.local_addr().expect("local_addr").port();
    let parked = Arc::new(AtomicUsize::new(0));
    let counter = parked.clone();
    rt.spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let parked = counter.clone();
            tokio::spawn(async move {
                parked.fetch_add(1, Ordering::Release);
                echo(conn).await
            });
        }
    });
    let before = rss();
    let mut child = Command::new("/proc/self/exe")
        .args(["idle_conn_client", &port.to_string(), &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the client");
    let mut ok = [0u8; 1];
    child
        .stdout
        .as_mut()
        .expect("the client's stdout")
        .read_exact(&mut ok)
        .expect("the client connects");
    // The client has had every echo: each task is back in its read, but for
    // the last few, which are on their way there.
    while parked.load(Ordering::Acquire) < n {
        thread::sleep(Duration::from_millis(1));
    }
    let after = rss();
    drop(child.stdin.take()); // the client closes its connections and exits
    let _ = child.wait();
    after.saturating_sub(before) / n
}

/// The client process: `n` connections to 127.0.0.1:`port`, each echoing one
/// byte, held open until stdin closes; says "1" on stdout once all are
/// connected.
pub fn idle_conn_client(port: &str, n: &str) -> i32 {
    let (port, n): (u16, usize) = match (port.parse(), n.parse()) {
        (Ok(p), Ok(n)) => (p, n),
        _ => return 64,
    };
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        // Each connection echoes once, then idles.
        let mut byte = [b'x'];
        let echoed = StdTcpStream::connect((Ipv4Addr::LOCALHOST, port)).and_then(|mut c| {
            c.write_all(&byte)?;
            c.read_exact(&mut byte)?;
            Ok(c)
        });
        match echoed {
            Ok(c) => conns.push(c),
            Err(e) => {
                eprintln!("idle_conn_client: {}", e);
                return 1;
            }
        }
    }
    if std::io::stdout().write_all(b"1").and_then(|_| std::io::stdout().flush()).is_err() {
        return 1;
    }
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    0
}
