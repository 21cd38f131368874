"""Protocol limits, named once (placeholder; completed in the wire pipeline change)."""

MAX_UDP_PAYLOAD = 65_000  # what fits one datagram after our framing
MAX_RELIABLE_PAYLOAD = 20 * 1024 * 1024  # memberlist maxPushStateBytes bounds a stream
