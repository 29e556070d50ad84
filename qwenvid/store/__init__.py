"""What the state folder keeps and coordinates, behind one seam (seam.py: ledger, claims, slots, times, key ids, locks).

Uses: requests, media, the catalogue, config and the base modules; never the wire (a sibling)."""
