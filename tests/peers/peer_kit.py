"""
What the Python interop peers share (they run it from this folder: Python puts
a script's own folder first on its import path). Each peer prints one JSON
object per line and leaves the verdicts to the test that started it; every
wait is bounded.
"""
import asyncio
import json
import sys

import websockets


def report(**fields):
    """One line of JSON on stdout, flushed at once: the test reads it as it comes."""
    print(json.dumps(fields), flush=True)


def describe(message):
    kind = "text" if isinstance(message, str) else "binary"
    size = len(message.encode("utf-8")) if kind == "text" else len(message)
    return {"type": kind, "bytes": size}


async def echo(ws, case, message, seconds, expected=None):
    """Sends `message` (an iterable of str or bytes is sent as fragments, §5.4) and reports its echo."""
    expected = message if expected is None else expected
    await ws.send(message)
    try:
        reply = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        raise TimeoutError(f'no echo of the "{case}" message within {seconds} s') from None
    report(case=case, sent=describe(expected), echo=describe(reply), equal=(reply == expected))


def run_client(session, total_seconds):
    """Runs a client's whole session within total_seconds; anything that goes wrong,
    a timeout included, is reported as {"case": "error", ...} with exit status 1."""

    async def bounded():
        try:
            await asyncio.wait_for(session, total_seconds)
        except BaseException as error:
            report(case="error", error=f"{type(error).__name__}: {str(error) or 'no answer in time'}")
            return 1
        return 0

    sys.exit(asyncio.run(bounded()))


def serve_until_stdin_closes(handler, **options):
    """An echo server on 127.0.0.1, any free port, printed first as {"port": N}. It
    serves until its standard input closes, so the test that started it can never
    leave it behind."""

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", 0, ping_interval=None, close_timeout=2, **options) as server:
            report(port=server.sockets[0].getsockname()[1])
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(serve())
