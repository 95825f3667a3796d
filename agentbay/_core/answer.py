"""``Answer``: one API action's decoded answer, typed by the description.

``ApiClient.call`` decodes every answer into the generated response model of its action
(``agentbay._rendered.openapi.models``), so a field renamed in openapi/agentbay.yaml fails the
type check instead of silently reading ``None``. ``Answer`` adds the envelope fields every
caller reads, with the description's "absent" (``UNSET``) already turned into plain defaults,
and builds the ``[Code] Message`` text of a ``Success: false`` answer in this one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from agentbay._rendered.openapi.types import Unset

D = TypeVar("D")
T = TypeVar("T")


class _Envelope(Protocol):
    """What every generated response model has (the description's ``Envelope``)."""

    request_id: Any
    success: Any
    code: Any
    message: Any
    http_status_code: Any


R = TypeVar("R", bound=_Envelope)


class Answer(Generic[R]):
    """A decoded answer (also when ``Success`` is false).

    Attributes:
        model: the generated response model; ``model.data`` is the action's typed ``Data``.
        request_id: ``RequestId`` (``""`` when absent).
        success: ``Success``, or None when the answer has none.
        code: ``Code`` (``""`` when absent).
        message: ``Message`` (``""`` when absent).
        http_status_code: ``HttpStatusCode`` (0 when absent).
    """

    __slots__ = ("code", "http_status_code", "message", "model", "request_id", "success")

    def __init__(self, model: R) -> None:
        self.model = model
        # UNSET is falsy: "absent" becomes the plain default.
        self.request_id = str(model.request_id or "")
        self.success: bool | None = model.success if isinstance(model.success, bool) else None
        self.code = str(model.code or "")
        self.message = str(model.message or "")
        self.http_status_code = int(model.http_status_code or 0)

    def __repr__(self) -> str:
        return f"Answer({self.model!r})"

    @property
    def failed(self) -> bool:
        """The answer says ``Success: false``."""
        return self.success is False

    def data_as(self, kind: type[D]) -> D | None:
        """``Data`` when the answer carries it in the shape ``kind``, else None.

        ``kind`` is one of the shapes the description allows for the action's ``Data`` (a
        generated model, ``str``, ``list``); an answer without ``Data`` gives None.
        """
        data = getattr(self.model, "data", None)
        return data if isinstance(data, kind) else None

    @property
    def error_text(self) -> str:
        """``[Code] Message``: how every result reports a ``Success: false`` answer."""
        return f"[{self.code}] {self.message}"


def given(value: T | Unset) -> T | None:
    """A field of a decoded answer, or None when the answer left it out (``UNSET``)."""
    from agentbay._rendered.openapi.types import Unset

    return None if isinstance(value, Unset) else value
