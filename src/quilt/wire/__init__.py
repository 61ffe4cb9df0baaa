"""Wire models: the pydantic shapes of the HTTP contract (requests and responses)."""
