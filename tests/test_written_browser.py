"""The grading page in a real browser: headless Chromium driven by Selenium (Debian's chromium and
chromium-driver; .ci/run installs them). Two graders grade one question at once, with the keyboard and the
mouse; the server is killed by its pid mid-session and started again; every click made before the kill is
there (and one made while it was down lands once it is back), and the merged grades.csv is what was
clicked. A hostile answer is text on the page and in the feedback, and none of its scripts runs.

Servers and browsers bind 127.0.0.1 and are stopped by their pids when each block ends, also on a failure
(tools/teeth/written_session.py). Nothing here asserts on time: a wait gives up only when something is
broken."""

from __future__ import annotations

import csv
import json
import urllib.request
from pathlib import Path

import pytest

from tools.teeth import written_class
from tools.teeth.written_session import browser, browser_available, free_port, grading_server
from tools.written import feedback
from tools.written.__main__ import main as written_main
from tools.written.answers import Answer
from tools.written.store import Store
from utils.course import by_topic

pytestmark = pytest.mark.skipif(
    not browser_available(),
    reason="needs selenium, Chromium and /usr/bin/chromedriver (.ci/run installs Debian's chromium-driver)",
)

TOPIC, QUESTION = "linear_classifier", "softmax_initial_loss"  # items [1] and [2], 0.5 points each
COLUMN = "01_linear_classifiers/softmax_initial_loss"
WAIT_S = 60  # a wait gives up after this: the page is broken, not slow
HOSTILE_STUDENT = 2
ENTER, ESCAPE = "\ue007", "\ue00c"  # WebDriver's codes of the keys


def _wait(driver, condition, message: str):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    redrawn = (
        NoSuchElementException,
        StaleElementReferenceException,
    )  # the page drew itself anew: look again
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05, ignored_exceptions=redrawn).until(
        condition, message
    )


def _by_id(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, name)


def _css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def _saved(driver) -> bool:
    node = _by_id(driver, "saved")
    return node.get_attribute("data-pending") == "0" and node.text == "all saved"


def _wait_saved(driver) -> None:
    _wait(driver, _saved, "clicks not saved")


def _current(driver) -> int:
    """The answer shown, read in the page in one step (the panel may be drawn anew meanwhile)."""
    return int(driver.execute_script("return document.getElementById('answer-panel').dataset.number"))


