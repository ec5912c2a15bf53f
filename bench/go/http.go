package main

import (
	"bytes"
	"net"
)

// The minimal HTTP/1.1 keep-alive responder, the same as bench/net/http.h:
// a request ends at its blank line, each gets the same fixed response, and the
// responses to pipelined requests go out in one write. Not net/http: that
// would compare a full HTTP stack against hand-written responders.
const (
	response   = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
	maxRequest = 4096 // a longer request head closes the connection
	batchMax   = 16   // responses one write carries at most
)

var (
	batch      = bytes.Repeat([]byte(response), batchMax)
	requestEnd = []byte("\r\n\r\n")
)

func hello(conn *net.TCPConn) {
	defer conn.Close()
	buf := make([]byte, maxRequest)
	have := 0
	for {
		n, err := conn.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		k, used := 0, 0
		for {
			end := bytes.Index(buf[used:have], requestEnd)
			if end < 0 {
				break
			}
			used += end + len(requestEnd)
			k++
		}
		for k > 0 {
			m := k
			if m > batchMax {
				m = batchMax
			}
			if _, err := conn.Write(batch[:m*len(response)]); err != nil {
				return
			}
			k -= m
		}
		have = copy(buf, buf[used:have])
		if have == len(buf) {
			return
		}
	}
}
