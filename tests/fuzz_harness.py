"""Fuzz harness: a long-lived CLI worker process, the CLI property, failure signatures.

The worker (`python fuzz_harness.py --worker`) imports cooc once and loops: it reads one JSON
case a line from stdin, forks, and the child runs `cooc.cli.main.main(argv)` with stdout and
stderr captured in process and sends back `{rc, stdout, stderr, traceback}` (a BaseException
other than SystemExit is a traceback). The worker forwards that as one JSON line on a private
pipe (a copy of its original stdout; fd 1 then points at its stderr log, so native code
writing to fd 1 cannot corrupt the protocol), with how the child ended. Forking keeps every
case apart: a kernel that writes out of bounds corrupts only its own child's heap (in one
shared process such damage crashed a later, innocent case while collecting garbage), and the
worker's compiled kernels are inherited, so a case costs a fork, not numba's start-up. Cases
marked `in_process` (the fixture's builds) run in the worker itself and warm it up.

The worker's stderr is a log file with `faulthandler` on, so a segfault or abort leaves the
Python stack of the crash there, and SIGUSR1 dumps the stacks of a hung case before it is
killed. `Worker.run(case)` returns an `Outcome`: the reply, or `signal` (the child died of
one) or `hang` (no reply within the timeout: the child is killed). `problem(outcome)` checks
the property every command must have: exit 0, or exit 2 with one `cooc: error:` line and no
traceback (exit 1 only for the verify commands, which print their findings on stdout).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
CASES = Path(__file__).resolve().parent / "fuzz_cases"

# the worker's address-space limit: a manifest that asks for 2**60 bytes must become an
# error (or a MemoryError traceback, reported), never an OOM kill of the machine
WORKER_MEMORY = int(os.environ.get("COOC_FUZZ_WORKER_MEMORY", str(6 << 30)))
CASE_TIMEOUT = float(os.environ.get("COOC_FUZZ_TIMEOUT", "30"))


# -- the worker side -----------------------------------------------------------------------


def _selftest(kind: str) -> int:
    """Test-only cases that misbehave on purpose (prove the harness reports each outcome)."""
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "abort":
        os.abort()
    if kind == "traceback":
        raise ZeroDivisionError("deliberate")
    if kind == "hang":
        while True:
            time.sleep(0.05)
    if kind == "error":
        print("cooc: error: deliberate one-line error", file=sys.stderr)
        return 2
    if kind == "two-errors":
        print("cooc: error: first\ncooc: error: second", file=sys.stderr)
        return 2
    if kind == "exit":
        raise SystemExit(3)
    if kind == "threads":  # forking is only safe from a worker with one thread
        import threading

        print(" ".join(sorted(t.name for t in threading.enumerate())))
        return 0
    raise ValueError(f"unknown selftest {kind!r}")


def _run_case(case: dict, main) -> dict:
    import logging

    # main() calls logging.basicConfig, which only configures a root logger without
    # handlers: drop the last case's handler (bound to the last case's captured stderr)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    out, err = io.StringIO(), io.StringIO()
    tb = None
    rc = None
    cwd = os.getcwd()
    stdin = sys.stdin
    sys.stdin = io.StringIO(case.get("stdin", ""))
    try:
        if case.get("cwd"):
            os.chdir(case["cwd"])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                if case.get("selftest"):
                    rc = _selftest(case["selftest"])
                else:
                    rc = main(list(case["argv"]))
            except SystemExit as e:  # argparse's usage errors exit 2
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if not isinstance(e.code, int) and e.code is not None:
                    print(e.code, file=sys.stderr)
            except BaseException:  # noqa: BLE001 - a traceback is what we look for
                tb = traceback.format_exc()
    finally:
        sys.stdin = stdin
        os.chdir(cwd)
        for h in list(root.handlers):
            root.removeHandler(h)
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "traceback": tb}


def _child(case: dict, main, wfd: int) -> None:
    """The forked child: run the case, send the reply on wfd, exit without cleanup."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the worker's case stream is not the child's to read
        reply = _run_case(case, main)
        import gc

        gc.collect()  # heap damage done by this case shows now, as this case's crash
        data = (json.dumps(reply) + "\n").encode()
        while data:
            data = data[os.write(wfd, data):]
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)


def worker_main() -> None:
    import faulthandler
    import resource

    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # stray writes to fd 1 (native code) land in the stderr log
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", buffering=1, closefd=False)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    with contextlib.suppress(ValueError, OSError):  # no core files from the crashes we find
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from cooc.cli.main import main

    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        print(f"=== case {case.get('id', '?')}: {case.get('argv') or case.get('selftest')}",
              file=sys.stderr, flush=True)
        if case.get("in_process"):
            reply = _run_case(case, main)
            sys.stderr.flush()
            proto.write(json.dumps({"pid": os.getpid()}) + "\n")
            proto.write(json.dumps(reply) + "\n")
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(case, main, w)
        os.close(w)
        proto.write(json.dumps({"pid": pid}) + "\n")
        chunks = []
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        data = b"".join(chunks)
        if os.WIFSIGNALED(status):
            reply = {"died": signal.Signals(os.WTERMSIG(status)).name}
        elif not data:
            reply = {"died": f"exit {os.waitstatus_to_exitcode(status)}"}
        else:
            reply = json.loads(data)
        proto.write(json.dumps(reply) + "\n")


