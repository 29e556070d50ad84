"""Task verbs: submit (write-ahead, with its guards), follow, fetch, reconcile; `Session` composes them.

Uses: wire, store, requests, media, the catalogue, config and the base modules; no verb imports session.py."""
