"""The query index manager (``cluster.query_indexes()``, ``collection.query_indexes()``): GSI
indexes through the query service's statements, exactly as the official core writes them
(management-api.md §5), with watch_indexes and build_deferred_indexes."""

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Type

from couchbase.exceptions import (AmbiguousTimeoutException, AuthenticationException,
                                  CouchbaseException, InvalidArgumentException,
                                  QueryIndexAlreadyExistsException, QueryIndexNotFoundException,
                                  WatchQueryIndexTimeoutException)
from couchbase.management._run import (HttpCall, Logic, ManagerBase, Sleep, front_end_methods,
                                       merge, mgmt_error, timeout_ms)
from couchbase.management.options import (BuildDeferredQueryIndexOptions,  # noqa: F401
                                          CreatePrimaryQueryIndexOptions,
                                          CreateQueryIndexOptions, DropPrimaryQueryIndexOptions,
                                          DropQueryIndexOptions, GetAllQueryIndexOptions,
                                          WatchQueryIndexOptions)
from couchbase.n1ql import QUERY_PATH


@dataclass
class QueryIndex:
    name: str
    is_primary: bool
    type: str
    state: str
    namespace: Optional[str] = None
    datastore_id: Optional[str] = None
    keyspace: Optional[str] = None
    index_key: List[str] = field(default_factory=list)
    condition: Optional[str] = None
    bucket_name: Optional[str] = None
    scope_name: Optional[str] = None
    collection_name: Optional[str] = None
    partition: Optional[str] = None

    @classmethod
    def from_server(cls, row: Dict[str, Any]) -> "QueryIndex":
        bucket = row.get("bucket_id")
        keyspace = row.get("keyspace_id")
        scope: Optional[str]
        coll: Optional[str]
        if bucket is None:  # a bucket's default collection, the legacy way
            bucket, scope, coll = keyspace, "_default", "_default"
        else:
            scope, coll = row.get("scope_id"), keyspace
        return cls(name=str(row.get("name")), is_primary=bool(row.get("is_primary", False)),
                   type=str(row.get("using", "gsi")), state=str(row.get("state")),
                   index_key=list(row.get("index_key") or []), condition=row.get("condition"),
                   bucket_name=bucket, scope_name=scope, collection_name=coll,
                   partition=row.get("partition"))


QUERY_INDEX_MGMT_ERROR_MAP: Dict[str, Type[CouchbaseException]] = {
    r".*[iI]ndex.*already exists.*": QueryIndexAlreadyExistsException,
    r".*[iI]ndex.*[nN]ot [fF]ound.*": QueryIndexNotFoundException,
}


def _keyspace(bucket: str, scope: Optional[str], coll: Optional[str]) -> str:
    if bool(scope) != bool(coll):
        raise InvalidArgumentException(
            message="scope_name and collection_name must be given together.")
    if scope:
        return "default:`%s`.`%s`.`%s`" % (bucket, scope, coll)
    return "default:`%s`" % bucket


def _condition(scope: Optional[str], coll: Optional[str]) -> str:
    legacy = "(bucket_id IS MISSING AND keyspace_id = $bucket_name)"
    if coll:
        cond = ("((bucket_id = $bucket_name AND scope_id = $scope_name) AND "
                "keyspace_id = $collection_name)")
        return "(%s OR %s)" % (cond, legacy) if coll == "_default" else cond
    if scope:
        return "((bucket_id = $bucket_name AND scope_id = $scope_name) OR %s)" % legacy
    return "(bucket_id = $bucket_name OR %s)" % legacy


def _backtick(key: str) -> str:
    return key if len(key) > 1 and key.startswith("`") and key.endswith("`") else "`%s`" % key


def _first_error(body: bytes) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    errors = [e for e in doc.get("errors") or [] if isinstance(e, dict)]
    return doc, errors[0] if errors else None


