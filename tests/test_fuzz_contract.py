"""The command-line contract under hostile input: a worded answer and a documented exit status.

Whatever the input, every command ends with exit status 0 (ok), 1 (rule errors), 2 (usage)
or 3 (a record or document could not be read), never with a Python exception or a traceback;
and a batch always accounts for every learner it read (read = reported + in error).

Two parts:

- a seeded corpus, `tests/corpus/fuzz/`: one file per hostile input found so far (rule files
  `rules-*.stack`, learner records `record-*`, CTDL documents `ctdl-*`), each run through the
  commands that read it. A new crash found by the properties below becomes a file here.
- Hypothesis properties that mutate the sample rules (`rules/`), learner records (JSON, JSON
  Lines, CSV, Open Badges) and CTDL documents and run the commands in-process. Example
  counts are small, so the file runs in well under a minute; `FUZZ_EXAMPLES=N` multiplies
  them for a longer local run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackrules.cli import cli
from stackrules.records.model import ACHIEVEMENT_FIELDS

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "fuzz"
FIXTURE_RULES = CORPUS / "_fixture" / "rules.stack"
FIXTURE_RECORD = CORPUS / "_fixture" / "record.json"
# rules/ is one rule set (folders refer to each other's issuers); the fuzzer mutates one file
# and reads it with the others, which come from the parse cache.
SAMPLE_RULES = {
    f.relative_to(ROOT / "rules").as_posix(): f.read_bytes()
    for f in sorted((ROOT / "rules").rglob("*.stack"))
}
AS_OF = "2024-09-01"
EXIT_STATUSES = {0, 1, 2, 3}


def _shared() -> Path | None:
    """`../shared` beside the repository (as in CI), else the shared folder of this machine."""
    for candidate in (ROOT.parent / "shared", Path("/work/shared")):
        if (candidate / "data" / "interop").is_dir():
            return candidate
    return None


SHARED = _shared()


def _examples(n: int) -> int:
    return n * int(os.environ.get("FUZZ_EXAMPLES", "1"))


FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ------------------------------------------------------------------ the contract


def run(args: Sequence[object]) -> Result:
    """Run the command in-process and assert the contract every command keeps."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    shown = " ".join(str(a) for a in args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        trace = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"`stackrules {shown}` raised instead of answering:\n{trace[-3000:]}")
    assert result.exit_code in EXIT_STATUSES, (shown, result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output, (shown, result.output[-2000:])
    return result


_SUMMARY = re.compile(r"(\d+) learners? read, (\d+) reported, (\d+) in error")


def run_batch(records: Path, rules: Path, work: Path) -> Result:
    """`batch` keeps the contract and accounts for every learner it read."""
    out, errors = work / "out.jsonl", work / "errors.jsonl"
    for f in (out, errors):
        f.unlink(missing_ok=True)
    args = ["batch", "--rules", rules, "--records", records, "--as-of", AS_OF]
    result = run([*args, "--out", out, "--errors", errors])
    if result.exit_code == 1:  # the rule set has errors: nothing was read
        return result
    found = _SUMMARY.findall(result.output)
    assert found, ("no batch summary", result.output[-2000:])
    read, reported, in_error = map(int, found[-1])
    assert read == reported + in_error, result.output[-2000:]
    written = out.read_text("utf-8").splitlines() if out.exists() else []
    assert len(written) == reported, (len(written), reported)
    if in_error:
        assert result.exit_code == 3, result.output[-2000:]
    if result.exit_code == 0:
        assert in_error == 0, result.output[-2000:]
    return result


# ------------------------------------------------------------------ the corpus


def _corpus() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p
        for p in CORPUS.iterdir()
        if p.is_file() and not p.name.startswith(("_", ".")) and p.suffix != ".md"
    )


@pytest.mark.parametrize("case", _corpus(), ids=lambda p: p.name)
def test_corpus_case(case: Path, tmp_path: Path) -> None:
    if case.name.startswith("rules-"):
        _rules_case(case, tmp_path)
    elif case.name.startswith("record-"):
        _record_case(case, tmp_path)
    else:
        assert case.name.startswith("ctdl-"), f"{case.name}: rules-, record- or ctdl-"
        _ctdl_case(case, tmp_path)


