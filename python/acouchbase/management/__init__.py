"""The asyncio managers: the methods of couchbase.management's, as coroutines."""
