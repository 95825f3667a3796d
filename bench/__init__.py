"""``make bench``: the SDK and the local runtime measured in one run (see __main__)."""
