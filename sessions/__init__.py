"""Redis session store for USSD: lock, load, save, replay, resume."""
