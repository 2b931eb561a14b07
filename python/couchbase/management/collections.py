"""The collection manager (``bucket.collections()``): scopes and collections of a bucket over
the management REST API (management-api.md §3), with the official spec classes and errors."""

from datetime import timedelta
from typing import Any, Dict, List, Optional, Tuple, Type

from couchbase.exceptions import (BucketNotFoundException, CollectionAlreadyExistsException,
                                  CollectionNotFoundException, CouchbaseException,
                                  FeatureUnavailableException, InvalidArgumentException,
                                  QuotaLimitedException, RateLimitedException,
                                  ScopeAlreadyExistsException, ScopeNotFoundException)
from couchbase.management._run import (HttpCall, Logic, ManagerBase, check_name, esc,
                                       front_end_methods, merge, mgmt_error, parse_json,
                                       timeout_ms)
from couchbase.management.options import (CreateCollectionOptions,  # noqa: F401 - official
                                          CreateScopeOptions, DropCollectionOptions,
                                          DropScopeOptions, GetAllScopesOptions,
                                          UpdateCollectionOptions)


class CollectionSpec:
    """A collection: its name, scope, ``max_expiry`` (timedelta: 0 the bucket's, -1 s never)
    and ``history`` (None: the bucket's default)."""

    def __init__(self, collection_name: str, scope_name: str = "_default",
                 max_expiry: Optional[timedelta] = None, max_ttl: Optional[timedelta] = None,
                 history: Optional[bool] = None) -> None:
        self._name = collection_name
        self._scope_name = scope_name
        self._max_expiry = max_expiry if max_expiry is not None else max_ttl
        self._history = history

    @property
    def name(self) -> str:
        return self._name

    @property
    def scope_name(self) -> str:
        return self._scope_name

    @property
    def max_expiry(self) -> Optional[timedelta]:
        return self._max_expiry

    @property
    def max_ttl(self) -> Optional[timedelta]:
        return self._max_expiry

    @property
    def history(self) -> Optional[bool]:
        return self._history

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CollectionSpec) and other.name == self.name
                and other.scope_name == self.scope_name and other.max_expiry == self.max_expiry
                and other.history == self.history)

    def __repr__(self) -> str:
        return "CollectionSpec(%r, %r, max_expiry=%r, history=%r)" % (
            self._name, self._scope_name, self._max_expiry, self._history)


class ScopeSpec:
    def __init__(self, name: str, collections: List[CollectionSpec]) -> None:
        self._name = name
        self._collections = collections

    @property
    def name(self) -> str:
        return self._name

    @property
    def collections(self) -> List[CollectionSpec]:
        return self._collections

    def __repr__(self) -> str:
        return "ScopeSpec(%r, %r)" % (self._name, self._collections)


class CreateCollectionSettings:
    def __init__(self, max_expiry: Optional[timedelta] = None,
                 history: Optional[bool] = None) -> None:
        self.max_expiry = max_expiry
        self.history = history


class UpdateCollectionSettings(CreateCollectionSettings):
    pass


COLLECTION_MGMT_ERROR_MAP: Dict[str, Type[CouchbaseException]] = {
    r".*Scope with.*name.*already exists": ScopeAlreadyExistsException,
    r".*Scope with.*name.*not found": ScopeNotFoundException,
    r".*Collection with.*name.*already exists": CollectionAlreadyExistsException,
    r".*Collection with.*name.*not found": CollectionNotFoundException,
    r".*collection_not_found.*": CollectionNotFoundException,
    r".*scope_not_found.*": ScopeNotFoundException,
    r".*Not allowed on this version of cluster.*": FeatureUnavailableException,
    r".*Limit\(s\) exceeded\s+\[.*\].*": RateLimitedException,
    r".*Maximum number of collections .*has been reached.*": QuotaLimitedException,
}


def _expiry_form(settings: Optional[CreateCollectionSettings]) -> List[Tuple[str, Any]]:
    form: List[Tuple[str, Any]] = []
    if settings is None:
        return form
    if settings.max_expiry is not None:
        if not isinstance(settings.max_expiry, timedelta):
            raise InvalidArgumentException(message="max_expiry must be a timedelta.")
        seconds = int(settings.max_expiry.total_seconds())
        if seconds < -1:
            raise InvalidArgumentException(
                message="max_expiry must be -1 (never), 0 (the bucket's) or positive.")
        form.append(("maxTTL", seconds))
    if settings.history is not None:
        form.append(("history", "true" if settings.history else "false"))
    return form


