"""How a user's mistake reaches them: one line on stderr and exit status 2, never a traceback."""
from __future__ import annotations

import argparse
from typing import NoReturn


class DDPGError(Exception):
    """A problem with the user's input or files, stated so they know what to do."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (and the next, where it ends in a colon), for a one-line
    error; its type where the message is empty."""
    text = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    if not text:
        return type(e).__name__
    # "XML parse error 7:" (MuJoCo) says what went wrong only on its next line
    return f"{text[0]} {text[1]}" if text[0].endswith(":") and len(text) > 1 else text[0]


def require_named(flag: str, value: object, what: str = "a folder") -> None:
    """Refuse a blank path flag: an unset $VAR in a script must not fall back to a default place."""
    if value is not None and not str(value).strip():
        raise DDPGError(f"{flag} must name {what}, got {value!r}")


def require_at_least(flag: str, value: float, lowest: float, when: str = "") -> None:
    """Refuse a count (or a reset seed: gymnasium refuses negative ones) below its lowest sensible value."""
    if value < lowest:
        raise DDPGError(f"{flag} must be >= {lowest}{when}, got {value}")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help with each flag's default, except where there is none to show (None, an off switch, an empty
    list)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors (unknown flag, bad value, bad choice) are one line, like every other input
    error, instead of the whole usage block and then the error. Flags are matched whole: argparse's prefix
    matching would read `sweep.py --seed 3` as `--seeds 3`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; see {self.prog} --help\n")
