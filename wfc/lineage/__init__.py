"""The lineage database: schema, migrations, the write side (record) and the read side (query)."""
