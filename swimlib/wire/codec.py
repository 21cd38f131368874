"""Message <-> bytes, exactly as Go memberlist writes and reads them (``net.go``, ``util.go``).

Encoding is hand-rolled rather than delegated to ``msgpack.packb`` so the output matches
go-msgpack v2 (memberlist >= v0.5.1) byte for byte: struct fields as a map with keys sorted
bytewise, strings and byte slices as old-spec "raw", unsigned minimal-width integers for Go
``uintN`` fields and *signed* widths for Go ``int`` fields above 127, nil for empty byte slices.

Decoding uses the C ``msgpack`` unpacker with ``raw=True`` and is total: any input yields a
message or a :class:`DecodeError`, never another exception.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgpack

from swimlib.wire.errors import DecodeError
from swimlib.wire.messages import (
    Ack,
    Alive,
    Compound,
    Compress,
    Dead,
    ErrResp,
    IndirectPing,
    Message,
    MessageType,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    User,
)

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")

MAX_COMPOUND_PARTS = 255

# --------------------------------------------------------------------------- encoding


def raw(value: bytes) -> bytes:
    """Old-spec msgpack raw: fixraw, raw16 or raw32 (never str8, never bin)."""
    n = len(value)
    if n < 32:
        return bytes((0xA0 | n,)) + value
    if n < 0x10000:
        return b"\xda" + _U16.pack(n) + value
    return b"\xdb" + _U32.pack(n) + value


def uint(value: int) -> bytes:
    """Smallest unsigned msgpack form, as Go writes ``uint8/16/32``."""
    if value < 0x80:
        return bytes((value,))
    if value < 0x100:
        return bytes((0xCC, value))
    if value < 0x10000:
        return b"\xcd" + _U16.pack(value)
    if value < 0x100000000:
        return b"\xce" + _U32.pack(value)
    return b"\xcf" + _U64.pack(value)


def goint(value: int) -> bytes:
    """A Go ``int`` as go-msgpack v2 writes it: fixint up to 127, then signed widths."""
    if 0 <= value < 0x80:
        return bytes((value,))
    if -32 <= value < 0:
        return struct.pack(">b", value)
    if -0x80 <= value < 0x80:
        return b"\xd0" + struct.pack(">b", value)
    if -0x8000 <= value < 0x8000:
        return b"\xd1" + _I16.pack(value)
    if -0x80000000 <= value < 0x80000000:
        return b"\xd2" + _I32.pack(value)
    return b"\xd3" + _I64.pack(value)


def _nilable(value: bytes) -> bytes:
    """Go writes a nil ``[]byte`` as msgpack nil; we send nil for every empty slice."""
    return raw(value) if value else b"\xc0"


def _s(text: str) -> bytes:
    return raw(text.encode("utf-8", "surrogateescape"))


def _k(name: str) -> bytes:
    return raw(name.encode("ascii"))


_K_ADDR = _k("Addr")
_K_ALGO = _k("Algo")
_K_BUF = _k("Buf")
_K_ERROR = _k("Error")
_K_FROM = _k("From")
_K_INC = _k("Incarnation")
_K_JOIN = _k("Join")
_K_META = _k("Meta")
_K_NACK = _k("Nack")
_K_NAME = _k("Name")
_K_NODE = _k("Node")
_K_NODES = _k("Nodes")
_K_PAYLOAD = _k("Payload")
_K_PORT = _k("Port")
_K_SEQ = _k("SeqNo")
_K_SADDR = _k("SourceAddr")
_K_SNODE = _k("SourceNode")
_K_SPORT = _k("SourcePort")
_K_STATE = _k("State")
_K_TARGET = _k("Target")
_K_USLEN = _k("UserStateLen")
_K_UMLEN = _k("UserMsgLen")
_K_VSN = _k("Vsn")


def _map(n: int) -> bytes:
    return bytes((0x80 | n,))


def _source_fields(addr: bytes, node: str, port: int) -> tuple[int, bytes]:
    """The omitempty Source* trio of ping/indirectPingReq, in key order."""
    n = 0
    out = b""
    if addr:
        n += 1
        out += _K_SADDR + raw(addr)
    if node:
        n += 1
        out += _K_SNODE + _s(node)
    if port:
        n += 1
        out += _K_SPORT + uint(port)
    return n, out


def _enc_ping(m: Ping) -> bytes:
    n, src = _source_fields(m.source_addr, m.source_node, m.source_port)
    return b"\x00" + _map(2 + n) + _K_NODE + _s(m.node) + _K_SEQ + uint(m.seq_no) + src


def _enc_indirect(m: IndirectPing) -> bytes:
    n, src = _source_fields(m.source_addr, m.source_node, m.source_port)
    return (
        b"\x01"
        + _map(5 + n)
        + _K_NACK
        + (b"\xc3" if m.nack else b"\xc2")
        + _K_NODE
        + _s(m.node)
        + _K_PORT
        + uint(m.port)
        + _K_SEQ
        + uint(m.seq_no)
        + src
        + _K_TARGET
        + raw(m.target)
    )


def _enc_ack(m: Ack) -> bytes:
    return b"\x02\x82" + _K_PAYLOAD + _nilable(m.payload) + _K_SEQ + uint(m.seq_no)


def _enc_nack(m: Nack) -> bytes:
    return b"\x0b\x81" + _K_SEQ + uint(m.seq_no)


def _enc_accusation(type_byte: bytes, m: Suspect | Dead) -> bytes:
    return (
        type_byte
        + b"\x83"
        + _K_FROM
        + _s(m.from_node)
        + _K_INC
        + uint(m.incarnation)
        + _K_NODE
        + _s(m.node)
    )


def _enc_alive(m: Alive) -> bytes:
    return (
        b"\x04\x86"
        + _K_ADDR
        + raw(m.addr)
        + _K_INC
        + uint(m.incarnation)
        + _K_META
        + _nilable(m.meta)
        + _K_NODE
        + _s(m.node)
        + _K_PORT
        + uint(m.port)
        + _K_VSN
        + _nilable(m.vsn)
    )


def encode_push_node_state(m: PushNodeState) -> bytes:
    return (
        b"\x87"
        + _K_ADDR
        + raw(m.addr)
        + _K_INC
        + uint(m.incarnation)
        + _K_META
        + _nilable(m.meta)
        + _K_NAME
        + _s(m.name)
        + _K_PORT
        + uint(m.port)
        + _K_STATE
        + goint(m.state)
        + _K_VSN
        + _nilable(m.vsn)
    )


def _enc_push_pull(m: PushPull) -> bytes:
    parts = [
        b"\x06\x83",
        _K_JOIN,
        b"\xc3" if m.join else b"\xc2",
        _K_NODES,
        goint(len(m.nodes)),
        _K_USLEN,
        goint(len(m.user_state)),
    ]
    parts.extend(encode_push_node_state(n) for n in m.nodes)
    parts.append(m.user_state)
    return b"".join(parts)


def _enc_user(m: User) -> bytes:
    return b"\x08" + m.payload


def _enc_compound(m: Compound) -> bytes:
    return make_compound(list(m.parts))


def _enc_compress(m: Compress) -> bytes:
    return b"\x09\x82" + _K_ALGO + uint(m.algo) + _K_BUF + _nilable(m.buf)


def _enc_err(m: ErrResp) -> bytes:
    return b"\x0d\x81" + _K_ERROR + _s(m.error)


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    Ping: _enc_ping,
    IndirectPing: _enc_indirect,
    Ack: _enc_ack,
    Nack: _enc_nack,
    Suspect: lambda m: _enc_accusation(b"\x03", m),
    Dead: lambda m: _enc_accusation(b"\x05", m),
    Alive: _enc_alive,
    PushPull: _enc_push_pull,
    User: _enc_user,
    Compound: _enc_compound,
    Compress: _enc_compress,
    ErrResp: _enc_err,
}


def encode(message: Message) -> bytes:
    """Type byte plus body, as memberlist's ``encode`` (UDP form for user messages)."""
    return _ENCODERS[type(message)](message)


