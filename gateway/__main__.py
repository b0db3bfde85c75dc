"""`python -m gateway <command>`: worker, run, dial, migrate, sms, payments... (`--help`)."""

from gateway.cli import main

raise SystemExit(main())
