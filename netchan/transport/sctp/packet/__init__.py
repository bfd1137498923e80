"""SCTP wire format (RFC 9260 §3): packets, chunks, parameters, error causes.

Pure functions and slotted dataclasses; no I/O, no clock. One module per chunk family, as in
dcSCTP's ``packet/``.

Entry points:
    ``parse_packet(data, verify_checksum=True) -> Packet``: checks the CRC32c (§6.8) and every
        length field; raises ``ParseError`` (a ``ValueError``) and nothing else on bad bytes.
    ``serialize_packet(src_port, dst_port, verification_tag, chunks) -> bytes``: one join,
        one CRC.
    ``peek_header(data) -> (src_port, dst_port, verification_tag)``: no checks, for demux and
        ICMP quotes.
    ``parse_chunk(data)``, ``parse_chunks(data, start)``, ``serialized_size(chunks)``,
        ``compute_checksum(data)``.

Every chunk has ``serialize()``, ``write(parts)`` (append its bytes for a packet join) and
``serialized_size()`` (padded size, without serializing: fill a packet up to the PMTU with
it), plus a ``chunk_type`` property and a class constant ``TYPE``.

Chunks (type): ``DataChunk`` (0; fields tsn, stream_id, ssn, ppid, user_data, unordered,
beginning, ending, immediate), ``InitChunk`` (1) and ``InitAckChunk`` (2) (initiate_tag,
a_rwnd, outbound_streams, inbound_streams, initial_tsn, parameters; ``problem()``;
``InitAckChunk.state_cookie``), ``SackChunk`` (3; cumulative_tsn_ack, a_rwnd,
gap_ack_blocks as (start, end) offset pairs, duplicate_tsns), ``HeartbeatChunk`` (4) and
``HeartbeatAckChunk`` (5) (info), ``AbortChunk`` (6; causes, tag_reflected = T bit),
``ShutdownChunk`` (7; cumulative_tsn_ack), ``ShutdownAckChunk`` (8), ``ErrorChunk`` (9;
causes), ``CookieEchoChunk`` (10; cookie), ``CookieAckChunk`` (11), ``ShutdownCompleteChunk``
(14; tag_reflected), ``IDataChunk`` (64, RFC 8260; tsn, stream_id, mid, fsn, ppid, user_data
and flags), ``ForwardTsnChunk`` (192, RFC 3758; new_cumulative_tsn, streams as (sid, ssn)),
``IForwardTsnChunk`` (194, RFC 8260; streams as (sid, unordered, mid)), ``PadChunk`` (132,
RFC 4820; padding: the number of zero bytes, the probe filler of RFC 8899 §6.2), and
``UnknownChunk(type, flags, value)`` for everything else.

Parameters (type): ``HeartbeatInfoParameter`` (1), ``IPv4AddressParameter`` (5),
``IPv6AddressParameter`` (6), ``StateCookieParameter`` (7), ``UnrecognizedParameter`` (8),
``CookiePreservativeParameter`` (9), ``HostNameAddressParameter`` (11),
``SupportedAddressTypesParameter`` (12), ``EcnCapableParameter`` (0x8000),
``SupportedExtensionsParameter`` (0x8008), ``ForwardTsnSupportedParameter`` (0xC000), and
``UnknownParameter(type, value)``. RFC 4895 (``auth``): ``RandomParameter`` (0x8002),
``ChunkListParameter`` (0x8003), ``HmacAlgorithmParameter`` (0x8004), ``AuthChunk`` (0x0F;
shared_key_id, hmac_id, hmac, and ``covered``: the bytes the HMAC covers, set by the parser),
``UnsupportedHmacIdentifierCause`` (0x0105).

Error causes (code, §3.3.10): ``InvalidStreamIdentifierCause`` (1), ``MissingMandatory
ParameterCause`` (2), ``StaleCookieErrorCause`` (3), ``OutOfResourceCause`` (4),
``UnresolvableAddressCause`` (5), ``UnrecognizedChunkTypeCause`` (6),
``InvalidMandatoryParameterCause`` (7), ``UnrecognizedParametersCause`` (8),
``NoUserDataCause`` (9), ``CookieReceivedWhileShuttingDownCause`` (10),
``RestartWithNewAddressesCause`` (11), ``UserInitiatedAbortCause`` (12),
``ProtocolViolationCause`` (13), ``UnknownErrorCause(code, value)``. ``str(cause)`` is a
readable sentence.

Unknown types: ``unrecognized_chunk_action(type)`` / ``unrecognized_parameter_action(type)``
(and ``UnknownChunk.action`` / ``UnknownParameter.action``) give an ``UnrecognizedAction``
with ``.skip`` and ``.report`` per §3.2 / §3.2.1.

What the parser checks and what it leaves to the association: the parser checks structure
(lengths of packet, chunks, parameters and causes; exact sizes of fixed-size chunks; the
checksum). Value rules whose RFC reaction is not "drop the packet" are the association's:
INIT/INIT ACK zero tag, zero streams, small a_rwnd (``InitChunk.problem()`` helps), missing
State Cookie, DATA without user data (ABORT with No User Data, §6.2), stream ids out of range,
COOKIE ECHO not first, INIT bundled with other chunks (§6.10), chunks after an unknown chunk
whose action says stop.
"""

