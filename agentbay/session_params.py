"""Parameters of ``AgentBay.create`` and ``list_by_labels``, and the browser context binding."""

from __future__ import annotations

from agentbay._types.extension import EXTENSIONS_BASE_PATH, ExtensionOption
from agentbay._types.extra_configs import ExtraConfigs
from agentbay.context_mount import BetaContextMount
from agentbay.context_sync import (
    BWList,
    ContextSync,
    ExtractPolicy,
    SyncPolicy,
    UploadPolicy,
    WhiteList,
)


class BrowserContext:
    """A browser profile kept in a context (synced at ``/tmp/agentbay_browser``).

    With ``extension_option`` the extensions' context is synced to ``/tmp/extensions/``.
    """

    def __init__(
        self,
        context_id: str,
        auto_upload: bool = True,
        extension_option: ExtensionOption | None = None,
    ) -> None:
        self.context_id = context_id
        self.auto_upload = auto_upload
        self.extension_option = extension_option
        self.extension_context_id: str | None = None
        self.extension_ids: list[str] = []
        self.extension_context_syncs: list[ContextSync] | None = None
        if extension_option is not None:
            self.extension_context_id = extension_option.context_id
            self.extension_ids = list(extension_option.extension_ids)
            policy = SyncPolicy(
                upload_policy=UploadPolicy(auto_upload=False),
                extract_policy=ExtractPolicy(extract=True, delete_src_file=True),
                bw_list=BWList(white_lists=[WhiteList(path=ext) for ext in self.extension_ids]),
            )
            self.extension_context_syncs = [
                ContextSync(self.extension_context_id, EXTENSIONS_BASE_PATH + "/", policy)
            ]

    def get_all_context_syncs(self) -> list[ContextSync]:
        """The extension syncs of this browser context (``[]`` without extensions)."""
        return list(self.extension_context_syncs or [])


_MANUAL = "In manual release mode, the session is only released via delete()."


class LifecyclePolicy:
    """When a session is released by itself (0.22): after ``idle_release_timeout`` minutes
    without activity (default 5) or ``max_runtime`` minutes after creation (default 30);
    with ``manual_release=True`` only by ``delete()``.

    Raises:
        ValueError: a value that is not a positive whole number of minutes, or one given
            with ``manual_release`` (0.22's messages).
    """

    def __init__(
        self,
        idle_release_timeout: int | None = None,
        max_runtime: int | None = None,
        manual_release: bool = False,
    ) -> None:
        if manual_release:
            for name, value in (
                ("idle_release_timeout", idle_release_timeout),
                ("max_runtime", max_runtime),
            ):
                if value is not None:
                    raise ValueError(f"{name} cannot be set when manual_release=True. {_MANUAL}")
            self.idle_release_timeout, self.max_runtime, self.manual_release = 0, 0, True
            return
        idle = 5 if idle_release_timeout is None else idle_release_timeout
        most = 30 if max_runtime is None else max_runtime
        for name, value in (("idle_release_timeout", idle), ("max_runtime", most)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer (minutes)")
        self.idle_release_timeout, self.max_runtime, self.manual_release = idle, most, False


class CreateSessionParams:
    """Options of ``AgentBay.create``.

    ``lifecycle_policy`` (0.22, minutes) and the older ``idle_release_timeout`` (seconds)
    set when the session is released by itself; without either the server's defaults apply.
    ``beta_network_id`` (0.22) names a network (``agent_bay.beta_network``) it joins.
    ``beta_context_mounts`` (0.22) mounts contexts directly (``BetaContextMount``).
    """

    def __init__(
        self,
        labels: dict[str, str] | None = None,
        image_id: str | None = None,
        context_syncs: list[ContextSync] | None = None,
        browser_context: BrowserContext | None = None,
        is_vpc: bool | None = None,
        policy_id: str | None = None,
        enable_browser_replay: bool | None = None,
        extra_configs: ExtraConfigs | None = None,
        idle_release_timeout: int | None = None,
        lifecycle_policy: LifecyclePolicy | None = None,
        beta_network_id: str | None = None,
        beta_context_mounts: list[BetaContextMount] | None = None,
    ) -> None:
        if lifecycle_policy is not None and idle_release_timeout is not None:
            raise ValueError(
                "idle_release_timeout is deprecated, use lifecycle_policy.idle_release_timeout"
                " instead. Cannot set both."
            )
        if idle_release_timeout is not None and (
            not isinstance(idle_release_timeout, int) or isinstance(idle_release_timeout, bool)
        ):
            raise ValueError("idle_release_timeout must be an int (seconds)")
        if idle_release_timeout is not None and idle_release_timeout <= 0:
            raise ValueError("idle_release_timeout must be > 0 (seconds)")
        self.idle_release_timeout = idle_release_timeout
        self.lifecycle_policy = lifecycle_policy
        self.labels = labels or {}
        self.image_id = image_id
        syncs = list(context_syncs or [])
        if browser_context is not None:
            syncs.extend(browser_context.get_all_context_syncs())
        self.context_syncs = syncs
        self.browser_context = browser_context
        self.is_vpc = bool(is_vpc)
        self.policy_id = policy_id
        self.enable_browser_replay = bool(enable_browser_replay)
        self.extra_configs = extra_configs
        #: The network the session joins (0.22; ``agent_bay.beta_network``).
        self.beta_network_id = beta_network_id
        #: Contexts mounted directly (0.22's beta direct-mount persistence).
        self.beta_context_mounts = list(beta_context_mounts or [])


class ListSessionParams:
    """Options of the deprecated ``AgentBay.list_by_labels``."""

    def __init__(
        self, max_results: int = 10, next_token: str = "", labels: dict[str, str] | None = None
    ) -> None:
        self.max_results = max_results
        self.next_token = next_token
        self.labels = labels or {}
