"""One module per provider, each defining `HARNESS` (tests/payments/contract/harness.py)."""
