"""Did-you-mean over large name sets, fast enough for tens of thousands of identifiers.

`difflib` compares a word with every candidate, which costs milliseconds per word against a
catalog of ten thousand codes. Above `SMALL` candidates, a bigram index first picks the
`SHORTLIST` candidates sharing the most letter pairs with the word, and `difflib` chooses
among those. Codes are compared without their `ISSUER:` prefix, which every candidate shares.
A rule set with thousands of unknown names has a bigger problem than typos (a missing file):
after `BUDGET` distinct words, a suggester stops suggesting, so that `check` stays fast.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from stackrules.diagnostics import did_you_mean

SMALL = 300
SHORTLIST = 12
BUDGET = 1000


def _bigrams(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


class Suggester:
    """The closest of a fixed set of names to a word, or None when nothing is close."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self._index: dict[str, list[int]] | None = None
        self._memo: dict[str, str | None] = {}

    def closest(self, word: str) -> str | None:
        if word not in self._memo:
            if len(self._memo) >= BUDGET:
                return None
            help_text = did_you_mean(word, self._shortlist(word))
            self._memo[word] = help_text.split("`")[1] if help_text else None
        return self._memo[word]

    def _shortlist(self, word: str) -> list[str]:
        if len(self.names) <= SMALL:
            return self.names
        if self._index is None:
            index: dict[str, list[int]] = defaultdict(list)
            for i, name in enumerate(self.names):
                for gram in _bigrams(name):
                    index[gram].append(i)
            self._index = dict(index)
        shared: Counter[int] = Counter()
        for gram in _bigrams(word):
            shared.update(self._index.get(gram, ()))
        best = shared.most_common(SHORTLIST)  # ties: first counted, a deterministic order
        return [self.names[i] for i, _ in best]


class IdentifierSuggester:
    """Did-you-mean for `ISSUER:CODE` identifiers, among the same issuer's identifiers."""

    def __init__(self, identifiers: Iterable[str]) -> None:
        codes: dict[str, list[str]] = defaultdict(list)
        for ident in identifiers:
            issuer, _, code = ident.partition(":")
            codes[issuer].append(code)
        self._codes = codes
        self._by_issuer: dict[str, Suggester] = {}

    def help(self, ident: str) -> str | None:
        issuer, _, code = ident.partition(":")
        if issuer not in self._by_issuer:
            self._by_issuer[issuer] = Suggester(self._codes.get(issuer, ()))
        close = self._by_issuer[issuer].closest(code)
        return f"did you mean `{issuer}:{close}`?" if close is not None else None
