"""The grading page's HTTP server: the stdlib's ThreadingHTTPServer, one thread a request.

Routes (names: [A-Za-z0-9_]; anything else, `../` included, is a 404 before any lookup):

    GET  /, /q/<topic>/<question>            the page (one shell; the script draws the view)
    GET  /login?token=T                       sets the grader's cookie, then on to /
    GET  /static/grade.js, /static/grade.css  the page's script and style, from memory
    GET  /api/overview                        the questions and the progress
    GET  /api/q/<topic>/<question>[?since=V]  one question: text, rubric, answers, marks
    POST /api/q/<topic>/<question>/a/<number> a click on an answer (app.App.click)
    POST /api/q/<topic>/<question>/items[/<id>]  a new rubric item, an item edited
    POST /api/reveal                          {"revealed": bool}: names shown or numbers

Every response carries a strict Content-Security-Policy (scripts and styles from this server only, no
inline script, no frame, no form) and nosniff. A POST must be JSON of at most MAX_BODY bytes, from this
page's origin when the browser says where it comes from. A page on a loopback address answers only Host
names of that address (a web page elsewhere cannot rebind its name to reach it). Errors are 4xx with a
JSON {"error": ...} (text for the page's routes), and change nothing.
"""

from __future__ import annotations

import json
import re
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tools.written.access import COOKIE, Access, is_loopback
from tools.written.app import App, BadRequest
from tools.written.page import ASSETS, SHELL
from tools.written.store import NotFound

MAX_BODY = 64 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NAME = r"([A-Za-z0-9_]{1,100})"
ROUTES = [  # (method, path, handler name)
    ("GET", r"/", "shell"),
    ("GET", rf"/q/{NAME}/{NAME}", "shell"),
    ("GET", r"/login", "login"),
    ("GET", r"/static/(grade\.js|grade\.css)", "static"),
    ("GET", r"/favicon\.ico", "favicon"),
    ("GET", r"/api/overview", "overview"),
    ("GET", rf"/api/q/{NAME}/{NAME}", "question"),
    ("POST", rf"/api/q/{NAME}/{NAME}/a/([0-9]{{1,9}})", "click"),
    ("POST", rf"/api/q/{NAME}/{NAME}/items", "add_item"),
    ("POST", rf"/api/q/{NAME}/{NAME}/items/([0-9]{{1,9}})", "edit_item"),
    ("POST", r"/api/reveal", "reveal"),
]
ROUTES = [(method, re.compile(path, re.ASCII), name) for method, path, name in ROUTES]
PUBLIC = {"login", "static", "favicon"}  # no grader needed


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: GradingServer

    def version_string(self) -> str:
        return "losslab-written"

    def log_message(self, format, *args) -> None:  # noqa: A002 (the stdlib's name)
        pass  # quiet: a grading session would print a line a click

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- the steps of a request -----------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        api = parts.path.startswith("/api/")
        try:
            self._check_host()
            name, groups = self._route(method, parts.path)
            grader = None if name in PUBLIC else self._grader()
            body = self._body() if method == "POST" else None
            getattr(self, f"_{name}")(grader, groups, parse_qs(parts.query), body)
        except HttpError as error:
            self._error(error.status, str(error), api)
        except NotFound as error:
            self._error(HTTPStatus.NOT_FOUND, error.args[0], api)
        except BadRequest as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error), api)

    def _check_host(self) -> None:
        host, port = self.server.server_address[:2]
        if not is_loopback(host):
            return
        allowed = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        if self.headers.get("Host", "") not in allowed:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"this page answers only to http://127.0.0.1:{port}/")

    def _route(self, method: str, path: str) -> tuple[str, tuple]:
        allowed = False
        for route_method, pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return name, match.groups()
            allowed |= bool(match)
        if allowed:
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}")
        raise HttpError(HTTPStatus.NOT_FOUND, "no such page")

    def _grader(self) -> str:
        access: Access = self.server.access
        grader, carried = access.grader(self.headers.get("Cookie"), self.headers.get("Authorization"))
        if grader is not None:
            return grader
        if carried:
            raise HttpError(
                HTTPStatus.FORBIDDEN, "unknown token: use the link the grading command printed for you"
            )
        raise HttpError(
            HTTPStatus.UNAUTHORIZED, "no token: open the link the grading command printed for you"
        )

    def _body(self) -> dict:
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host', '')}":
            raise HttpError(HTTPStatus.FORBIDDEN, f"a click from another origin ({origin}) is refused")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is needed") from None
        if length < 0 or length > MAX_BODY:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body of at most {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body is a JSON object")
        return body

    # -- responses ------------------------------------------------------------------------------------
    def _send(self, status: HTTPStatus, content: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(content)

    def _json(self, data: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data).encode(), "application/json; charset=utf-8")

    def _error(self, status: HTTPStatus, message: str, api: bool) -> None:
        if api:
            self._json({"error": message}, status)
        else:
            self._send(
                status, f"{status.value} {status.phrase}: {message}\n".encode(), "text/plain; charset=utf-8"
            )

    # -- routes: (grader, path groups, query, body) ---------------------------------------------------
    def _shell(self, grader, groups, query, body) -> None:
        self._send(HTTPStatus.OK, SHELL, "text/html; charset=utf-8")

    def _static(self, grader, groups, query, body) -> None:
        content, kind = ASSETS[groups[0]]
        self._send(HTTPStatus.OK, content, kind)

    def _favicon(self, grader, groups, query, body) -> None:
        self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")  # none: a browser asks anyway

    def _login(self, grader, groups, query, body) -> None:
        tokens = query.get("token", [])
        found = self.server.access.login(tokens[0]) if len(tokens) == 1 else None
        if found is None:
            raise HttpError(
                HTTPStatus.FORBIDDEN, "unknown token: use the link the grading command printed for you"
            )
        cookie = f"{COOKIE}={tokens[0]}; Path=/; HttpOnly; SameSite=Strict"
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})

    def _overview(self, grader, groups, query, body) -> None:
        self._json(self.server.app.overview(grader))

    def _question(self, grader, groups, query, body) -> None:
        since = query.get("since", [""])[0]
        self._json(self.server.app.question(*groups, grader, int(since) if since.isdigit() else None))

    def _click(self, grader, groups, query, body) -> None:
        topic, question, number = groups
        self._json(self.server.app.click(grader, topic, question, int(number), body))

    def _add_item(self, grader, groups, query, body) -> None:
        self._json(self.server.app.add_item(grader, *groups, body))

    def _edit_item(self, grader, groups, query, body) -> None:
        topic, question, item = groups
        self._json(self.server.app.edit_item(grader, topic, question, int(item), body))

    def _reveal(self, grader, groups, query, body) -> None:
        self._json(self.server.app.reveal(grader, body))


class GradingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App, access: Access):
        self.app, self.access = app, access
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if is_loopback(host):
            host = "127.0.0.1"
        elif host == "0.0.0.0":  # every interface: the name other machines know this one by
            host = socket.getfqdn()
        return f"http://{host}:{port}/"
