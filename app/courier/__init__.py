"""The courier partner, PT Pos (../shared/specs/courier-partner-api.md), in one place, one module per operation of
the contract, below the domains that use it (manifests hands over and recalls, delivery applies tracking events):

- `s10.py`: UPU S10 tracking numbers (section 1);
- `manifest.py`: the body of a manifest handover (section 2);
- `client.py`: our HTTP calls to the courier (handover, recall) with bounded retries (section 2);
- `tracking.py`: tracking events: statuses, reason codes, labels, and the webhook body's schema (section 3).

The courier simulator (courier_sim/) plays the other side and keeps its own checks.
"""
