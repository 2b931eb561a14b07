"""The Twisted managers: the methods of couchbase.management's, returning Deferreds."""
