"""rapid_connect: the handshake race — ops sent the instant the 101 is read, or right behind auth.

Each iteration connects and authenticates (header, query string and in-band in turn), sends ops
the instant the handshake's ``101`` is read (right behind the ``auth`` message when in band) —
*before* ``ready`` arrives, never before the ``101`` (RFC 6455 §4.1) — then expects ``ready`` first
and every reply in order, closes with 1000 and checks the clean close; then again at once.

On a server with the bug (``--fault early-drop`` discards messages that arrive before authentication
completes) the pipelined ops get no reply: ``timeout`` when none is answered, ``missed_event`` when a
later one is answered first. A server that handles them as someone else's shows ``foreign_event``.
"""

from __future__ import annotations

from locust import task

from loadgen.errors import StepTimeout
from loadgen.protocol import wire
from loadgen.protocol.closecodes import Expectation
from loadgen.protocol.conversation import check_echo, judge_close
from loadgen.user import RaceUser

PIPELINED = 3


class RapidConnectUser(RaceUser):
    scenario = "rapid_connect"

    @task
    def connect_pipeline_close(self) -> None:
        with self.iteration():
            mode = self.next_auth_mode()
            sent = [wire.echo_op({"user": self.identity.user, "n": n}) for n in range(PIPELINED)]
            with self.step("connect"):
                client = self.connect(mode=mode, pipeline=tuple(sent))
            with self.step("ready"):
                client.expect_ready()
            with self.step("pipelined"):
                for n, op in enumerate(sent, start=1):
                    try:
                        reply = client.wait_reply(n, "echo", step="pipelined")
                    except StepTimeout as exc:
                        raise StepTimeout(f"pipelined op {n} of {PIPELINED} ({mode} auth)", exc.seconds) from exc
                    check_echo(reply, op["data"], self.identity.user)
            with self.step("close"):
                code = client.close(1000)
                self.forget(client)
                self.record_close(code)
                judge_close(code, client.session.close_reason_received or "", Expectation(), "after closing with 1000")
