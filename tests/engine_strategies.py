"""Hypothesis strategies for small, checked rule sets and learner records (engine tests).

A :class:`Scenario` is a tiny rule set, as a list of declarations (text), with a learner
record and an as-of date. The pools are deliberately small (a handful of items, three
subjects and tags, five dates near the as-of date) so that rules and records collide often:
duplicates, repeats, shared sources, modifiers that sometimes hold and sometimes not.

`scenarios(monotone=True)` leaves out every construct under which adding an achievement may
legitimately lose a credential (limits, date modifiers and `min grade`, equivalencies, which
pick their sources by grade and date, `repeats latest`, credential `valid for`, record values
overriding the catalog's: a better attempt may replace one that carried them).
"""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from stackrules.ast import RuleSetSyntax
from stackrules.check import check
from stackrules.diagnostics import has_errors
from stackrules.model import RuleSet, build
from stackrules.records import Achievement, LearnerRecord
from stackrules.syntax import parse_text

ISSUERS = ("A", "B", "C")
SUBJECTS = ("M", "E")
TAGS = ("t1", "t2")
KINDS = ("course", "module", "badge")
AS_OF = date(2024, 6, 1)
DATES = (None, date(2018, 5, 1), date(2021, 1, 15), date(2022, 9, 1), date(2024, 3, 1))
GRADES = (None, "A", "B", "B", "C", "D", "F", "P")
LEVEL_NAMES = ("developing", "proficient")


class Scenario:
    """Rule declarations (one per entry, in source order), a record and an as-of date."""

    def __init__(self, decls: tuple[str, ...], record: LearnerRecord, as_of: date = AS_OF):
        self.decls = decls
        self.record = record
        self.as_of = as_of

    @property
    def text(self) -> str:
        return "\n".join(self.decls) + "\n"

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        rows = ",\n    ".join(
            repr(a.model_dump(exclude_defaults=True)) for a in self.record.achievements
        )
        return f"\n--- rules ---\n{self.text}--- record (as of {self.as_of}) ---\n    {rows}\n"


def compile_text(text: str, path: str = "x.stack") -> RuleSet:
    f, diags = parse_text(text, path)
    syntax = RuleSetSyntax((f,))
    diags = diags + check(syntax)
    if has_errors(diags):
        raise AssertionError(
            "generated rules do not check:\n" + "\n".join(map(str, diags)) + "\n" + text
        )
    return build(syntax)


def compile_files(texts: list[tuple[str, str]]) -> RuleSet:
    files = []
    diags = []
    for path, text in texts:
        f, d = parse_text(text, path)
        files.append(f)
        diags += d
    syntax = RuleSetSyntax(tuple(files))
    diags += check(syntax)
    if has_errors(diags):
        raise AssertionError("\n".join(map(str, diags)))
    return build(syntax)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@st.composite
def extra_achievements(draw: st.DrawFn, scenario: Scenario) -> Achievement:
    """One more achievement for the record: an item the rules declare, or a repeat."""
    idents = sorted({d.split()[1] for d in scenario.decls if d.split()[0] in KINDS})
    idents += [a.item for a in scenario.record.achievements]
    row: dict[str, object] = {"item": draw(st.sampled_from(idents))}
    grade = draw(st.sampled_from(GRADES))
    if grade is not None:
        row["grade"] = grade
    day = draw(st.sampled_from(DATES))
    if day is not None:
        row["completed_on"] = day
    return Achievement(**row)  # type: ignore[arg-type]