def encode_reliable_user(payload: bytes) -> bytes:
    """The TCP form of a user message: ``[8]`` + ``{UserMsgLen}`` + payload (``SendReliable``)."""
    return b"\x08\x81" + _K_UMLEN + goint(len(payload)) + payload


def make_compound(parts: list[bytes]) -> bytes:
    """``[7][count u8][count x u16 BE length][parts...]``; callers cap parts at 255."""
    if len(parts) > MAX_COMPOUND_PARTS:
        raise ValueError("a compound message holds at most 255 parts")
    header = bytearray((MessageType.COMPOUND, len(parts)))
    for p in parts:
        header += _U16.pack(len(p))
    return bytes(header) + b"".join(parts)


def compound_overhead(count: int) -> int:
    """Bytes a compound of ``count`` parts adds (memberlist's compound overheads)."""
    return 2 + 2 * count


# --------------------------------------------------------------------------- decoding


def _unpack_body(data: bytes, offset: int) -> dict[bytes, Any]:
    try:
        obj = msgpack.unpackb(data[offset:], raw=True, use_list=True, strict_map_key=False)
    except msgpack.ExtraData as extra:  # Go ignores trailing bytes after the struct
        obj = extra.unpacked
    except Exception as exc:  # the C unpacker raises several unrelated types
        raise DecodeError("bad_msgpack", type(exc).__name__) from None
    if not isinstance(obj, dict):
        raise DecodeError("bad_msgpack", "body is not a map")
    return obj


