"""
An interop peer for tests/08-echo-server.test.ts: Python's `websockets`
library (Debian's python3-websockets, 10.4) as a client of the echo server.

    /usr/bin/python3 tests/peers/python_client.py ws://127.0.0.1:PORT/

It sends text, binary, empty and large messages (up to 16 MiB), fragmented
messages, a ping, and closes with a code and a reason. It prints one JSON
object per line, one per check, and leaves the verdicts to the test. Every
wait is bounded (the whole run gives up after TOTAL_SECONDS), and any error
is printed as {"case": "error", ...} with exit status 1.
"""
import asyncio
import os
import sys
import time

import websockets

from peer_kit import echo as echo_with_bound, report, run_client

MiB = 1024 * 1024
TOTAL_SECONDS = 10
ECHO_SECONDS = 3
# The largest echo we expect; websockets refuses bigger messages (1 MiB by default).
MAX_SIZE = 32 * MiB


async def echo(ws, case, message, expected=None):
    await echo_with_bound(ws, case, message, ECHO_SECONDS, expected)


async def run(url):
    # websockets offers permessage-deflate by default: the server must decline it (§9.1).
    async with websockets.connect(url, max_size=MAX_SIZE, open_timeout=20, close_timeout=20, ping_interval=None) as ws:
        report(case="handshake", extensions=[type(e).__name__ for e in ws.extensions], subprotocol=ws.subprotocol)

        await echo(ws, "text", "Hello from Python ✓")
        await echo(ws, "binary", bytes(range(256)))
        await echo(ws, "empty text", "")
        await echo(ws, "empty binary", b"")
        for size in (125, 126, 127, 65535, 65536):
            await echo(ws, f"binary {size}", os.urandom(size))
        await echo(ws, "text 65536", "x" * 65536)
        await echo(ws, "binary 16 MiB", os.urandom(16 * MiB))
        # An iterable is sent as one message in fragments: a text frame, then continuations (§5.4).
        await echo(ws, "fragmented text", ["frag", "men", "ted ✓"], expected="fragmented ✓")
        await echo(ws, "fragmented binary", [b"\x00\x01", b"", b"\x02\x03"], expected=b"\x00\x01\x02\x03")

        started = time.monotonic()
        pong = await ws.ping(b"python ping")
        # websockets matches the pong to the ping by its payload (§5.5.3).
        await asyncio.wait_for(pong, 2)
        report(case="ping", pong=True, ms=round((time.monotonic() - started) * 1000))

        started = time.monotonic()
        await ws.close(4000, "bye from python")
        # close() returns once TCP is closed: quickly if the server closes it first (§7.1.1).
        report(case="close", code=ws.close_code, reason=ws.close_reason, ms=round((time.monotonic() - started) * 1000))


if __name__ == "__main__":
    run_client(run(sys.argv[1]), TOTAL_SECONDS)
