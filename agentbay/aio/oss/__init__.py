"""``Oss`` and its data classes."""

from agentbay.aio.oss.oss import (
    Oss,
    OSSClientResult,
    OSSDownloadResult,
    OSSUploadResult,
)

__all__ = [
    "OSSClientResult",
    "OSSDownloadResult",
    "OSSUploadResult",
    "Oss",
]
