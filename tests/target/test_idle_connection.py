"""An idle authenticated connection holds no writer task: one is started for what there is to send
and ends once the outbox is empty, and the next message starts the next one, in order.

In process: the real App behind websockets' server on 127.0.0.1, port 0, and a websockets client.
"""

from __future__ import annotations

import asyncio

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from loadgen.protocol import tokens, wire
from target_app.app import App
from target_app.config import Config
from target_app.context import WorkerContext
from target_app.wiring import Wiring
from tests.target.client import WAIT_S, run


def writers() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("writer of ")]


async def until_no_writer() -> None:
    """Wait (bounded) until no connection's writer task is alive."""
    async with asyncio.timeout(WAIT_S):
        while writers():
            await asyncio.sleep(0.005)


def test_the_writer_runs_only_while_there_is_something_to_send() -> None:
    async def body() -> None:
        config = Config(port=0, secret="s" * 32, stall_timeout=0.0)
        app = App(WorkerContext.for_worker(config, 0), Wiring())
        async with serve(app.handler, "127.0.0.1", 0, process_request=app.process_request,
                         compression=None, ping_interval=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            bearer = {"Authorization": f"Bearer {tokens.mint(config.secret, 'alice')}"}
            async with connect(f"ws://127.0.0.1:{port}{wire.WS_PATH}", additional_headers=bearer,
                               open_timeout=WAIT_S) as ws:
                ready = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
                assert (ready["type"], ready["seq"]) == ("ready", 0)
                await until_no_writer()  # idle and authenticated: no task of its own left
                assert len(app.connections) == 1
                for n in range(1, 4):  # each reply starts a writer; seq goes on across them
                    await ws.send(orjson.dumps({"op": "echo", "id": n, "data": "x"}).decode())
                    reply = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
                    assert (reply["type"], reply["id"], reply["seq"]) == ("echo", n, n)
                    await until_no_writer()

    run(body(), 30)
