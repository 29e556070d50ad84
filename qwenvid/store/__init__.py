"""What the state folder keeps and coordinates: the ledger, claims, pacing slots, the start-up turnstile.

Uses: the catalogue and the base modules."""