def _rules_case(case: Path, tmp_path: Path) -> None:
    """A broken rule file: every command that reads rules answers with its diagnostic."""
    code = re.search(r"\((SR\d{3})\)", case.read_text("utf-8").splitlines()[0])
    assert code, f"{case.name}: the first line names the expected code, `(SRxxx)`"
    copy = tmp_path / case.name
    copy.write_bytes(case.read_bytes())
    records = tmp_path / "records.jsonl"
    records.write_text(FIXTURE_RECORD.read_text("utf-8"), "utf-8")
    if code.group(1).startswith("SR1"):  # a syntax error: `fmt` refuses the file too
        result = run(["fmt", copy])
        assert result.exit_code == 1 and f"error[{code.group(1)}]" in result.output
    else:  # `fmt` formats what parses; the meaning is `check`'s business
        run(["fmt", "--check", copy])
    for args in (
        ["check", copy],
        ["evaluate", "--rules", copy, FIXTURE_RECORD, "--as-of", AS_OF],
        ["graph", "--rules", copy],
        ["where", "--rules", copy, "UFV:A1"],
        ["nearest", "--rules", copy, FIXTURE_RECORD, "--as-of", AS_OF],
        ["suggest", "--rules", copy],
        ["credit-loss", "--rules", copy, FIXTURE_RECORD, "--as-of", AS_OF],
    ):
        result = run(args)
        assert result.exit_code == 1, (args[0], result.output[-2000:])
        assert f"error[{code.group(1)}]" in result.output, (args[0], result.output[-2000:])
    assert run_batch(records, copy, tmp_path).exit_code == 1
    assert copy.read_bytes() == case.read_bytes()  # nothing rewrote the file


def _record_case(case: Path, tmp_path: Path) -> None:
    """A hostile record: evaluated (exit 0) or refused with a message naming the file (3),
    on an ordinary day and on the first and last days a date can name."""
    for day in (AS_OF, "0001-01-01", "9999-12-31"):
        result = run(["evaluate", "--rules", FIXTURE_RULES, case, "--as-of", day])
        assert result.exit_code in {0, 3}, result.output[-2000:]
        if result.exit_code == 3:
            assert case.name in result.output, result.output[-2000:]
    if case.suffix in {".jsonl", ".csv"}:
        run_batch(case, FIXTURE_RULES, tmp_path)
        run(["credit-loss", "--rules", FIXTURE_RULES, case, "--as-of", AS_OF])
    else:
        run(["nearest", "--rules", FIXTURE_RULES, case, "--as-of", AS_OF])


def _ctdl_case(case: Path, tmp_path: Path) -> None:
    result = run(["import", "ctdl", case, "--out", tmp_path / "imported.stack"])
    assert result.exit_code in {0, 3}, result.output[-2000:]


# ------------------------------------------------------------------ hostile values


class Raw:
    """JSON text written as is: what `json.dumps` cannot or will not write."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r})"


class Duplicated:
    """An object that gives one key twice (JSON allows it; the reader must decide)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"Duplicated({self.pairs!r})"


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Duplicated):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value)  # Infinity and NaN are what Python writes for them


def _nested(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


RAW_NUMBERS = [
    "1" * 4301,
    "-" + "9" * 400,
    "9" * 400,
    "1e999",
    "-1e999",
    "1e999999999",
    "5e-324",
    "1e-400",
    "0." + "0" * 400 + "1",
    "18446744073709551616",
    "-0",
    "1E+2",
]
STRINGS = [
    "\ud800",
    "2023-04-2\udfff",
    "9999-12-31",
    "9996-01-01",
    "0001-01-01",
    "10000-01-01",
    "+2023-01-01",
    "2023-02-30",
    "2023-4-5",
    "2023-04-28T00:00:00Z",
    "",
    " ",
    "\x00",
    "A+",
    "Z",
    "completed",
    "in-progress",
    "UFV:GD157",
    "EX:TEAMWORK",
    "1" * 4301,
    "1e999",
    "NaN",
    "x" * 10_000,
    '"',
    "a,b\nc",
]

scalars: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(RAW_NUMBERS).map(Raw),
    st.sampled_from(STRINGS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([5e-324, 1e308, -0.0, 0.1]),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
    st.sampled_from([60, 326, 1000, 3000]).map(_nested),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["item", "id", "value", "x", "@id"]), inner, max_size=3)
    ),
    max_leaves=6,
)

