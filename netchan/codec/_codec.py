"""The value codec: Python values <-> msgpack bytes, with ext types and limits.

msgpack's C extension does the work; our hooks only see what msgpack has no native format
for (``default=`` on the way out, ``ext_hook=``/``list_hook=`` on the way in), so plain
dicts, lists, strings and numbers cost what msgpack costs. The ext type table is in
``_ext.py`` and docs/codec.md.

Containers that msgpack lacks (tuple, set, dataclass...) are written as a msgpack array
headed by an empty "marker" ext, never as msgpack nested inside an ext payload: decoding is
then one pass of msgpack's iterative parser, with no recursion a hostile peer could drive
(each nested ``unpackb`` call would cost ~40 KiB of C stack).
"""

from __future__ import annotations

import dataclasses
import enum
import gc
import operator
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import partial
from itertools import compress
from typing import Any, NoReturn

import msgpack

from . import _registry
from ._errors import CodecError, DecodeError, EncodeError, EncodeLimitError
from ._ext import (
    BIN_HEADERS,
    COMPLEX,
    CONTAINER_HEADER_BYTES,
    DATE,
    DATETIME_NAIVE,
    MARKER_CODES,
    MARKER_PREFIX,
    TIME_NAIVE,
    TIMEDELTA,
    UTC_OFFSET,
    ExtCode,
)
from ._gather import Gathered, splice, substitute
from ._limits import CodecLimits
from ._scatter import Scattered, put_back
from ._shape import ShapeError, check_shape, scan_shape

_ExtType = msgpack.ExtType

# Containers the bytearray search looks into (besides registered dataclasses).
_CONTAINER_TYPES: frozenset[type] = frozenset({list, tuple, set, frozenset, dict})

# Types the codec carries by value; they cannot be declared references.
_VALUE_TYPES: frozenset[type] = frozenset(
    {type(None), bool, int, float, complex, str, bytes, bytearray, memoryview, list, tuple}
    | {dict, set, frozenset, datetime, date, time, timedelta, uuid.UUID, Decimal}
)

_BUILTIN_BASES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set)

# What ``default`` puts at the head of the array standing for a container value.
_TUPLE_MARK = _ExtType(ExtCode.TUPLE, b"")
_SET_MARK = _ExtType(ExtCode.SET, b"")
_FROZENSET_MARK = _ExtType(ExtCode.FROZENSET, b"")
_DATACLASS_MARK = _ExtType(ExtCode.DATACLASS, b"")
_ENUM_MARK = _ExtType(ExtCode.ENUM, b"")
_REF_MARK = _ExtType(ExtCode.REF, b"")


class _Marker:
    """Decoded marker ext: recognised and consumed by the list hook at the head of an array."""

    __slots__ = ("code",)

    def __init__(self, code: int) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"<marker {ExtCode(self.code).name}>"


_MARKERS: dict[int, _Marker] = {int(code): _Marker(code) for code in MARKER_CODES}


class _NeedListHook(Exception):
    """Internal: a marker turned up in bytes decoded without the list hook."""


class _NeedHashGuard(Exception):
    """Internal: many values whose hashes a peer can choose: decode again, checked."""


# Hash flooding: str and bytes hashes are randomized per process, but the hashes of big ints,
# Decimals, complex numbers, UUIDs and of tuples (frozensets, frozen dataclasses) built from
# them, or even from plain ints, can be chosen by a peer so that thousands of dict keys or
# set items share one hash; building the dict then costs quadratic time (seconds for a few
# hundred kilobytes). Values holding markers (tuples...) are decoded with every map and set
# checked: more than _MAX_SAME_HASH keys with one hash value is refused. Values without
# markers are decoded plainly unless they hold more than _HASH_RISKY_TRIGGER scalars of the
# risky kinds, then decoded again, checked.
_HASH_RISKY_CODES = frozenset({ExtCode.BIGINT, ExtCode.DECIMAL, ExtCode.COMPLEX, ExtCode.UUID})
_HASH_RISKY_TRIGGER = 256