def get_uint(d: dict[bytes, Any], key: bytes, limit: int = 0xFFFFFFFF) -> int:
    v = d.get(key, 0)
    if v is None:
        return 0
    if type(v) is not int or v < 0 or v > limit:
        raise DecodeError("bad_field", key.decode("ascii", "replace"))
    return v


def get_bytes(d: dict[bytes, Any], key: bytes) -> bytes:
    v = d.get(key)
    if v is None:
        return b""
    if type(v) is bytes:
        return v
    if isinstance(v, list) and all(type(x) is int and 0 <= x < 256 for x in v):
        return bytes(v)  # Go also accepts a []byte written as an array of small ints
    raise DecodeError("bad_field", key.decode("ascii", "replace"))


def get_str(d: dict[bytes, Any], key: bytes) -> str:
    return get_bytes(d, key).decode("utf-8", "surrogateescape")


def get_bool(d: dict[bytes, Any], key: bytes) -> bool:
    v = d.get(key, False)
    if v is None:
        return False
    if type(v) is not bool:
        raise DecodeError("bad_field", key.decode("ascii", "replace"))
    return v


def _dec_ping(d: dict[bytes, Any]) -> Ping:
    return Ping(
        seq_no=get_uint(d, b"SeqNo"),
        node=get_str(d, b"Node"),
        source_addr=get_bytes(d, b"SourceAddr"),
        source_port=get_uint(d, b"SourcePort", 0xFFFF),
        source_node=get_str(d, b"SourceNode"),
    )


def _dec_indirect(d: dict[bytes, Any]) -> IndirectPing:
    return IndirectPing(
        seq_no=get_uint(d, b"SeqNo"),
        target=get_bytes(d, b"Target"),
        port=get_uint(d, b"Port", 0xFFFF),
        node=get_str(d, b"Node"),
        nack=get_bool(d, b"Nack"),
        source_addr=get_bytes(d, b"SourceAddr"),
        source_port=get_uint(d, b"SourcePort", 0xFFFF),
        source_node=get_str(d, b"SourceNode"),
    )


def _dec_ack(d: dict[bytes, Any]) -> Ack:
    return Ack(seq_no=get_uint(d, b"SeqNo"), payload=get_bytes(d, b"Payload"))


def _dec_nack(d: dict[bytes, Any]) -> Nack:
    return Nack(seq_no=get_uint(d, b"SeqNo"))


def _dec_suspect(d: dict[bytes, Any]) -> Suspect:
    return Suspect(get_uint(d, b"Incarnation"), get_str(d, b"Node"), get_str(d, b"From"))


def _dec_dead(d: dict[bytes, Any]) -> Dead:
    return Dead(get_uint(d, b"Incarnation"), get_str(d, b"Node"), get_str(d, b"From"))


def _dec_alive(d: dict[bytes, Any]) -> Alive:
    return Alive(
        incarnation=get_uint(d, b"Incarnation"),
        node=get_str(d, b"Node"),
        addr=get_bytes(d, b"Addr"),
        port=get_uint(d, b"Port", 0xFFFF),
        meta=get_bytes(d, b"Meta"),
        vsn=get_bytes(d, b"Vsn"),
    )


def _dec_compress(d: dict[bytes, Any]) -> Compress:
    return Compress(algo=get_uint(d, b"Algo", 0xFF), buf=get_bytes(d, b"Buf"))


def _dec_err(d: dict[bytes, Any]) -> ErrResp:
    return ErrResp(error=get_str(d, b"Error"))


def push_node_state_from_map(d: Any) -> PushNodeState:
    if not isinstance(d, dict):
        raise DecodeError("bad_push_pull", "node state is not a map")
    return PushNodeState(
        name=get_str(d, b"Name"),
        addr=get_bytes(d, b"Addr"),
        port=get_uint(d, b"Port", 0xFFFF),
        meta=get_bytes(d, b"Meta"),
        incarnation=get_uint(d, b"Incarnation"),
        state=get_uint(d, b"State", 0xFF),
        vsn=get_bytes(d, b"Vsn"),
    )


