"""The peers' side of ``wsrace bench --peers``, pure: the Artillery script and the Tsung XML each
workload becomes, reading their error counts, and which peers run or are skipped (with how to
get them). Their real runs are in test_peers_run.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import orjson
import pytest

from loadgen.bench import peers
from loadgen.bench.peers import artillery, tsung
from loadgen.bench.peers.window import MESSAGE
from loadgen.bench.workloads import GENERATORS, PEERS, WORKLOADS, echo_message
from loadgen.commands.bench import choose_generators

URL = "ws://127.0.0.1:4321/"


def test_message_is_the_benchmark_message() -> None:
    """The peers send the same 64-byte JSON as every other generator."""
    assert json.loads(MESSAGE) == echo_message() and len(MESSAGE.encode()) == len(orjson.dumps(echo_message()))


def test_artillery_round_trips_loop_send_and_match_until_the_end() -> None:
    """Each of N users opens one connection and loops a send that waits for its echo (``match``),
    until the processor says the end came; no compression offered."""
    doc = json.loads(artillery.script_text(artillery.script("roundtrip", URL, 7, 30.0, MESSAGE, "./p.js")))
    config = doc["config"]
    assert config["target"] == URL and config["processor"] == "./p.js"
    assert config["phases"] == [{"duration": 1, "arrivalCount": 7}]
    assert config["ws"] == {"perMessageDeflate": False}
    (scenario,) = doc["scenarios"]
    assert scenario["engine"] == "ws"
    (loop,) = scenario["flow"]
    assert loop["whileTrue"] == "untilEnd" and "untilEnd(" in artillery.PROCESSOR_JS
    (step,) = loop["loop"]
    assert step["send"]["payload"] == MESSAGE and step["send"]["match"] == {"json": "$.op", "value": "echo"}


def test_artillery_storm_caps_concurrent_users_at_n() -> None:
    doc = artillery.script("storm", URL, 7, 30.4, MESSAGE, "./p.js")
    (phase,) = doc["config"]["phases"]
    assert phase == {"duration": 30, "arrivalRate": artillery.STORM_ARRIVALS_PER_USER * 7, "maxVusers": 7}
    (step,) = doc["scenarios"][0]["flow"]
    assert "match" in step["send"]  # one echo, waited for, then the user ends and closes


def test_workloads_a_peer_cannot_express_are_refused() -> None:
    with pytest.raises(ValueError, match="idle"):
        artillery.script("idle", URL, 1, 1.0, MESSAGE, "./p.js")
    with pytest.raises(ValueError, match="idle"):
        tsung.config("idle", "127.0.0.1", 1, "/", 1, 1.0, MESSAGE)


def test_peer_workloads_are_the_ones_the_benchmark_gives_them() -> None:
    offered = {name for name, workload in WORKLOADS.items() if workload.peers}
    assert offered == set(artillery.WORKLOADS) == set(tsung.WORKLOADS)
    assert all(set(WORKLOADS[name].peers) == set(PEERS) for name in offered)


def test_artillery_failures_are_its_error_counters() -> None:
    report = {"aggregate": {"counters": {"vusers.created": 100, "errors.ECONNREFUSED": 2,
                                         "errors.Failed capture or match": 1, "errors.ETIMEDOUT": 0}}}
    assert artillery.failures(report) == (3, "ECONNREFUSED")
    assert artillery.failures({"aggregate": {"counters": {"vusers.created": 5}}}) == (0, None)
    assert artillery.failures({}) == (0, None)


def _tsung_tree(workload: str) -> ET.Element:
    return ET.fromstring(tsung.config(workload, "127.0.0.1", 4321, "/", 7, 29.6, MESSAGE).encode())


def test_tsung_round_trips_connect_once_then_loop_messages() -> None:
    root = _tsung_tree("roundtrip")
    assert root.find("servers/server").attrib == {"host": "127.0.0.1", "port": "4321", "type": "tcp"}
    assert root.find("load").attrib["duration"] == "30"
    users = root.find("load/arrivalphase/users").attrib
    assert (users["maxnumber"], users["arrivalrate"]) == ("7", "7")
    assert root.find("clients/client").attrib["use_controller_vm"] == "true"
    session = root.find("sessions/session")
    assert session.attrib["type"] == "ts_websocket"
    assert [r.find("websocket").attrib["type"] for r in session.findall("request")] == ["connect"]
    (message,) = session.findall("for/request/websocket")
    assert message.attrib == {"type": "message"} and message.text == MESSAGE  # waits for the reply


def test_tsung_storm_loops_connect_echo_close() -> None:
    session = _tsung_tree("storm").find("sessions/session")
    assert session.findall("request") == []
    assert [w.attrib["type"] for w in session.findall("for/request/websocket")] == ["connect", "message", "close"]


def test_tsung_command_has_no_dashboard_and_loopback_node_names() -> None:
    cmd = tsung.command("/usr/bin/tsung", "/tmp/t.xml", "/tmp/logs")
    assert cmd[0] == "/usr/bin/tsung" and cmd[-1] == "start" and "-n" in cmd
    assert cmd[cmd.index("-I") + 1] == "127.0.0.1" and cmd[cmd.index("-l") + 1] == "/tmp/logs"
    assert tsung.ENV["ERL_EPMD_ADDRESS"] == "127.0.0.1"


def test_tsung_failures_are_the_last_totals_of_its_error_stats() -> None:
    log = ("# stats: dump at 1700000000\nstats: connect 3 3\nstats: error_connect_econnrefused 2 2\n"
           "# stats: dump at 1700000010\nstats: error_connect_econnrefused 1 3\nstats: error_timeout 1 1\n")
    assert tsung.failures(log) == (4, "error_connect_econnrefused")
    assert tsung.failures("stats: connect 100 100\n") == (0, None)
    assert tsung.failures("stats: error_abort 1 1\n") == (0, None)  # <load duration> reached: the planned end


def test_a_peer_not_on_path_is_skipped_with_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    for peer in PEERS:
        why = peers.skip_reason(peer)
        assert why is not None and peers.INSTALL[peer] in why and "not on PATH" in why
    assert "npm install -g artillery@2" in peers.INSTALL["artillery"]
    assert "apt-get install tsung" in peers.INSTALL["tsung"]


def test_choose_generators_adds_peers_and_sets_aside_the_missing() -> None:
    missing = {"tsung": "not here"}
    generators, skipped = choose_generators(GENERATORS, True, missing.get)
    assert generators == (*GENERATORS, "artillery") and skipped == missing
    assert choose_generators(GENERATORS, False, missing.get) == (GENERATORS, {})
    assert choose_generators(("wsrace", "tsung"), False, missing.get) == (("wsrace",), missing)