def _key(driver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def _select_all(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()


def _open_question(driver, server, number: int | None = None) -> None:
    driver.get(f"{server.url}q/{TOPIC}/{QUESTION}" + (f"#{number}" if number else ""))
    _wait(driver, lambda d: d.find_elements("id", "answer-panel"), "the question did not load")


def _click(driver, selector: str) -> None:
    """Clicks what selector finds, found again when the page drew itself anew between finding and clicking
    (a stale element is never clicked, so no click is made twice)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(20):
        try:
            _css(driver, selector).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{selector} kept changing under the click")


def _go(driver, number: int) -> None:
    _click(driver, f'button.jump[data-number="{number}"]')
    _wait(driver, lambda d: _current(d) == number, f"did not reach #{number}")


def _click_item(driver, item: int) -> None:
    _click(driver, f'button.item[data-item="{item}"]')


def _state(server, grader: str) -> dict:
    """The question as the server has it, asked the way the page asks."""
    request = urllib.request.Request(
        f"{server.url}api/q/{TOPIC}/{QUESTION}", headers={"Authorization": f"Bearer {server.token(grader)}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_two_graders_a_killed_server_and_a_merge_that_is_what_was_clicked(tmp_path):
    grades = tmp_path / "grades"
    written_class.write_class(grades, 12)  # #12 stays pending
    port = free_port()
    store = Store.of(grades)
    with browser() as ana, browser() as ben:
        with grading_server(grades, ("ana", "ben"), port) as server:
            items = [i.id for i in store.items(TOPIC, QUESTION)]
            one, two = items
            for driver, grader in ((ana, "ana"), (ben, "ben")):
                driver.get(server.links[grader])
                _wait(driver, lambda d: d.find_elements("css selector", "tr[data-key]"), "no overview")
                _open_question(driver, server, 1)
            expected: dict[int, set[int]] = {}  # answer number -> items applied (graded)

            # Ana grades #1-#4 with the keyboard, Ben #10 down to #7 with the mouse, turn by turn.
            for turn in range(4):
                number = _current(ana)
                assert number == turn + 1
                _key(ana, "1" if number % 2 else "2")
                _key(ana, ENTER)  # graded, on to the next ungraded answer
                expected[number] = {one} if number % 2 else {two}
                mine = 10 - turn
                _go(ben, mine)
                _click_item(ben, one)
                if turn % 2:
                    _click_item(ben, two)
                _click(ben, "#done")
                expected[mine] = {one, two} if turn % 2 else {one}

            # Both on #5 at once: each applies another item, neither waits for the other.
            _go(ana, 5)
            _go(ben, 5)
            _key(ana, "1")
            _click_item(ben, two)
            expected[5] = {one, two}

            # Ben writes a comment on #6; Ana reuses it on #11 from the list of comments used before.
            _go(ben, 6)
            _click(ben, "#comment")  # typed into what has the focus, which a redraw keeps with the draft
            _key(ben, "Say why the mean is log C.")
            _key(ben, ESCAPE)  # leaves the comment, which is saved as it loses the focus
            _click(ben, "#done")  # graded as it stands: no item
            expected[6] = set()
            _wait_saved(ben)
            _go(ana, 11)
            _wait(
                ana,
                lambda d: d.find_elements("css selector", "#reusable button.reuse"),
                "no reusable comment",
            )
            _click(ana, "#reusable button.reuse")
            _key(ana, "2")
            expected[11] = {two}

            # Ben gives item [2] 0.25 points instead of 0.5, on the page.
            _click(ben, f'button.edit[data-item="{two}"]')
            _wait(ben, lambda d: _css(d, "input.edit-points"), "no editor")
            _click(ben, "input.edit-points")
            _select_all(ben)
            _key(ben, "0.25")
            _click(ben, "button.save")
            _wait(
                ben,
                lambda d: "+0.25" in _css(d, f'button.item[data-item="{two}"]').text,
                "the edit did not show",
            )

            for driver in (ana, ben):
                _wait_saved(driver)
            state = _state(server, "ana")
            server.kill()

        # The server is down: Ana's click on #11 waits in her page's queue.
        _key(ana, "1")
        expected[11] = {one, two}
        _wait(ana, lambda d: "retrying" in _by_id(d, "saved").text, "the failed click was not shown")

        with grading_server(grades, ("ana", "ben"), port) as server:
            _wait_saved(ana)  # sent again, and landed
            after = _state(server, "ana")
            for driver in (ana, ben):
                driver.refresh()
                _wait(driver, lambda d: d.find_elements("id", "answer-panel"), "no page after the restart")
            _go(ben, 5)
            pressed = [
                b.get_attribute("aria-pressed") for b in ben.find_elements("css selector", "button.item")
            ]
            assert pressed == ["true", "true"]

    marks = {a["number"]: a for a in after["answers"]}
    before = {a["number"]: a for a in state["answers"]}
    assert {n for n, a in marks.items() if a["graded"]} == set(expected)
    assert {n: set(marks[n]["applied"]) for n in expected} == expected
    for number, answer in before.items():  # every click before the kill is there; only #11 changed since
        if number != 11:
            assert {k: marks[number][k] for k in ("graded", "applied", "comment")} == {
                k: answer[k] for k in ("graded", "applied", "comment")
            }
    assert marks[6]["comment"] == marks[11]["comment"] == "Say why the mean is log C."
    assert {marks[n]["grader"] for n in (1, 2, 3, 4, 11)} == {"ana"} and marks[10]["grader"] == "ben"
    assert not marks[12]["graded"]
    assert [a["action"] for a in store.audit()].count("edit item") == 1

    assert written_main([str(grades), "--merge"]) == 0
    numbers = store.numbers()
    points = {one: 0.5, two: 0.25}
    with (grades / "grades.csv").open(newline="") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    for student, number in numbers.items():
        clicked = expected.get(number)
        want = "pending" if clicked is None else f"{sum(points[i] for i in clicked):g}"
        assert rows[student][COLUMN] == want, (student, number)


def test_an_answer_handed_in_again_shows_pending_again_and_enter_confirms_it(tmp_path):
    grades = tmp_path / "grades"
    written_class.write_class(grades, 3)
    with grading_server(grades) as server, browser() as driver:  # one local grader, no token
        _open_question(driver, server, 1)
        _key(driver, "1")  # #1 graded with item [1]
        _wait_saved(driver)
        student = next(s for s, n in Store.of(grades).numbers().items() if n == 1)
    text = "A second answer, after the grade."
    written_class.hand_in_again(grades, student, by_topic(TOPIC).notebook, QUESTION, text)
    with grading_server(grades) as server, browser() as driver:  # the page on the regraded folder
        _open_question(driver, server, 1)
        state = _by_id(driver, "state")
        assert "Pending again" in state.text and "changed" in state.get_attribute("class")
        assert _by_id(driver, "answer").text == text
        _key(driver, ENTER)  # confirmed as it stands: graded, on to the next ungraded answer
        _wait_saved(driver)
    _, _, marks, _ = Store.of(grades).question(TOPIC, QUESTION)
    mine = marks[student]
    assert mine.graded and mine.answered == Answer(student, text).digest and len(mine.applied) == 1


def test_a_hostile_answer_is_text_on_the_page_and_in_the_feedback_and_runs_nothing(tmp_path):
    grades = tmp_path / "grades"
    written_class.write_class(grades, 4, hostile=(HOSTILE_STUDENT,))
    hostile = f"student{HOSTILE_STUDENT:04d}"
    with grading_server(grades) as server, browser() as driver:  # one local grader, no token
        number = Store.of(grades).numbers()[hostile]
        _open_question(driver, server, number)
        assert _current(driver) == number
        shown = _by_id(driver, "answer").text
        assert all(markup in shown for markup in written_class.HOSTILE)
        _key(driver, "1")  # a click re-renders the answer: still text
        _wait_saved(driver)
        _click(driver, "#reveal")
        _wait(driver, lambda d: hostile in _by_id(d, "who").text, "names were not revealed")
        assert all(markup in _by_id(driver, "answer").text for markup in written_class.HOSTILE)
        assert driver.title == "Written answers"
        assert driver.execute_script("return window.pwned === undefined")
        assert not driver.find_elements("css selector", "#answer *")  # no element made of the answer

    assert written_main([str(grades), "--feedback"]) == 0
    page = Path(grades / feedback.FOLDER / f"{hostile}.html")
    with browser() as driver:
        driver.get(page.as_uri())
        _wait(driver, lambda d: d.find_elements("css selector", ".answer"), "no answer in the feedback")
        answers = " ".join(node.text for node in driver.find_elements("css selector", ".answer"))
        assert all(markup in answers for markup in written_class.HOSTILE)
        assert driver.title == f"Feedback: {hostile}"
        assert driver.execute_script("return window.pwned === undefined")
        assert not driver.find_elements("css selector", ".answer *")
