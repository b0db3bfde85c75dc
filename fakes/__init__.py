"""The outside world, faked on 127.0.0.1: providers' servers for tests, development and rehearsal.

Each module serves one provider's documented API (paths, headers, JSON, status codes, async
callbacks, failure modes) so our real client code runs against it. Production never imports
this package.
"""
