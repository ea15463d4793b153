"""Grading written answers (tools/written): the page driven by the keyboard in a real browser, the server's
time per click, the merge, and the feedback pages of a class.

    python -m benchmarks.written --write

- Keyboard: 200 generated answers to one question (tools/teeth/written_class.py), graded in headless
  Chromium by Selenium as a grader would with the keyboard: an item's key, then Enter (graded, on to the
  next ungraded answer), waiting for each answer to show before the next keys. The time per answer is
  the browser's, the page's and the server's together, from the first key to the last click saved.
- Per click: the server's own time on each of those clicks (tools.written.app.App.click: the checks, one
  SQLite transaction with synchronous=FULL, the reply), and a click's round trip over HTTP from a client
  on the same machine, without a browser.
- Feedback: `--feedback` for a class of 500 (every page and the zip), and the size of one page; the merge
  of the same class.

The server runs in this process (a thread) so that its per-click times can be read; the browser is
stopped by its pid (tools/teeth/written_session.py).
"""

from __future__ import annotations

import http.client
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import benchmarks.common as common
from tools.teeth import written_class
from tools.teeth.written_session import browser
from tools.written import feedback, merge, questions
from tools.written.access import Access
from tools.written.answers import read_class
from tools.written.app import App
from tools.written.server import GradingServer
from tools.written.store import Store

TOPIC, QUESTION = "linear_classifier", "softmax_initial_loss"
ANSWERS = 200
HTTP_CLICKS = 500
CLASS = 500
WAIT_S = 60  # a wait gives up after this: something is broken


def _timed(fn) -> dict:
    """Wall-clock and CPU seconds of fn() (CPU: this process only)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def _server(folder: Path) -> tuple[GradingServer, threading.Thread]:
    sheets = questions.sheets()
    app = App.start(Store.of(folder), sheets, read_class(folder, sheets))
    server = GradingServer(("127.0.0.1", 0), app, Access())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
    }


def keyboard(root: Path) -> dict:
    """ANSWERS answers graded with the keyboard in Chromium; the server's time on each click."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    folder = root / "keyboard"
    written_class.write_class(folder, ANSWERS)
    server, thread = _server(folder)
    try:
        with browser() as driver:
            driver.get(f"{server.url}q/{TOPIC}/{QUESTION}#1")
            wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.01)
            wait.until(lambda d: d.find_elements("id", "answer-panel"))

            def current() -> int:  # read in the page in one step: the panel may be drawn anew meanwhile
                return int(
                    driver.execute_script("return document.getElementById('answer-panel').dataset.number")
                )

            start = time.perf_counter()
            for i in range(ANSWERS):
                number = current()
                ActionChains(driver).send_keys("1" if i % 3 else "2").send_keys("\ue007").perform()
                if i < ANSWERS - 1:
                    wait.until(lambda d: current() != number)
            wait.until(lambda d: d.find_element("id", "saved").get_attribute("data-pending") == "0")
            seconds = time.perf_counter() - start
        clicks = list(server.app.click_seconds)
        _, _, marks, _ = server.app.store.question(TOPIC, QUESTION)
        graded = sum(m.graded for m in marks.values())
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    if graded != ANSWERS:
        raise RuntimeError(f"{graded} answers graded of {ANSWERS}")
    return {
        "answers": ANSWERS,
        "seconds": seconds,
        "per_answer_s": seconds / ANSWERS,
        "server": _percentiles(clicks),
    }


def http_clicks(root: Path) -> dict:
    """HTTP_CLICKS clicks, each a new connection as the server speaks HTTP/1.0, from this process."""
    folder = root / "http"
    written_class.write_class(folder, 50)
    server, thread = _server(folder)
    try:
        port = server.server_address[1]
        item = server.app.store.items(TOPIC, QUESTION)[0].id
        numbers = sorted(server.app.numbers[s] for s in server.app.klass.answers[f"{TOPIC}/{QUESTION}"])
        round_trips = []
        for i in range(HTTP_CLICKS):
            body = json.dumps({"item": item, "applied": i % 2 == 0}).encode()
            headers = {"Content-Type": "application/json", "Host": f"127.0.0.1:{port}"}
            start = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(
                "POST", f"/api/q/{TOPIC}/{QUESTION}/a/{numbers[i % len(numbers)]}", body, headers
            )
            response = connection.getresponse()
            response.read()
            connection.close()
            round_trips.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"a click got {response.status}")
        server_side = list(server.app.click_seconds)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    return {"round_trip": _percentiles(round_trips), "server": _percentiles(server_side)}


def class_feedback(root: Path) -> dict:
    """The merge and the feedback of a class of CLASS, half its answers graded."""
    folder = root / "class"
    written_class.write_class(folder, CLASS, hostile=(1,))
    sheets = questions.sheets()
    app = App.start(Store.of(folder), sheets, read_class(folder, sheets))
    for sheet in list(app.sheets.values())[:8]:
        items = app.store.items(sheet.assignment.topic, sheet.question.id)
        for student in list(app.klass.answers[sheet.key])[::2]:
            click = {"item": items[0].id, "applied": True}
            app.click("bench", sheet.assignment.topic, sheet.question.id, app.numbers[student], click)
    merged = _timed(lambda: merge.merge(folder))
    written = _timed(lambda: feedback.write_feedback(folder))
    sizes = sorted(p.stat().st_size for p in (folder / feedback.FOLDER).glob("*.html"))
    return {
        "students": CLASS,
        "merge": merged,
        "feedback": written,
        "page_bytes": {"median": statistics.median(sizes), "max": sizes[-1]},
        "zip_bytes": (folder / feedback.ZIP).stat().st_size,
    }


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        return {"keyboard": keyboard(root), "http": http_clicks(root), "feedback": class_feedback(root)}


def as_markdown(results: dict) -> str:
    keys, web, fb = results["keyboard"], results["http"], results["feedback"]
    return "\n".join(
        [
            f"Measured {results['date']} on {results['machine']} (shared: wall-clock times vary).",
            "",
            "| measurement | result |",
            "|---|---|",
            f"| {keys['answers']} answers graded with the keyboard in headless Chromium (a key, Enter) | "
            f"{keys['seconds']:.1f} s: **{1000 * keys['per_answer_s']:.0f} ms per answer** |",
            f"| the server's time per click during it ({keys['server']['count']} clicks; it shares the cores "
            "with Chromium) | "
            f"**median {keys['server']['median_ms']:.1f} ms**, 95th percentile {keys['server']['p95_ms']:.1f} ms |",
            f"| a click's HTTP round trip without a browser ({web['round_trip']['count']} clicks) | "
            f"median {web['round_trip']['median_ms']:.1f} ms (the server's part {web['server']['median_ms']:.1f} ms), "
            f"95th percentile {web['round_trip']['p95_ms']:.1f} ms |",
            f"| `--merge`, {fb['students']} students | {fb['merge']['wall']:.1f} s |",
            f"| `--feedback`, {fb['students']} students (every page and the zip) | "
            f"**{fb['feedback']['wall']:.1f} s** ({fb['feedback']['cpu']:.1f} s CPU) |",
            f"| one feedback page | **{fb['page_bytes']['median'] / 1024:.0f} KiB** "
            f"(the largest {fb['page_bytes']['max'] / 1024:.0f} KiB); the zip of all "
            f"{fb['zip_bytes'] / 1024 / 1024:.1f} MiB |",
        ]
    )


if __name__ == "__main__":
    common.run(
        "written",
        "Grading written answers: the keyboard in a browser, the server per click, the feedback of a class.",
        measure,
        as_markdown,
    )
