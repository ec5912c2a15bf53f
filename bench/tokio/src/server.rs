//! What tokio-echo and tokio-http share: the command line and the accept loop.
//!
//! Usage: tokio-echo|tokio-http [--port P] [--workers W]   (defaults: 7878, 1)
//!
//! A multi-thread runtime with W workers; the accept loop is itself a task on
//! a worker (as edo's is), and every connection gets its own task. Runs until
//! killed.

use std::env;
use std::future::Future;
use std::process;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Builder;

fn usage(name: &str) -> ! {
    eprintln!("usage: {} [--port P] [--workers W]", name);
    process::exit(64);
}

/// Parses the command line, then serves every connection with `handler`.
pub fn run<F, Fut>(name: &'static str, handler: F) -> !
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut port: u16 = 7878;
    let mut workers: usize = 1;
    let mut it = env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it.next().unwrap_or_else(|| usage(name));
        match arg.as_str() {
            "--port" => port = value.parse().unwrap_or_else(|_| usage(name)),
            "--workers" => workers = value.parse().unwrap_or_else(|_| usage(name)),
            _ => usage(name),
        }
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .expect("failed to build the Tokio runtime");
    // The accept loop only ends on an error, which it returns.
    let err = rt.block_on(async move {
        tokio::spawn(async move {
            let lis = match TcpListener::bind(("0.0.0.0", port)).await {
                Ok(lis) => lis,
                Err(e) => return e,
            };
            eprintln!("{}: listening on 0.0.0.0:{}, {} workers", name, port, workers);
            loop {
                match lis.accept().await {
                    Ok((conn, _)) => {
                        let _ = conn.set_nodelay(true);
                        tokio::spawn(handler(conn));
                    }
                    Err(e) => return e,
                }
            }
        })
        .await
    });
    eprintln!("{}: {:?}", name, err);
    process::exit(1);
}
