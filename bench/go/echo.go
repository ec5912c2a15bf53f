// The Go servers of the network benchmarks (bench/net/run.sh): standard
// library only, so Debian's golang-go builds them offline.
//
//	go-server [--port P] [--workers W] [--http]   (defaults: 7878, 1)
//
// GOMAXPROCS is W; every connection gets a goroutine, which the runtime parks
// on its netpoller while the socket has nothing to read. Without --http a
// goroutine echoes what it reads; with --http it answers the minimal HTTP/1.1
// hello world of http.go. Runs until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
)

// echo reads into a buffer and writes it all back (net.Conn.Write writes
// everything or fails), like edo's examples/echo_server.c.
func echo(conn *net.TCPConn) {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		if _, err := conn.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	port := flag.Int("port", 7878, "TCP port")
	workers := flag.Int("workers", 1, "GOMAXPROCS")
	http := flag.Bool("http", false, "serve HTTP/1.1 hello world instead of echoing")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	serve := echo
	if *http {
		serve = hello
	}
	lis, err := net.ListenTCP("tcp4", &net.TCPAddr{Port: *port})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-server:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "go-server: listening on %v, %d workers\n", lis.Addr(), *workers)
	for {
		conn, err := lis.AcceptTCP()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-server:", err)
			os.Exit(1)
		}
		conn.SetNoDelay(true)
		go serve(conn)
	}
}
