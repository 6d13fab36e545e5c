"""Every option of every ``resonance`` command, given bad values: one line, exit 2.

The commands are listed from the parser itself (``resonance --help`` and each
subparser), so a command or option added later is fuzzed too, and an option whose value
is not checked while parsing (a bare ``type=int``) fails :func:`test_every_value_is_checked`.
For each option a set of bad values (negative, zero where a count must be positive, NaN,
infinities, a 400-digit integer, words, empty text, missing files, folders given as
files, files in folders that do not exist) must give exit code 2, exactly one line on
stderr starting with ``resonance: error:``, no traceback, and no file created or changed
in the working folder. A hypothesis test then combines several bad values at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import refusal_problem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resonance_engine.cli import args as types
from resonance_engine.cli.main import build_parser
from resonance_engine.cli.optimize import parse_opt_param
from resonance_engine.cli.swarm import _controller_spec, _strength
from resonance_engine.cli.sweep import executor_spec
from resonance_engine.dist.params import parse_param

BIG = "1" + "0" * 400
LONG_NAME = "x" * 300

#: Valid arguments a command needs besides the option fuzzed (required options,
#: positionals, and small sizes so that a value wrongly accepted fails fast).
BASE: dict[str, list[str]] = {
    "sweep": ["--param", "damping=0.1", "--size", "16", "--steps", "2", "--executor", "serial"],
    "db show": ["1"],
    "db similar": ["1", "--at", "0"],
    "db export": ["1", "--csv", "new.csv"],
    "export-web": ["site"],
    "run": ["--size", "16", "--steps", "2"],
    "swarm": ["--agents", "2", "--size", "16", "--ticks", "2", "--window", "2"],
    "train": ["--timesteps", "1"],
}

#: Bad values of the options parsed by a function of the library.
PARSED_BAD = {
    parse_param: ["", "damping", "=1", "dampin=0.1", "damping=0:1", "damping=0:1:x",
                  "seed=-1", "steps=-1", "size=0", "damping=nan", "damping=" + BIG,
                  "damping=1:2:" + BIG],
    parse_opt_param: ["", "x", "x=nan", "x=1:2:0", "x=inf", "x=" + BIG, "x=1:0:2"],
    _strength: ["", "gain", "=1", "gain=x", "gain=-1", "gain=nan", "gain=" + BIG],
}

#: Options whose bad values are given without the base option they exclude.
EXCLUDES = {("db export", "--parquet"): "--csv"}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], argparse.ArgumentParser]
]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaves(sub, (*path, name))


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(
        action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction
    )


def bad_values(action: argparse.Action) -> list[str]:
    """Values the option must refuse, from its type (or its choices)."""
    kind = action.type
    if action.choices is not None:
        return ["nope", ""]
    if isinstance(kind, types.IntegerArg):
        values = ["abc", "", "1.5", "nan", "inf", BIG, "-" + BIG]
        if kind.low > -types.MAX_INT:
            values.append(str(kind.low - 1))
        return values
    if isinstance(kind, types.NumberArg):
        values = ["abc", "", "nan", "inf", "-inf", "1e400", "-" + BIG]
        if kind.low is not None:
            values.append(repr(kind.low if kind.low_open else kind.low - 1))
        if kind.high is not None:
            values.append(repr(kind.high + 1))
        return values
    if isinstance(kind, types.IntegersArg):
        values = ["abc", "1,,2", "1,x", "1.5", BIG, "nan"]
        if kind.each.low > -types.MAX_INT:
            values.append(f"{kind.each.low + 1},{kind.each.low - 1}")
        return values + ([] if kind.empty else [""])
    if isinstance(kind, types.ParsedArg):
        return PARSED_BAD[kind.parse]
    if isinstance(kind, types.NamesArg):
        return ["nope", "a,b"] + ([] if kind.empty else ["", ","])
    table = {
        types.input_file: ["", "missing.toml", "adir", "nofolder/x.toml", LONG_NAME],
        types.input_folder: ["", "missing", "afile"],
        types.output_file: ["", "adir", "nofolder/x.db", LONG_NAME, "afile/x.db"],
        types.output_folder: ["", "afile", "afile/sub", LONG_NAME],
        types.nonempty: ["", "  "],
        types.host_name: ["", "a b", LONG_NAME, BIG],
        executor_spec: ["", "spark", "tcp://"],
        _controller_spec: ["", "nope", "rl:"],
    }
    if kind not in table:
        raise AssertionError(f"{action.option_strings or action.dest}: type {kind!r} unknown")
    return table[kind]


def _cases() -> list[tuple[str, list[str]]]:
    cases = []
    for path, parser in _leaves(build_parser()):
        command = " ".join(path)
        for action in parser._actions:
            if not _takes_value(action):
                continue
            base = list(BASE.get(command, []))
            option = action.option_strings[0] if action.option_strings else None
            excluded = EXCLUDES.get((command, option or ""))
            if excluded:
                i = base.index(excluded)
                del base[i : i + 2]
            for value in bad_values(action):
                if option is None:  # a positional: replace the base's value in its place
                    positionals = [a for a in parser._actions if not a.option_strings
                                   and _takes_value(a)]
                    index = positionals.index(action)
                    argv = list(base)
                    if index < len(argv) and not argv[index].startswith("-"):
                        argv[index] = value
                    else:
                        argv.insert(index, value)
                    # '--' keeps a value that looks like an option a positional
                    argv = [*argv[:index], "--", *argv[index:]] if value.startswith("-") else argv
                    cases.append((command, [*path, *argv]))
                else:
                    cases.append((command, [*path, *base, f"{option}={value}"]))
    return cases


CASES = _cases()


def test_every_command_and_option_is_fuzzed() -> None:
    commands = {command for command, _ in CASES}
    expected = {"run", "sweep", "serve", "swarm", "optimize", "train", "export-web",
                "db runs", "db show", "db similar", "db export", "experiment sync",
                "experiment measures", *(f"bench {n}" for n in (
                    "solver", "store", "swarm", "metrics", "serve", "sweep", "oscillators",
                    "browser", "control", "all"))}
    assert expected <= commands
    assert len(CASES) > 1000


def test_every_value_is_checked() -> None:
    """No option takes a value unchecked (a bare int, float, str or Path)."""
    for _path, parser in _leaves(build_parser()):
        for action in parser._actions:
            if _takes_value(action):
                bad_values(action)  # raises for a type it does not know


@pytest.mark.parametrize("command", sorted({c for c, _ in CASES}))
def test_bad_values_exit_2_with_one_line(command: str, workdir: Path) -> None:
    problems = [refusal_problem(argv, workdir) for c, argv in CASES if c == command]
    found = [p for p in problems if p is not None]
    assert not found, f"{len(found)} of {len(problems)} cases:\n" + "\n".join(found)


_BAD_BY_COMMAND: dict[str, list[str]] = {}
for _command, _argv in CASES:
    _BAD_BY_COMMAND.setdefault(_command, []).append(_argv[len(_command.split()) :][-1])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_bad_combinations_exit_2(data: st.DataObject, workdir: Path) -> None:
    """Several bad options at once, in any order, after the base arguments."""
    command = data.draw(st.sampled_from(sorted(_BAD_BY_COMMAND)))
    optional = [a for a in _BAD_BY_COMMAND[command] if a.startswith("--")]
    optional += ["--no-such-option=1", "-Z", "--seed"]  # unknown flags, a missing value
    if not optional:
        return
    picked = data.draw(st.lists(st.sampled_from(optional), min_size=1, max_size=4))
    problem = refusal_problem([*command.split(), *BASE.get(command, []), *picked], workdir)
    assert problem is None, problem