ITEMS = ["UFV:GD157", "UFV:GD158", "UFV:FIRST-AID", "EX:TEAMWORK", "NOPE:X", "gd157"]


@st.composite
def achievements(draw: st.DrawFn) -> Any:
    base: dict[str, Any] = {
        "item": draw(st.sampled_from(ITEMS)),
        "grade": draw(st.sampled_from(["A", "B+", "C-", "F", "P"])),
        "completed_on": draw(st.sampled_from(["2023-04-28", "2020-01-01", "9996-01-01"])),
    }
    hostile = draw(st.sampled_from([0, 0, 0, 1, 1, 2]))  # most achievements stay readable
    for field in draw(st.lists(st.sampled_from([*ACHIEVEMENT_FIELDS, "bogus"]), max_size=hostile)):
        base[field] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        return draw(values)  # not an object at all
    return base


@st.composite
def learners(draw: st.DrawFn) -> Any:
    learner: Any = draw(st.sampled_from(["L1", "L2", "L-0003"])) if draw(st.booleans()) else None
    if learner is None:
        learner = draw(values)
    body: dict[str, Any] = {
        "learner": learner,
        "achievements": draw(st.lists(achievements(), max_size=4)),
    }
    extra = draw(st.sampled_from(["", "", "", "catalog_date", "pursuing", "exceptions", "learner"]))
    if extra == "learner":
        return Duplicated([*body.items(), ("learner", draw(values))])
    if extra:
        body[extra] = draw(values)
    if draw(st.integers(0, 14)) == 0:
        return draw(values)
    return body


def _csv_text(draw: st.DrawFn) -> str:
    columns = ["learner", *ACHIEVEMENT_FIELDS]
    columns = draw(st.permutations(columns))
    cut = draw(st.integers(0, 3))
    if cut == 1:
        columns = columns[1:]  # a required column missing (not always `learner`)
    elif cut == 2:
        columns = [*columns, draw(st.sampled_from([*columns, "bogus"]))]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    cells = st.one_of(
        st.sampled_from(["L1", "L2", "UFV:GD157", "A", "3", "2023-04-28", ""]),
        st.sampled_from(RAW_NUMBERS),
        st.sampled_from(STRINGS),
        st.text(max_size=8),
    )
    for _ in range(draw(st.integers(0, 5))):
        width = len(columns) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        writer.writerow([draw(cells) for _ in range(max(0, width))])
    text = buffer.getvalue()
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))] + '"'  # an unterminated quote at the end
    return text


@st.composite
def record_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A record file: its extension and its bytes (lone surrogates written as they are)."""
    kind = draw(st.sampled_from(["json", "json-array", "jsonl", "csv"]))
    if kind == "csv":
        text = _csv_text(draw)
    elif kind == "jsonl":
        lines = [dump(x) for x in draw(st.lists(learners(), min_size=1, max_size=5))]
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["{", "", "[]"])))
        text = "\n".join(lines) + "\n"
    elif kind == "json-array":
        text = dump(draw(st.lists(learners(), max_size=4)))
    else:
        text = dump(draw(learners()))
    suffix = {"json": ".json", "json-array": ".json", "jsonl": ".jsonl", "csv": ".csv"}[kind]
    return suffix, text.encode("utf-8", "surrogatepass")


@settings(FUZZ, max_examples=_examples(40))
@given(record_files())
def test_any_record_file_gets_a_worded_answer(record: tuple[str, bytes]) -> None:
    suffix, content = record
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        path = work / f"records{suffix}"
        path.write_bytes(content)
        result = run(["evaluate", "--rules", FIXTURE_RULES, path, "--as-of", AS_OF])
        assert result.exit_code in {0, 3}, result.output[-2000:]
        if suffix in {".jsonl", ".csv"}:
            run_batch(path, FIXTURE_RULES, work)


# ------------------------------------------------------------------ JSON documents


def _paths(doc: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, as a path of keys and indexes (iteratively)."""
    found: list[tuple[Any, ...]] = []
    stack = [(doc, here)]
    while stack:
        node, path = stack.pop()
        found.append(path)
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
    return found


