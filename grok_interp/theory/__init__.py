"""Models without networks: Varma et al.'s two-circuit simulation (:mod:`.two_circuits`)."""
