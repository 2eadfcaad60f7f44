"""``mnemodb.api.models``: where ``chromadb.api.models`` was."""
