"""Step 1 of the flow: print-run intake (the reader, the import, its tables, pages and commands)."""