class CollectionManagerLogic(ManagerBase):
    _METHODS = ("create_scope", "drop_scope", "get_all_scopes", "create_collection",
                "drop_collection", "update_collection")

    def __init__(self, http_request: Any, default_timeout_ms: int, bucket_name: str,
                 **kwargs: Any) -> None:
        super().__init__(http_request, default_timeout_ms, **kwargs)
        self._bucket_name = bucket_name

    def _path(self, *parts: str) -> str:
        out = "/pools/default/buckets/" + esc(self._bucket_name) + "/scopes"
        if parts:
            out += "/" + esc(parts[0])
        if len(parts) > 1:
            out += "/collections"
            if parts[1]:
                out += "/" + esc(parts[1])
        return out

    def _call(self, method: str, path: str, args: Dict[str, Any], form: Any = None,
              result: Any = None) -> HttpCall:
        def parse(status: int, body: bytes) -> Any:
            if status == 200:
                return result(call, status, body) if result else None
            code: Optional[int] = None
            text = body.decode("utf-8", "replace")
            if status == 404:
                code = (16 if "Scope with" in text else 11 if "Collection with" in text
                        else 10)
            elif status == 400 and "already exists" in text:
                code = 602 if "Scope with" in text else 601
            if status == 404 and code == 10:
                raise BucketNotFoundException(message=text.strip() or "bucket not found",
                                              context=call.context(status, body), error_code=10)
            raise mgmt_error(call, status, body, COLLECTION_MGMT_ERROR_MAP, code)
        call = HttpCall(method, path, parse, form=form,
                        timeout_ms=timeout_ms(args, self._timeout_ms), idempotent=method == "GET")
        return call

    def _create_scope(self, scope_name: str, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Create a scope (ScopeAlreadyExistsException if it exists)."""
        name = check_name(scope_name, "scope_name")
        yield self._call("POST", self._path(), merge(options, kwargs), form=[("name", name)])

    def _drop_scope(self, scope_name: str, *options: Any, **kwargs: Any) -> "Logic[None]":
        """Drop a scope and its collections (ScopeNotFoundException if there is none)."""
        name = check_name(scope_name, "scope_name")
        yield self._call("DELETE", self._path(name), merge(options, kwargs))

    def _get_all_scopes(self, *options: Any, **kwargs: Any) -> "Logic[List[ScopeSpec]]":
        """Every scope of the bucket with its collections."""
        def scopes(c: HttpCall, st: int, b: bytes) -> List[ScopeSpec]:
            doc = parse_json(c, st, b)
            out = []
            for s in doc.get("scopes") or []:
                colls = [CollectionSpec(k["name"], s["name"],
                                        timedelta(seconds=int(k.get("maxTTL", 0))),
                                        history=k.get("history"))
                         for k in s.get("collections") or []]
                out.append(ScopeSpec(s["name"], colls))
            return out
        got: List[ScopeSpec] = yield self._call("GET", self._path(), merge(options, kwargs),
                                                result=scopes)
        return got

    def _create_collection(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``create_collection(scope_name, collection_name, settings=None, *options)``, or
        the deprecated ``create_collection(CollectionSpec, *options)``."""
        scope, name, settings, options = self._collection_args(args, kwargs, "settings")
        yield self._call("POST", self._path(scope, ""), merge(options, kwargs),
                         form=[("name", name)] + _expiry_form(settings))

    def _drop_collection(self, *args: Any, **kwargs: Any) -> "Logic[None]":
        """``drop_collection(scope_name, collection_name, *options)``, or the deprecated
        ``drop_collection(CollectionSpec, *options)``."""
        scope, name, _, options = self._collection_args(args, kwargs, None)
        yield self._call("DELETE", self._path(scope, name), merge(options, kwargs))

    def _update_collection(self, scope_name: str, collection_name: str,
                           settings: UpdateCollectionSettings, *options: Any,
                           **kwargs: Any) -> "Logic[None]":
        """Change a collection's max_expiry or history."""
        scope = check_name(scope_name, "scope_name")
        name = check_name(collection_name, "collection_name")
        if not isinstance(settings, CreateCollectionSettings):
            raise InvalidArgumentException(message="settings must be UpdateCollectionSettings.")
        yield self._call("PATCH", self._path(scope, name), merge(options, kwargs),
                         form=_expiry_form(settings))

    @staticmethod
    def _collection_args(args: Tuple[Any, ...], kwargs: Dict[str, Any], settings_key: Any
                         ) -> Tuple[str, str, Optional[CreateCollectionSettings],
                                    Tuple[Any, ...]]:
        """(scope, collection, settings, options) of either calling form."""
        if args and isinstance(args[0], CollectionSpec):
            spec = args[0]
            if "scope_name" in kwargs or "collection_name" in kwargs:
                raise InvalidArgumentException(message="Use a CollectionSpec or names, not both.")
            rest = args[1:]
            settings = (CreateCollectionSettings(max_expiry=spec.max_expiry,
                                                 history=spec.history)
                        if settings_key else None)
            return spec.scope_name, spec.name, settings, rest
        rest_list = list(args)
        scope = rest_list.pop(0) if rest_list else kwargs.pop("scope_name", None)
        name = rest_list.pop(0) if rest_list else kwargs.pop("collection_name", None)
        settings = None
        if settings_key:
            if rest_list and (rest_list[0] is None
                              or isinstance(rest_list[0], CreateCollectionSettings)):
                settings = rest_list.pop(0)
            else:
                settings = kwargs.pop(settings_key, None)
        return (check_name(scope, "scope_name"), check_name(name, "collection_name"), settings,
                tuple(rest_list))


class CollectionManager(CollectionManagerLogic):
    """Blocking: each method waits for its answer."""


front_end_methods(CollectionManager, CollectionManagerLogic._METHODS, "blocking")

__all__ = ["CollectionManager", "CollectionSpec", "ScopeSpec", "CreateCollectionSettings",
           "UpdateCollectionSettings", "COLLECTION_MGMT_ERROR_MAP"]
