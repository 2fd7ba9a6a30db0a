"""`stackrules serve`: the engine over HTTP.

- :mod:`.state` — the rule set serving now (`RuleHolder.current()`), its reload;
- :mod:`.service` — a request's work without HTTP, through the command line's own functions
  (`stackrules.learner`), so the API and the commands cannot answer differently;
- :mod:`.api` — the `/v1/` routes; :mod:`.catalog` — what `/v1/credentials` says;
- :mod:`.problems` — RFC 9457 problem details for every error;
- :mod:`.page` — the web page at `/` (server-rendered: templates/, static/, samples/);
- :mod:`.app` — `create_app`, the ASGI application with the API and the page.

Nothing here is imported by `import stackrules`: FastAPI is loaded only to serve.
"""