@st.composite
def scenarios(draw: st.DrawFn, monotone: bool = False) -> Scenario:
    issuers = ISSUERS[: draw(st.integers(1, 3))]
    decls: list[str] = []
    for code in issuers:
        body = []
        if draw(st.booleans()):
            body.append(f"hours per credit {draw(st.sampled_from((10, 15)))}")
        if draw(st.integers(0, 4)) == 0:
            body.append("passing grade C")
        if not monotone and draw(st.integers(0, 5)) == 0:
            body.append("repeats latest")
        decls.append(f"issuer {code}" + (" { " + " ".join(body) + " }" if body else ""))
    comp_issuer = issuers[0]
    comps = (f"{comp_issuer}:K1", f"{comp_issuer}:K2")
    decls += [f'competency {c} "{c}"' for c in comps]

    # catalog items
    items: list[str] = []
    for k in range(draw(st.integers(2, 6))):
        ident = f"{draw(st.sampled_from(issuers))}:X{k}"
        items.append(ident)
        attrs = []
        credits = draw(st.sampled_from((None, 1, 2, 3, 3)))
        if credits is not None:
            attrs.append(f"credits {credits}")
        hours = draw(st.sampled_from((None, None, 10, 30)))
        if hours is not None:
            attrs.append(f"hours {hours}")
        level = draw(st.sampled_from((None, 100, 200)))
        if level is not None:
            attrs.append(f"level {level}")
        subject = draw(st.sampled_from((None, *SUBJECTS)))
        if subject:
            attrs.append(f"subject {subject}")
        tags = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))
        if tags:
            attrs.append("tags " + ", ".join(tags))
        if draw(st.integers(0, 6)) == 0:
            attrs.append("repeatable")
        if draw(st.integers(0, 9)) == 0:
            attrs.append("valid for 3 years")
        if draw(st.integers(0, 4)) == 0:
            attrs.append(
                f"teaches {draw(st.sampled_from(comps))} at {draw(st.sampled_from(LEVEL_NAMES))}"
            )
        decls.append(f"{draw(st.sampled_from(KINDS))} {ident} " + " ".join(attrs))

    # equivalencies (chains: a later one may take an earlier one's grant as a source)
    granted: list[str] = []
    n_eq = 0 if monotone else draw(st.integers(0, 2))
    for e in range(n_eq):
        sources_pool = items + granted
        dst = draw(st.sampled_from(issuers))

        def grant_text(k: int, dst: str = dst, e: int = e) -> str:
            declared = [i for i in items if i.startswith(dst + ":")]
            if declared and draw(st.integers(0, 3)) == 0:
                ident = draw(st.sampled_from(declared))
            else:
                ident = f"{dst}:G{e}{k}"
            granted.append(ident)
            attrs = []
            c = draw(st.sampled_from((None, 1, 3)))
            if c is not None:
                attrs.append(f"credits {c}")
            if draw(st.booleans()):
                attrs.append(f"subject {draw(st.sampled_from(SUBJECTS))}")
            if draw(st.integers(0, 2)) == 0:
                attrs.append(f"level {draw(st.sampled_from((100, 200)))}")
            return " ".join([ident, *attrs])

        window = ""
        if draw(st.integers(0, 4)) == 0:
            window = " effective 2020-01-01 until 2023-12-31"
        if draw(st.booleans()):
            # a transfer-table line: sources (cluster) => grants (cluster) | none
            src_issuer = draw(st.sampled_from(issuers))
            srcs = draw(
                st.lists(st.sampled_from(sources_pool), min_size=1, max_size=2, unique=True)
            )
            if draw(st.integers(0, 5)) == 0:
                target = "none"
            else:
                n_grants = draw(st.integers(1, 2))
                target = " + ".join(grant_text(k) for k in range(n_grants))
                if draw(st.integers(0, 3)) == 0:
                    target += " min grade B"
                target += window
                window = ""
            decls.append(
                f"transfer {src_issuer} => {dst} {{{window} {' + '.join(srcs)} => {target} }}"
            )
        else:
            src = draw(
                requirements(sources_pool, (), (), depth=1, modifiers=True, competency=False)
            )
            n_grants = draw(st.integers(1, 2))
            grants = " + ".join(grant_text(k) for k in range(n_grants))
            decls.append(f"equivalency {issuers[0]}:EQ{e} {{ from {src} grant {grants}{window} }}")
    granted = list(dict.fromkeys(granted))

    # credentials; a later one may ladder into an earlier one
    credentials: list[str] = []
    for c in range(draw(st.integers(1, 3))):
        ident = f"{issuers[0]}:CR{c}"
        body = [f"kind {draw(st.sampled_from(('certificate', 'badge')))}"]
        cr = draw(st.sampled_from((None, 3, 6)))
        if cr is not None:
            body.append(f"credits {cr}")
        if not monotone and draw(st.integers(0, 9)) == 0:
            body.append("valid for 1 years")
        pool = items + granted
        for r in range(draw(st.integers(1, 3))):
            req = draw(
                requirements(pool, tuple(credentials), comps, depth=2, modifiers=not monotone)
            )
            body.append(f"r{r}: {req}")
        if not monotone:
            for _ in range(draw(st.integers(0, 2))):
                body.append(draw(limits(pool, issuers)))
        credentials.append(ident)
        decls.append(f"credential {ident} {{ " + " ".join(body) + " }")

    # the record
    record_pool = items + granted[:1] + credentials[:1]
    rows = []
    # every item at most once, in a random order, then a few repeats: rules and records
    # collide often, so credentials are often earned or nearly earned
    idents = draw(st.permutations(record_pool))[: draw(st.integers(1, 5))]
    idents += draw(st.lists(st.sampled_from(record_pool), max_size=2))
    for ident in idents:
        if draw(st.integers(0, 19)) == 0:
            ident = "Z:Q1"
        row: dict[str, object] = {"item": ident}
        grade = draw(st.sampled_from(GRADES))
        if grade is not None:
            row["grade"] = grade
        day = draw(st.sampled_from(DATES))
        if day is not None:
            row["completed_on"] = day
        status = draw(st.sampled_from(("completed",) * 8 + ("failed", "in-progress", "withdrawn")))
        row["status"] = status
        if not monotone and draw(st.integers(0, 9)) == 0:
            row["credits"] = draw(st.sampled_from((0.0, 1.0, 4.0)))
        if not monotone and draw(st.integers(0, 9)) == 0:
            row["competencies"] = {draw(st.sampled_from(comps)): draw(st.sampled_from(LEVEL_NAMES))}
        if draw(st.integers(0, 14)) == 0:
            row["expires_on"] = date(2024, 1, 1)
        rows.append(Achievement(**row))  # type: ignore[arg-type]
    record = LearnerRecord(learner="L1", achievements=tuple(rows))
    return Scenario(tuple(decls), record)


