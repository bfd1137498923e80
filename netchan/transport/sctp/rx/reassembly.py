"""Reassembly of fragmented messages and in-order delivery per stream (RFC 9260 §6.5, §6.6, §6.9).

How the association uses it:

1. A DATA chunk that :meth:`DataTracker.observe` accepted as new goes to
   :meth:`ReassemblyQueue.add` with its *unwrapped* TSN (``tracker.unwrap(tsn)``, taken
   before ``observe``) and its fields. ``add`` returns False when the chunk made a message
   exceed ``max_message_size``: the association then aborts (or reports an error); the
   partial message has already been discarded.
2. Complete messages appear in :attr:`ReassemblyQueue.delivered` as
   ``(stream, ppid, data, unordered)`` tuples, in the order the application must see them
   (per stream: SSN order for ordered messages; unordered ones as soon as complete). The
   association pops them (``popleft``) and emits ``MessageReceived``. ``data`` is the
   message's bytes, or with ``keep_fragments`` (``Options.deliver_fragments``) the list of
   its fragments' payloads when it came in more than one chunk: a message of 256 KiB is then
   not joined into a new object (a copy, and fresh pages from the allocator) for a consumer
   that keeps it in pieces anyway.
3. :attr:`ReassemblyQueue.held_bytes` is the user data held here (fragments and complete
   messages waiting for an earlier SSN). The association advertises
   ``a_rwnd = receive_window - held_bytes - delivered-but-unread bytes`` (§6.2).

Ordered fragments are grouped by (stream, SSN); unordered fragments are found by their
consecutive TSNs between a B and an E fragment (§6.9: fragments of one message carry
consecutive TSNs). Peer mistakes (fragments that do not fit together, an SSN already
delivered) never raise: the chunks are dropped and counted in :attr:`protocol_errors`.

With ``interleaved=True`` the queue reassembles I-DATA chunks (RFC 8260 §2.2.3): the
``ssn`` argument carries the 32-bit Message Identifier, ``fsn`` the Fragment Sequence
Number, fragments are grouped by (stream, U bit, MID) and ordered by FSN, and TSNs play no
part (the sender may interleave fragments of messages of different streams).
"""

from __future__ import annotations

from collections import deque

from ..tsn import SSN_MASK, TSN_MASK

__all__ = ["MessageData", "ReassemblyQueue", "message_size"]

#: A delivered message: its bytes, or (``keep_fragments``) its fragments' payloads in order.
MessageData = bytes | list[bytes]


def message_size(data: MessageData) -> int:
    """User bytes in a delivered message, whether joined or kept in fragments."""
    return len(data) if isinstance(data, bytes) else sum(map(len, data))


class _UFragment:
    """A stored fragment of an unordered message.

    ``first`` is the TSN of the B fragment this fragment is known to belong to (reached
    through consecutive TSNs without crossing an E), or None while a hole separates it
    from any B. It is set at most once per fragment, which keeps reassembly linear in the
    number of fragments whatever the arrival order.
    """

    __slots__ = ("beginning", "data", "end", "first", "ppid", "stream")

    def __init__(
        self, stream: int, ppid: int, data: bytes, beginning: bool, end: bool, first: int | None
    ) -> None:
        self.stream = stream
        self.ppid = ppid
        self.data = data
        self.beginning = beginning
        self.end = end
        self.first = first


class _Partial:
    """Fragments of one message received so far, keyed by position.

    The position is the TSN for DATA (ordered messages, grouped by SSN) and the FSN for
    I-DATA (grouped by MID); either way the fragments of a complete message occupy every
    position from the B fragment's to the E fragment's.
    """

    __slots__ = ("begin_tsn", "end_tsn", "fragments", "high", "low", "nbytes", "ppid")

    def __init__(self, pos: int) -> None:
        self.fragments: dict[int, bytes] = {}
        self.begin_tsn: int | None = None
        self.end_tsn: int | None = None
        # Lowest and highest position stored (``pos`` is the first fragment's, not yet
        # stored: the bounds start empty around it), so checking that a B fragment has
        # nothing before it and an E fragment nothing after it costs O(1), not a scan.
        self.low = pos + 1
        self.high = pos - 1
        self.nbytes = 0
        self.ppid = 0


class _InStream:
    """Receive state of one stream: next SSN (or MID) to deliver and what waits for it."""

    __slots__ = ("next_ssn", "partial", "ready")

    def __init__(self) -> None:
        self.next_ssn = 0
        # SSN -> fragments of an ordered message not yet complete.
        self.partial: dict[int, _Partial] = {}
        # SSN -> (ppid, data) of a complete ordered message waiting for an earlier SSN.
        self.ready: dict[int, tuple[int, MessageData]] = {}