# -- the test side -------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    argv: list
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    traceback: str | None = None
    signal: str | None = None  # the worker died of this signal (or "exit N")
    hang: bool = False
    log: str = ""  # the worker's own stderr during the case (faulthandler stacks)
    seconds: float = 0.0

    @property
    def ok_status(self) -> bool:
        return self.signal is None and not self.hang and self.traceback is None

    def brief(self) -> str:
        if self.signal:
            return f"signal {self.signal}"
        if self.hang:
            return "hang"
        if self.traceback:
            return "traceback " + self.traceback.strip().splitlines()[-1][:200]
        return f"rc {self.rc}"


class Worker:
    """A cooc CLI worker process; restarted after a crash or a hang."""

    def __init__(self, env: dict | None = None, timeout: float = CASE_TIMEOUT,
                 startup_timeout: float = 300.0):
        self.env = env or {}
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.cases = 0
        self.restarts = 0
        self._home_dir: tempfile.TemporaryDirectory | None = None
        self._buf = b""

    # lifetime

    def _home(self) -> str:
        """An empty folder for the worker's own cwd (cases name theirs)."""
        if self._home_dir is None:
            self._home_dir = tempfile.TemporaryDirectory(prefix="cooc-fuzz-")
        return self._home_dir.name

    def _start(self) -> None:
        self._buf = b""
        fd, name = tempfile.mkstemp(prefix="cooc-fuzz-worker-", suffix=".log")
        self.log_path = Path(name)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("NUMBA_NUM_THREADS", "2")
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env["PYTHONFAULTHANDLER"] = "1"
        env.pop("COOC_FUZZ_SELFTEST_IN_PARENT", None)
        env.update(self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fd, env=env,
            cwd=self._home(), text=True, bufsize=1, start_new_session=True,
        )
        os.close(fd)
        reply = self._read_line(self.startup_timeout)
        if reply is None or not json.loads(reply).get("ready"):
            log = self._log_tail(0)
            self.close()
            raise RuntimeError(f"the fuzz worker did not start:\n{log}")

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._kill()
            for f in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError, ValueError):
                    f.close()
            self.proc = None
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
            self.log_path = None

    def shutdown(self) -> None:
        self.close()
        if self._home_dir is not None:
            self._home_dir.cleanup()
            self._home_dir = None

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and anything it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # io

    def _read_line(self, timeout: float) -> str | None:
        """The worker's next line; None after `timeout` seconds, "" if the worker died."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return ""
                self._buf += chunk
            elif self.proc.poll() is not None:
                return ""
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8") + "\n"

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except (OSError, AttributeError):
            return 0

    def _log_tail(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read(1 << 16).decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def run(self, argv: list[str] | None = None, *, cwd: str | os.PathLike | None = None,
            stdin: str = "", selftest: str | None = None, timeout: float | None = None,
            in_process: bool = False) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.close()
                self.restarts += 1
            self._start()
        self.cases += 1
        case = {"id": self.cases, "argv": [str(a) for a in (argv or [])], "stdin": stdin,
                "cwd": str(cwd) if cwd else None, "selftest": selftest, "in_process": in_process}
        outcome = Outcome(argv=case["argv"] or [f"<selftest {selftest}>"])
        start_log = self._log_size()
        t0 = time.monotonic()
        deadline = t0 + (timeout or self.timeout)
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
            first = self._read_line(deadline - time.monotonic())
            pid = json.loads(first)["pid"] if first else None
            line = self._read_line(deadline - time.monotonic()) if pid else first
        except (BrokenPipeError, OSError, ValueError, KeyError):
            pid, line = None, ""
        outcome.seconds = time.monotonic() - t0
        if line is None and pid and pid != self.proc.pid:  # a hung child: dump its stacks, kill it
            outcome.hang = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
            time.sleep(0.5)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if self._read_line(30) is None:  # the worker's report of the killed child
                self._kill()
                self.close()
                self.restarts += 1
            outcome.log = self._log_tail(start_log)
            return outcome
        if line is None or line == "":  # the worker itself hung or died
            outcome.hang = line is None
            self._kill()
            rc = self.proc.returncode
            if line == "":
                outcome.signal = (signal.Signals(-rc).name if rc is not None and rc < 0
                                  else f"worker exit {rc}")
            outcome.log = self._log_tail(start_log)
            self.close()
            self.restarts += 1
            return outcome
        reply = json.loads(line)
        if "died" in reply:
            outcome.signal = reply["died"]
            time.sleep(0.05)
            outcome.log = self._log_tail(start_log)
            return outcome
        outcome.rc = reply["rc"]
        outcome.stdout = reply["stdout"]
        outcome.stderr = reply["stderr"]
        outcome.traceback = reply["traceback"]
        return outcome


# -- the property ---------------------------------------------------------------------------

_PROGRESS = re.compile(r"^\s*$|\r")


def error_lines(stderr: str) -> list[str]:
    """stderr's lines that are not progress (tqdm bars are redrawn with carriage returns)."""
    lines = []
    for raw in stderr.split("\n"):
        line = raw.rsplit("\r", 1)[-1]  # what a terminal shows last
        if line.strip():
            lines.append(line)
    return lines


