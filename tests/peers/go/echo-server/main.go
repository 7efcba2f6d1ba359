// Command echo-server is an echo server on Go's golang.org/x/net/websocket,
// a peer for the workbook's interop tests (tests/10-ws-library.test.ts).
//
// It listens on 127.0.0.1 (any free port unless -addr says otherwise),
// prints its ws:// URL on one line, and serves two endpoints:
//
//	/         websocket.Server with no Handshake: any Origin, or none, is accepted
//	/handler  websocket.Handler: a request without a parseable Origin gets 403
//
// Each message comes back with its own type. Message.Receive would hand us
// the bytes but not the opcode, and a Conn's Write always sends ws.PayloadType
// (text unless changed), so an io.Copy(ws, ws) echo would turn binary into
// text: this server receives with a Codec that keeps the opcode.
//
// Build offline with Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o echo-server ./tests/peers/go/echo-server
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"

	"golang.org/x/net/websocket"
)

// frame is one received frame: its opcode (websocket.TextFrame or
// websocket.BinaryFrame) and its payload.
type frame struct {
	payloadType byte
	data        []byte
}

// typed is websocket.Message for receiving, except that it also keeps the
// opcode, which Codec.Receive passes to Unmarshal and Message throws away.
var typed = websocket.Codec{
	Marshal: websocket.Message.Marshal,
	Unmarshal: func(data []byte, payloadType byte, v interface{}) error {
		f := v.(*frame)
		f.payloadType, f.data = payloadType, data
		return nil
	},
}

// echo serves one connection. Codec.Receive returns one frame per call and
// io.EOF once the client's close frame arrives; the deferred Close then
// answers with a close frame carrying 1000 and closes TCP.
func echo(ws *websocket.Conn) {
	defer ws.Close()
	for {
		var in frame
		if err := typed.Receive(ws, &in); err != nil {
			return
		}
		var err error
		if in.payloadType == websocket.BinaryFrame {
			err = websocket.Message.Send(ws, in.data) // []byte: a binary frame
		} else {
			err = websocket.Message.Send(ws, string(in.data)) // string: a text frame
		}
		if err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.Handle("/", websocket.Server{Handler: echo})
	mux.Handle("/handler", websocket.Handler(echo))

	fmt.Printf("ws://%s/\n", listener.Addr())
	if err := http.Serve(listener, mux); err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
}
