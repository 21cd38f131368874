"""Protocol limits, named once: what memberlist enforces, and what swimlib adds on receipt."""

MAX_UDP_PAYLOAD = 65_000  # what fits one datagram after our framing
MAX_RELIABLE_PAYLOAD = 20 * 1024 * 1024  # memberlist maxPushStateBytes bounds a stream
MAX_INCARNATION = 0xFFFFFFFF  # memberlist's incarnation is a uint32
# An incarnation more than this far above the one we know for a member is refused: a node's
# incarnation grows by one per refute or update, so only a forgery jumps this far (and a
# forgery at the top of the range would leave its victim unable to refute).
MAX_INCARNATION_JUMP = 1 << 16
MAX_NAME_BYTES = 512  # receive-side cap on node names (memberlist has none)
META_MAX_SIZE = 512  # memberlist MetaMaxSize
MAX_STREAM_BYTES = 20 * 1024 * 1024  # memberlist maxPushStateBytes: one stream message
MAX_DECOMPRESSED = 40 * 1024 * 1024  # swimlib: output of one LZW body (memberlist: none)
MAX_LABEL_LEN = 255  # memberlist: the label length is one byte
MAX_INBOUND_STREAMS = 128  # memberlist maxPushPullRequests: concurrent inbound push/pulls
MAX_NESTING = 4  # compound/compress nesting accepted (memberlist: no limit)
COMPRESS_MIN_BYTES = 96  # swimlib: smaller datagrams are never tried with LZW (packet.py)
