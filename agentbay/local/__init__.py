"""``agentbay.local``: the local runtime's public functions, under the SDK's name.

A thin alias of the runtime package ``agentbay_local`` (installed with the ``local`` extra):
``agentbay.local.start()`` runs a runtime inside this process (what ``endpoint="local"``
uses), ``build_image``, ``list_images`` and ``remove_image`` manage user images (also as
``agentbay.local.user_images``), and
``default_data_dir()`` says where ``agentbay local serve`` keeps its state. Nothing is
imported from the runtime until one of them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentbay_local import (
        build_image,
        default_data_dir,
        list_images,
        remove_image,
        start,
    )
    from agentbay_local.images import user_images

__all__ = [
    "build_image",
    "default_data_dir",
    "list_images",
    "remove_image",
    "start",
    "user_images",
]


def __getattr__(name: str) -> object:
    if name == "user_images":
        from agentbay_local.images import user_images

        return user_images
    if name in __all__:
        import agentbay_local

        return getattr(agentbay_local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
