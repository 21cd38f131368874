"""Bytes <-> memberlist messages: every byte-compatibility concern lives in this package."""
