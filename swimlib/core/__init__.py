"""Sans-I/O protocol core: membership state, timers as data, gossip queue and scaling rules."""
