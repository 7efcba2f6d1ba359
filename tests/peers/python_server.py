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
import asyncio
import json
import sys

import websockets

MAX_SIZE = 32 * 1024 * 1024


def report(**fields):
    print(json.dumps(fields), flush=True)


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


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=MAX_SIZE, ping_interval=None, close_timeout=2) as server:
        report(port=server.sockets[0].getsockname()[1])
        # Serve until whoever started us closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
