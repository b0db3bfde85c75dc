"""The municipal domain: citizens, taxes, document requests, payments and receipts."""
