"""The grading page and browsers for tests and the benchmark: a `python -m tools.written` server on
127.0.0.1, and headless Chromium driven by Selenium (Debian's chromium and /usr/bin/chromedriver). Each is
stopped by its pid when its block ends, also when a test fails: the server by SIGKILL (what a crash does,
and what a test of the store wants), the browser by WebDriver's quit, then its chromedriver's process group.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from utils.course import REPO_ROOT

CHROMEDRIVER = "/usr/bin/chromedriver"
STARTUP_S = 60  # how long a server may take to print its links before it is deemed broken
LINK = re.compile(r"^(?:grader (\S+)|grading page .*): (http://\S+)$")


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a server that must come back on the same one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    output: Path
    links: dict[str, str] = field(default_factory=dict)  # {grader: its login link}; {"local": url} when open

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        """The page's root."""
        return re.sub(r"login\?token=.*$", "", next(iter(self.links.values())))

    def token(self, grader: str) -> str:
        return self.links[grader].split("token=", 1)[1]

    def kill(self) -> None:
        """SIGKILL by pid, as a crash would end it; then reaped."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def grading_server(
    folder: Path, graders: tuple[str, ...] = (), port: int = 0, expected: int | None = None
) -> Iterator[Server]:
    """`python -m tools.written folder --port port [--grader g ...]` on 127.0.0.1, once it printed its links."""
    command = [sys.executable, "-m", "tools.written", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    for grader in graders:
        command += ["--grader", grader]
    output = folder.parent / f"{folder.name}-server-{time.monotonic_ns()}.log"
    with output.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, output)
    try:
        wanted = len(graders) or 1
        deadline = time.monotonic() + STARTUP_S
        while len(server.links) < wanted:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the grading server did not start:\n{output.read_text()}")
            time.sleep(0.05)
            for line in output.read_text().splitlines():
                match = LINK.match(line)
                if match:
                    server.links[match.group(1) or "local"] = match.group(2)
        yield server
    finally:
        server.kill()


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)


def browser_available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return chromium() is not None and Path(CHROMEDRIVER).is_file()


@contextmanager
def browser(width: int = 1300, height: int = 1000) -> Iterator:
    """A headless Chromium under Selenium; its chromedriver runs in a session of its own, whose process group
    (chromedriver and the browser it started) is killed by pid when the block ends."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    service = Service(CHROMEDRIVER, popen_kw={"start_new_session": True})
    driver = webdriver.Chrome(service=service, options=options)
    group = service.process.pid
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