def modifier_text(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            (
                " min grade B",
                " min grade C",
                " within 2 years",
                " completed after 2020-01-01",
                " completed before 2023-01-01",
            )
        )
    )


def selector_text(draw: st.DrawFn, issuers: tuple[str, ...], transfer: bool) -> str:
    filters = [
        f"subject {SUBJECTS[0]}",
        f"subject in ({', '.join(SUBJECTS)})",
        f"tagged {TAGS[0]}",
        f"not tagged {TAGS[1]}",
        "level >= 200",
        "level < 200",
        "kind course",
        *(f"issuer {i}" for i in issuers),
    ]
    if transfer:
        filters += ["transfer", "not transfer"]
    chosen = draw(st.lists(st.sampled_from(filters), min_size=1, max_size=2, unique=True))
    return " and ".join(chosen)


@st.composite
def requirements(
    draw: st.DrawFn,
    pool: list[str],
    credentials: tuple[str, ...],
    comps: tuple[str, ...],
    depth: int,
    modifiers: bool,
    competency: bool = True,
) -> str:
    ids = pool + list(credentials)
    issuers = tuple(sorted({i.split(":")[0] for i in pool}))
    shapes = ["id", "id", "amount-list", "amount-sel", "nof-sel"]
    if depth > 0:
        shapes += ["list", "list", "list"]
    if competency and comps:
        shapes.append("competency")
    shape = draw(st.sampled_from(shapes))
    if shape == "id":
        text = draw(st.sampled_from(ids))
    elif shape == "competency":
        text = f"competency {draw(st.sampled_from(comps))} at {draw(st.sampled_from(LEVEL_NAMES))}"
    elif shape == "amount-list":
        members = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
        amount = draw(st.sampled_from((1, 2, 3, 4, 6)))
        unit = "credits" if draw(st.integers(0, 3)) else "hours"
        if unit == "hours":
            amount *= 10
        text = f"{amount} {unit} from ({', '.join(members)})"
    elif shape == "amount-sel":
        amount = draw(st.sampled_from((1, 2, 3, 4, 6)))
        unit = "credits" if draw(st.integers(0, 3)) else "hours"
        if unit == "hours":
            amount *= 10
        text = f"{amount} {unit} from {selector_text(draw, issuers, transfer=True)}"
    elif shape == "nof-sel":
        n = draw(st.integers(1, 2))
        head = "any of" if n == 1 and draw(st.booleans()) else f"{n} of"
        text = f"{head} {selector_text(draw, issuers, transfer=False)}"
    else:
        members = draw(
            st.lists(
                requirements(pool, credentials, comps, depth - 1, modifiers, competency),
                min_size=1,
                max_size=3,
            )
        )
        form = draw(st.sampled_from(("all", "any", "n")))
        head = f"{draw(st.integers(1, len(members)))} of" if form == "n" else f"{form} of"
        text = f"{head} ({', '.join(members)})"
    if modifiers and draw(st.integers(0, 4)) == 0:
        if shape in ("amount-sel", "nof-sel", "list"):
            text = f"({text})"
        text += modifier_text(draw)
    return text


@st.composite
def limits(draw: st.DrawFn, pool: list[str], issuers: tuple[str, ...]) -> str:
    bound = draw(st.sampled_from(("most", "least")))
    unit = draw(st.sampled_from(("credits", "items", "hours")))
    amount = draw(st.sampled_from((0, 1, 2, 3, 4)))
    if unit == "hours":
        amount *= 10
    text = f"limit at {bound} {amount} {unit}"
    group = draw(st.sampled_from(("none", "sel", "list")))
    if group == "sel":
        text += " from " + selector_text(draw, issuers, transfer=True)
    elif group == "list":
        members = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        text += f" from ({', '.join(members)})"
    if draw(st.integers(0, 3)) == 0:
        text += modifier_text(draw)
    return text
