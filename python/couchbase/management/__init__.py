"""Cluster management: buckets, scopes and collections, users and query indexes (the official
``couchbase.management`` modules), over libdivan's HTTP service requests."""
