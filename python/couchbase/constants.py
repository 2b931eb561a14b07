"""Document format flags (the ``flags`` word stored with each document), as the official SDK.

The high byte is the "common flags" format shared by all SDKs; the low bits are the legacy
Python SDK format. Both are set when encoding; decoding prefers the common byte.
"""

FMT_JSON = 0x02000000
FMT_PICKLE = 0x01000001
FMT_BYTES = 0x03000002
FMT_UTF8 = 0x04000004
FMT_COMMON_MASK = 0xFF000000
FMT_LEGACY_MASK = 0x07
