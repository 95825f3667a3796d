"""User images: Imagefiles, building them into read-only layers, and their registry."""