_BODY_DECODERS: dict[int, Callable[[dict[bytes, Any]], Message]] = {
    MessageType.PING: _dec_ping,
    MessageType.INDIRECT_PING: _dec_indirect,
    MessageType.ACK: _dec_ack,
    MessageType.NACK: _dec_nack,
    MessageType.SUSPECT: _dec_suspect,
    MessageType.ALIVE: _dec_alive,
    MessageType.DEAD: _dec_dead,
    MessageType.COMPRESS: _dec_compress,
    MessageType.ERR: _dec_err,
}


def message_from_map(t: int, d: dict[bytes, Any]) -> Message:
    """Build a msgpack-bodied message of type ``t`` from its decoded map."""
    body_decoder = _BODY_DECODERS.get(t)
    if body_decoder is None:
        raise DecodeError("unknown_type", str(t))
    return body_decoder(d)


def decode_compound(data: bytes) -> Compound:
    """Split a compound; complete parts before a short one are kept (``truncated`` is set)."""
    if len(data) < 2:
        raise DecodeError("bad_compound", "missing count")
    count = data[1]
    offset = 2 + 2 * count
    if len(data) < offset:
        raise DecodeError("bad_compound", "truncated length table")
    parts: list[bytes] = []
    truncated = False
    for i in range(count):
        (length,) = _U16.unpack_from(data, 2 + 2 * i)
        end = offset + length
        if end > len(data):
            truncated = True
            break
        parts.append(data[offset:end])
        offset = end
    return Compound(tuple(parts), truncated)


def decode_push_pull(data: bytes, max_nodes: int = 1 << 20) -> PushPull:
    """A complete push/pull message held in memory (after decompression or decryption)."""
    unpacker = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=len(data) + 1)
    try:
        unpacker.feed(data[1:])
        return read_push_pull_body(unpacker, max_nodes)
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError("bad_push_pull", type(exc).__name__) from None


def push_pull_header(header: object, max_nodes: int = 1 << 20) -> tuple[bool, int, int]:
    """(join, node count, user-state length) from a push/pull header map."""
    if not isinstance(header, dict):
        raise DecodeError("bad_push_pull", "header is not a map")
    join = get_bool(header, b"Join")
    n_nodes = _get_go_int(header, b"Nodes", max_nodes)
    return join, n_nodes, _get_go_int(header, b"UserStateLen", 20 * 1024 * 1024)


def reliable_user_header(header: object, max_len: int = 20 * 1024 * 1024) -> int:
    """The payload length from the header of a TCP user message."""
    if not isinstance(header, dict):
        raise DecodeError("bad_user", "header is not a map")
    return _get_go_int(header, b"UserMsgLen", max_len)


def read_push_pull_body(unpacker: Any, max_nodes: int = 1 << 20) -> PushPull:
    """Read header, node states and user-state tail from a msgpack ``Unpacker``."""
    join, n_nodes, user_len = push_pull_header(unpacker.unpack(), max_nodes)
    nodes = tuple(push_node_state_from_map(unpacker.unpack()) for _ in range(n_nodes))
    user_state = unpacker.read_bytes(user_len) if user_len else b""
    if len(user_state) != user_len:
        raise DecodeError("bad_push_pull", "user state truncated")
    return PushPull(join=join, nodes=nodes, user_state=bytes(user_state))


def _get_go_int(d: dict[bytes, Any], key: bytes, limit: int) -> int:
    v = d.get(key, 0)
    if v is None:
        return 0
    if type(v) is not int or v < 0 or v > limit:
        raise DecodeError("bad_field", key.decode("ascii", "replace"))
    return v


def decode(data: bytes) -> Message:
    """Decode one message (type byte first). Total: returns a message or raises DecodeError."""
    if not data:
        raise DecodeError("empty")
    t = data[0]
    body_decoder = _BODY_DECODERS.get(t)
    if body_decoder is not None:
        return body_decoder(_unpack_body(data, 1))
    if t == MessageType.USER:
        return User(data[1:])
    if t == MessageType.COMPOUND:
        return decode_compound(data)
    if t == MessageType.PUSH_PULL:
        return decode_push_pull(data)
    raise DecodeError("unknown_type", str(t))