class ReassemblyQueue:
    """Per-stream reassembly and ordering for one association.

    Args:
        max_message_size: largest message accepted (``Options.max_message_size``).
        interleaved: reassemble I-DATA (RFC 8260) instead of DATA chunks.
        keep_fragments: deliver a message of several chunks as the list of their payloads
            instead of joining them (``Options.deliver_fragments``).

    Attributes:
        delivered: complete messages ``(stream, ppid, data, unordered)`` ready for the
            application, oldest first.
        held_bytes: user-data bytes held (fragments and messages waiting for order).
        oversize_messages: messages rejected for exceeding ``max_message_size``.
        protocol_errors: chunks dropped because they contradict what was received.
    """

    __slots__ = (
        "_half",
        "_interleaved",
        "_keep_fragments",
        "_mask",
        "_max_message_size",
        "_streams",
        "_unordered",
        "_unordered_mid",
        "delivered",
        "held_bytes",
        "oversize_messages",
        "protocol_errors",
    )

    def __init__(
        self, *, max_message_size: int, interleaved: bool = False, keep_fragments: bool = False
    ) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self._max_message_size = max_message_size
        self._interleaved = interleaved
        self._keep_fragments = keep_fragments
        # SSNs are 16-bit (RFC 9260 §3.3.1), MIDs 32-bit (RFC 8260 §2.1).
        self._mask = TSN_MASK if interleaved else SSN_MASK
        self._half = (self._mask + 1) >> 1
        self._streams: dict[int, _InStream] = {}
        # DATA: unwrapped TSN -> unordered fragment (single-chunk ones never land here).
        self._unordered: dict[int, _UFragment] = {}
        # I-DATA: (stream, MID) -> fragments of an unordered message.
        self._unordered_mid: dict[tuple[int, int], _Partial] = {}
        self.delivered: deque[tuple[int, int, MessageData, bool]] = deque()
        self.held_bytes = 0
        self.oversize_messages = 0
        self.protocol_errors = 0

    def add(
        self,
        tsn: int,
        stream: int,
        ssn: int,
        ppid: int,
        data: bytes,
        unordered: bool,
        beginning: bool,
        end: bool,
        fsn: int = 0,
    ) -> bool:
        """Add one new DATA chunk (``tsn`` unwrapped, never a duplicate).

        The flags may be passed by position (one call per received chunk: keyword passing
        is a measurable part of its cost).

        For I-DATA (``interleaved=True``), ``ssn`` is the MID and ``fsn`` the FSN (0 for
        the B fragment, RFC 8260 §2.1); ``tsn`` is not used.

        Returns:
            False when a message being reassembled exceeds ``max_message_size`` (its
            fragments are dropped; the association should abort, §6.9 gives no other way
            out), True otherwise.
        """
        if beginning and end:
            # Single-chunk message: the common case, no storage when deliverable.
            if len(data) > self._max_message_size:
                self.oversize_messages += 1
                return False
            if unordered:
                self.delivered.append((stream, ppid, data, True))
                return True
            st = self._streams.get(stream)
            if st is None:
                st = self._streams[stream] = _InStream()
            if ssn == st.next_ssn:
                self.delivered.append((stream, ppid, data, False))
                st.next_ssn = (ssn + 1) & self._mask
                if st.ready:
                    self._drain(stream, st)
                return True
            if self._is_old(ssn, st.next_ssn) or ssn in st.ready or ssn in st.partial:
                self.protocol_errors += 1
                return True
            st.ready[ssn] = (ppid, data)
            self.held_bytes += len(data)
            return True
        if self._interleaved:
            if beginning:
                fsn = 0  # RFC 8260 §2.1: the first fragment's FSN is implicitly 0
            if unordered:
                return self._add_unordered_mid(stream, ssn, fsn, ppid, data, beginning, end)
            return self._add_ordered(fsn, stream, ssn, ppid, data, beginning, end)
        if unordered:
            return self._add_unordered(tsn, stream, ppid, data, beginning, end)
        return self._add_ordered(tsn, stream, ssn, ppid, data, beginning, end)

    def _is_old(self, seq: int, next_seq: int) -> bool:
        # Serial-number "seq < next_seq" for SSNs (16 bit) or MIDs (32 bit), RFC 1982.
        d = (next_seq - seq) & self._mask
        return 0 < d < self._half

    def _drain(self, stream: int, st: _InStream) -> None:
        # §6.6: deliver waiting messages while the next SSN is there.
        ready = st.ready
        nxt = st.next_ssn
        append = self.delivered.append
        while True:
            item = ready.pop(nxt, None)
            if item is None:
                break
            self.held_bytes -= message_size(item[1])
            append((stream, item[0], item[1], False))
            nxt = (nxt + 1) & self._mask
        st.next_ssn = nxt

    def _add_ordered(
        self,
        pos: int,
        stream: int,
        ssn: int,
        ppid: int,
        data: bytes,
        beginning: bool,
        end: bool,
    ) -> bool:
        # ``pos``: the fragment's TSN (DATA) or FSN (I-DATA).
        st = self._streams.get(stream)
        if st is None:
            st = self._streams[stream] = _InStream()
        # RFC 1982 "ssn < next_ssn" (as _is_old, inlined: this runs for every fragment).
        if 0 < ((st.next_ssn - ssn) & self._mask) < self._half or ssn in st.ready:
            self.protocol_errors += 1
            return True
        part = st.partial.get(ssn)
        if part is None:
            part = st.partial[ssn] = _Partial(pos)
        message = self._add_fragment(part, pos, ppid, data, beginning, end)
        if message is None:
            if part.nbytes > self._max_message_size:
                del st.partial[ssn]
                return False
            return True
        del st.partial[ssn]
        if ssn == st.next_ssn:
            self.held_bytes -= part.nbytes
            self.delivered.append((stream, part.ppid, message, False))
            st.next_ssn = (ssn + 1) & self._mask
            if st.ready:
                self._drain(stream, st)
        else:
            st.ready[ssn] = (part.ppid, message)
        return True

    def _add_unordered_mid(
        self,
        stream: int,
        mid: int,
        fsn: int,
        ppid: int,
        data: bytes,
        beginning: bool,
        end: bool,
    ) -> bool:
        # RFC 8260 §2.2.3: unordered I-DATA fragments are grouped by (stream, MID).
        key = (stream, mid)
        part = self._unordered_mid.get(key)
        if part is None:
            part = self._unordered_mid[key] = _Partial(fsn)
        message = self._add_fragment(part, fsn, ppid, data, beginning, end)
        if message is None:
            if part.nbytes > self._max_message_size:
                del self._unordered_mid[key]
                return False
            return True
        del self._unordered_mid[key]
        self.held_bytes -= part.nbytes
        self.delivered.append((stream, part.ppid, message, True))
        return True

    def _add_fragment(
        self,
        part: _Partial,
        pos: int,
        ppid: int,
        data: bytes,
        beginning: bool,
        end: bool,
    ) -> MessageData | None:
        """Store one fragment; the message if now complete, else None.

        A message exceeding ``max_message_size`` has its bytes released and counted in
        :attr:`oversize_messages`; the caller sees ``part.nbytes`` over the limit and drops
        the partial message.
        """
        frags = part.fragments
        b = part.begin_tsn
        e = part.end_tsn
        if (
            pos in frags
            or (b is not None and (beginning or pos < b))
            or (e is not None and (end or pos > e))
        ):
            self.protocol_errors += 1
            return None
        if beginning:
            if part.low < pos:  # a fragment before the first one
                self.protocol_errors += 1
                return None
            part.begin_tsn = b = pos
            part.ppid = ppid
        if end:
            if part.high > pos:  # a fragment after the last one
                self.protocol_errors += 1
                return None
            part.end_tsn = e = pos
        if pos < part.low:
            part.low = pos
        if pos > part.high:
            part.high = pos
        frags[pos] = data
        part.nbytes += len(data)
        self.held_bytes += len(data)
        if part.nbytes > self._max_message_size:
            self.held_bytes -= part.nbytes
            self.oversize_messages += 1
            return None
        if b is None or e is None or len(frags) != e - b + 1:
            return None
        # Complete: positions are exactly b..e (all within the bounds checked above).
        fragments = [frags[t] for t in range(b, e + 1)]
        return fragments if self._keep_fragments else b"".join(fragments)

    def _add_unordered(
        self,
        tsn: int,
        stream: int,
        ppid: int,
        data: bytes,
        beginning: bool,
        end: bool,
    ) -> bool:
        frags = self._unordered
        if tsn in frags:
            self.protocol_errors += 1
            return True
        # Which B does this fragment belong to? Itself, or its predecessor's (unless the
        # predecessor ends a message).
        first: int | None = tsn
        if not beginning:
            prev = frags.get(tsn - 1)
            first = None if prev is None or prev.end else prev.first
        frag = frags[tsn] = _UFragment(stream, ppid, data, beginning, end, first)
        self.held_bytes += len(data)
        if first is None:
            return True
        # Propagate the B to the following fragments that were waiting for it; reaching an
        # E completes the message (§6.9: fragments of a message have consecutive TSNs).
        last = tsn
        while not frag.end:
            nxt = frags.get(last + 1)
            if nxt is None or nxt.beginning:
                return True
            nxt.first = first
            frag = nxt
            last += 1
        parts = [frags.pop(t) for t in range(first, last + 1)]
        nbytes = 0
        for p in parts:
            nbytes += len(p.data)
        self.held_bytes -= nbytes
        head = parts[0]
        if any(p.stream != head.stream for p in parts):
            self.protocol_errors += 1
            return True
        if nbytes > self._max_message_size:
            self.oversize_messages += 1
            return False
        fragments = [p.data for p in parts]
        self.delivered.append(
            (
                head.stream,
                head.ppid,
                fragments if self._keep_fragments else b"".join(fragments),
                True,
            )
        )
        return True

    def reset(self) -> None:
        """Forget all streams and held data (association restart, RFC 9260 §5.2.4 A)."""
        self._streams.clear()
        self._unordered.clear()
        self._unordered_mid.clear()
        self.delivered.clear()
        self.held_bytes = 0
