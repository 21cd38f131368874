"""The implementation behind the ``swimlib`` command line (``swimlib.cli`` is its front end).

One module per command (``codec_cmd``, ``recv_cmd``, ``ping_cmd``, ``agent_cmd``), plus what
they share: ``common`` (argument parsing, output, the error type), ``render`` (text and JSON
forms of messages and of decode reports) and ``layers`` (undoing a packet's or stream
message's layers one at a time, recording each).
"""
