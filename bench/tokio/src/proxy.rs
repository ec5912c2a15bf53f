//! tokio-proxy: the Tokio side of bench=copy (bench/net/copy.sh). Every
//! connection to --port is forwarded to --to with tokio::io::copy_bidirectional,
//! as edo's examples/tcp_proxy.c does with edo_stream_copy_bidirectional.
//!
//! Usage: tokio-proxy --port P --to HOST:PORT [--workers W]   (workers: 1)

use std::env;
use std::process;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Builder;

fn usage() -> ! {
    eprintln!("usage: tokio-proxy --port P --to HOST:PORT [--workers W]");
    process::exit(64);
}

async fn relay(mut client: TcpStream, target: String) {
    let mut upstream = match TcpStream::connect(target.as_str()).await {
        Ok(s) => s,
        Err(_) => return,
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ = copy_bidirectional(&mut client, &mut upstream).await;
}

fn main() {
    let mut port: u16 = 0;
    let mut target = String::new();
    let mut workers: usize = 1;
    let mut it = env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--to" => target = value,
            "--workers" => workers = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if port == 0 || target.is_empty() {
        usage();
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .expect("failed to build the Tokio runtime");
    let err = rt.block_on(async move {
        tokio::spawn(async move {
            let lis = match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(lis) => lis,
                Err(e) => return e,
            };
            eprintln!("tokio-proxy: 127.0.0.1:{} -> {}, {} workers", port, target, workers);
            loop {
                match lis.accept().await {
                    Ok((conn, _)) => {
                        tokio::spawn(relay(conn, target.clone()));
                    }
                    Err(e) => return e,
                }
            }
        })
        .await
    });
    eprintln!("tokio-proxy: {:?}", err);
    process::exit(1);
}
