"""Dispatch of the control-plane actions to their handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentbay_local.protocol.envelope import ApiError, needs_cloud

if TYPE_CHECKING:
    from agentbay_local.runtime import Runtime

#: What a handler answers: the envelope's Data and extra top-level keys (paging fields).
Answer = tuple[Any, dict[str, Any]]


async def dispatch(runtime: Runtime, action: str, fields: dict[str, Any]) -> Answer:
    """Run one action with its already validated fields."""
    sessions, contexts, states = runtime.sessions, runtime.contexts, runtime.states
    match action:
        case "CreateMcpSession":
            return await sessions.create(fields), {}
        case "ReleaseMcpSession":
            await sessions.release(fields)
            return None, {}
        case "GetSession":
            return sessions.get(fields), {}
        case "GetSessionDetail":
            return states.detail(fields), {}
        case "DeleteSessionAsync":
            states.delete(fields)
            return None, {}
        case "PauseSessionAsync":
            await states.pause(fields)
            return None, {}
        case "ResumeSessionAsync":
            await states.resume(fields)
            return None, {}
        case "RefreshSessionIdleTime":
            states.refresh(fields)
            return None, {}
        case "ListSession":
            return sessions.list_page(fields)
        case "SetLabel":
            sessions.set_labels(fields)
            return None, {}
        case "GetLabel":
            return sessions.get_labels(fields), {}
        case "GetMcpResource":
            return sessions.resource(fields), {}
        case "GetLink":
            return sessions.link(fields), {}
        case "ListMcpTools":
            return sessions.list_tools(fields), {}
        case "CallMcpTool":
            answer = await runtime.tools.call(
                fields["SessionId"],
                fields["Name"],
                fields["Args"],
                reads_today="AutoGenSession" in fields,
            )
            return answer, {}
        case "InitBrowser":
            return await runtime.browsers.init(fields), {}
        case "GetContext":
            return contexts.get(fields), {}
        case "ListContexts":
            return contexts.list_page(fields)
        case "ModifyContext":
            contexts.modify(fields)
            return None, {}
        case "DeleteContext":
            await contexts.delete(fields)
            return None, {}
        case "GetContextInfo":
            return contexts.info(fields), {}
        case "SyncContext":
            contexts.sync(fields)
            return None, {}
        case "DescribeContextFiles":
            return contexts.list_files(fields)
        case "DeleteContextFile":
            await contexts.delete_file(fields)
            return None, {}
        case "GetContextFileUploadUrl":
            return contexts.file_url(fields, "PUT"), {}
        case "GetContextFileDownloadUrl":
            return contexts.file_url(fields, "GET"), {}
        case "GetAndLoadInternalContext":
            return contexts.internal(fields), {}
        case "GetCdpLink":
            return await runtime.browsers.cdp_link(fields), {}
        case "GetAdbLink":
            # The cloud checks the session first: an unknown one answers NotFound (the
            # official suite expects it), a real one needs the cloud's mobile device.
            runtime.running.get(fields["SessionId"], any_state=True, status_read=True)
            raise needs_cloud(action)
        case (
            "GetSkillMetaData"
            | "ListSkillMetaData"
            | "BindContextSkillAsync"
            | "UnbindContextSkillAsync"
        ):
            raise needs_cloud(action)
        case "ClearContext":
            await contexts.clear(fields)
            return None, {}
        case "BindContexts":
            await contexts.bind(fields)
            return None, {}
        case "DescribeSessionContexts":
            return contexts.bindings(fields), {}
        case "CreateNetwork":
            return runtime.networks.create(fields), {}
        case "DescribeNetwork":
            return runtime.networks.describe(fields), {}
    raise ApiError(404, "InvalidAction.NotFound", f"The action {action!r} is not supported.")
