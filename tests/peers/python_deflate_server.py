"""
An interop peer for tests/12-extensions.test.ts: Python's `websockets`
(Debian's python3-websockets, 10.4) as an echo server that accepts
permessage-deflate.

    /usr/bin/python3 tests/peers/python_deflate_server.py SERVER_NCT CLIENT_NCT

SERVER_NCT and CLIENT_NCT (0 or 1): answer with server_no_context_takeover
and client_no_context_takeover, asked for or not (RFC 7692 §7.1.1 allows it).
It prints {"port": N} first, echoes every message with its type, answers the
text "fragments please" with a compressible text message in three fragments,
and stops when its standard input closes.
"""
import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


def report(**fields):
    print(json.dumps(fields), flush=True)


async def echo(ws, path=None):
    try:
        async for message in ws:
            if message == "fragments please":
                await ws.send(["fragmented " * 300, "", "and compressed " * 300])
            else:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(server_nct, client_nct):
    factory = ServerPerMessageDeflateFactory(server_no_context_takeover=server_nct, client_no_context_takeover=client_nct)
    async with websockets.serve(
        echo, "127.0.0.1", 0, extensions=[factory], compression=None, max_size=32 * 1024 * 1024, ping_interval=None, close_timeout=2
    ) as server:
        report(port=server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main(sys.argv[1] == "1", sys.argv[2] == "1"))
