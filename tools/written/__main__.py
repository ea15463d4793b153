"""`python -m tools.written GRADES_DIR [--host H] [--port P] [--grader NAME ...] | --merge | --feedback`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.written.access import access_for
from tools.written.answers import read_class
from tools.written.app import App
from tools.written.feedback import write_feedback
from tools.written.merge import merge
from tools.written.questions import sheets
from tools.written.server import GradingServer
from tools.written.store import Store
from utils.settings import Setting

HOST = "127.0.0.1"
PORT = Setting("--port", 8231, "the grading page's port; 0 picks a free one")


def _serve(args, parser: argparse.ArgumentParser) -> int:
    course_sheets = sheets()
    klass = read_class(args.grades, course_sheets)
    for name in klass.unreadable:
        print(f"not a result, left out: {name}", file=sys.stderr)
    store = Store.of(args.grades)
    try:
        access = access_for(args.host, args.grader, lambda names: store.tokens(names, args.new_tokens))
    except ValueError as error:
        parser.error(str(error))
    app = App.start(store, course_sheets, klass)
    try:
        server = GradingServer((args.host, args.port), app, access)
    except OSError as error:
        parser.error(f"cannot listen on {args.host}:{args.port}: {error}")
    answers = sum(len(a) for a in klass.answers.values())
    print(f"{len(app.sheets)} written questions, {answers} answers of {len(klass.students)} students")
    if access.open:
        print(f"grading page (one local grader, no token): {server.url}", flush=True)
    else:
        for token, grader in access.tokens.items():
            print(f"grader {grader}: {server.url}login?token={token}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.written",
        description="Grade the written answers by question with a rubric; merge the points; write feedback.",
    )
    parser.add_argument("grades", type=Path, help="the folder tools.grade wrote (--out)")
    parser.add_argument(
        "--host",
        default=HOST,
        help=f"the address to listen on (default {HOST}, this machine only; another needs --grader)",
    )
    PORT.add_to(parser)
    parser.add_argument(
        "--grader",
        action="append",
        default=[],
        metavar="NAME",
        help="a grader who gets a token (repeat for each); needed unless the host is loopback",
    )
    parser.add_argument("--new-tokens", action="store_true", help="give the named graders new tokens")
    parser.add_argument(
        "--merge", action="store_true", help="add the written points to grades.csv and <student>.json"
    )
    parser.add_argument(
        "--feedback", action="store_true", help="write GRADES_DIR/feedback/<student>.html and feedback.zip"
    )
    args = parser.parse_args(argv)
    if not args.grades.is_dir():
        parser.error(f"no folder {args.grades}: grade a class with tools.grade first")
    if not (args.merge or args.feedback):
        return _serve(args, parser)
    if args.merge:
        merged = merge(args.grades)
        print(
            f"merged the written grades of {merged.students} students into {args.grades / 'grades.csv'}: "
            f"{merged.graded} answers graded, {merged.pending} pending"
        )
    if args.feedback:
        written = write_feedback(args.grades)
        print(f"feedback for {written.pages} students in {written.folder}, all of it in {written.zip}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