def problem(o: Outcome, *, allow_rc1: bool = False) -> str | None:
    """What is wrong with this outcome of a CLI call (None: the property holds)."""
    if o.signal:
        return f"the process died: {o.signal}"
    if o.hang:
        return "no answer within the timeout (hang)"
    if o.traceback:
        return "a Python traceback: " + o.traceback.strip().splitlines()[-1][:300]
    if "Traceback (most recent call last)" in o.stderr or "Traceback (most recent call last)" in o.stdout:
        return "a traceback printed on stderr/stdout"
    if o.rc == 0:
        return None
    if o.rc == 1 and allow_rc1:
        return None
    if o.rc != 2:
        return f"exit status {o.rc} (expected 0 or 2)"
    lines = error_lines(o.stderr)
    errors = [ln for ln in lines if "cooc: error:" in ln]
    if len(errors) != 1 or sum(ln.count("cooc: error:") for ln in lines) != 1:
        return f"exit 2 with {len(errors)} 'cooc: error:' lines: {o.stderr[-300:]!r}"
    if lines[-1] is not errors[0] and lines[-1] != errors[0]:
        return f"exit 2, but the error is not the last line of stderr: {o.stderr[-300:]!r}"
    return None


# -- where a crash happened -------------------------------------------------------------------

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def cooc_frames(text: str) -> list[str]:
    """'cooc/x/y.py:N' of each frame inside src/cooc named in a traceback or a faulthandler
    dump, outermost first (faulthandler lists innermost first: it is reversed here)."""
    frames = []
    for path, line in _FRAME.findall(text or ""):
        p = path.replace("\\", "/")
        i = p.rfind("/cooc/")
        if i >= 0 and "/tests/" not in p[:i + 1]:
            frames.append(f"cooc/{p[i + len('/cooc/'):]}:{line}")
    return frames


def innermost_cooc_frame(o: Outcome) -> str:
    if o.traceback:
        frames = cooc_frames(o.traceback)
        return frames[-1] if frames else "?"
    # faulthandler: per thread "... (most recent call first):" then frames innermost first;
    # the crashing thread is "Current thread"
    blocks = re.findall(r"(Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):\n(.*?)(?:\n\n|\Z)",
                        o.log, re.S)
    blocks.sort(key=lambda b: b[0] != "Current thread")
    for _, block in blocks or [("", o.log)]:
        for path, line in _FRAME.findall(block):
            p = path.replace("\\", "/")
            i = p.rfind("/cooc/")
            if i >= 0:
                return f"cooc/{p[i + len('/cooc/'):]}:{line}"
    return "?"


def exception_type(o: Outcome) -> str:
    if not o.traceback:
        return ""
    last = o.traceback.strip().splitlines()[-1]
    return last.split(":", 1)[0].strip()


def command_name(argv: list[str]) -> str:
    """'ngram lookup', 'neighbours', ... (the subcommand words, no paths or options)."""
    words = []
    for a in argv:
        if a.startswith("-") or "/" in a or "." in a or len(words) == 2:
            break
        words.append(a)
        if words[0] not in ("ngram", "lm"):
            break
    return " ".join(words)


def signature(o: Outcome, context: str) -> str:
    """A stable name of the failure class, to tell a known finding from a new one:
    `<context>|<command>|<kind>`, kind being signal:NAME@frame, traceback:Type@frame, hang, or
    the problem text for a bad exit (its variable parts removed)."""
    cmd = command_name(o.argv)
    if o.signal:
        return f"{context}|{cmd}|signal:{o.signal}@{innermost_cooc_frame(o)}"
    if o.hang:
        return f"{context}|{cmd}|hang@{innermost_cooc_frame(o)}"
    if o.traceback:
        return f"{context}|{cmd}|traceback:{exception_type(o)}@{innermost_cooc_frame(o)}"
    p = problem(o) or "ok"
    return f"{context}|{cmd}|{re.sub(r'[0-9]+', 'N', p.split(':')[0])}"


def describe(o: Outcome) -> str:
    """A report of an outcome for a failure message."""
    parts = [f"argv: {o.argv}", f"outcome: {o.brief()} ({o.seconds:.1f} s)"]
    if o.traceback:
        parts.append("traceback:\n" + o.traceback[-3000:])
    if o.signal or o.hang:
        parts.append("worker log:\n" + o.log[-3000:])
    if o.stderr:
        parts.append("stderr: " + o.stderr[-1000:])
    if o.stdout:
        parts.append("stdout: " + o.stdout[-1000:])
    return "\n".join(parts)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker_main()
