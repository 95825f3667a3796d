"""The async twins of the hand-written plumbing (``flavour``)."""
