"""Everything the gateway says or hears by SMS."""
