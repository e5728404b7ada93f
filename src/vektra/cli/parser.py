"""The argument parser class of every `vektra` command: argparse, with errors
that name a mistyped or misplaced flag.

Plain argparse reports `vektra search --colection docs` as "the following
arguments are required: --collection" (the unknown flag is not mentioned),
an unknown flag after a command as "unrecognized arguments" under the
top-level usage, and `vektra --addr h:1 cluster status` as "invalid choice:
'h:1'". Here the first says "unknown flag --colection (did you mean
--collection?)" under the command's own usage, and a flag given before its
command says where it goes: "--addr goes after the command: vektra cluster
status --addr h:1".
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

__all__ = ["VektraParser", "explain_unknown", "unknown_flags"]

# argparse's own test for a negative number, which is a value, not a flag.
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


class VektraParser(argparse.ArgumentParser):
    """Subparsers are made of this class too (argparse's default). A parser
    with `passthrough` set (`vektra serve ROLE`) hands its unknown arguments
    on instead of rejecting them."""

    passthrough = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._seen = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        # A command with no subcommands owns everything after its name, so a
        # leftover flag is unknown *here*; say so under this command's usage.
        if extras and not self.passthrough and _subparsers(self) is None:
            flags = unknown_flags(self, extras)
            self.error(
                explain_unknown(self, self._seen_args, flags) if flags else _unrecognized(extras)
            )
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        # Whatever argparse complains about (a required flag, an invalid
        # choice), an unknown flag in what this parser saw is the real cause.
        flags = [] if self.passthrough else unknown_flags(self, _own_part(self, self._seen_args))
        if flags:
            message = explain_unknown(self, self._seen_args, flags)
        super().error(message)

    def reject_extras(self, args: Sequence[str], extras: Sequence[str]) -> NoReturn:
        """For what a command's parent levels left over (`vektra --json
        cluster status`): name each flag, and where it goes."""
        flags = unknown_flags(self, extras)
        self.error(explain_unknown(self, args, flags) if flags else _unrecognized(extras))

    @property
    def _seen_args(self) -> list[str]:
        return list(getattr(self, "_seen", []))


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _flag_name(token: str) -> str:
    return token.split("=", 1)[0]


def _is_flag(token: str) -> bool:
    return token.startswith("-") and token != "-" and not _NEGATIVE_NUMBER.match(token)


def _knows(parser: argparse.ArgumentParser, flag: str) -> bool:
    known = parser._option_string_actions
    if flag in known:
        return True
    # argparse accepts an unambiguous prefix of a long flag (--coll).
    return flag.startswith("--") and parser.allow_abbrev and any(k.startswith(flag) for k in known)


def _flag_tokens(args: Sequence[str]) -> Iterator[str]:
    for token in args:
        if token == "--":
            return
        if _is_flag(token):
            yield _flag_name(token)


def unknown_flags(parser: argparse.ArgumentParser, args: Sequence[str]) -> list[str]:
    """The flags in `args` that `parser` does not know, in order, once each."""
    return list(dict.fromkeys(f for f in _flag_tokens(args) if not _knows(parser, f)))


def _own_part(parser: argparse.ArgumentParser, args: Sequence[str]) -> list[str]:
    """The arguments a parser with subcommands parses itself: those before
    the subcommand's name (the rest are the subcommand's)."""
    sub = _subparsers(parser)
    if sub is None:
        return list(args)
    for i, token in enumerate(args):
        if not _is_flag(token) and token in sub.choices:
            return list(args[:i])
    return list(args)


def _leaf(parser: argparse.ArgumentParser, args: Sequence[str]) -> argparse.ArgumentParser | None:
    """The command `args` name under `parser` (`cluster status`), if any."""
    current, found = parser, False
    for token in args:
        sub = _subparsers(current)
        if sub is None:
            break
        if not _is_flag(token) and token in sub.choices:
            current, found = sub.choices[token], True
    return current if found and _subparsers(current) is None else None


def _all_leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    sub = _subparsers(parser)
    if sub is None:
        yield parser
        return
    for child in dict.fromkeys(sub.choices.values()):  # aliases share a parser
        yield from _all_leaves(child)


def _takes_value(parser: argparse.ArgumentParser, flag: str) -> bool:
    action = parser._option_string_actions.get(flag)
    if action is None:
        matches = [a for k, a in parser._option_string_actions.items() if k.startswith(flag)]
        action = matches[0] if matches else None
    return action is not None and action.nargs != 0


def explain_unknown(
    parser: argparse.ArgumentParser, args: Sequence[str], flags: Sequence[str]
) -> str:
    """The error for `flags`, which `parser` does not know, in `args`."""
    leaf = _leaf(parser, args)
    return _misplaced(parser, leaf, args, flags) or _unknown_message(leaf or parser, flags)


def _misplaced(
    parser: argparse.ArgumentParser,
    leaf: argparse.ArgumentParser | None,
    args: Sequence[str],
    flags: Sequence[str],
) -> str | None:
    """For flags this parser does not know but its command does (`vektra
    --json cluster status`): where they go, as the corrected command line.
    None when some flag is not the command's either."""
    if leaf is None:
        homes = {f: [p.prog for p in _all_leaves(parser) if _knows(p, f)] for f in flags}
        if flags and all(homes.values()):
            first = flags[0]
            return f"{first} goes after a command, e.g. {homes[first][0]} {first} ..."
        return None
    if not all(_knows(leaf, f) for f in flags):
        return None
    moved: list[str] = []
    kept: list[str] = []
    tokens = list(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _is_flag(token) and _flag_name(token) in flags:
            moved.append(token)
            if "=" not in token and _takes_value(leaf, token) and i + 1 < len(tokens):
                moved.append(tokens[i + 1])
                i += 1
        else:
            kept.append(token)
        i += 1
    names = ", ".join(flags)
    verb = "goes" if len(flags) == 1 else "go"
    return f"{names} {verb} after the command: {parser.prog} {' '.join([*kept, *moved])}"


def _unknown_message(parser: argparse.ArgumentParser, flags: Sequence[str]) -> str:
    parts = []
    for flag in flags:
        close = difflib.get_close_matches(
            flag, list(parser._option_string_actions), n=1, cutoff=0.75
        )
        parts.append(f"{flag} (did you mean {close[0]}?)" if close else flag)
    noun = "flag" if len(flags) == 1 else "flags"
    return f"unknown {noun} {', '.join(parts)}; see {parser.prog} --help"


def _unrecognized(extras: Sequence[str]) -> str:
    return f"unexpected arguments: {' '.join(extras)}"
