"""A TCP relay: `python -m edgeai.relay --listen PORT --to HOST:PORT`.

The local environment's uplink (edgeai.localcloud): the site's MirrorMaker 2 reaches the cloud Kafka
only through it, as a real site reaches its cloud over a WAN link. Scaled to zero, the link is cut
(open connections drop, new ones are refused); scaled back, it returns. Bytes pass untouched: TLS
runs end to end between the site and the cloud.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def relay(listen: int, host: str, port: int) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (TimeoutError, OSError) as err:
            print(f"relay: {host}:{port} unreachable: {err}", file=sys.stderr, flush=True)
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))

    server = await asyncio.start_server(handle, "0.0.0.0", listen)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"relay: :{listen} -> {host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgeai.relay", description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--to", required=True, help="HOST:PORT")
    args = p.parse_args(argv)
    host, _, port = args.to.rpartition(":")
    asyncio.run(relay(args.listen, host, int(port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
