"""Print-run intake, sorting, and courier manifests."""
