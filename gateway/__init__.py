"""Flask edge of Guichet: app factory, aggregator adapters, callbacks, APIs."""
