"""`python -m gateway <command>`: worker, run, dial, migrate, seed-demo, hash-key."""

from gateway.cli import main

raise SystemExit(main())
