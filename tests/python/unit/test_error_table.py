"""The Python error mapping is generated from include/divan/error.h and stays in step with it."""
import os
import types
import re

import pytest

import couchbase._errors as _errors
import couchbase.exceptions as E
from conftest import ROOT

def _load_generator():
    mod = types.ModuleType("gen_python_errors")
    path = os.path.join(ROOT, "scripts", "gen-python-errors")
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    mod.__dict__["__file__"] = path
    exec(code, mod.__dict__)
    return mod


def test_committed_table_is_fresh():
    gen = _load_generator()
    with open(os.path.join(ROOT, "python", "couchbase", "_errors.py"), encoding="utf-8") as f:
        committed = f.read()
    assert gen.generate() == committed, "run scripts/gen-python-errors"


def test_every_header_row_is_in_the_table():
    with open(os.path.join(ROOT, "include", "divan", "error.h"), encoding="utf-8") as f:
        header = f.read()
    names = set(re.findall(r"X\(\s*([A-Z0-9_]+)\s*,\s*\d+\s*,", header))
    assert names == {row[0] for row in _errors.ERROR_ROWS}


def test_parser_rejects_unknown_category():
    gen = _load_generator()
    text = ('#define DV_ERROR_CATEGORIES(X) X(NONE, "none")\n'
            '#define DV_ERRORS(X) X(OK, 0, BOGUS, 0, "", "success")\n')
    with pytest.raises(SystemExit):
        gen.parse(text)


def test_every_named_class_exists_and_is_mapped():
    for name, number, _cat, _retry, pycls, _msg in _errors.ERROR_ROWS:
        if pycls:
            assert E.PYCBC_ERROR_MAP[number].__name__ == pycls, name


@pytest.mark.parametrize("number, cls", [
    (101, E.DocumentNotFoundException),
    (105, E.DocumentExistsException),
    (9, E.CasMismatchException),
    (3, E.InvalidArgumentException),
    (122, E.DeltaInvalidException),
    (10, E.BucketNotFoundException),
    (131, E.DocumentNotLockedException),
    (6, E.AuthenticationException),
    (12, E.UnsupportedOperation),
    (5, E.InternalServerFailureException),
    (7, E.TemporaryFailException),
    (11, E.CollectionNotFoundException),
    (16, E.ScopeNotFoundException),
    (107, E.DurabilityInvalidLevelException),
    (108, E.DurabilityImpossibleException),
    (109, E.DurabilitySyncWriteAmbiguousException),
    (113, E.PathNotFoundException),
    (114, E.PathMismatchException),
    (115, E.PathInvalidException),
    (116, E.PathTooBigException),
    (117, E.PathTooDeepException),
    (119, E.InvalidValueException),
    (120, E.DocumentNotJsonException),
    (121, E.NumberTooBigException),
    (123, E.PathExistsException),
    (118, E.ValueTooDeepException),
    (21, E.RateLimitedException),
    (22, E.QuotaLimitedException),
    (133, E.MutationTokenOutdatedException),
    (102, E.DocumentUnretrievableException),
    (13, E.AmbiguousTimeoutException),
    (14, E.UnAmbiguousTimeoutException),
    (2, E.RequestCanceledException),
    (4, E.ServiceUnavailableException),
    (8, E.ParsingFailedException),
    (15, E.FeatureUnavailableException),
    (17, E.QueryIndexNotFoundException),
    (18, E.QueryIndexAlreadyExistsException),
    (134, E.RangeScanCompletedException),
    (502, E.DesignDocumentNotFoundException),
    (5000, E.InternalSDKException),
    (5001, E.HTTPException),
    (5002, E.UnsuccessfulOperationException),
])
def test_official_status_mapping(number, cls):
    assert E.exception_class_for(number) is cls
    exc = E.build_exception(number)
    assert type(exc) is cls and exc.error_code == number


@pytest.mark.parametrize("number", [104, 111, 124, 126, 127, 128, 130, 132, 99999])
def test_unmapped_numbers_give_plain_couchbase_exception(number):
    assert E.exception_class_for(number) is E.CouchbaseException


def test_locked_retry_reason_turns_timeout_into_document_locked():
    ctx = {"context_type": "KeyValueErrorContext", "key": "k", "bucket_name": "default",
           "retry_reasons": ["key_value_locked"], "retry_attempts": 7}
    exc = E.build_exception(13, ctx)
    assert isinstance(exc, E.DocumentLockedException)
    assert exc.error_code == 13
    assert isinstance(exc.error_context, E.KeyValueErrorContext)
    assert exc.error_context.key == "k" and exc.error_context.retry_attempts == 7


def test_temporary_failure_retry_reason_gives_tempfail():
    ctx = {"key": "k", "retry_reasons": {"key_value_temporary_failure"}}
    assert E.exception_class_for(14, ctx) is E.TemporaryFailException


def test_retry_reasons_only_apply_to_kv_contexts():
    ctx = {"context_type": "HTTPErrorContext", "retry_reasons": ["key_value_locked"]}
    assert E.exception_class_for(13, ctx) is E.AmbiguousTimeoutException
    assert E.exception_class_for(13, {"key": "k", "retry_reasons": ["do_not_retry"]}) \
        is E.AmbiguousTimeoutException


def test_build_exception_message_defaults_to_table():
    exc = E.build_exception(101, {"key": "missing"})
    assert exc.message == "document not found"
    assert "ec=101" in str(exc) and "category=key_value" in str(exc) and "missing" in str(exc)
    assert E.error_name(101) == "DOCUMENT_NOT_FOUND"
    assert E.error_retryable(103) and not E.error_retryable(101)


def test_error_mapper_facade():
    assert isinstance(E.ErrorMapper.build_exception(105), E.DocumentExistsException)
