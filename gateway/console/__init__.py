"""The town hall console at /console: staff accounts, sessions, agents' pages, audit log."""
