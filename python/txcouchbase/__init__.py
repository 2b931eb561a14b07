"""divan's ``txcouchbase``: the Twisted API of the Couchbase Python SDK.

Operations return Deferreds and run in libdivan's engine on the reactor's own thread, whichever
reactor is installed: unlike the official SDK, importing this package installs no reactor (the
asyncio reactor is not needed, though it works too).
"""
