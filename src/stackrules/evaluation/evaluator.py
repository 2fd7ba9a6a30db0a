"""The evaluation stage's entry point: a rule set, one learner's record and an as-of date in;
a report out.

Pure: no I/O, no globals, no clock. The steps follow `semantics.md`, each in a module of its
own (`docs/architecture.md` says which decides what):

1. `achievements`: which record rows count (§1: failed, in progress, expired, unknown, repeats);
2. `exceptions`: the learner's registrar exceptions laid over the shared rules (exclusions out,
   grants posted, overlaid credentials);
3. `fixpoint`: equivalencies (§2) and credentials (§3) until a round adds nothing, each decision
   an exact allocation (`problems`, `allocation`);
4. `leasttodo`: what remains for credentials in progress (§4), and which of them the report
   shows (§6): the pursued ones and the K nearest others;
5. `explanations`: allocations turned into the report's results, evidence, transfers and
   reasons, the audit trail (§5).

Inputs are put in a canonical order first, so the report is the same whatever the order of the
record's rows or of the rule files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from stackrules import report
from stackrules.diagnostics import did_you_mean
from stackrules.evaluation import achievements
from stackrules.evaluation.achievements import Ach
from stackrules.evaluation.allocation import SearchTimeout
from stackrules.evaluation.coverage import CredentialCatalog
from stackrules.evaluation.exceptions.audit import annotate
from stackrules.evaluation.exceptions.learner import Overlays, prepare
from stackrules.evaluation.explanations import Explainer, forget
from stackrules.evaluation.fixpoint import Fixpoint, State
from stackrules.evaluation.leasttodo import (
    DEFAULT_IN_PROGRESS,
    LeastToDo,
    Scope,
    least_to_do,
    nearest,
)
from stackrules.evaluation.problems import Problems, searches_within
from stackrules.graph import RuleGraph, Target
from stackrules.matching import SelectorIndex
from stackrules.model import Credential, LeafNode, RuleSet
from stackrules.records import Achievement, LearnerRecord

__all__ = ["DEFAULT_IN_PROGRESS", "EvaluationTimeout", "Evaluator", "Scope"]


class EvaluationTimeout(Exception):
    """An evaluation ran past its time limit (`Evaluator.evaluate(..., time_limit=)`)."""

    def __init__(self, learner: str, seconds: float) -> None:
        super().__init__(f"learner {learner}: evaluation took longer than {seconds:g} s")
        self.learner = learner
        self.seconds = seconds


class Evaluator:
    """Evaluates learner records against one compiled rule set. Reusable and stateless, and
    safe to share between threads: what it remembers across learners changes one dictionary
    operation at a time (two threads may both work the same thing out, and get the same
    answer), and a time limit belongs to the thread whose evaluation set it."""

    def __init__(
        self, rules: RuleSet, graph: RuleGraph | None = None, use_index: bool = True
    ) -> None:
        """`use_index=False` evaluates every rule for every learner (the naive baseline the
        benchmark compares against; results are identical)."""
        self.rules = rules
        self.graph = graph or RuleGraph(rules)
        self.selectors = SelectorIndex(rules)
        self.problems = Problems(rules, self.selectors)
        self.fixpoint = Fixpoint(rules, self.graph, self.problems, use_index)
        self._by_issuer: dict[str, list[str]] | None = None
        # credentials as learners' exceptions leave them (`evaluation.exceptions`)
        self.overlays = Overlays(self)

    def __reduce__(self) -> tuple[Callable[..., Evaluator], tuple[object, ...]]:
        """An evaluator travels (to a worker process, a Dask worker) as its rule set and rule
        graph alone, which never change; what it remembers across learners is made again
        where it lands. Copying that too would read dictionaries that threads sharing the
        evaluator may be changing: a threaded Dask worker handing its copy of a job to
        another worker failed that way ("dictionary changed size during iteration")."""
        return (_rebuilt, (self.rules, self.graph, self.use_index, self.look_up_one_source))

    @property
    def use_index(self) -> bool:
        return self.fixpoint.use_index

    @property
    def look_up_one_source(self) -> bool:
        """Whether a one-line transfer's source is looked up rather than searched for (the
        tests compare the two)."""
        return self.fixpoint.look_up_one_source

    @look_up_one_source.setter
    def look_up_one_source(self, value: bool) -> None:
        self.fixpoint.look_up_one_source = value

    # ------------------------------------------------------------ what other stages ask
    def version(self, ident: str, catalog_date: date) -> Credential | None:
        """The version of credential `ident` in force at `catalog_date` (§3), if any."""
        return self.fixpoint.version(ident, catalog_date)

    def least_to_do(
        self,
        cred: Credential,
        achs: Sequence[Ach],
        as_of: date,
        record_items: frozenset[str] = frozenset(),
    ) -> LeastToDo:
        """The least-to-do search of `cred` (`leasttodo.least_to_do`)."""
        return least_to_do(self.problems, cred, achs, as_of, record_items)

    def eligible(self, leaf: LeafNode, ach: Ach, as_of: date) -> bool:
        return self.problems.eligible(leaf, ach, as_of)

    def matcher(self, leaf: LeafNode) -> Callable[[Ach], bool]:
        return self.problems.matcher(leaf)

    def catalog(self, cred: Credential, as_of: date) -> CredentialCatalog:
        return self.problems.catalog(cred, as_of)

    def counting(self, record: LearnerRecord, as_of: date) -> list[Ach]:
        """The record's achievements that count (§1), in the engine's canonical order: what
        the allocator sees before equivalencies fire and credentials are earned."""
        counting, _ = achievements.counting(self.rules, record, as_of)
        return [ach for _, ach in counting]

    def evaluate(
        self,
        record: LearnerRecord,
        as_of: date,
        *,
        time_limit: float | None = None,
        targets: Sequence[str] = (),
        in_progress: int | None = None,
    ) -> report.Report:
        """The learner's report at `as_of` (`semantics.md` §6 for what it shows).

        `targets` are pursued besides the record's `pursuing` (a what-if audit against a
        programme; identifiers the caller has checked exist). `in_progress` is K, how many of
        the other credentials in progress to show, nearest first (None, the default here:
        every one, as the advisor tools need; the command line and `stackrules.evaluate`
        default to `DEFAULT_IN_PROGRESS`). What is earned never depends on either.

        With `time_limit` (seconds), raises `EvaluationTimeout` if the allocation searches run
        past it: a guard for batch jobs against a record whose search is pathologically
        large. The searches are the only part whose cost can grow exponentially; the rest is
        checked only between them. Called inside `searches_within` (a plan under a time limit),
        the caller's deadline holds too: without `time_limit` the searches stop at it
        (`SearchTimeout`, for the caller), and `time_limit` never extends it."""
        pursued = tuple(dict.fromkeys((*record.pursuing, *targets)))
        own = False
        try:
            with searches_within(time_limit) as own:
                return self._evaluate(record, as_of, Scope(pursued, in_progress))
        except SearchTimeout:
            if not own:
                raise  # the deadline of a caller's search (a plan's), theirs to report
            assert time_limit is not None  # only a deadline stops a search
            raise EvaluationTimeout(record.learner, time_limit) from None

    def _evaluate(self, record: LearnerRecord, as_of: date, scope: Scope) -> report.Report:
        catalog_date = record.catalog_date or as_of
        counting, not_counted = achievements.counting(self.rules, record, as_of)
        state = State(
            achs=[ach for _, ach in counting],
            next_atom=len(counting),
            record_items=frozenset(
                a.item for a in record.achievements if a.status in ("completed", "failed")
            ),
        )
        versions: dict[str, Credential] = {}
        if record.exceptions:
            counting = self._lay_exceptions(record, as_of, catalog_date, counting, state)
            versions.update(state.exceptions.credentials if state.exceptions else {})
        held = sorted({a.item for a in state.achs if a.origin == "held"})
        touched = self.fixpoint.run(state, versions, held, catalog_date, as_of)
        not_counted.extend(state.repeats)
        result = self._report(
            record,
            as_of,
            catalog_date,
            state,
            versions,
            touched,
            not_counted,
            counting,
            held,
            scope,
        )
        if state.exceptions is not None:
            result = annotate(result, state.exceptions)
        return result

    def _lay_exceptions(
        self,
        record: LearnerRecord,
        as_of: date,
        catalog_date: date,
        counting: list[tuple[Achievement, Ach]],
        state: State,
    ) -> list[tuple[Achievement, Ach]]:
        """The learner's exceptions laid over the rules (`evaluation.exceptions`): exclusions
        taken out of what counts, grants added as firings, overlaid credentials."""
        reasons: dict[str, str] = {}
        for a in record.achievements:
            reason = achievements.base_reason(self.rules, a, as_of)
            if reason is not None:
                reasons.setdefault(a.item, reason)
        found = prepare(self, record, as_of, catalog_date, counting, reasons)
        state.exceptions = found
        state.achs = [ach for _, ach in found.counting]
        state.achs.extend(found.grants)
        state.firings.extend(found.firings)
        state.next_atom = found.next_atom
        return found.counting

    def share_template(self, base: Credential, overlay: Credential) -> None:
        """An overlay whose tree is its base's shares the base's search template."""
        self.problems.share_template(base, overlay)

    def forget(self, *objects: object) -> None:
        """Forget what is remembered by these objects' ids (an overlay no longer kept)."""
        self.problems.forget(*objects)
        forget(self.problems, objects)

    def _report(
        self,
        record: LearnerRecord,
        as_of: date,
        catalog_date: date,
        state: State,
        versions: dict[str, Credential],
        touched: set[Target],
        not_counted: list[report.NotCounted],
        counting: list[tuple[Achievement, Ach]],
        held: list[str],
        scope: Scope,
    ) -> report.Report:
        laid = state.exceptions.laid_ids if state.exceptions is not None else None
        explainer = Explainer(self.problems, as_of, state.achs, laid)
        pursued = set(scope.pursued)
        used: set[int] = set()
        earned: list[report.EarnedCredential] = []
        for ident in sorted(state.earned):
            outcome = state.earned[ident]
            entry, ids = explainer.earned(outcome, pursued=ident in pursued)
            earned.append(entry)
            used |= ids
        # §6: every credential in progress is counted; the pursued ones and the K nearest
        # others are shown
        started: dict[str, LeastToDo] = {}
        for kind, key in sorted(touched, key=self.fixpoint.rank.__getitem__):
            ident = str(key)
            if kind != "credential" or ident in state.earned or ident in held:
                continue
            cred = versions.get(ident) or self.version(ident, catalog_date)
            if cred is None:
                continue
            least = state.least.get(ident) or self.least_to_do(
                cred, state.achs, as_of, state.record_items
            )
            if least.started:
                versions[ident] = cred
                started[ident] = least
        shown = set(started) if scope.nearest is None else nearest(started, pursued, scope)
        in_progress: list[report.InProgressCredential] = []
        for ident in sorted(shown | (pursued - set(state.earned) - set(held))):
            cred = versions.get(ident) or self.version(ident, catalog_date)
            if cred is None:
                in_progress.append(explainer.not_offered(self.rules.credentials[ident]))
                continue
            least = started.get(ident) or self.least_to_do(
                cred, state.achs, as_of, state.record_items
            )
            entry_ip, ids = explainer.in_progress(cred, least, pursued=ident in pursued)
            in_progress.append(entry_ip)
            used |= ids
        transfers = explainer.transfers(state.firings)
        rejected = explainer.rejected(
            counting, versions, touched, (*state.least.values(), *started.values())
        )
        if state.exceptions is not None and state.exceptions.grants:
            # the source of a registrar's grant counted (for the grant), whatever rules say
            sources = {id(s) for g in state.exceptions.grants for s in g.sources}
            rejected = [(entry, a) for entry, a in rejected if id(a) not in sources]
        not_counted.extend(entry for entry, _ in rejected)
        if state.exceptions is not None:
            not_counted.extend(state.exceptions.excluded)
        unused = explainer.unused(state.achs, used, {id(a) for _, a in rejected})
        return report.Report(
            learner=record.learner,
            as_of=as_of,
            catalog_date=record.catalog_date,
            earned=earned,
            in_progress=in_progress,
            started=len(started),
            in_progress_limit=scope.nearest,
            transfers=transfers,
            not_counted=sorted(not_counted, key=lambda n: (n.item, n.reason, n.source or "")),
            held=held,
            unused=unused,
            provenance=[report.Provenance(**s.model_dump()) for s in record.sources],
            warnings=self._catalog_warnings(record),
        )

    def _catalog_warnings(self, record: LearnerRecord) -> list[report.CatalogWarning]:
        """Record achievements whose identifier is not in their declared issuer's catalog:
        a warning with a did-you-mean, rather than an achievement that silently lands in
        `unused` (it still counts wherever a selector picks it by its record values)."""
        items = self.rules.items
        found = []
        # (a set comprehension: `set - dict.keys()` walks every key of the catalog)
        for ident in sorted({a.item for a in record.achievements if a.item not in items}):
            issuer = ident.split(":", 1)[0]
            catalog = self._catalogue(issuer)
            if not catalog:
                continue  # an issuer without a catalog here: `unknown`, or not ours to judge
            hint = did_you_mean(ident, catalog)
            message = f"`{ident}` is not in the catalog of issuer `{issuer}`"
            found.append(
                report.CatalogWarning(item=ident, message=message + (f"; {hint}" if hint else ""))
            )
        return found

    def _catalogue(self, issuer: str) -> list[str]:
        """The identifiers an issuer's catalog declares (remembered per issuer)."""
        by_issuer = self._by_issuer
        if by_issuer is None:
            by_issuer = {}
            for ident, item in self.rules.items.items():
                by_issuer.setdefault(item.issuer, []).append(ident)
            self._by_issuer = by_issuer
        return by_issuer.get(issuer, [])


def _rebuilt(
    rules: RuleSet, graph: RuleGraph, use_index: bool, look_up_one_source: bool
) -> Evaluator:
    """An evaluator as `Evaluator.__reduce__` sends it."""
    evaluator = Evaluator(rules, graph, use_index)
    evaluator.look_up_one_source = look_up_one_source
    return evaluator
