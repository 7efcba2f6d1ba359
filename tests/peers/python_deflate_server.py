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
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from peer_kit import serve_until_stdin_closes

async def echo(ws, path=None):
    try:
        async for message in ws:
            if message == "fragments please":
                await ws.send(["fragmented " * 300, "", "and compressed " * 300])
            else:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass


server_nct, client_nct = sys.argv[1] == "1", sys.argv[2] == "1"
factory = ServerPerMessageDeflateFactory(server_no_context_takeover=server_nct, client_no_context_takeover=client_nct)
serve_until_stdin_closes(echo, extensions=[factory], compression=None, max_size=32 * 1024 * 1024)