def _mutate(doc: Any, path: tuple[Any, ...], how: str, new: Any) -> Any:
    if not path:
        return new if how == "replace" else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if how == "replace":
        parent[key] = new
    elif how == "delete":
        del parent[key]
    elif how == "wrap":
        parent[key] = [parent[key], new]
    elif how == "duplicate" and isinstance(parent, dict):
        pairs = [(k, v) for k, v in parent.items()] + [(key, new)]
        if len(path) == 1:
            return Duplicated(pairs)
        grand = doc
        for k in path[:-2]:
            grand = grand[k]
        grand[path[-2]] = Duplicated(pairs)
    return doc


def _load(path: Path) -> Any:
    """A seed document; numbers Python will not read stay as written."""
    return json.loads(
        path.read_text("utf-8"), parse_int=lambda text: int(text) if len(text) < 4000 else Raw(text)
    )


@st.composite
def mutated_documents(draw: st.DrawFn, seeds: list[Path]) -> bytes:
    doc = _load(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        if isinstance(doc, Duplicated):
            break
        places = _paths(doc)
        path = places[draw(st.integers(0, len(places) - 1))]
        how = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "duplicate"]))
        doc = _mutate(doc, path, how, draw(values))
    return dump(doc).encode("utf-8", "surrogatepass")


def _seeds(shared_folder: str, prefix: str) -> list[Path]:
    found = sorted(CORPUS.glob(f"{prefix}*.json"))
    if SHARED is not None:
        folder = SHARED / "data" / "interop" / shared_folder
        found += sorted(p for p in folder.glob("*.json") if not p.name.startswith("context"))
    return found


CTDL_SEEDS = _seeds("ctdl", "ctdl-")
BADGE_SEEDS = _seeds("ob3", "record-ob3-")


