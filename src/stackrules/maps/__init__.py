"""Advisor maps: where an item counts, the laddering and transfer flowchart, suggested
equivalencies and the credit-loss report.

Each module takes the compiled model (and, where a learner is involved, evaluation reports)
and returns plain values the CLI prints; none of them changes the rules or evaluates
differently from the engine.

- :mod:`.where` — everything an item or credential can count toward, with the path for each;
- :mod:`.flowchart`, :mod:`.layout`, :mod:`.render_dot`, :mod:`.render_mermaid`,
  :mod:`.render_html` — the flowchart, its layered layout and its three renderings;
- :mod:`.suggest` — equivalencies implied by chains across issuers, for review;
- :mod:`.creditloss` — credits earned, granted and applied per source institution.
"""
