"""`vektra up --help`: a description, and every flag says its default the way
the serve entries do."""

from __future__ import annotations

import argparse
import re

from vektra.cli.up import add_up_command


def _up_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vektra")
    sub = parser.add_subparsers(dest="command")
    add_up_command(sub)
    return sub.choices["up"]


def test_up_has_a_description_and_every_flag_its_default() -> None:
    up = _up_parser()
    assert up.description and "restarted" in up.description
    flags = [a for a in up._actions if a.option_strings and a.dest != "help"]
    assert {a.dest for a in flags} == {"nodes", "rf", "data_dir", "port", "host", "stop_timeout_s"}
    texts = {a.dest: up._get_formatter()._expand_help(a) for a in flags}
    for dest, text in texts.items():
        assert re.search(r"\(default: [^)]+\)$", text), (dest, text)
    defaults = {dest: text.rsplit("(default: ", 1)[1][:-1] for dest, text in texts.items()}
    assert defaults == {
        "nodes": "3",
        "rf": "2, or 1 with one node",
        "data_dir": "./vektra-data",
        "port": "7700",
        "host": "127.0.0.1",
        "stop_timeout_s": "30",
    }