class QueryIndexManagerLogic(ManagerBase):
    _METHODS = ("create_index", "create_primary_index", "drop_index", "drop_primary_index",
                "get_all_indexes", "build_deferred_indexes", "watch_indexes")

    def __init__(self, http_request: Any, default_timeout_ms: int,
                 collection: Optional[Tuple[str, str, str]] = None, **kwargs: Any) -> None:
        super().__init__(http_request, default_timeout_ms, **kwargs)
        self._collection = collection  # (bucket, scope, collection) of a collection's manager

    # -- arguments of either manager -------------------------------------------------------

    def _target(self, args: Tuple[Any, ...], n_names: int
                ) -> Tuple[str, List[Any], Tuple[Any, ...]]:
        """(bucket, the n_names positional names after it, options) of either calling form."""
        rest = list(args)
        if self._collection is not None:
            bucket = self._collection[0]
        else:
            if not rest or not isinstance(rest[0], str):
                raise InvalidArgumentException(message="The bucket name must be a str.")
            bucket = rest.pop(0)
        names = rest[:n_names]
        return bucket, names, tuple(rest[n_names:])

    def _scope_coll(self, opts: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
        if self._collection is not None:
            if "scope_name" in opts or "collection_name" in opts:
                raise InvalidArgumentException(
                    message="scope_name and collection_name come from the collection.")
            return self._collection[1], self._collection[2]
        return opts.get("scope_name"), opts.get("collection_name")

    def _query(self, statement: str, opts: Dict[str, Any], parse: Any,
               named: Optional[Dict[str, Any]] = None) -> HttpCall:
        body: Dict[str, Any] = {"statement": statement, "client_context_id": str(uuid.uuid4())}
        body.update(named or {})
        return HttpCall("POST", QUERY_PATH, parse, json_body=body, service="query",
                        timeout_ms=timeout_ms(opts, self._timeout_ms))

    def _ddl(self, statement: str, opts: Dict[str, Any], ignore: Optional[int]) -> HttpCall:
        """A create or drop: success, or the error (ignored when it is the ``ignore`` one:
        18 index exists, 17 index not found)."""
        def parse(status: int, body: bytes) -> None:
            doc, first = _first_error(body)
            if doc is not None and doc.get("status") == "success":
                return None
            code = 5
            if first is not None:
                c, msg = first.get("code"), str(first.get("msg", ""))
                low = msg.lower()
                if c == 4300 or (c == 5000 and "index" in low and "already exist" in low):
                    code = 18
                elif c in (12004, 12016) or (c == 5000 and "index" in low and "not found" in low):
                    code = 17
                elif c == 12003:
                    code = 11 if "missing_collection" in msg else 10
                elif c == 12021:
                    code = 16
                elif c == 13014:
                    code = 6
                elif c == 3000:
                    code = 8
            if code == ignore:
                return None
            raise mgmt_error(call, status, body, QUERY_INDEX_MGMT_ERROR_MAP, code)
        call = self._query(statement, opts, parse)
        return call

    # -- the methods -----------------------------------------------------------------------------

    def _create_index(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``create_index([bucket_name,] index_name, keys, *options)``."""
        bucket, names, options = self._target(args, 2)
        if len(names) < 1 or not isinstance(names[0], str):
            raise InvalidArgumentException(message="The index name must be a str.")
        index_name = names[0]
        keys = names[1] if len(names) > 1 else kwargs.pop("keys", None)
        if keys is None:
            raise ValueError("Secondary indexes need keys.")
        if not isinstance(keys, (list, tuple)):
            raise InvalidArgumentException(message="Index keys must be a list or tuple.")
        if not keys:
            raise ValueError("Secondary indexes need keys.")
        opts = merge(options, kwargs)
        yield self._create(bucket, index_name, list(keys), opts, primary=False)

    def _create_primary_index(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``create_primary_index([bucket_name,] *options)``."""
        bucket, _, options = self._target(args, 0)
        opts = merge(options, kwargs)
        if "condition" in opts:
            raise ValueError("A primary index has no condition.")
        yield self._create(bucket, opts.get("index_name"), None, opts, primary=True)

    def _create(self, bucket: str, name: Optional[str], keys: Optional[List[str]],
                opts: Dict[str, Any], primary: bool) -> HttpCall:
        scope, coll = self._scope_coll(opts)
        ks = _keyspace(bucket, scope, coll)
        with_ = {}
        if opts.get("deferred"):
            with_["defer_build"] = True
        if opts.get("num_replicas") is not None:
            with_["num_replica"] = opts["num_replicas"]
        with_text = "WITH %s" % json.dumps(with_) if with_ else ""
        if primary:
            stmt = "CREATE PRIMARY INDEX %s ON %s USING GSI %s" % (
                "`%s`" % name if name else "", ks, with_text)
        else:
            where = "WHERE %s" % opts["condition"] if opts.get("condition") else ""
            stmt = "CREATE INDEX `%s` ON %s(%s) %s USING GSI %s" % (
                name, ks, ", ".join(_backtick(k) for k in keys or []), where, with_text)
        return self._ddl(stmt, opts, 18 if opts.get("ignore_if_exists") else None)

    def _drop_index(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``drop_index([bucket_name,] index_name, *options)``."""
        bucket, names, options = self._target(args, 1)
        if not names or not isinstance(names[0], str):
            raise InvalidArgumentException(message="The index name must be a str.")
        opts = merge(options, kwargs)
        if "ignore_missing" in opts:
            opts.setdefault("ignore_if_not_exists", opts.pop("ignore_missing"))
        yield self._drop(bucket, names[0], opts)

    def _drop_primary_index(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``drop_primary_index([bucket_name,] *options)``."""
        bucket, _, options = self._target(args, 0)
        opts = merge(options, kwargs)
        yield self._drop(bucket, opts.get("index_name"), opts)

    def _drop(self, bucket: str, name: Optional[str], opts: Dict[str, Any]) -> HttpCall:
        scope, coll = self._scope_coll(opts)
        ks = _keyspace(bucket, scope, coll)
        if not name:
            stmt = "DROP PRIMARY INDEX ON %s USING GSI" % ks
        elif scope:
            stmt = "DROP INDEX `%s` ON %s USING GSI" % (name, ks)
        else:
            stmt = "DROP INDEX `%s`.`%s` USING GSI" % (bucket, name)
        return self._ddl(stmt, opts, 17 if opts.get("ignore_if_not_exists") else None)

    def _list(self, bucket: str, opts: Dict[str, Any], deferred: bool) -> HttpCall:
        scope, coll = self._scope_coll(opts)
        cond = _condition(scope, coll)
        if deferred:
            stmt = ("SELECT RAW name FROM system:indexes WHERE %s AND state = \"deferred\" AND "
                    "`using` = \"gsi\" ORDER BY is_primary DESC, name ASC" % cond)
        else:
            stmt = ("SELECT `idx`.* FROM system:indexes AS idx WHERE %s AND `using` = \"gsi\" "
                    "ORDER BY is_primary DESC, name ASC" % cond)
        named = {"$bucket_name": bucket, "$scope_name": scope or "",
                 "$collection_name": coll or ""}

        def parse(status: int, body: bytes) -> Any:
            if b"insufficient user permissions" in body:
                raise AuthenticationException(message="insufficient user permissions",
                                              context=call.context(status, body), error_code=6)
            if status != 200:
                raise mgmt_error(call, status, body, QUERY_INDEX_MGMT_ERROR_MAP)
            doc, _ = _first_error(body)
            if doc is None or doc.get("status") != "success":
                return []
            rows = doc.get("results") or []
            return list(rows) if deferred else [QueryIndex.from_server(r) for r in rows]
        call = self._query(stmt, opts, parse, named)
        return call

    def _get_all_indexes(self, *args: Any, **kwargs: Any) -> "Logic[List[QueryIndex]]":
        """``get_all_indexes([bucket_name,] *options)``: the GSI indexes of the bucket (or of a
        scope or collection)."""
        bucket, _, options = self._target(args, 0)
        got: List[QueryIndex] = yield self._list(bucket, merge(options, kwargs), False)
        return got

    def _build_deferred_indexes(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``build_deferred_indexes([bucket_name,] *options)``: build every deferred index."""
        bucket, _, options = self._target(args, 0)
        opts = merge(options, kwargs)
        names: List[str] = yield self._list(bucket, opts, True)
        if not names:
            return None
        scope, coll = self._scope_coll(opts)
        stmt = "BUILD INDEX ON %s (%s)" % (_keyspace(bucket, scope, coll),
                                           ",".join("`%s`" % n for n in names))
        yield self._ddl(stmt, opts, None)
        return None

    def _watch_indexes(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``watch_indexes([bucket_name,] index_names, *options)``: until every index is
        online (WatchQueryIndexTimeoutException at the timeout; QueryIndexNotFoundException
        for a name that is not there). ``watch_primary`` watches ``#primary`` too."""
        bucket, names, options = self._target(args, 1)
        if not names or not isinstance(names[0], (list, tuple, set)):
            raise InvalidArgumentException(message="index_names must be a list of str.")
        watched = set(names[0])
        opts = merge(options, kwargs)
        if opts.get("watch_primary"):
            watched.add("#primary")
        deadline = time.monotonic() + timeout_ms(opts, self._timeout_ms) / 1000.0
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise WatchQueryIndexTimeoutException(
                    message="Failed to find all indexes online within the alloted time.")
            indexes: Iterable[QueryIndex] = []
            try:
                step_opts = dict(opts, timeout=left_ms / 1000.0)
                indexes = yield self._list(bucket, step_opts, False)
            except AmbiguousTimeoutException:
                continue
            found = {i.name: i for i in indexes}
            missing = watched - set(found)
            if missing:
                raise QueryIndexNotFoundException(
                    message="Cannot find index(es): %s" % ", ".join(sorted(missing)))
            if all(i.state == "online" for i in found.values()):
                return None
            yield Sleep(0.1)


class QueryIndexManager(QueryIndexManagerLogic):
    """Blocking: each method waits for its answer."""


class CollectionQueryIndexManager(QueryIndexManagerLogic):
    """A collection's indexes (no bucket argument; the scope and collection are its)."""


front_end_methods(QueryIndexManager, QueryIndexManagerLogic._METHODS, "blocking")
front_end_methods(CollectionQueryIndexManager, QueryIndexManagerLogic._METHODS, "blocking")

__all__ = ["QueryIndexManager", "CollectionQueryIndexManager", "QueryIndex",
           "QUERY_INDEX_MGMT_ERROR_MAP"]
