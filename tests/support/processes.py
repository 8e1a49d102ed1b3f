"""Real Parley processes for end-to-end tests: web servers and workers."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.services import wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    """Return the Procfile's process types and their commands."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def base_env(**overrides: str) -> dict[str, str]:
    """Return an environment for a Parley process, with the venv on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PARLEY_", "DATABASE_", "REDIS_", "SMTP_", "SENTRY_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["LOG_LEVEL"] = "INFO"
    env.update(overrides)
    return env


class ParleyProcess:
    """One process started from a shell command line, with its output kept."""

    def __init__(self, command: str, env: dict[str, str], name: str = "parley") -> None:
        self.command = command
        self.env = env
        self.name = name
        self.log = tempfile.NamedTemporaryFile(
            prefix=f"{name}-", suffix=".log", delete=False
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> ParleyProcess:
        self.process = subprocess.Popen(
            shlex.split(self.command),
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process group and wait for it to end."""
        if self.alive():
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def run(self, timeout: float = 120) -> str:
        """Run to completion; return the output, failing on a non-zero exit."""
        self.start()
        code = self.process.wait(timeout)
        assert code == 0, f"{self.command} exited {code}:\n{self.output()}"
        return self.output()


class WebProcess(ParleyProcess):
    """A Parley web server on a given port."""

    def __init__(self, command: str, env: dict[str, str], port: int, name: str = "web"):
        super().__init__(command, {**env, "PORT": str(port)}, name)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @contextmanager
    def serving(self) -> Iterator[WebProcess]:
        """Start, wait until ready, and kill at the end, printing the output.

        pytest shows what was printed when the test fails.
        """
        self.start()
        try:
            self.wait_ready()
            yield self
        finally:
            self.kill()
            print(f"--- {self.name}\n{self.output()[-4000:]}")

    def wait_ready(self, path: str = "/readyz", timeout: float = 60) -> WebProcess:
        """Wait until ``path`` answers 200 (the process must stay alive)."""

        def ready() -> bool:
            assert self.alive(), f"{self.name} died:\n{self.output()}"
            try:
                return requests.get(self.url + path, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout=timeout, interval=0.2, what=f"{self.name} {path}")
        return self
