"""Synthetic rule sets and learner records for the benchmarks, deterministic by seed.

The catalog imitates a provincial transfer system: 20-50 issuers (colleges `COL07`, universities
`UNI03`) grouped into regions, each with its own courses (1.5-4 credits, levels 100-400,
subjects, tags) and credentials in three tiers that ladder into each other (micro-credential <
certificate < diploma, so chains are at most three deep and never cycle); transfer tables
between issuers (mostly within a region) with direct equivalents, minimum grades, unassigned
credit (`=> UNI03:MATH-1XX credits 3 subject MATH level 100`), clusters, `=> none`, block
transfer of diplomas, per-block and per-line effective windows; and a few `equivalency`
declarations. Every reference is declared, so `stackrules check` reports no error.

    catalog = make_catalog(1000, 1500, seed=1)   # a Catalog: .text, .files, .write(folder)
    folder = catalog.write(tmp)                  # one file per issuer plus transfer tables
    learners = list(make_learners(catalog, 2000, seed=2))
    write_jsonl(learners, tmp / "learners.jsonl")

Learners study at one to three related institutions (a home issuer plus transfer partners),
follow one or two programs at home (so some credentials are earned and others are in
progress), and carry a few in-progress, failed and repeated courses; dates spread over the
eight years before `AS_OF`.

Run it to write a rule set and records: `python benchmarks/synth.py OUT --credentials 1000
--lines 1500 --learners 100`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from stackrules.records import Achievement, LearnerRecord

AS_OF = date(2026, 6, 30)

SUBJECTS = {
    "ACCT": "Accounting",
    "ANTH": "Anthropology",
    "ARTS": "Fine Arts",
    "BIOL": "Biology",
    "BUSN": "Business",
    "CHEM": "Chemistry",
    "CMNS": "Communications",
    "CRIM": "Criminology",
    "CSCI": "Computing Science",
    "ECON": "Economics",
    "EDUC": "Education",
    "ENGL": "English",
    "ENGR": "Engineering",
    "ENVS": "Environmental Studies",
    "FINA": "Finance",
    "GEOG": "Geography",
    "HIST": "History",
    "HLTH": "Health Sciences",
    "KINE": "Kinesiology",
    "MATH": "Mathematics",
    "MRKT": "Marketing",
    "NURS": "Nursing",
    "PHIL": "Philosophy",
    "PHYS": "Physics",
    "POLI": "Political Science",
    "PSYC": "Psychology",
    "SOCI": "Sociology",
    "STAT": "Statistics",
    "TOUR": "Tourism",
    "WELD": "Welding",
}
TAGS = [
    "core",
    "lab",
    "writing",
    "quantitative",
    "online",
    "capstone",
    "indigenous",
    "field",
    "practicum",
    "studio",
    "ethics",
    "data",
    "communication",
    "leadership",
    "sustainability",
]
ROMAN = ["I", "II", "III", "IV"]
TOPICS = ["Foundations of", "Introduction to", "Topics in", "Applied", "Advanced", "Methods in"]
KINDS = ("micro-credential", "certificate", "diploma")  # tiers 0, 1, 2
PREFIX = {"micro-credential": "MC", "certificate": "CERT", "diploma": "DIPL"}
CREDITS = (1.5, 2, 3, 3, 3, 3, 4)
GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "F")
GRADE_WEIGHTS = (5, 12, 12, 14, 14, 11, 9, 8, 5, 3, 4, 3)
TERM_ENDS = ((4, 30), (8, 15), (12, 15))


@dataclass(slots=True)
class Course:
    id: str
    issuer: str
    subject: str
    level: int
    credits: float


@dataclass(slots=True)
class CredentialInfo:
    id: str
    issuer: str
    kind: str
    tier: int
    subject: str
    courses: list[str]  # every course the credential names (learners draw from these)
    ladder: list[str]  # the smaller credentials it requires


@dataclass
class Catalog:
    """A generated rule set: its files' text and what learners need to know about it."""

    seed: int
    issuers: list[str]
    regions: dict[str, int]
    courses: dict[str, list[Course]]  # by issuer
    credentials: dict[str, CredentialInfo]
    by_issuer: dict[str, list[str]]  # credential ids by issuer
    partners: dict[str, list[str]]  # issuers linked by a transfer table, either direction
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The whole rule set as one text (file order does not matter to the language)."""
        return "\n".join(self.files[name] for name in sorted(self.files))

    def write(self, folder: str | Path) -> Path:
        """Write the rule set as a folder of `.stack` files; returns the folder."""
        root = Path(folder)
        for name, text in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root


def _fmt(x: float) -> str:
    return f"{x:g}"


def _title(subject: str, level: int, k: int) -> str:
    topic = TOPICS[(level // 100 + k) % len(TOPICS)]
    return f"{topic} {SUBJECTS[subject]} {ROMAN[k % len(ROMAN)]}"


UNSCOPED_SHARE = 0.1


class _Gen:
    def __init__(
        self,
        n_credentials: int,
        n_lines: int,
        seed: int,
        n_issuers: int | None,
        unscoped: float = UNSCOPED_SHARE,
    ) -> None:
        self.unscoped = unscoped
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_credentials = n_credentials
        self.n_lines = n_lines
        if n_issuers is None:
            n_issuers = min(50, 20 + n_credentials // 333)
            n_issuers = max(3, min(n_issuers, n_credentials // 3 or 1))
        self.n_issuers = n_issuers

    # ---------------------------------------------------------------- issuers and courses
    def issuers(self) -> tuple[list[str], dict[str, int], dict[str, str]]:
        rng = self.rng
        n_col = (self.n_issuers + 1) // 2
        ids = [f"COL{i + 1:02d}" for i in range(n_col)]
        ids += [f"UNI{i + 1:02d}" for i in range(self.n_issuers - n_col)]
        n_regions = max(1, round(self.n_issuers / 6))
        regions = {ident: rng.randrange(n_regions) for ident in ids}
        decls: dict[str, str] = {}
        for ident in ids:
            name = f"{'College' if ident.startswith('COL') else 'University'} {ident[3:]}"
            settings = []
            if rng.random() < 0.3:
                settings.append("passing grade D")
            if rng.random() < 0.2:
                settings.append("repeats latest")
            body = " {\n" + "".join(f"    {s}\n" for s in settings) + "}" if settings else ""
            decls[ident] = f'issuer {ident} "{name}"{body}\n'
        return ids, regions, decls

    def courses(self, issuer: str, n: int) -> tuple[list[Course], list[str]]:
        rng = self.rng
        college = issuer.startswith("COL")
        subjects = rng.sample(sorted(SUBJECTS), min(rng.randint(8, 14), max(4, n // 6)))
        levels = (100, 100, 100, 200, 200) if college else (100, 100, 200, 200, 300, 400)
        seen: dict[tuple[str, int], int] = {}
        out: list[Course] = []
        lines: list[str] = []
        for k in range(n):
            subject = subjects[k % len(subjects)] if k < 2 * len(subjects) else rng.choice(subjects)
            level = levels[k % len(levels)] if k < 2 * len(subjects) else rng.choice(levels)
            idx = seen.get((subject, level), 0) + 1
            seen[(subject, level)] = idx
            code = f"{subject}{level + idx}" if idx < 100 else f"{subject}{level}-{idx}"
            credits = rng.choice(CREDITS)
            course = Course(f"{issuer}:{code}", issuer, subject, level, credits)
            out.append(course)
            tags = rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))
            tag_text = f" tags {', '.join(tags)}" if tags else ""
            lines.append(
                f'course {course.id} "{_title(subject, level, idx)}" credits {_fmt(credits)}'
                f" level {level} subject {subject}{tag_text}\n"
            )
        return out, lines

    # ---------------------------------------------------------------- credentials
    def credential(
        self,
        ident: str,
        kind: str,
        tier: int,
        issuer: str,
        courses: list[Course],
        lower: list[CredentialInfo],
        seq: int,
    ) -> tuple[CredentialInfo, str]:
        rng = self.rng
        by_subject: dict[str, list[Course]] = {}
        for c in courses:
            by_subject.setdefault(c.subject, []).append(c)
        subject = rng.choice(sorted(s for s, cs in by_subject.items() if len(cs) >= 3))
        second = rng.choice(sorted(by_subject))
        pool = by_subject[subject] + (by_subject[second] if second != subject else [])
        rng.shuffle(pool)
        named: list[str] = []
        reqs: list[str] = []
        total = 0.0
        used = 0

        def take(k: int) -> list[Course]:
            nonlocal used
            chunk = pool[used : used + k]
            used += len(chunk)
            return chunk

        n_reqs = rng.randint(2, 3) if tier == 0 else rng.randint(3, 5)
        ladder: list[CredentialInfo] = []
        if tier > 0 and lower and rng.random() < 0.6:
            ladder = rng.sample(lower, min(len(lower), rng.choice((1, 1, 2))))
        kinds = ["core", "electives", "upper", "options", "breadth"]
        if ladder:
            kinds = ["prior", *kinds]
        for name in kinds[:n_reqs]:
            mod = ""
            if name != "prior":
                r = rng.random()
                mod = " min grade C" if r < 0.15 else " within 5 years" if r < 0.2 else ""
            if name == "prior":
                ids = ", ".join(c.id for c in ladder)
                body = ladder[0].id if len(ladder) == 1 else f"all of ({ids})"
                reqs.append(f'    prior "Prior credential": {body}\n')
                continue
            if name == "core":
                chunk = take(rng.randint(2, 4))
                if len(chunk) < 2:
                    continue
                named += [c.id for c in chunk]
                total += sum(c.credits for c in chunk)
                ids = ", ".join(c.id for c in chunk)
                reqs.append(f'    core "Core courses": all of ({ids}){mod}\n')
            elif name == "electives":
                chunk = take(rng.randint(4, 10))
                if len(chunk) < 3:
                    continue
                n = rng.randint(2, min(4, len(chunk) - 1))
                named += [c.id for c in chunk]
                total += 3 * n
                ids = ", ".join(c.id for c in chunk)
                reqs.append(f'    electives "Electives": {n} of ({ids}){mod}\n')
            elif name == "upper":
                upper = [c for c in by_subject[subject] if c.level >= 200]
                need = rng.choice((3, 6, 6, 9))
                if sum(c.credits for c in upper) >= need + 3:
                    sel = f"subject {subject} and level >= 200"
                else:
                    sel = f"subject {subject}"
                if rng.random() >= self.unscoped:
                    sel = f"issuer {issuer} and {sel}"
                named += [c.id for c in (upper or by_subject[subject])[:4]]
                total += need
                reqs.append(f'    upper "Subject credits": {_fmt(need)} credits from {sel}{mod}\n')
            else:
                chunk = take(rng.randint(3, 6))
                if len(chunk) < 2:
                    continue
                need = min(sum(c.credits for c in chunk) - 1, rng.choice((3, 4.5, 6)))
                named += [c.id for c in chunk]
                total += need
                ids = ", ".join(c.id for c in chunk)
                label = "Options" if name == "options" else "Breadth"
                reqs.append(f'    {name} "{label}": {_fmt(need)} credits from ({ids}){mod}\n')
        if not reqs or (ladder and len(reqs) == 1):
            chunk = by_subject[subject][:3]
            named += [c.id for c in chunk]
            reqs.append(f"    core: all of ({', '.join(c.id for c in chunk)})\n")
        credits = math.ceil(total + sum(3 * (cr.tier + 1) for cr in ladder))
        lines = [f"    kind {kind}\n", f"    credits {credits}\n", f"    subject {subject}\n"]
        if tier > 0 and total >= 9:
            if rng.random() < 0.3:
                lines.append(
                    f"    limit at most {_fmt(max(3, total // 2))} credits from transfer\n"
                )
            if rng.random() < 0.25:
                lines.append(
                    f"    limit at least {_fmt(max(3, total // 3))} credits from issuer {issuer}"
                    " and not transfer\n"
                )
        name = f"{KINDS[tier].replace('-', ' ').title()} in {SUBJECTS[subject]} {seq}"
        text_body = "".join(lines + reqs)
        info = CredentialInfo(ident, issuer, kind, tier, subject, named, [c.id for c in ladder])
        if rng.random() < 0.03:
            # two versions with adjacent windows: a revised program
            v1 = f"    effective 2018-09-01 until 2022-08-31\n{text_body}"
            v2 = f"    effective 2022-09-01\n{text_body}"
            text = "".join(f'credential {ident} "{name}" {{\n{v}}}\n' for v in (v1, v2))
        else:
            text = f'credential {ident} "{name}" {{\n{text_body}}}\n'
        return info, text

    # ---------------------------------------------------------------- transfer tables
    def block(
        self,
        a: str,
        b: str,
        n: int,
        courses: dict[str, list[Course]],
        creds: dict[str, list[CredentialInfo]],
    ) -> tuple[str, int]:
        rng = self.rng
        targets: dict[tuple[str, int], list[Course]] = {}
        for c in courses[b]:
            targets.setdefault((c.subject, c.level), []).append(c)
        b_levels = sorted({c.level for c in courses[b]})
        sources = rng.sample(courses[a], min(n, len(courses[a])))
        start = rng.choice(("2016-09-01", "2018-09-01", "2020-01-01", "2021-09-01"))
        window = f"    effective {start}"
        if rng.random() < 0.5:
            window += f" until {rng.choice(('2027-08-31', '2028-08-31', '2030-12-31'))}"
        out = [f'transfer {a} => {b} "{a} to {b} transfer guide" {{\n{window}\n']
        lines = 0
        k = 0
        while k < len(sources) and lines < n:
            src = sources[k]
            k += 1
            r = rng.random()
            same = targets.get((src.subject, src.level))
            if r < 0.05:
                out.append(f"    {src.id} => none\n")
            elif r < 0.12 and k < len(sources) and lines + 1 < n:
                other = sources[k]
                k += 1
                pair = rng.sample(courses[b], 2) if len(courses[b]) >= 2 else courses[b] * 2
                if pair[0].id == pair[1].id:
                    out.append(f"    {src.id} + {other.id} => {pair[0].id}\n")
                else:
                    out.append(f"    {src.id} + {other.id} => {pair[0].id} + {pair[1].id}\n")
            elif r < 0.15 and creds.get(a):
                dipl = rng.choice(creds[a])
                out.append(
                    f"    {dipl.id} => {b}:BLOCK-{a}-{dipl.id.split(':')[1]} credits 30 level 100\n"
                )
                k -= 1  # the course was not used
            elif same and r < 0.72:
                dest = rng.choice(same)
                mod = " min grade C" if rng.random() < 0.2 else ""
                if rng.random() < 0.04:
                    # a revised articulation: two lines, each with its own window
                    alt = rng.choice(same)
                    out.append(
                        f"    {src.id} => {dest.id}{mod} effective 2016-09-01 until 2021-08-31\n"
                    )
                    out.append(f"    {src.id} => {alt.id}{mod} effective 2021-09-01\n")
                    lines += 1
                else:
                    out.append(f"    {src.id} => {dest.id}{mod}\n")
            else:
                level = min((lv for lv in b_levels if lv >= src.level), default=b_levels[-1])
                level = min(level, 200)
                xx = f"{src.subject}-{level // 100}XX"
                mod = " min grade C-" if rng.random() < 0.1 else ""
                out.append(
                    f"    {src.id} => {b}:{xx} credits {_fmt(src.credits)} subject {src.subject}"
                    f" level {level}{mod}\n"
                )
            lines += 1
        out.append("}\n")
        return "".join(out), lines

    def equivalencies(
        self, n: int, courses: dict[str, list[Course]], partners: list[tuple[str, str]]
    ) -> list[str]:
        rng = self.rng
        out = []
        for k in range(n):
            a, b = partners[k % len(partners)]
            eq_id = f"{b}:EQ-{k + 1:04d}"
            if k % 2 == 0 and len(courses[a]) >= 3:
                srcs = rng.sample(courses[a], 3)
                dest = rng.choice(courses[b])
                out.append(
                    f'equivalency {eq_id} "Three {a} courses count as {dest.id}" {{\n'
                    f"    from all of ({', '.join(c.id for c in srcs)})\n"
                    f"    grant {dest.id}\n"
                    "    effective 2019-09-01\n}\n"
                )
            else:
                subject = rng.choice(courses[a]).subject
                out.append(
                    f'equivalency {eq_id} "{a} {subject} credit as a {b} elective" {{\n'
                    f"    from 6 credits from subject {subject} and issuer {a} and level >= 200\n"
                    f"    grant {b}:{subject}-ELECTIVE credits 3 level 200 subject {subject}\n"
                    "}\n"
                )
        return out

    # ---------------------------------------------------------------- the whole catalog
    def catalog(self) -> Catalog:
        rng = self.rng
        ids, regions, issuer_decls = self.issuers()
        per_issuer = [self.n_credentials // len(ids)] * len(ids)
        for i in range(self.n_credentials % len(ids)):
            per_issuer[i] += 1
        files: dict[str, str] = {}
        courses: dict[str, list[Course]] = {}
        credentials: dict[str, CredentialInfo] = {}
        by_issuer: dict[str, list[str]] = {}
        diplomas: dict[str, list[CredentialInfo]] = {}
        n_courses = 0
        for issuer, n_creds in zip(ids, per_issuer, strict=True):
            cs, course_lines = self.courses(issuer, max(24, 2 * n_creds))
            courses[issuer] = cs
            n_courses += len(cs)
            tiers: list[list[CredentialInfo]] = [[], [], []]
            cred_texts: list[str] = []
            counters = dict.fromkeys(KINDS, 0)
            for _ in range(n_creds):
                tier = rng.choices((0, 1, 2), (4, 4, 2))[0]
                kind = KINDS[tier]
                counters[kind] += 1
                ident = f"{issuer}:{PREFIX[kind]}-{counters[kind]:04d}"
                lower = tiers[tier - 1] if tier > 0 else []
                info, text = self.credential(ident, kind, tier, issuer, cs, lower, counters[kind])
                tiers[tier].append(info)
                credentials[ident] = info
                cred_texts.append(text)
            by_issuer[issuer] = [c.id for t in tiers for c in t]
            diplomas[issuer] = tiers[2]
            files[f"{issuer}.stack"] = (
                f"# {issuer}: issuer, courses and credentials (synthetic, seed {self.seed})\n\n"
                + issuer_decls[issuer]
                + "\n"
                + "".join(course_lines)
                + "\n"
                + "\n".join(cred_texts)
            )
        # transfer tables: pairs within a region first, then across regions
        pairs = [(a, b) for a in ids for b in ids if a != b]
        rng.shuffle(pairs)
        pairs.sort(key=lambda p: regions[p[0]] != regions[p[1]])
        blocks: dict[str, list[str]] = {}
        partners: dict[str, set[str]] = {i: set() for i in ids}
        used_pairs: list[tuple[str, str]] = []
        remaining = self.n_lines
        per_block = max(10, min(80, math.ceil(self.n_lines / max(1, len(pairs)) * 1.2)))
        n_blocks = 0
        for a, b in pairs:
            if remaining <= 0:
                break
            n = min(remaining, rng.randint(max(1, per_block // 2), per_block * 3 // 2))
            text, made = self.block(a, b, n, courses, diplomas)
            if made == 0:
                continue
            n_blocks += 1
            remaining -= made
            blocks.setdefault(a, []).append(text)
            partners[a].add(b)
            partners[b].add(a)
            used_pairs.append((a, b))
        for a, texts in blocks.items():
            files[f"transfer/{a}.stack"] = "\n".join(texts)
        n_eq = max(2, self.n_credentials // 100)
        if used_pairs:
            files["equivalencies.stack"] = "\n".join(self.equivalencies(n_eq, courses, used_pairs))
        return Catalog(
            seed=self.seed,
            issuers=ids,
            regions=regions,
            courses=courses,
            credentials=credentials,
            by_issuer=by_issuer,
            partners={i: sorted(p) for i, p in partners.items()},
            files=files,
            stats={
                "issuers": len(ids),
                "courses": n_courses,
                "credentials": len(credentials),
                "transfer_lines": self.n_lines - remaining,
                "transfer_blocks": n_blocks,
                "equivalencies": n_eq if used_pairs else 0,
            },
        )


def make_catalog(
    n_credentials: int,
    n_transfer_lines: int,
    seed: int = 0,
    n_issuers: int | None = None,
    unscoped: float = 0.1,
) -> Catalog:
    """A synthetic rule set of `n_credentials` credentials and `n_transfer_lines` transfer
    lines (a `=> none` and a cluster count as one line each). Same arguments, same text.

    `unscoped` is the share of subject-credit requirements that name no issuer (`6 credits
    from subject MATH and level >= 200`): such a requirement takes that subject's courses from
    every institution, so a learner with one such course is in progress on it wherever it is.
    Real programme rules scope them to the institution (`issuer X and subject MATH …`; transfer
    credit arrives as grants of the institution's own identifiers), hence the low default."""
    return _Gen(n_credentials, n_transfer_lines, seed, n_issuers, unscoped).catalog()


# -------------------------------------------------------------------- learners


def _term_end(day: date) -> date:
    for month, dom in TERM_ENDS:
        end = date(day.year, month, dom)
        if end >= day:
            return end
    return date(day.year + 1, TERM_ENDS[0][0], TERM_ENDS[0][1])


def _program_courses(catalog: Catalog, ident: str, depth: int = 0) -> list[str]:
    info = catalog.credentials[ident]
    out = list(info.courses)
    if depth < 3:
        for lower in info.ladder:
            out += _program_courses(catalog, lower, depth + 1)
    return out


def make_learners(
    catalog: Catalog,
    n: int,
    min_ach: int = 8,
    max_ach: int = 40,
    seed: int = 0,
) -> Iterator[LearnerRecord]:
    """`n` learner records drawn from the catalog, deterministic by seed."""
    rng = random.Random(seed)
    issuers = [i for i in catalog.issuers if catalog.by_issuer.get(i)]
    for k in range(n):
        home = rng.choice(issuers)
        others = [p for p in catalog.partners.get(home, []) if p != home]
        n_other = rng.choice((0, 1, 1, 2)) if others else 0
        schools = [*rng.sample(others, min(n_other, len(others))), home]
        target = rng.randint(min_ach, max_ach)
        # programs at home: one or two credentials, with what they ladder on
        wanted: list[str] = []
        for ident in rng.sample(catalog.by_issuer[home], min(2, len(catalog.by_issuer[home]))):
            courses = _program_courses(catalog, ident)
            keep = rng.uniform(0.6, 1.0)
            wanted += [c for c in courses if rng.random() < keep]
        by_id = {c.id: c for s in schools for c in catalog.courses[s]}
        wanted = [c for c in dict.fromkeys(wanted) if c in by_id]
        picks: list[str] = []
        # the first schools come first in time: a few courses at each partner
        for school in schools[:-1]:
            cs = catalog.courses[school]
            picks += [c.id for c in rng.sample(cs, min(len(cs), rng.randint(2, 8)))]
        picks += wanted[: max(0, target - len(picks))]
        home_courses = catalog.courses[home]
        while len(picks) < target:
            picks.append(rng.choice(home_courses).id)
        picks = list(dict.fromkeys(picks))[:target]
        start = AS_OF - timedelta(days=rng.randint(365, 8 * 365))
        span = (AS_OF - start).days
        achievements: list[Achievement] = []
        for j, item in enumerate(picks):
            day = _term_end(start + timedelta(days=span * j // max(1, len(picks))))
            r = rng.random()
            if r < 0.04 or day > AS_OF:
                achievements.append(Achievement(item=item, status="in-progress"))
                continue
            grade = rng.choices(GRADES, GRADE_WEIGHTS)[0]
            if r < 0.07 and grade != "F":
                # a failed first attempt, repeated the next term
                achievements.append(
                    Achievement(item=item, grade="F", completed_on=day - timedelta(days=120))
                )
            elif r < 0.08:
                achievements.append(Achievement(item=item, status="withdrawn"))
                continue
            credits = by_id[item].credits if rng.random() < 0.3 else None
            achievements.append(
                Achievement(item=item, grade=grade, completed_on=day, credits=credits)
            )
        if rng.random() < 0.02:
            earlier = rng.choice(catalog.by_issuer[home])
            achievements.append(Achievement(item=earlier, completed_on=start))
        catalog_date = _term_end(start) if rng.random() < 0.2 else None
        yield LearnerRecord(
            learner=f"L-{seed}-{k + 1:06d}",
            catalog_date=catalog_date,
            achievements=tuple(achievements),
        )


def _achievement_json(a: Achievement) -> dict[str, object]:
    out: dict[str, object] = {"item": a.item}
    if a.grade is not None:
        out["grade"] = a.grade
    if a.credits is not None:
        out["credits"] = a.credits
    if a.completed_on is not None:
        out["completed_on"] = a.completed_on.isoformat()
    if a.status != "completed":
        out["status"] = a.status
    return out


def record_json(record: LearnerRecord) -> dict[str, object]:
    out: dict[str, object] = {"learner": record.learner}
    if record.catalog_date is not None:
        out["catalog_date"] = record.catalog_date.isoformat()
    out["achievements"] = [_achievement_json(a) for a in record.achievements]
    return out


def write_jsonl(records: Iterable[LearnerRecord], path: str | Path) -> Path:
    """Write records as JSON Lines (the format `stackrules batch` streams)."""
    out = Path(path)
    with out.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record_json(record), separators=(",", ":")) + "\n")
    return out


def write_csv(records: Iterable[LearnerRecord], path: str | Path) -> Path:
    """Write records as CSV, one achievement per row (the learner's catalog date on each)."""
    out = Path(path)
    columns = ["learner", "item", "grade", "credits", "completed_on", "status", "catalog_date"]
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for record in records:
            for a in record.achievements:
                row = _achievement_json(a)
                row["learner"] = record.learner
                if record.catalog_date is not None:
                    row["catalog_date"] = record.catalog_date.isoformat()
                writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write rules/ and learners.jsonl into")
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1500, help="transfer lines")
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", action="store_true", help="also write learners.csv")
    args = parser.parse_args(argv)
    catalog = make_catalog(args.credentials, args.lines, args.seed)
    catalog.write(args.out / "rules")
    learners = list(make_learners(catalog, args.learners, seed=args.seed + 1))
    write_jsonl(learners, args.out / "learners.jsonl")
    if args.csv:
        write_csv(learners, args.out / "learners.csv")
    print(json.dumps(catalog.stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
