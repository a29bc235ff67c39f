"""``loadgen.children.Child`` with tiny real child processes (``python -c`` scripts): the listening
line, deadlines that bound every read, stopping a child that ignores SIGTERM, its grandchildren,
dying with its parent, and the log tail in error messages."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from loadgen.children import Child, ChildFailed

pytestmark = pytest.mark.timeout(60)

GONE_TIMEOUT_S = 20.0
"""How long a killed process may take to disappear (a bound on the wait, not an expectation)."""


def python(script: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(script)]


def soon(seconds: float = 20.0) -> float:
    return time.monotonic() + seconds


def assert_gone(pid: int) -> None:
    """``pid`` (not necessarily our child) ends within GONE_TIMEOUT_S, or was gone already."""
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    try:
        proc.wait(GONE_TIMEOUT_S)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        raise AssertionError(f"process {pid} ({proc.status()}) still runs") from None


# A child that prints what it is told, then waits for stdin to close (or the signal that ends it).
SERVER = """
    import json, sys
    print(json.dumps({"event": "listening", "host": "127.0.0.1", "port": 4321}), flush=True)
    sys.stdin.read()
"""

# A child that starts a grandchild in its own group, says both pids, and then waits.
WITH_GRANDCHILD = """
    import json, signal, subprocess, sys, time
    {leader_setup}
    grandchild = subprocess.Popen([sys.executable, "-c",
                                   "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                   "print('ready', flush=True); time.sleep(120)"],
                                  stdout=subprocess.PIPE)
    assert grandchild.stdout.readline() == b"ready\\n"  # it ignores SIGTERM from here on
    print(json.dumps({{"grandchild": grandchild.pid}}), flush=True)
    time.sleep(120)
"""


def test_listening_line_is_read_and_a_clean_stop_reports_the_exit_code() -> None:
    """The listening line comes back parsed; a child that exits on SIGTERM gives its own exit code."""
    with Child.start(python(SERVER), name="server", stdin=True) as child:
        line = child.read_listening(soon())
        assert line == {"event": "listening", "host": "127.0.0.1", "port": 4321}
        assert child.alive()
        assert child.stop(grace=20) == -signal.SIGTERM
        assert not child.alive() and child.returncode == -signal.SIGTERM


def test_lines_after_the_first_come_in_order_from_one_read() -> None:
    """Two lines arriving in one pipe read are both delivered, the second kept for the next read."""
    script = "import sys; sys.stdout.write('{\"a\": 1}\\n{\"b\": 2}\\n'); sys.stdout.flush(); sys.stdin.read()"
    with Child.start([sys.executable, "-c", script], name="two lines", stdin=True) as child:
        assert child.read_json_line(soon()) == {"a": 1}
        assert child.read_json_line(soon()) == {"b": 2}


def test_a_silent_child_fails_at_the_deadline_not_before() -> None:
    """A child that prints nothing: the read ends with ChildFailed once the deadline passed, while
    the child still runs (so the deadline ended the read, not the child)."""
    with Child.start(python("import time; time.sleep(120)"), name="silent") as child:
        deadline = time.monotonic() + 0.3
        with pytest.raises(ChildFailed, match="said nothing by its deadline") as failed:
            child.read_listening(deadline)
        assert time.monotonic() >= deadline
        assert child.alive() and failed.value.returncode is None


def test_a_trickle_without_newline_does_not_restart_the_deadline() -> None:
    """A child that sends a byte every 20 ms and never a newline: a read whose timeout restarted on
    every byte would never end (and this test would time out); one deadline ends it."""
    script = """
        import sys, time
        for _ in range(6000):  # 120 s at most
            sys.stdout.write("x"); sys.stdout.flush(); time.sleep(0.02)
    """
    with Child.start(python(script), name="trickle") as child:
        deadline = time.monotonic() + 0.5
        with pytest.raises(ChildFailed, match="without a newline") as failed:
            child.read_listening(deadline)
        assert time.monotonic() >= deadline
        assert child.alive() and "b'xx" in str(failed.value)  # bytes did arrive before the deadline


def test_a_child_that_ignores_sigterm_is_killed_with_its_group() -> None:
    """SIGTERM ignored by the child and its grandchild: after the grace, the whole group is SIGKILLed
    and the child reaped; stop says so by returning None."""
    script = WITH_GRANDCHILD.format(leader_setup="signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    with Child.start(python(script), name="stubborn") as child:
        grandchild = child.read_json_line(soon())["grandchild"]
        assert os.getpgid(grandchild) == child.pid  # in the child's group, not ours
        assert child.stop(grace=0.5) is None
        assert child.returncode == -signal.SIGKILL
        assert_gone(grandchild)


def test_grandchildren_die_when_the_child_exits_cleanly() -> None:
    """A child that exits 0 on SIGTERM but leaves a grandchild behind: the grandchild is killed too."""
    script = WITH_GRANDCHILD.format(leader_setup="signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))")
    with Child.start(python(script), name="leaves one behind") as child:
        grandchild = child.read_json_line(soon())["grandchild"]
        assert psutil.Process(grandchild).is_running()
        assert child.stop(grace=20) == 0
        assert_gone(grandchild)


def test_a_child_dies_with_its_parent() -> None:
    """A parent SIGKILLed without stopping its child: the child, in a session of its own (out of reach
    of any group kill), still ends, by PDEATHSIG."""
    parent_script = """
        import json, sys, time
        from loadgen.children import Child
        child = Child.start([sys.executable, "-c", "import time; time.sleep(120)"], name="orphan-to-be")
        print(json.dumps({"child": child.pid}), flush=True)
        time.sleep(120)
    """
    with Child.start(python(parent_script), name="parent") as parent:
        orphan = parent.read_json_line(soon())["child"]
        assert os.getsid(orphan) == orphan != os.getsid(parent.pid)
        assert psutil.Process(orphan).ppid() == parent.pid
        os.kill(parent.pid, signal.SIGKILL)  # the parent only: its group kill would not reach the orphan
        assert parent.wait(soon()) == -signal.SIGKILL
        assert_gone(orphan)


def test_exit_before_the_line_quotes_the_log_tail() -> None:
    """A child that dies before its listening line: the error has its exit code and its stderr."""
    script = "import sys; sys.stderr.write('starting\\nboom: port taken\\n'); sys.exit(3)"
    with Child.start([sys.executable, "-c", script], name="crasher") as child, pytest.raises(ChildFailed) as failed:
        child.read_listening(soon())
    assert failed.value.returncode == 3
    assert "crasher: exited (code 3) before saying its line" in str(failed.value)
    assert "boom: port taken" in str(failed.value) and failed.value.tail.endswith("boom: port taken")


def test_a_first_line_that_is_not_the_listening_line_is_refused() -> None:
    """Another JSON object first, or no JSON at all: ChildFailed quoting what it said."""
    for said in ({"event": "starting"}, {"event": "listening"}):
        script = f"import sys; print({json.dumps(json.dumps(said))}, flush=True); sys.stdin.read()"
        with Child.start([sys.executable, "-c", script], name="odd", stdin=True) as child, \
                pytest.raises(ChildFailed, match="not a listening line"):
            child.read_listening(soon())
    with Child.start(python("print('hello', flush=True); import sys; sys.stdin.read()"), name="chatty",
                     stdin=True) as child, pytest.raises(ChildFailed, match="'hello', not a JSON object"):
        child.read_listening(soon())


def test_leaving_the_block_kills_the_group_and_removes_the_log() -> None:
    """However the block is left, the child is reaped and its log file is gone (unless kept)."""
    with pytest.raises(RuntimeError, match="the test failed"), \
            Child.start(python("import time; time.sleep(120)"), name="left") as child:
        log_path = child.log_path
        raise RuntimeError("the test failed")
    assert child.returncode == -signal.SIGKILL and not log_path.exists()
    with Child.start(python("import sys; sys.stderr.write('kept'); sys.exit(1)"), name="kept",
                     keep_log=True) as child:
        assert child.wait(soon()) == 1
    try:
        assert child.log_path.read_text() == "kept"
    finally:
        child.log_path.unlink()


def test_a_program_that_cannot_start_leaves_no_log(tmp_path: Path) -> None:
    """No such program: the OS error surfaces and no log file is left behind."""
    before = set(Path(tempfile.gettempdir()).glob("wsrace-no-such-*.log"))
    with pytest.raises(FileNotFoundError):
        Child.start([str(tmp_path / "no-such-program")], name="no such")
    assert set(Path(tempfile.gettempdir()).glob("wsrace-no-such-*.log")) == before
