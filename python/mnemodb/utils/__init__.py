"""``mnemodb.utils``: mirrors ``chromadb.utils`` for the embedding functions."""
