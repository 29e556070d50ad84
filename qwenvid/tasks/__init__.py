"""Task verbs: submit (write-ahead), follow (polling), fetch (download), reconcile; `Session` composes them.

Uses: wire, store, requests, media, the catalogue, config and the base modules."""