from ._base import (
    Chunk,
    ErrorCause,
    Parameter,
    ParseError,
    UnrecognizedAction,
    padded,
    unrecognized_chunk_action,
    unrecognized_parameter_action,
)
from .abort_error import AbortChunk, ErrorChunk
from .auth import (
    AUTH_CHUNK_TYPE,
    HMAC_SHA1,
    HMAC_SHA256,
    AuthChunk,
    ChunkListParameter,
    HmacAlgorithmParameter,
    RandomParameter,
    UnsupportedHmacIdentifierCause,
)
from .cookie import CookieAckChunk, CookieEchoChunk
from .data import DATA_HEADER_SIZE, IDATA_HEADER_SIZE, DataChunk, IDataChunk
from .error_causes import (
    CookieReceivedWhileShuttingDownCause,
    InvalidMandatoryParameterCause,
    InvalidStreamIdentifierCause,
    MissingMandatoryParameterCause,
    NoUserDataCause,
    OutOfResourceCause,
    ProtocolViolationCause,
    RestartWithNewAddressesCause,
    StaleCookieErrorCause,
    UnknownErrorCause,
    UnrecognizedChunkTypeCause,
    UnrecognizedParametersCause,
    UnresolvableAddressCause,
    UserInitiatedAbortCause,
    parse_error_causes,
)
from .forward_tsn import ForwardTsnChunk, IForwardTsnChunk
from .heartbeat import HeartbeatAckChunk, HeartbeatChunk
from .init import InitAckChunk, InitChunk
from .pad import PAD_CHUNK_HEADER_SIZE, PadChunk
from .parameters import (
    CookiePreservativeParameter,
    EcnCapableParameter,
    ForwardTsnSupportedParameter,
    HeartbeatInfoParameter,
    HostNameAddressParameter,
    IPv4AddressParameter,
    IPv6AddressParameter,
    StateCookieParameter,
    SupportedAddressTypesParameter,
    SupportedExtensionsParameter,
    UnknownParameter,
    UnrecognizedParameter,
    parse_parameters,
)
from .sack import SackChunk
from .sctp_packet import (
    CHUNK_CLASSES,
    COMMON_HEADER_SIZE,
    Packet,
    compute_checksum,
    parse_chunk,
    parse_chunks,
    parse_packet,
    peek_header,
    serialize_packet,
    serialized_size,
)
from .shutdown import ShutdownAckChunk, ShutdownChunk, ShutdownCompleteChunk
from .unknown import UnknownChunk

__all__ = [
    "AUTH_CHUNK_TYPE",
    "CHUNK_CLASSES",
    "COMMON_HEADER_SIZE",
    "DATA_HEADER_SIZE",
    "HMAC_SHA1",
    "HMAC_SHA256",
    "IDATA_HEADER_SIZE",
    "PAD_CHUNK_HEADER_SIZE",
    "AbortChunk",
    "AuthChunk",
    "Chunk",
    "ChunkListParameter",
    "CookieAckChunk",
    "CookieEchoChunk",
    "CookiePreservativeParameter",
    "CookieReceivedWhileShuttingDownCause",
    "DataChunk",
    "EcnCapableParameter",
    "ErrorCause",
    "ErrorChunk",
    "ForwardTsnChunk",
    "ForwardTsnSupportedParameter",
    "HeartbeatAckChunk",
    "HeartbeatChunk",
    "HeartbeatInfoParameter",
    "HmacAlgorithmParameter",
    "HostNameAddressParameter",
    "IDataChunk",
    "IForwardTsnChunk",
    "IPv4AddressParameter",
    "IPv6AddressParameter",
    "InitAckChunk",
    "InitChunk",
    "InvalidMandatoryParameterCause",
    "InvalidStreamIdentifierCause",
    "MissingMandatoryParameterCause",
    "NoUserDataCause",
    "OutOfResourceCause",
    "Packet",
    "PadChunk",
    "Parameter",
    "ParseError",
    "ProtocolViolationCause",
    "RandomParameter",
    "RestartWithNewAddressesCause",
    "SackChunk",
    "ShutdownAckChunk",
    "ShutdownChunk",
    "ShutdownCompleteChunk",
    "StaleCookieErrorCause",
    "StateCookieParameter",
    "SupportedAddressTypesParameter",
    "SupportedExtensionsParameter",
    "UnknownChunk",
    "UnknownErrorCause",
    "UnknownParameter",
    "UnrecognizedAction",
    "UnrecognizedChunkTypeCause",
    "UnrecognizedParameter",
    "UnrecognizedParametersCause",
    "UnresolvableAddressCause",
    "UnsupportedHmacIdentifierCause",
    "UserInitiatedAbortCause",
    "compute_checksum",
    "padded",
    "parse_chunk",
    "parse_chunks",
    "parse_error_causes",
    "parse_packet",
    "parse_parameters",
    "peek_header",
    "serialize_packet",
    "serialized_size",
    "unrecognized_chunk_action",
    "unrecognized_parameter_action",
]
