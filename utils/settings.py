"""Settings with their defaults and help, each declared once; command lines add them from here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    flag: str  # the command-line option, e.g. "--timeout"
    default: float | None  # None: no fixed value, what `otherwise` says instead
    help: str
    otherwise: str | None = None  # what the setting means when it is not given, for a default of None

    @property
    def name(self) -> str:
        """The attribute argparse gives it."""
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser, otherwise: str | None = None) -> None:
        """Adds the option; with otherwise (given here, or declared), it defaults to None, which means what
        otherwise says."""
        otherwise = otherwise or self.otherwise
        parser.add_argument(
            self.flag,
            type=float if self.default is None else type(self.default),
            default=None if otherwise else self.default,
            help=f"{self.help} (default {otherwise or f'{self.default:g}'})",
        )


QUESTION_TIMEOUT = Setting(
    "--timeout",
    300.0,
    "seconds a graded cell may run, unless the course registry gives its question a limit of its own",
)
