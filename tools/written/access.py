"""Who may use the grading page. On a loopback address with no --grader, one local grader works without a
token: only this machine can reach the page, and the grader is "local". Otherwise (any other --host, or any
--grader named) every grader needs the token the command prints for their name: their link
/login?token=... sets it as a cookie (HttpOnly, SameSite=Strict), and a script may send it as
`Authorization: Bearer TOKEN`. Tokens live in the store, so that they survive a restart; --new-tokens
replaces them, and a grader not named on the command line has no access, whatever their old token.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

LOCAL = "local"  # the one grader of a loopback page without tokens
COOKIE = "losslab_grader"
GRADER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Access:
    tokens: dict[str, str] = field(default_factory=dict)  # {token: grader}; empty: the local grader only

    @property
    def open(self) -> bool:
        """No token needed (the loopback page of one local grader)."""
        return not self.tokens

    def login(self, token: str) -> str | None:
        """The grader whose token this is, or None."""
        for known, grader in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return grader
        return None

    def grader(self, cookie: str | None, authorization: str | None) -> tuple[str | None, bool]:
        """(the grader a request comes from or None, whether it carried a token at all)."""
        if self.open:
            return LOCAL, False
        token = None
        if authorization and authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        elif cookie:
            try:
                morsel = SimpleCookie(cookie).get(COOKIE)
            except CookieError:
                morsel = None
            token = morsel.value if morsel is not None else None
        if not token:
            return None, False
        return self.login(token), True


def access_for(host: str, graders: list[str], tokens_of) -> Access:
    """The access of a page bound to host for the named graders; tokens_of(names) gives their tokens
    (Store.tokens). ValueError for a shared host without graders, or a name that cannot be one."""
    for name in graders:
        if not GRADER_NAME.fullmatch(name):
            raise ValueError(f"--grader {name!r}: a grader's name is letters, digits, '.', '_' or '-'")
    if len(set(graders)) != len(graders):
        raise ValueError("a grader is named twice")
    if not graders:
        if not is_loopback(host):
            raise ValueError(
                f"--host {host} lets other machines in: name each grader with --grader NAME (each gets a token)"
            )
        return Access()
    return Access({token: name for name, token in tokens_of(graders).items()})
