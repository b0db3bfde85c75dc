"""Mobile-money orchestration: payment intents, providers, callbacks, reconciliation."""
