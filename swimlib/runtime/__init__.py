"""Sockets, threads and clocks: the thin imperative shell around the protocol core."""
