"""`stackrules serve`: the engine over HTTP, a JSON API and a web page for registrars."""