@settings(FUZZ, max_examples=_examples(30))
@given(mutated_documents(CTDL_SEEDS))
def test_any_ctdl_document_gets_a_worded_answer(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "document.json"
        path.write_bytes(content)
        result = run(["import", "ctdl", path, "--out", Path(folder) / "out.stack"])
        assert result.exit_code in {0, 3}, result.output[-2000:]


@settings(FUZZ, max_examples=_examples(25))
@given(mutated_documents(BADGE_SEEDS))
def test_any_open_badge_gets_a_worded_answer(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "badge.json"
        path.write_bytes(content)
        result = run(["evaluate", "--rules", FIXTURE_RULES, path, "--as-of", AS_OF])
        assert result.exit_code in {0, 3}, result.output[-2000:]


# ------------------------------------------------------------------ rule text

TOKENS = [
    "(",
    ")",
    ",",
    ":",
    "{",
    "}",
    '"',
    "#",
    "\n",
    " all of ",
    " any of ",
    " 2 of ",
    " not ",
    " and ",
    " credits ",
    " hours ",
    " level >= ",
    " within ",
    " valid for ",
    " years ",
    " months ",
    " min grade C ",
    " effective 2024-01-01 ",
    " until 2020-01-01 ",
    " 2023-02-30 ",
    " limit at most ",
    " from ",
    " => ",
    " + ",
    "credential UFV:X {\n",
    "course ",
    "issuer ",
    "alias ",
    " 8000 ",
    " 0.0000001 ",
    " 5e-324 ",
    " " + "9" * 400 + " ",
    " " + "1" * 4301 + " ",
]


@st.composite
def rule_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    """One sample rule file, mutated: its name under rules/ and its bytes."""
    name = draw(st.sampled_from(sorted(SAMPLE_RULES)))
    data = SAMPLE_RULES[name]
    for _ in range(draw(st.integers(1, 4))):
        data = draw(_mutation(data))
    return name, data


def _mutation(data: bytes) -> st.SearchStrategy[bytes]:
    n = len(data)
    at = st.integers(0, n)

    def lines(edit: Callable[[list[bytes], int], list[bytes]]) -> st.SearchStrategy[bytes]:
        split = data.split(b"\n")
        return st.integers(0, len(split) - 1).map(lambda i: b"\n".join(edit(split, i)))

    deep = st.tuples(
        at,
        st.sampled_from([63, 64, 65, 139, 326, 3000]),
        st.sampled_from(["(", "all of (", "not "]),
    )
    return st.one_of(
        st.tuples(at, st.sampled_from(TOKENS)).map(
            lambda t: data[: t[0]] + t[1].encode() + data[t[0] :]
        ),
        st.tuples(at, st.binary(min_size=1, max_size=6)).map(
            lambda t: data[: t[0]] + t[1] + data[t[0] :]
        ),
        st.tuples(at, st.integers(1, 40)).map(lambda t: data[: t[0]] + data[t[0] + t[1] :]),
        lines(lambda ls, i: ls[: i + 1] + ls[i:]),
        lines(lambda ls, i: ls[:i] + ls[i + 1 :]),
        lines(lambda ls, i: ls[:i] + ls[i + 1 : i + 2] + ls[i : i + 1] + ls[i + 2 :]),
        deep.map(lambda t: data[: t[0]] + (t[2] * t[1]).encode() + data[t[0] :]),
        _balanced_nesting(data),
    )


_IDENTIFIER = re.compile(rb"\b[A-Z][A-Za-z0-9_-]*:[A-Za-z0-9][A-Za-z0-9_.-]*")
_FILTER = re.compile(rb"\b(?:subject|tagged|issuer|kind|level|transfer)\b")


def _balanced_nesting(data: bytes) -> st.SearchStrategy[bytes]:
    """Nesting that still parses: an identifier in `n` parentheses, a filter under `n` nots."""
    places = [(m.start(), m.end(), True) for m in _IDENTIFIER.finditer(data)]
    places += [(m.start(), m.start(), False) for m in _FILTER.finditer(data)]
    if not places:
        return st.just(data)

    def wrap(place: tuple[int, int, bool], n: int) -> bytes:
        start, end, identifier = place
        if identifier:
            return data[:start] + b"(" * n + data[start:end] + b")" * n + data[end:]
        return data[:start] + b"not " * n + data[start:]

    return st.builds(wrap, st.sampled_from(places), st.sampled_from([2, 63, 64, 65, 139, 326]))


@settings(FUZZ, max_examples=_examples(30))
@given(rule_texts())
def test_any_rule_text_gets_a_worded_answer(case: tuple[str, bytes]) -> None:
    name, content = case
    ids = sorted(set(re.findall(r"\b(?:UFV|RRU|BCIT|CAMOSUN|UVIC|ALN):[\w.-]+", str(content))))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rules = work / "rules"
        for other, text in SAMPLE_RULES.items():
            (rules / other).parent.mkdir(parents=True, exist_ok=True)
            (rules / other).write_bytes(content if other == name else text)
        record = work / "record.json"
        achieved = [{"item": i, "grade": "B", "completed_on": "2023-04-28"} for i in ids[:8]]
        record.write_text(json.dumps({"learner": "L1", "achievements": achieved}), "utf-8")
        checked = run(["check", rules])
        assert checked.exit_code in {0, 1}, checked.output[-2000:]
        formatted = run(["fmt", "--check", rules / name])
        assert formatted.exit_code in {0, 1}, formatted.output[-2000:]
        evaluated = run(["evaluate", "--rules", rules, record, "--as-of", AS_OF])
        # the rule set is refused by every command exactly when `check` finds errors
        assert evaluated.exit_code == checked.exit_code, evaluated.output[-2000:]
        charted = run(["graph", "--rules", rules, "--format", "mermaid"])
        assert charted.exit_code == checked.exit_code, charted.output[-2000:]
