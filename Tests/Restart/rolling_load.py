"""The load of the rolling-restart test (Tests/EndToEndTests/RollingRestartTests.swift).

It serves the API's backend (an echo that counts what it receives per gateway connection) and runs
the clients through the load balancer:

- `--clients` clients on the main API, each sending one message every `--interval` seconds. A
  client whose connection is closed reconnects: at once, and once more after a second if that
  fails; a client that cannot reconnect then is a refused client. Each message carries the
  gateway's connection id (the 101's `x-portico-connection-id`) and a sequence number.
- `--capped` clients on the capped API (a plan of that many connections), reconnecting the same
  way; at the end one more client tries and must be refused.
- one client on the rate-limited API sending `--limited-rate` messages a second.

It prints `READY` once every client is connected, runs until the file `--stop` exists, then closes
everything and prints one JSON report on its last line.
"""

import argparse
import asyncio
import json
import os
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

received_by_backend = {}  # gateway connection id -> messages the backend received


async def backend(connection):
    try:
        async for message in connection:
            tag = message.split(" ", 1)[0]
            received_by_backend[tag] = received_by_backend.get(tag, 0) + 1
            await connection.send(message)
    except ConnectionClosed:
        pass


class Report:
    def __init__(self):
        self.handshakes = 0
        self.reconnects = 0
        self.refused = []  # clients that could not reconnect after one retry
        self.closes = {}  # "code reason" -> count, for connections the gateway closed
        self.connections = {}  # id -> {"sent": n, "sentBeforeClose": n, "echoed": n}
        self.capped_final = None
        self.limited_sent = 0
        self.limited_echoed = 0
        self.limited_seconds = 0.0


async def handshake(url, token):
    return await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10, compression=None,
                         max_queue=None)


async def open_with_retry(url, token, report, name):
    """One attempt, then one retry a second later: what the documented client contract asks."""
    for attempt in range(2):
        try:
            connection = await handshake(url, token)
            report.handshakes += 1
            return connection
        except (OSError, InvalidStatus, asyncio.TimeoutError, ConnectionClosed) as error:
            if attempt == 1:
                report.refused.append(f"{name}: {error!r}")
                return None
            await asyncio.sleep(1)


async def client(name, url, token, interval, report, stop, connected):
    first = True
    while not stop.is_set():
        connection = await open_with_retry(url, token, report, name)
        if connection is None:
            return
        if first:
            connected.release()
            first = False
        else:
            report.reconnects += 1
        tag = connection.response.headers["x-portico-connection-id"]
        counts = report.connections.setdefault(tag, {"sent": 0, "sentBeforeClose": 0, "echoed": 0})

        async def receive():
            try:
                async for _ in connection:
                    counts["echoed"] += 1
            except ConnectionClosed:
                pass

        receiver = asyncio.create_task(receive())
        try:
            while not stop.is_set() and not receiver.done():
                await connection.send(f"{tag} {counts['sent'] + 1}")
                counts["sent"] += 1
                try:
                    await asyncio.wait_for(asyncio.shield(receiver), timeout=interval)
                except asyncio.TimeoutError:
                    pass
        except ConnectionClosed:
            pass
        if stop.is_set():
            # Time for the last echoes, then the client's own close.
            try:
                await asyncio.wait_for(asyncio.shield(receiver), timeout=2)
            except asyncio.TimeoutError:
                pass
            await connection.close()
            await receiver
            return
        await receiver
        # The gateway closed it: count what was sent before its close frame arrived.
        counts["sentBeforeClose"] = counts["sent"]
        frame = connection.protocol.close_rcvd
        key = f"{frame.code} {frame.reason}" if frame else "no close frame"
        report.closes[key] = report.closes.get(key, 0) + 1


async def limited(url, token, rate, report, stop):
    connection = await open_with_retry(url, token, report, "limited")
    if connection is None:
        return
    started = time.monotonic()

    async def receive():
        try:
            async for message in connection:
                if not message.startswith('{"error":"rate_limited"'):  # the gateway's notice of a dropped message
                    report.limited_echoed += 1
        except ConnectionClosed:
            pass

    receiver = asyncio.create_task(receive())
    while not stop.is_set():
        try:
            await connection.send(f"limited {report.limited_sent + 1}")
            report.limited_sent += 1
        except ConnectionClosed:
            pass
        await asyncio.sleep(1 / rate)
        if receiver.done():
            # Drained by a restart: reconnect and go on counting.
            connection = await open_with_retry(url, token, report, "limited")
            if connection is None:
                return
            receiver = asyncio.create_task(receive())
    report.limited_seconds = time.monotonic() - started
    await asyncio.sleep(1)
    await connection.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend-port", type=int, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--capped-url", required=True)
    parser.add_argument("--limited-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--capped", type=int, default=5)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--limited-rate", type=float, default=10.0)
    parser.add_argument("--stop", required=True)
    arguments = parser.parse_args()

    report = Report()
    stop = asyncio.Event()
    async with serve(backend, "127.0.0.1", arguments.backend_port, compression=None, max_queue=None):
        connected = asyncio.Semaphore(0)
        tasks = []
        for index in range(arguments.clients):
            tasks.append(asyncio.create_task(client(f"c{index}", arguments.url, arguments.token, arguments.interval, report, stop, connected)))
            if index % 50 == 49:
                await asyncio.sleep(0.05)
        for index in range(arguments.capped):
            tasks.append(asyncio.create_task(client(f"capped{index}", arguments.capped_url, arguments.token, arguments.interval, report, stop, connected)))
        for _ in range(arguments.clients + arguments.capped):
            await connected.acquire()
        tasks.append(asyncio.create_task(limited(arguments.limited_url, arguments.token, arguments.limited_rate, report, stop)))
        print("READY", flush=True)
        while not os.path.exists(arguments.stop):
            await asyncio.sleep(0.2)
        # The capped API's connections are all held: one more is refused.
        try:
            extra = await handshake(arguments.capped_url, arguments.token)
            report.capped_final = 101
            await extra.close()
        except InvalidStatus as error:
            report.capped_final = error.response.status_code
        stop.set()
        await asyncio.gather(*tasks)
        await asyncio.sleep(1)

    print(json.dumps({
        "handshakes": report.handshakes,
        "reconnects": report.reconnects,
        "refused": report.refused,
        "closes": report.closes,
        "connections": report.connections,
        "backend": received_by_backend,
        "cappedFinal": report.capped_final,
        "limitedSent": report.limited_sent,
        "limitedEchoed": report.limited_echoed,
        "limitedSeconds": report.limited_seconds,
    }), flush=True)


asyncio.run(main())
