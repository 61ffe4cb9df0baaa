"""The docs pages' examples, run against a real server."""
