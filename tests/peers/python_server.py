"""
An interop peer for tests/09-echo-client.test.ts: Python's `websockets`
library (Debian's python3-websockets, 10.4) as an echo server.

    /usr/bin/python3 tests/peers/python_server.py

It listens on 127.0.0.1 on a free port and prints {"port": N} first. Then it
echoes every message with its type, and obeys two text commands:
  "fragments please"  answers with the text "Hello" sent as two fragments;
  "close please"      closes the connection with 4001 "as you asked".
When a connection ends it prints {"closed": code, "reason": "..."}: what the
client's close frame said. It stops when its standard input closes, so the
test that started it can never leave it behind.
"""
import websockets

from peer_kit import report, serve_until_stdin_closes

MAX_SIZE = 32 * 1024 * 1024


async def echo(ws, path=None):
    try:
        async for message in ws:
            if message == "fragments please":
                await ws.send(["Hel", "lo"])  # an iterable is sent as fragments (§5.4)
            elif message == "close please":
                await ws.close(4001, "as you asked")
            else:
                await ws.send(message)  # str as text, bytes as binary
    except websockets.ConnectionClosed:
        pass  # a close code other than 1000 ends the loop with this: it is reported below
    finally:
        report(closed=ws.close_code, reason=ws.close_reason)


serve_until_stdin_closes(echo, max_size=MAX_SIZE)
