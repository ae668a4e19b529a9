"""Step 1 of the flow: print-run intake (the reader, the import, its tables, pages and commands)."""

from address.native import prefer_fresh_sources

prefer_fresh_sources(__name__, __path__[0], ("reader",))
