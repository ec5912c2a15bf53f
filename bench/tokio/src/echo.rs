//! tokio-echo: the Tokio echo server of bench/net/run.sh. A task per
//! connection reads into a buffer and writes it all back, like edo's
//! examples/echo_server.c.

#[path = "server.rs"]
mod server;

#[path = "echo_conn.rs"]
mod echo_conn;

fn main() {
    server::run("tokio-echo", echo_conn::echo);
}
