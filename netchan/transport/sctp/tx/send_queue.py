"""Outgoing messages per stream, fragmentation and the stream scheduler (RFC 9260 §6.1, §6.6, §6.9).

How the association uses it:

* ``assoc.send(...)`` validates the stream and size, then calls
  :meth:`SendQueue.add` with ``outstanding_bytes=rtx_queue.outstanding_bytes``; ``add``
  raises ``BufferError`` when the send buffer is full. After every SACK the association
  calls :meth:`SendQueue.buffer_available` with the new outstanding bytes and emits
  ``SendBufferAvailable`` when it returns True.
* The retransmission queue (not the association) pulls fragments with
  :meth:`SendQueue.produce` when cwnd and rwnd allow sending new data, assigns the TSN and
  keeps the chunk until it is acknowledged.
* ``buffered_amount = send_queue.queued_bytes + rtx_queue.outstanding_bytes``.

Scheduling: streams with queued data are served round robin. Fragments of one message must
carry consecutive TSNs when DATA chunks are used (§6.9), so by default the scheduler moves
to the next stream only at a message boundary: a small message on another stream waits for
at most the rest of the one message being sent, never for the backlog of the busy stream.
With ``interleaving=True`` (for I-DATA, RFC 8260, where fragments of different messages may
interleave) it moves to the next stream after every fragment.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..packet._base import PAD, Chunk
from ..packet.data import DATA_HEADER, IDATA_HEADER
from ..tsn import SSN_MASK, TSN_MASK

__all__ = ["DATA_CHUNK_HEADER", "IDATA_CHUNK_HEADER", "OutgoingChunk", "SendQueue"]

# DATA chunk header: type, flags, length, TSN, stream id, SSN, PPID (§3.3.1).
DATA_CHUNK_HEADER = 16
# I-DATA chunk header: type, flags, length, TSN, stream id, reserved, MID, PPID/FSN
# (RFC 8260 §2.1).
IDATA_CHUNK_HEADER = 20
# SCTP common header (§3.1).
COMMON_HEADER = 12
# Do not cut a message into a fragment smaller than this just to fill a packet's tail.
_MIN_FRAGMENT = 256


class OutgoingChunk(Chunk):
    """One DATA chunk on the send side, from fragmentation until acknowledged.

    It is also a :class:`~netchan.transport.sctp.packet.Chunk`: ``write()`` puts the DATA
    chunk (or the I-DATA chunk, RFC 8260 §2.1, when made with the I-DATA header size) into
    a packet exactly as the equivalent ``DataChunk`` / ``IDataChunk`` would, so a packet can
    be built from these records without a second object per chunk. ``TYPE`` is DATA's;
    :attr:`chunk_type` tells which of the two it is.

    Attributes:
        stream, ssn, ppid, data, unordered, beginning, end: the DATA chunk's fields
            (§3.3.1; ``beginning``/``end`` are the B/E bits, SSN is 0 for unordered).
            For I-DATA, ``ssn`` holds the 32-bit MID (RFC 8260 §2.1).
        tsn: wire TSN, assigned when first sent (-1 before).
        size: bytes counted in flight and against rwnd/cwnd: chunk header + data +
            padding (§7.2.2 counts "the chunk header and the padding").
        sent_at: time of the latest transmission.
        nsent: number of transmissions (Karn's rule uses only chunks sent once).
        misses: miss indications (§7.2.4).
        acked: acknowledged by a Gap Ack Block (cum-acked chunks leave the queue).
        marked: marked for retransmission.
        in_flight: counted in bytes in flight.
        fast_retransmitted: already fast-retransmitted (§7.2.4 step 5).
        fsn: fragment index within the message (0 for the first).
    """

    __slots__ = (
        "acked",
        "beginning",
        "data",
        "end",
        "fast_retransmitted",
        "fsn",
        "in_flight",
        "key",
        "marked",
        "misses",
        "nsent",
        "ppid",
        "sent_at",
        "size",
        "ssn",
        "stream",
        "tsn",
        "unordered",
    )

    def __init__(
        self,
        stream: int,
        ssn: int,
        ppid: int,
        data: bytes | memoryview,
        unordered: bool,
        beginning: bool,
        end: bool,
        fsn: int = 0,
        header: int = DATA_CHUNK_HEADER,
    ) -> None:
        self.stream = stream
        self.ssn = ssn
        self.ppid = ppid
        self.data = data
        self.unordered = unordered
        self.beginning = beginning
        self.end = end
        self.fsn = fsn
        self.size = (header + len(data) + 3) & ~3
        self.tsn = -1
        self.key = -1
        self.sent_at = 0.0
        self.nsent = 0
        self.misses = 0
        self.acked = False
        self.marked = False
        self.in_flight = False
        self.fast_retransmitted = False

    TYPE = 0

    @property
    def chunk_type(self) -> int:
        """0 (DATA) or 64 (I-DATA), from the header size the chunk was made with."""
        return 0 if self.size - len(self.data) < IDATA_CHUNK_HEADER else 64

    def serialized_size(self) -> int:
        """Bytes in a packet: header, user data and padding (the same as :attr:`size`)."""
        return self.size

    def write(self, out: list[bytes | memoryview]) -> None:
        """Append the chunk's wire bytes (RFC 9260 §3.3.1 / RFC 8260 §2.1), padding included.

        The I bit is never set: the sender does not ask for immediate SACKs.
        """
        data = self.data
        n = len(data)
        # Flags: U, B, E bits (§3.3.1).
        flags = (4 if self.unordered else 0) | (2 if self.beginning else 0) | (1 if self.end else 0)
        if self.size - n < IDATA_CHUNK_HEADER:
            out.append(
                DATA_HEADER.pack(0, flags, 16 + n, self.tsn, self.stream, self.ssn, self.ppid)
            )
        else:
            # RFC 8260 §2.1: the last word is the PPID in the first fragment, else the FSN.
            word = self.ppid if self.beginning else self.fsn
            out.append(
                IDATA_HEADER.pack(64, flags, 20 + n, self.tsn, self.stream, 0, self.ssn, word)
            )
        out.append(data)
        if n & 3:
            out.append(PAD[n & 3])

    def __repr__(self) -> str:
        flags = ("B" if self.beginning else "") + ("E" if self.end else "")
        flags += "U" if self.unordered else ""
        return (
            f"OutgoingChunk(tsn={self.tsn}, stream={self.stream}, ssn={self.ssn}, "
            f"len={len(self.data)}, flags={flags!r}, nsent={self.nsent})"
        )


class _OutStream:
    """Queued messages of one stream: [ppid, data, unordered] and progress in the first."""

    __slots__ = ("cur_ssn", "fsn", "messages", "next_ssn", "next_umid", "offset", "sid")

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.next_umid = 0  # I-DATA: MID counter of unordered messages (RFC 8260 §2.1)
        self.messages: deque[tuple[int, bytes, bool]] = deque()
        self.offset = 0  # bytes of messages[0] already produced
        self.fsn = 0  # fragments of messages[0] already produced
        self.cur_ssn = 0  # SSN given to messages[0] when its first fragment was produced
        self.next_ssn = 0


class SendQueue:
    """Per-stream FIFOs of outgoing messages with a round-robin stream scheduler.

    Args:
        send_buffer: limit on queued plus outstanding user bytes (``Options.send_buffer``).
        pmtu: SCTP packet size; fragments are sized so one DATA chunk fills a packet.
        interleaving: produce I-DATA (RFC 8260) chunks: switch streams between fragments,
            number messages with 32-bit MIDs (separate counters for ordered and unordered
            messages of a stream) and fragments with FSNs. The default produces DATA
            chunks and switches streams at message boundaries, as §6.9 requires.

    Attributes:
        queued_bytes: user bytes not yet handed out by :meth:`produce`.
        max_fragment: largest user-data size of one chunk.
        chunk_header: size of the chunk header (16 for DATA, 20 for I-DATA).
    """

    __slots__ = (
        "_active",
        "_blocked",
        "_current",
        "_interleaving",
        "_send_buffer",
        "_seq_mask",
        "_streams",
        "chunk_header",
        "max_fragment",
        "queued_bytes",
        "queued_messages",
    )

    def __init__(self, *, send_buffer: int, pmtu: int = 1200, interleaving: bool = False) -> None:
        if send_buffer < 1:
            raise ValueError("send_buffer must be positive")
        header = IDATA_CHUNK_HEADER if interleaving else DATA_CHUNK_HEADER
        self._send_buffer = send_buffer
        self._interleaving = interleaving
        self._seq_mask = TSN_MASK if interleaving else SSN_MASK
        self.chunk_header = header
        self.max_fragment = 0
        self.set_pmtu(pmtu)
        self._streams: dict[int, _OutStream] = {}
        # Streams with queued messages, in service order; the head is served next.
        self._active: deque[int] = deque()
        # Stream in the middle of a message (non-interleaved mode), else None.
        self._current: _OutStream | None = None
        # Size of the largest message refused since space was last reported (0: none).
        self._blocked = 0
        self.queued_bytes = 0
        self.queued_messages = 0

    def __bool__(self) -> bool:
        return self.queued_messages > 0

    @property
    def queued_streams(self) -> Iterable[int]:
        """The streams with messages waiting, in scheduler order (a live view: read only)."""
        return self._active

    def set_pmtu(self, pmtu: int) -> None:
        """Cut fragments for packets of ``pmtu`` bytes from now on (PLPMTUD changed it).

        Fragments already handed out keep their size (RFC 9260 §6.9: a message is never
        re-fragmented); the rest of a message in the middle of being cut continues with the
        new size, which reassembly does not mind (fragments are ordered by TSN or FSN).
        """
        max_fragment = (pmtu - COMMON_HEADER - self.chunk_header) & ~3
        if max_fragment < _MIN_FRAGMENT:
            raise ValueError("pmtu too small for DATA chunks")
        self.max_fragment = max_fragment

    def add(
        self,
        stream: int,
        ppid: int,
        data: bytes,
        *,
        unordered: bool = False,
        outstanding_bytes: int = 0,
    ) -> None:
        """Queue one user message.

        Args:
            stream: outbound stream id (the association validates it).
            ppid: payload protocol identifier.
            data: the message (non-empty: §3.3.1 forbids empty DATA chunks).
            unordered: send with the U bit (§6.6).
            outstanding_bytes: user bytes sent and not yet cumulatively acknowledged.

        Raises:
            ValueError: empty message.
            BufferError: queued + outstanding + this message would exceed ``send_buffer``.
                A message larger than the whole buffer is accepted when nothing else is
                buffered, so any message up to ``max_message_size`` can be sent.
        """
        n = len(data)
        if n == 0:
            raise ValueError("SCTP cannot send an empty message (RFC 9260 §3.3.1)")
        buffered = self.queued_bytes + outstanding_bytes
        if buffered + n > self._send_buffer and buffered > 0:
            # Remember the largest refused size: space is "back" when it would fit.
            self._blocked = max(self._blocked, n)
            raise BufferError(f"send buffer full ({buffered} of {self._send_buffer} bytes in use)")
        st = self._streams.get(stream)
        if st is None:
            st = self._streams[stream] = _OutStream(stream)
        if not st.messages:
            self._active.append(stream)
        st.messages.append((ppid, data, unordered))
        self.queued_bytes += n
        self.queued_messages += 1

    def buffer_available(self, outstanding_bytes: int) -> bool:
        """True once after ``add`` failed with BufferError and space is back.

        "Space is back" means the largest refused message would now fit (or nothing is
        buffered any more), so a sender woken by the ``SendBufferAvailable`` event the
        association emits succeeds instead of spinning.
        """
        need = self._blocked
        if not need:
            return False
        buffered = self.queued_bytes + outstanding_bytes
        if buffered + need <= self._send_buffer or buffered == 0:
            self._blocked = 0
            return True
        return False

    def buffered_amount(self, outstanding_bytes: int) -> int:
        """Queued plus outstanding user bytes."""
        return self.queued_bytes + outstanding_bytes

    def free(self, outstanding_bytes: int) -> int:
        """Bytes that can still be added without BufferError (never negative)."""
        return max(0, self._send_buffer - self.queued_bytes - outstanding_bytes)

    def produce(self, max_payload: int, limit: int | None = None) -> OutgoingChunk | None:
        """Cut the next DATA chunk chosen by the scheduler.

        Args:
            max_payload: user bytes that fit (room left in the packet minus the chunk
                header).
            limit: if given, produce nothing when the chunk would carry more user bytes
                than this (the peer's window, §6.1 rule A), instead of cutting the message
                into smaller fragments.

        Returns:
            The chunk (no TSN yet), or None when nothing is queued, the next fragment
            would be uselessly small (the caller sends it in the next packet) or exceeds
            ``limit``.
        """
        header = self.chunk_header
        if limit is None:
            chunks = self.produce_batch(max_payload + header, 0, unlimited_first=True, count=1)
        else:
            chunks = self.produce_batch(max_payload + header, limit + header, count=1)
        return chunks[0] if chunks else None

    def produce_batch(
        self, room: int, window: int, *, unlimited_first: bool = False, count: int = -1
    ) -> list[OutgoingChunk]:
        """Cut the DATA chunks of one packet, in scheduler order (RFC 9260 §6.1, §6.10).

        The same chunks as calling :meth:`produce` until it returns None, with
        ``max_payload = room - chunk_header`` and ``limit = window - chunk_header`` both
        shrinking by each chunk's size; done in one call because a packet of small
        messages carries dozens of chunks, and a method call per chunk was a large share
        of the cost of sending them.

        Args:
            room: bytes left in the packet for DATA chunks (headers and padding included).
            window: the peer's receive window left (a_rwnd minus bytes in flight, §6.1 A);
                a chunk is produced only if its user data fits ``window - chunk_header``.
            unlimited_first: the first chunk ignores ``window`` (§6.1 A: one chunk may be
                in flight whatever the window, which is also the zero window probe).
            count: produce at most this many chunks (negative: no limit).

        Returns:
            The chunks (no TSN yet), possibly empty.
        """
        out: list[OutgoingChunk] = []
        if not self.queued_messages:
            return out
        header = self.chunk_header
        max_fragment = self.max_fragment
        interleaving = self._interleaving
        seq_mask = self._seq_mask
        streams = self._streams
        active = self._active
        append = out.append
        queued_bytes = self.queued_bytes
        queued_messages = self.queued_messages
        limit = room if unlimited_first else window - header
        # The stream in the middle of a message (non-interleaved DATA), else None.
        current = self._current
        while room > header and count != 0:
            if current is not None:
                st = current
            elif active:
                st = streams[active[0]]
            else:
                break
            ppid, data, unordered = st.messages[0]
            offset = st.offset
            remaining = len(data) - offset
            size = remaining if remaining <= max_fragment else max_fragment
            max_payload = room - header
            if size > max_payload:
                if max_payload < _MIN_FRAGMENT:
                    break
                size = max_payload
            if size > limit:
                break
            beginning = offset == 0
            if beginning:
                if not unordered:
                    st.cur_ssn = st.next_ssn
                    st.next_ssn = (st.next_ssn + 1) & seq_mask
                elif interleaving:
                    st.cur_ssn = st.next_umid
                    st.next_umid = (st.next_umid + 1) & TSN_MASK
            end = size == remaining
            chunk = OutgoingChunk(
                st.sid,
                0 if unordered and not interleaving else st.cur_ssn,
                ppid,
                # A fragment is a view of the message, copied once: into the packet.
                data if (beginning and end) else memoryview(data)[offset : offset + size],
                unordered,
                beginning,
                end,
                st.fsn,
                header,
            )
            append(chunk)
            queued_bytes -= size
            chunk_size = chunk.size
            room -= chunk_size
            window -= chunk_size
            limit = window - header
            count -= 1
            if end:
                st.messages.popleft()
                st.offset = 0
                st.fsn = 0
                queued_messages -= 1
                stream_id = active.popleft()
                if st.messages:
                    active.append(stream_id)
                current = None
            else:
                st.offset = offset + size
                st.fsn += 1
                if interleaving:
                    active.rotate(-1)
                else:
                    # §6.9: the fragments of one DATA message carry consecutive TSNs, so
                    # the stream keeps the scheduler until the message's end.
                    current = st
        self._current = current
        self.queued_bytes = queued_bytes
        self.queued_messages = queued_messages
        return out

    def produce_small(self, room: int, window: int) -> list[OutgoingChunk]:
        """Whole messages of one chunk each, one per stream in scheduler order, skipping
        streams whose next message needs several chunks (or is partly sent).

        For the flight cap (tx/flight_cap.py): while a bulk transfer waits for the cap, a
        small message of another stream still leaves, so the cap shortens its wait in the
        receiver's queue without adding one at the sender. Nothing while a DATA message is
        in the middle of being cut (§6.9: its fragments carry consecutive TSNs).
        """
        out: list[OutgoingChunk] = []
        if self._current is not None or not self.queued_messages:
            return out
        active = self._active
        streams = self._streams
        header = self.chunk_header
        max_fragment = self.max_fragment
        for stream_id in list(active):
            st = streams[stream_id]
            size = len(st.messages[0][1])
            if st.offset or size > max_fragment:
                continue
            if size + header > room or size > window - header:
                break
            active.remove(stream_id)
            active.appendleft(stream_id)
            got = self.produce_batch(room, window, count=1)
            if not got:
                break
            out += got
            room -= got[0].size
            window -= got[0].size
        return out

    def next_ssn(self, stream: int) -> int:
        """SSN (MID for I-DATA) the next ordered message on ``stream`` will get."""
        st = self._streams.get(stream)
        return 0 if st is None else st.next_ssn

    def clear(self) -> None:
        """Drop everything queued (abort) and forget SSNs (restart, §5.2.4)."""
        self._streams.clear()
        self._active.clear()
        self._current = None
        self._blocked = 0
        self.queued_bytes = 0
        self.queued_messages = 0
