"""
An interop peer for tests/12-extensions.test.ts: Python's `websockets`
(Debian's python3-websockets, 10.4) as a client of an echo server, with
permessage-deflate on.

    /usr/bin/python3 tests/peers/python_deflate_client.py URL SERVER_NCT CLIENT_NCT

SERVER_NCT and CLIENT_NCT (0 or 1) ask for server_no_context_takeover and
client_no_context_takeover in the offer. It sends text and binary messages
from 0 bytes to 16 MiB, compressible and not, and fragmented ones, and prints
one JSON object per line: the agreed parameters first, then one per echo.
Every wait is bounded; any error is printed as {"case": "error", ...}, exit 1.
"""
import os
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from peer_kit import echo as echo_with_bound, report, run_client

MiB = 1024 * 1024
TOTAL_SECONDS = 25
ECHO_SECONDS = 8


async def echo(ws, case, message, expected=None):
    await echo_with_bound(ws, case, message, ECHO_SECONDS, expected)


def words(n):
    """n bytes of text that compresses the way prose does."""
    text = "".join(f"word{i % 97} {i * 7919 % 1000}; " for i in range(n // 8 + 1))
    return text[:n]


async def run(url, server_nct, client_nct):
    factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct,
        client_max_window_bits=True,
    )
    async with websockets.connect(
        url, extensions=[factory], compression=None, max_size=32 * MiB, open_timeout=3, close_timeout=3, ping_interval=None
    ) as ws:
        ext = ws.extensions[0] if ws.extensions else None
        report(
            case="handshake",
            extensions=[type(e).__name__ for e in ws.extensions],
            remote_no_context_takeover=getattr(ext, "remote_no_context_takeover", None),
            local_no_context_takeover=getattr(ext, "local_no_context_takeover", None),
        )
        await echo(ws, "empty text", "")
        await echo(ws, "empty binary", b"")
        await echo(ws, "small text", "Hello ✓")
        for size in (125, 126, 65535, 65536):
            await echo(ws, f"text {size}", words(size))
        await echo(ws, "text 1 MiB", words(MiB))
        await echo(ws, "random binary 65536", os.urandom(65536))
        block = os.urandom(1024)
        await echo(ws, "binary 16 MiB", block * (16 * 1024))
        await echo(ws, "text 16 KiB", words(16384))
        await echo(ws, "the same 16 KiB again", words(16384))
        await echo(ws, "fragmented text", [words(3000), "", words(5000) + " ✓"], expected=words(3000) + words(5000) + " ✓")
        await echo(ws, "fragmented binary", [block * 8, b"", block * 4], expected=block * 12)
        await ws.close(1000, "done")
        report(case="close", code=ws.close_code)


if __name__ == "__main__":
    run_client(run(sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"), TOTAL_SECONDS)