# From this size on, the structure check first walks the msgpack headers in Python, giving
# up after _SCAN_BUDGET of them (then the C-speed checks run).
_SCAN_FIRST_SIZE = 32 * 1024
#: msgpack bin 8 / 16 / 32: first byte -> header size (the byte and the length field).
_BIN_HEAD_SIZES = {0xC4: 2, 0xC5: 3, 0xC6: 5}


def _bin_head_size(n: int) -> int:
    """Bytes of msgpack's bin header for ``n`` bytes of data."""
    return 2 if n < 0x100 else 3 if n < 0x10000 else 5


_SCAN_BUDGET = 128
_MAX_SAME_HASH = 16


def _check_hashes(keys: list[Any]) -> None:
    # Sorting compares the hash values (ints) without hashing them again, so a flood
    # cannot hide in this check itself.
    hashes = sorted(map(hash, keys))
    if any(map(operator.eq, hashes, hashes[_MAX_SAME_HASH:])):
        raise DecodeError(
            f"more than {_MAX_SAME_HASH} keys or set items share one hash value (hash flooding)"
        )


class _HookError(Exception):
    """Internal: carries an exception raised by ``encode_ref`` through msgpack unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class _ByteArray:
    """Internal: stands in for a bytearray so msgpack hands it to ``default`` (msgpack packs
    real bytearrays natively as bin, which would arrive as bytes)."""

    __slots__ = ("data",)

    def __init__(self, data: bytearray) -> None:
        self.data = data


def _offset_us(offset: timedelta) -> int:
    return (offset.days * 86400 + offset.seconds) * 1_000_000 + offset.microseconds


def _tz_from_us(us: int) -> timezone:
    # datetime.timezone refuses offsets of 24 h or more (ValueError -> DecodeError).
    return UTC if us == 0 else timezone(timedelta(microseconds=us))


def _bigint_bytes(n: int) -> bytes:
    # Shortest two's complement: enough bits for the magnitude plus the sign bit.
    bits = (~n).bit_length() if n < 0 else n.bit_length()
    return n.to_bytes(bits // 8 + 1, "big", signed=True)


def _describe_type(t: type) -> str:
    return t.__qualname__ if t.__module__ == "builtins" else _registry.default_name(t)


def _has_bytearray(value: object) -> bool:
    """Whether a bytearray is reachable through the containers and registered dataclasses
    of ``value``. Breadth-first with ``gc.get_referents`` so the per-item work is in C
    (referents of a dataclass instance are its ``__dict__`` or slot values and its class;
    classes are not followed). ``value`` is a tree: msgpack just encoded it."""
    if type(value) is bytearray:
        return True
    follow = _CONTAINER_TYPES | _registry.dataclass_types
    level = [value] if type(value) in follow else []
    while level:
        referents = gc.get_referents(*level)
        kinds = set(map(type, referents))
        if bytearray in kinds:
            return True
        if follow.isdisjoint(kinds):
            return False
        level = list(compress(referents, map(follow.__contains__, map(type, referents))))
    return False


def _new_packer(default: Callable[[Any], Any]) -> msgpack.Packer:
    return msgpack.Packer(
        default=default,
        use_bin_type=True,
        strict_types=True,  # tuples and subclasses of built-ins reach ``default``
        autoreset=True,
        datetime=False,
    )


class Codec:
    """Turns values into bytes and back, for one sender or receiver (not thread-safe).

    A Codec reuses one msgpack packer between calls, which makes it cheap (a small dict
    encodes in about a microsecond) and also means one Codec serves one thread; trio
    programs use it from their single thread. See docs/codec.md for the wire format.

    Args:
        limits: size, depth and item limits (defaults: :class:`CodecLimits`).
        ref_types: classes whose instances travel as references (ext ``REF``) instead of by
            value; the channel layer passes channel end classes here.
        encode_ref: turns such an object into a description (any value the codec can
            encode, typically a short list of ids and addresses). Exceptions it raises
            propagate from :meth:`encode` unchanged.
        decode_ref: turns a received description back into an object. Exceptions it raises
            become :class:`DecodeError`. Without it, a value holding a reference fails to
            decode. It may be called for references inside a value that then fails to
            decode as a whole.

    Raises:
        TypeError: bad argument types.
        ValueError: ``ref_types`` given without ``encode_ref``.
    """

    def __init__(
        self,
        *,
        limits: CodecLimits | None = None,
        ref_types: tuple[type, ...] = (),
        encode_ref: Callable[[Any], object] | None = None,
        decode_ref: Callable[[Any], object] | None = None,
    ) -> None:
        if limits is None:
            limits = CodecLimits()
        elif not isinstance(limits, CodecLimits):
            raise TypeError(f"limits must be a CodecLimits, got {type(limits).__name__}")
        ref_types = tuple(ref_types)
        for t in ref_types:
            if not isinstance(t, type):
                raise TypeError(f"ref_types must hold classes, got {t!r}")
        for t in ref_types:
            if t in _VALUE_TYPES:
                raise ValueError(
                    f"ref_types cannot include {t.__qualname__}: its instances are values"
                )
        if ref_types and encode_ref is None:
            raise ValueError("ref_types given without encode_ref: nothing would encode them")
        if encode_ref is not None and not callable(encode_ref):
            raise TypeError("encode_ref must be callable")
        if decode_ref is not None and not callable(decode_ref):
            raise TypeError("decode_ref must be callable")
        self.limits = limits
        self._max_size = limits.max_size
        self._max_depth = limits.max_depth
        self._max_items = limits.max_items
        self._ref_types = ref_types
        self._encode_ref = encode_ref
        self._decode_ref = decode_ref
        self._ref_cache: dict[type, bool] = {}
        self._packer = _new_packer(self._default)
        self._packing = False
        self._converting = False
        self._open_markers = 0
        self._mode = 0  # 0: plain; 1: with markers and hash-checked maps and sets
        self._hash_risky = 0
        items = -1 if limits.max_items is None else limits.max_items
        # max_str/bin/ext lengths default to len(data): a declared length can never make
        # msgpack allocate more than it received. Bytes without markers (the common case)
        # are decoded without Python hooks for lists and maps; with markers, the list hook
        # builds tuples, sets and registered types and the pairs hook checks map keys.
        common: dict[str, Any] = {
            "ext_hook": self._ext_hook,
            "raw": False,
            # msgpack's own timestamp ext (-1) from other producers: an aware UTC datetime.
            "timestamp": 3,
            "strict_map_key": False,
            "use_list": True,
            "max_array_len": items,
            "max_map_len": items,
        }
        self._unpack_plain: Callable[[bytes | memoryview], Any] = partial(msgpack.unpackb, **common)
        self._unpack_marked: Callable[[bytes | memoryview], Any] = partial(
            msgpack.unpackb,
            list_hook=self._list_hook,
            object_pairs_hook=self._pairs_hook,
            **common,
        )
        self._encoders: dict[type, Callable[[Any], Any]] = {
            tuple: self._enc_tuple,
            set: self._enc_set,
            frozenset: self._enc_frozenset,
            bytearray: self._enc_bytearray,
            _ByteArray: self._enc_boxed_bytearray,
            int: self._enc_bigint,
            datetime: self._enc_datetime,
            date: self._enc_date,
            time: self._enc_time,
            timedelta: self._enc_timedelta,
            uuid.UUID: self._enc_uuid,
            Decimal: self._enc_decimal,
            complex: self._enc_complex,
        }
        self._scalar_decoders: dict[int, Callable[[bytes], Any]] = {
            ExtCode.BYTEARRAY: bytearray,
            ExtCode.BIGINT: self._dec_bigint,
            ExtCode.DATETIME: self._dec_datetime,
            ExtCode.DATE: self._dec_date,
            ExtCode.TIME: self._dec_time,
            ExtCode.TIMEDELTA: self._dec_timedelta,
            ExtCode.UUID: self._dec_uuid,
            ExtCode.DECIMAL: self._dec_decimal,
            ExtCode.COMPLEX: self._dec_complex,
        }

    def __repr__(self) -> str:
        return f"Codec(limits={self.limits!r}, ref_types={self._ref_types!r})"

    # ------------------------------------------------------------------ encoding

    def encode(self, value: object) -> bytes:
        """Encode ``value`` to bytes.

        Raises:
            EncodeError: a type the codec does not carry (the message says which and how to
                register it).
            EncodeLimitError: larger than ``max_size``, deeper than ``max_depth``, a
                container with more than ``max_items`` items, or a value containing itself.
            Exception: whatever ``encode_ref`` raised, unchanged.
        """
        if type(value) is bytes:
            # One bytes object (the commonest payload): msgpack's bin header, then the bytes;
            # nothing to check but the size.
            n = len(value)
            head = _bin_head_size(n)
            if n + head > self._max_size:
                raise EncodeLimitError(
                    f"encoded value is {n + head} bytes, over max_size={self._max_size}"
                )
            if head == 2:
                return b"\xc4" + n.to_bytes(1, "big") + value
            if head == 3:
                return b"\xc5" + n.to_bytes(2, "big") + value
            return b"\xc6" + n.to_bytes(4, "big") + value
        data = self._pack(value)
        try:
            self._check_structure(data, encoding=True)
        except ShapeError as exc:
            raise EncodeLimitError(f"cannot encode value: {exc}") from None
        bin8, bin16, bin32 = BIN_HEADERS
        if (bin8 in data or bin16 in data or bin32 in data) and _has_bytearray(value):
            # msgpack packed the bytearray natively as bin (it would arrive as bytes).
            # Encode again with bytearrays boxed so they travel as ext BYTEARRAY; rare, so
            # slow is fine. The shape is unchanged.
            self._converting = True
            try:
                data = self._pack(self._convert(value))
            finally:
                self._converting = False
        if len(data) > self._max_size:
            raise EncodeLimitError(
                f"encoded value is {len(data)} bytes, over max_size={self._max_size}"
            )
        return data

    def encode_gathered(self, value: object) -> bytes | Gathered:
        """Encode ``value`` like :meth:`encode`, big ``bytes`` fields by reference.

        A value whose plain structure (``dict`` values, ``list`` items) holds ``bytes`` of
        1 MiB or more comes back as a :class:`Gathered`: the encoding of the rest, with those
        bytes objects in their places, not copied (``b"".join(result.parts)`` equals what
        :meth:`encode` returns). Other values come back as bytes. The same errors as
        :meth:`encode`.
        """
        found: list[tuple[bytes, bytes]] = []
        skeleton_value = substitute(value, found)
        if not found:
            return self.encode(value)
        skeleton = self.encode(skeleton_value)
        gathered = splice(skeleton, found)
        if gathered is None:
            raise EncodeError("a value's bytes contain the codec's random placeholder; retry")
        if len(gathered) > self._max_size:
            raise EncodeLimitError(
                f"encoded value is {len(gathered)} bytes, over max_size={self._max_size}"
            )
        return gathered

    def _check_structure(self, data: bytes | memoryview, *, encoding: bool) -> bool | None:
        """Enforce ``max_depth`` (and, when encoding, ``max_items``; the decoder's msgpack
        call enforces it when decoding) on encoded bytes, choosing the cheapest proof.

        Returns:
            For a big value proved by walking its headers: whether it holds markers (channel
            references, tuples, sets...); otherwise None (not known).

        Raises:
            ShapeError: a limit is exceeded.
        """
        n = len(data)
        check_items = encoding and self._max_items is not None and n > self._max_items
        items = self._max_items if check_items else None
        if n >= _SCAN_FIRST_SIZE:
            # Big values are mostly big strings or blobs: walking their few headers is
            # cheaper than any pass over all their bytes.
            markers: list[int] = []
            try:
                if scan_shape(data, self._max_depth, items, budget=_SCAN_BUDGET, markers=markers):
                    return bool(markers)
            except ValueError:
                return None  # malformed: the decoder says so
        elif not check_items and (
            # Every nesting level needs a container header byte (or more): few of those
            # bytes, counted in one C-speed pass, prove the depth is fine.
            n <= self._max_depth
            or n - len(bytes(data).translate(None, CONTAINER_HEADER_BYTES)) <= self._max_depth
        ):
            return None
        check_shape(data, self._max_depth, items)
        return None

    def _pack(self, value: object) -> bytes:
        # msgpack.Packer is not re-entrant: an encode_ref hook that encodes something
        # itself gets a packer of its own.
        packer = _new_packer(self._default) if self._packing else self._packer
        self._packing, was_packing = True, self._packing
        try:
            return packer.pack(value)
        except CodecError:
            raise
        except _HookError as exc:
            raise exc.error from None
        except RecursionError as exc:
            raise EncodeLimitError("value is nested too deeply to encode") from exc
        except ValueError as exc:
            if "recursion limit" in str(exc):
                raise EncodeLimitError(
                    f"value is nested deeper than max_depth={self._max_depth} (or contains itself)"
                ) from exc
            raise EncodeError(f"cannot encode value: {exc}") from exc
        except (TypeError, OverflowError) as exc:
            raise EncodeError(f"cannot encode value: {exc}") from exc
        finally:
            self._packing = was_packing

    def _default(self, obj: object) -> Any:
        t = type(obj)
        enc = self._encoders.get(t)
        if enc is not None:
            return enc(obj)
        is_ref = self._ref_cache.get(t)
        if is_ref is None:
            is_ref = self._ref_cache[t] = bool(self._ref_types) and issubclass(t, self._ref_types)
        if is_ref:
            return self._enc_ref(obj)
        entry = _registry.by_class.get(t)
        if entry is not None:
            return self._enc_registered(obj, entry)
        raise self._unsupported(obj)

    def _unsupported(self, obj: object) -> EncodeError:
        t = type(obj)
        name = _describe_type(t)
        if dataclasses.is_dataclass(t):
            return EncodeError(
                f"cannot encode {name}: dataclass not registered; decorate it with "
                "@netchan.codec.register (on the sending and the receiving side)"
            )
        if isinstance(obj, enum.Enum):
            return EncodeError(
                f"cannot encode {name}: Enum not registered; decorate it with "
                "@netchan.codec.register (on the sending and the receiving side)"
            )
        for base in _BUILTIN_BASES:
            if isinstance(obj, base):
                return EncodeError(
                    f"cannot encode {name}: subclasses of {base.__name__} do not travel as "
                    f"themselves; convert it to a plain {base.__name__} or use a registered "
                    "dataclass"
                )
        return EncodeError(
            f"cannot encode object of type {name}: supported are None, bool, int, float, "
            "complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, datetime, "
            "date, time, timedelta, UUID, Decimal, channel ends, and dataclasses and Enums "
            "registered with netchan.codec.register"
        )

    def _convert(self, obj: Any) -> Any:
        # Copy of the containers on the path to bytearrays, with those boxed. Sets and dict
        # keys cannot hold bytearrays (unhashable); dataclass fields are converted when the
        # dataclass is encoded. The depth is known to be within max_depth.
        t = type(obj)
        if t is bytearray:
            return _ByteArray(obj)
        if t is list:
            return [self._convert(x) for x in obj]
        if t is tuple:
            return tuple([self._convert(x) for x in obj])
        if t is dict:
            return {k: self._convert(v) for k, v in obj.items()}
        return obj

    def _enc_tuple(self, obj: tuple[Any, ...]) -> list[Any]:
        return [_TUPLE_MARK, *obj]

    def _enc_set(self, obj: set[Any]) -> list[Any]:
        return [_SET_MARK, *obj]

    def _enc_frozenset(self, obj: frozenset[Any]) -> list[Any]:
        return [_FROZENSET_MARK, *obj]

    def _enc_bytearray(self, obj: bytearray) -> msgpack.ExtType:
        return _ExtType(ExtCode.BYTEARRAY, bytes(obj))

    def _enc_boxed_bytearray(self, obj: _ByteArray) -> msgpack.ExtType:
        return _ExtType(ExtCode.BYTEARRAY, bytes(obj.data))

    def _enc_bigint(self, obj: int) -> msgpack.ExtType:
        # msgpack calls ``default`` for ints outside int64/uint64 only.
        return _ExtType(ExtCode.BIGINT, _bigint_bytes(obj))

    def _enc_datetime(self, obj: datetime) -> msgpack.ExtType:
        head = DATETIME_NAIVE.pack(
            obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.fold,
            obj.microsecond,
        )  # fmt: skip
        offset = obj.utcoffset()
        if offset is None:
            return _ExtType(ExtCode.DATETIME, head)
        return _ExtType(ExtCode.DATETIME, head + UTC_OFFSET.pack(_offset_us(offset)))

    def _enc_date(self, obj: date) -> msgpack.ExtType:
        return _ExtType(ExtCode.DATE, DATE.pack(obj.year, obj.month, obj.day))

    def _enc_time(self, obj: time) -> msgpack.ExtType:
        head = TIME_NAIVE.pack(obj.hour, obj.minute, obj.second, obj.fold, obj.microsecond)
        offset = obj.utcoffset()
        if offset is None:
            return _ExtType(ExtCode.TIME, head)
        return _ExtType(ExtCode.TIME, head + UTC_OFFSET.pack(_offset_us(offset)))

    def _enc_timedelta(self, obj: timedelta) -> msgpack.ExtType:
        return _ExtType(ExtCode.TIMEDELTA, TIMEDELTA.pack(obj.days, obj.seconds, obj.microseconds))

    def _enc_uuid(self, obj: uuid.UUID) -> msgpack.ExtType:
        return _ExtType(ExtCode.UUID, obj.bytes)

    def _enc_decimal(self, obj: Decimal) -> msgpack.ExtType:
        return _ExtType(ExtCode.DECIMAL, str(obj).encode("ascii"))

    def _enc_complex(self, obj: complex) -> msgpack.ExtType:
        return _ExtType(ExtCode.COMPLEX, COMPLEX.pack(obj.real, obj.imag))

    def _enc_registered(self, obj: Any, entry: _registry.Registered) -> list[Any]:
        if entry.kind == "dataclass":
            if self._converting:
                fields = {name: self._convert(getattr(obj, name)) for name in entry.fields}
            else:
                fields = {name: getattr(obj, name) for name in entry.fields}
            return [_DATACLASS_MARK, entry.name, fields]
        if entry.kind == "flag":
            return [_ENUM_MARK, entry.name, int(obj.value)]
        return [_ENUM_MARK, entry.name, obj.name]

    def _enc_ref(self, obj: object) -> list[Any]:
        encode_ref = self._encode_ref
        if encode_ref is None:  # __init__ refuses ref_types without encode_ref
            raise EncodeError(f"no encode_ref to encode {_describe_type(type(obj))}")
        try:
            description = encode_ref(obj)
        except Exception as exc:
            raise _HookError(exc) from exc
        return [_REF_MARK, description]

    # ------------------------------------------------------------------ decoding

    def decode(
        self,
        data: bytes | bytearray | memoryview | Scattered,
        *,
        decode_ref: Callable[[Any], object] | None = None,
    ) -> Any:
        """Decode one value from ``data`` (which must hold exactly one value).

        ``decode_ref``, when given, replaces the codec's hook for this call: the caller can
        pass what the hook needs to know about this value (where it came from) explicitly.

        Bytes from a peer can be anything: every failure, whatever msgpack or a registered
        class raised, comes out as :class:`DecodeError` (cause attached).

        Raises:
            DecodeError: malformed or truncated msgpack, trailing bytes, unknown ext code or
                registered name, a limit exceeded, a registered class refusing its fields,
                or ``decode_ref`` failing.
            TypeError: ``data`` is not bytes-like (a programming error, not bad input).
        """
        if type(data) is Scattered:
            # A big value in pieces: its big fields were cut out (in a worker thread when
            # the caller ran ``prepare`` there); decode the rest, put them back.
            if len(data) > self._max_size:
                raise DecodeError(f"value is {len(data)} bytes, over max_size={self._max_size}")
            skeleton, fields = data.parts()
            value = self.decode(skeleton, decode_ref=decode_ref)
            return put_back(value, fields) if fields else value
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f"decode() takes bytes, got {type(data).__name__}")
            if len(data) < _SCAN_FIRST_SIZE or (
                isinstance(data, memoryview) and (data.ndim != 1 or data.itemsize != 1)
            ):
                data = bytes(data)
            else:
                # A big value is decoded from its buffer as it is: copying megabytes first
                # would hold the caller (a node's receive loop) for as long again.
                data = memoryview(data)
        n = len(data)
        if n > self._max_size:
            raise DecodeError(f"value is {n} bytes, over max_size={self._max_size}")
        if n and data[0] in _BIN_HEAD_SIZES:
            # A value that is one bytes object (the commonest payload): its header says how
            # long it is; no structure to check, no msgpack call.
            head = _BIN_HEAD_SIZES[data[0]]
            if n >= head and int.from_bytes(data[1:head], "big") == n - head:
                return bytes(data[head:])
        saved = self._mode, self._open_markers, self._hash_risky  # decode_ref may decode
        saved_hook = self._decode_ref
        if decode_ref is not None:
            self._decode_ref = decode_ref
        try:
            # Before building anything: a depth bomb costs one C pass, no objects.
            scanned = self._check_structure(data, encoding=False)
            try:
                # Small values: one C search tells whether markers are there. Big ones
                # (mostly blobs) were walked header by header, which saw any marker; when
                # the walk gave up (many small items), start without hooks and restart at
                # the first marker.
                if scanned is None:
                    marked = n < _SCAN_FIRST_SIZE and MARKER_PREFIX in data
                else:
                    marked = scanned
                value = self._unpack(data, 1 if marked else 0)
            except (_NeedListHook, _NeedHashGuard):
                # A marker in a non-canonical ext header (ext 16/32), or many risky keys.
                value = self._unpack(data, 1)
        except DecodeError:
            raise
        except ShapeError as exc:
            raise DecodeError(f"undecodable value: {exc}") from None
        except Exception as exc:
            raise DecodeError(f"undecodable value: {type(exc).__name__}: {exc}") from exc
        finally:
            self._mode, self._open_markers, self._hash_risky = saved
            self._decode_ref = saved_hook
        return value

    def _unpack(self, data: bytes | memoryview, mode: int) -> Any:
        self._mode = mode
        self._open_markers = 0
        self._hash_risky = 0
        if mode == 0:
            return self._unpack_plain(data)
        value = self._unpack_marked(data)
        if self._open_markers:
            raise DecodeError("ext marker outside the head of an array")
        return value

    def _pairs_hook(self, pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        if len(pairs) > _MAX_SAME_HASH:
            _check_hashes([pair[0] for pair in pairs])
        return dict(pairs)

    def _ext_hook(self, code: int, payload: bytes) -> Any:
        if code in _HASH_RISKY_CODES and self._mode == 0:
            self._hash_risky += 1
            if self._hash_risky > _HASH_RISKY_TRIGGER:
                raise _NeedHashGuard
        marker = _MARKERS.get(code)
        if marker is not None:
            if self._mode == 0:
                raise _NeedListHook
            if payload:
                raise DecodeError(f"marker ext {ExtCode(code).name} with a payload")
            self._open_markers += 1
            return marker
        decoder = self._scalar_decoders.get(code)
        if decoder is None:
            raise DecodeError(f"unknown ext type code {code}")
        return decoder(payload)

    def _list_hook(self, items: list[Any]) -> Any:
        if not items or type(items[0]) is not _Marker:
            return items
        self._open_markers -= 1
        code = items[0].code
        if code == ExtCode.TUPLE:
            return tuple(items[1:])
        if code == ExtCode.SET or code == ExtCode.FROZENSET:
            members = items[1:]
            if len(members) > _MAX_SAME_HASH:
                _check_hashes(members)
            return set(members) if code == ExtCode.SET else frozenset(members)
        if code == ExtCode.DATACLASS:
            return self._dec_dataclass(items)
        if code == ExtCode.ENUM:
            return self._dec_enum(items)
        return self._dec_ref(items)

    @staticmethod
    def _bad(what: str, payload: bytes) -> NoReturn:
        raise DecodeError(f"malformed {what} payload ({len(payload)} bytes)")

    def _dec_bigint(self, payload: bytes) -> int:
        if not payload:
            self._bad("bigint", payload)
        return int.from_bytes(payload, "big", signed=True)

    def _dec_datetime(self, payload: bytes) -> datetime:
        n = len(payload)
        if n != DATETIME_NAIVE.size and n != DATETIME_NAIVE.size + UTC_OFFSET.size:
            self._bad("datetime", payload)
        y, mo, d, h, mi, s, fold, us = DATETIME_NAIVE.unpack_from(payload)
        tz = None
        if n > DATETIME_NAIVE.size:
            tz = _tz_from_us(UTC_OFFSET.unpack_from(payload, DATETIME_NAIVE.size)[0])
        return datetime(y, mo, d, h, mi, s, us, tzinfo=tz, fold=fold)

    def _dec_date(self, payload: bytes) -> date:
        if len(payload) != DATE.size:
            self._bad("date", payload)
        return date(*DATE.unpack(payload))

    def _dec_time(self, payload: bytes) -> time:
        n = len(payload)
        if n != TIME_NAIVE.size and n != TIME_NAIVE.size + UTC_OFFSET.size:
            self._bad("time", payload)
        h, mi, s, fold, us = TIME_NAIVE.unpack_from(payload)
        tz = None
        if n > TIME_NAIVE.size:
            tz = _tz_from_us(UTC_OFFSET.unpack_from(payload, TIME_NAIVE.size)[0])
        return time(h, mi, s, us, tzinfo=tz, fold=fold)

    def _dec_timedelta(self, payload: bytes) -> timedelta:
        if len(payload) != TIMEDELTA.size:
            self._bad("timedelta", payload)
        days, seconds, us = TIMEDELTA.unpack(payload)
        return timedelta(days=days, seconds=seconds, microseconds=us)

    def _dec_uuid(self, payload: bytes) -> uuid.UUID:
        if len(payload) != 16:
            self._bad("UUID", payload)
        return uuid.UUID(bytes=payload)

    def _dec_decimal(self, payload: bytes) -> Decimal:
        return Decimal(payload.decode("ascii"))

    def _dec_complex(self, payload: bytes) -> complex:
        if len(payload) != COMPLEX.size:
            self._bad("complex", payload)
        real, imag = COMPLEX.unpack(payload)
        return complex(real, imag)

    @staticmethod
    def _registered(items: list[Any], what: str) -> _registry.Registered:
        if len(items) != 3 or type(items[1]) is not str:
            raise DecodeError(f"malformed {what}: expected [marker, name, body]")
        entry = _registry.by_name.get(items[1])
        if entry is None:
            raise DecodeError(
                f"unknown registered type {items[1]!r}: the receiving side must register the "
                "same class under the same name (netchan.codec.register)"
            )
        return entry

    def _dec_dataclass(self, items: list[Any]) -> Any:
        entry = self._registered(items, "dataclass")
        fields = items[2]
        if entry.kind != "dataclass":
            raise DecodeError(f"{entry.name!r} is registered as an Enum, not a dataclass")
        if type(fields) is not dict:
            raise DecodeError(f"{entry.name}: fields are not a map")
        if not entry.field_set.issuperset(fields):
            unknown = sorted(repr(k) for k in fields if k not in entry.field_set)
            raise DecodeError(f"{entry.name}: unknown fields {', '.join(unknown)}")
        try:
            return entry.cls(**fields)
        except Exception as exc:
            raise DecodeError(
                f"{entry.name}: {entry.cls.__qualname__}(...) refused the received fields: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _dec_enum(self, items: list[Any]) -> Any:
        entry = self._registered(items, "enum")
        member = items[2]
        cls: Any = entry.cls
        if entry.kind == "enum" and type(member) is str:
            try:
                return cls[member]
            except KeyError:
                raise DecodeError(f"{entry.name} has no member {member!r}") from None
        if entry.kind == "flag" and type(member) is int:
            try:
                return cls(member)
            except ValueError as exc:
                raise DecodeError(f"{entry.name}: invalid flag value {member}") from exc
        raise DecodeError(f"{entry.name!r}: bad member {member!r} for a {entry.kind}")

    def _dec_ref(self, items: list[Any]) -> object:
        if len(items) != 2:
            raise DecodeError("malformed channel reference: expected [marker, description]")
        if self._decode_ref is None:
            raise DecodeError("value holds a channel reference but this codec has no decode_ref")
        try:
            return self._decode_ref(items[1])
        except Exception as exc:
            raise DecodeError(f"bad channel reference: {type(exc).__name__}: {exc}") from exc
