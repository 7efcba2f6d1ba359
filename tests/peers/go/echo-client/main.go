// Command echo-client is a client on Go's golang.org/x/net/websocket, a peer
// for the workbook's interop tests (tests/10-ws-library.test.ts).
//
//	echo-client [-origin URL] [-binary] ws://host:port/ MESSAGE...
//
// It dials, then for each MESSAGE sends it with websocket.Message.Send (a
// string is a text frame; with -binary the MESSAGE is hex and goes as []byte,
// a binary frame), receives the echo, and prints one line:
//
//	text "héllo"
//	binary 0001ff
//
// Then it closes (Conn.Close sends a close frame with 1000 and closes TCP at
// once) and exits 0; on any error, or after 10 s in all, it prints the
// problem on stderr and exits 1.
//
// Build offline with Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o echo-client ./tests/peers/go/echo-client
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/net/websocket"
)

// reply is one received frame: its opcode and its payload.
type reply struct {
	payloadType byte
	data        []byte
}

// typed is websocket.Message for receiving, except that it also keeps the
// opcode (Message.Receive into a string or a []byte accepts either kind of frame).
var typed = websocket.Codec{
	Marshal: websocket.Message.Marshal,
	Unmarshal: func(data []byte, payloadType byte, v interface{}) error {
		r := v.(*reply)
		r.payloadType, r.data = payloadType, data
		return nil
	},
}

func main() {
	origin := flag.String("origin", "http://localhost/", "the Origin header (websocket.Dial requires one)")
	binary := flag.Bool("binary", false, "messages are hex, sent as binary frames")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: echo-client [-origin URL] [-binary] ws://host:port/ MESSAGE...")
		os.Exit(2)
	}
	// websocket.Dial has no timeout of its own (a Config's Dialer bounds only
	// the TCP connect, not the handshake), so a watchdog bounds the whole run.
	time.AfterFunc(10*time.Second, func() {
		fmt.Fprintln(os.Stderr, "echo-client: no answer within 10 s")
		os.Exit(1)
	})
	if err := run(flag.Arg(0), *origin, *binary, flag.Args()[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
		os.Exit(1)
	}
}

func run(url, origin string, binary bool, messages []string) error {
	ws, err := websocket.Dial(url, "", origin)
	if err != nil {
		return err
	}
	defer ws.Close()
	// Once connected, a deadline on the connection bounds every read and write.
	ws.SetDeadline(time.Now().Add(5 * time.Second))

	for _, message := range messages {
		if binary {
			data, err := hex.DecodeString(message)
			if err != nil {
				return err
			}
			err = websocket.Message.Send(ws, data) // []byte: a binary frame
		} else {
			err = websocket.Message.Send(ws, message) // string: a text frame
		}
		if err != nil {
			return err
		}
		var echo reply
		if err := typed.Receive(ws, &echo); err != nil {
			return err
		}
		switch echo.payloadType {
		case websocket.TextFrame:
			fmt.Printf("text %q\n", echo.data)
		case websocket.BinaryFrame:
			fmt.Printf("binary %x\n", echo.data)
		default:
			fmt.Printf("opcode %d %x\n", echo.payloadType, echo.data)
		}
	}
	return nil
}
