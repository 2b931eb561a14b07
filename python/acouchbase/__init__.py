"""divan's ``acouchbase``: the asyncio API of the Couchbase Python SDK.

Operations run in libdivan's engine on the running loop's own thread (``couchbase._core``), and
each returns an ``asyncio.Future``.
"""
