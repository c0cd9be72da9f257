#!/usr/bin/env python3
"""A TCP proxy that puts a wide-area network between a client and a server on this machine.

    latency_proxy.py --listen PORT --delay-ms 25 --connect HOST:PORT
    latency_proxy.py --listen PORT --delay-ms 25 --git-daemon-inetd BASE

Every byte either side sends reaches the other side DELAY later (propagation delay; bandwidth is
not limited, and no packet is lost). The proxy's own accept is instant, so the first bytes a client
sends on a new connection wait one extra round trip (2 x DELAY): what a real TCP handshake costs a
client before it can send. TLS runs end to end through the proxy and pays its own round trips.

Backends:
  --connect HOST:PORT     any TCP server (the bench's smart-HTTP server);
  --git-daemon-inetd BASE one `git daemon --inetd --export-all --base-path=BASE` per connection:
                          git daemon itself, without its listen(2) backlog of 5 (daemon.c), which
                          drops SYNs and stalls clients ~1 s once more than ~5 connect at once; a
                          forge has no such limit, and the bench compares concurrency levels.

On SIGTERM, and on SIGUSR1 while it keeps running, it writes its counters (connections accepted,
the most open at once since the previous snapshot, bytes each way) as JSON to --stats, if given
(to a temporary file, then renamed, so a reader never sees half of it): the bench reads them
before and after each measurement, to count the connections (so the TCP and TLS handshakes)
each side opened.
Only the Python standard library is used.
"""

import argparse
import asyncio
import json
import os
import signal
import sys

STATS = {"connections": 0, "open": 0, "peak_open": 0, "bytes_up": 0, "bytes_down": 0, "backend_errors": 0}


def write_stats(path):
    """Writes the counters; `peak_open` then starts again from the connections open now, so each
    snapshot's `peak_open` is the most open at once since the previous one."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(STATS, f)
    os.replace(tmp, path)
    STATS["peak_open"] = STATS["open"]


async def pump(reader, write, close, delay, first_extra, counter):
    """Copies reader to write, each chunk delivered `delay` seconds after it was read (the first
    chunk `first_extra` later still), in order; then closes the write side."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read_side():
        extra = first_extra
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((loop.time() + delay + extra, data))
            extra = 0.0
            if not data:
                return

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                await close()
                return
            STATS[counter] += len(data)
            try:
                await write(data)
            except (ConnectionError, OSError):
                await close()
                return

    await asyncio.gather(read_side(), write_side())


def stream_writer_ops(writer):
    async def write(data):
        writer.write(data)
        await writer.drain()

    async def close():
        try:
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass

    return write, close


async def handle(client_reader, client_writer, args):
    STATS["open"] += 1
    STATS["peak_open"] = max(STATS["peak_open"], STATS["open"])
    try:
        await relay(client_reader, client_writer, args)
    except asyncio.CancelledError:
        pass  # Shutting down with connections open.
    finally:
        STATS["open"] -= 1


async def relay(client_reader, client_writer, args):
    STATS["connections"] += 1
    delay = args.delay_ms / 1000.0
    proc = None
    back_writer = None
    try:
        if args.git_daemon_inetd:
            proc = await asyncio.create_subprocess_exec(
                "git", "daemon", "--inetd", "--log-destination=none", "--export-all",
                f"--base-path={args.git_daemon_inetd}", args.git_daemon_inetd,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL)
            back_reader = proc.stdout

            async def back_write(data):
                proc.stdin.write(data)
                await proc.stdin.drain()

            async def back_close():
                try:
                    proc.stdin.close()
                except (ConnectionError, OSError, RuntimeError):
                    pass
        else:
            host, port = args.connect.rsplit(":", 1)
            back_reader, back_writer = await asyncio.open_connection(host, int(port))
            back_write, back_close = stream_writer_ops(back_writer)
    except OSError:
        STATS["backend_errors"] += 1
        client_writer.close()
        return
    client_write, client_close = stream_writer_ops(client_writer)
    await asyncio.gather(
        pump(client_reader, back_write, back_close, delay, 2 * delay, "bytes_up"),
        pump(back_reader, client_write, client_close, delay, 0.0, "bytes_down"),
    )
    client_writer.close()
    if back_writer is not None:
        back_writer.close()
    if proc is not None:
        await proc.wait()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--connect")
    ap.add_argument("--git-daemon-inetd")
    ap.add_argument("--stats")
    args = ap.parse_args()
    if bool(args.connect) == bool(args.git_daemon_inetd):
        ap.error("give exactly one of --connect and --git-daemon-inetd")
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args), "127.0.0.1", args.listen, backlog=4096)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.stats:
        loop.add_signal_handler(signal.SIGUSR1, write_stats, args.stats)
    async with server:
        await stop.wait()
    if args.stats:
        write_stats(args.stats)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
