"""An MCP client signing in to Keygate with the official Python SDK's OAuth client provider.

Driven by crates/keygate-cli/tests/oauth_e2e.rs, which runs `keygate serve` and a real browser.
One JSON object per line on stdout tells the test what happened; the test answers on stdin
when it has done its part (approved in the browser, revoked the grant). Tokens never appear
in the output, only the first 12 hex digits of their SHA-256, enough to tell them apart.
"""

import asyncio
import hashlib
import json
import sys
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def fingerprint(secret):
    return hashlib.sha256(secret.encode()).hexdigest()[:12] if secret else None


async def wait_for_test(expected):
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != expected:
        raise SystemExit(f"expected {expected!r} from the test, got {line!r}")


class MemoryStorage:
    """Token storage as the SDK expects it; remembers every token pair it was given."""

    def __init__(self):
        self.tokens = None
        self.client_info = None
        self.history = []

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens
        self.history.append(tokens)
        emit("tokens", access=fingerprint(tokens.access_token), refresh=fingerprint(tokens.refresh_token),
             expires_in=tokens.expires_in)

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client_info = client_info
        emit("registered", client_id=client_info.client_id)


class Callback:
    """The loopback redirect URI: receives the browser after the consent page."""

    def __init__(self):
        self.result = None
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{self.port}/callback"
        return self

    async def handle(self, reader, writer):
        request_line = (await reader.readline()).decode("latin-1")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        target = request_line.split(" ")[1] if " " in request_line else "/"
        query = parse_qs(urlsplit(target).query)
        body = b"<!doctype html><title>Signed in</title><p id=done>Signed in: you can close this window.</p>"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()
        if self.result and not self.result.done():
            self.result.set_result({k: v[0] for k, v in query.items()})

    async def redirect(self, authorization_url):
        self.result = asyncio.get_running_loop().create_future()
        emit("authorize", url=authorization_url)

    async def wait(self):
        answer = await asyncio.wait_for(self.result, timeout=120)
        emit("callback", has_code="code" in answer, error=answer.get("error"))
        if "code" not in answer:
            raise SystemExit(f"the sign-in was refused: {answer.get('error')}")
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"))


async def call_tools(url, provider, calls):
    """Open an MCP session through the provider and call web_search `calls` times, waiting for
    the access token to expire between calls so the SDK refreshes it itself."""
    async with httpx.AsyncClient(auth=provider, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                emit("tools", names=sorted(t.name for t in listed.tools))
                for index in range(calls):
                    if index:
                        await asyncio.sleep(provider.context.current_tokens.expires_in + 1)
                    result = await session.call_tool("web_search", {"query": f"rust {index}"})
                    text = "".join(c.text for c in result.content if getattr(c, "text", None))
                    emit("called", is_error=bool(result.is_error), text=text)


async def raw_checks(url, token_url, client_id, access, refresh, label):
    """What a holder of these tokens gets, outside the SDK: an MCP request, then a refresh."""
    async with httpx.AsyncClient(timeout=30) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = {"Authorization": f"Bearer {access}", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-06-18"}
        mcp = await http.post(url, json=body, headers=headers)
        answer = await http.post(token_url, data={"grant_type": "refresh_token", "refresh_token": refresh,
                                                  "client_id": client_id, "resource": url})
        emit("raw", label=label, mcp_status=mcp.status_code, refresh_status=answer.status_code,
             refresh_error=answer.json().get("error"))


async def main(url):
    callback = await Callback().start()
    storage = MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name="Keygate E2E <Python SDK>",
        redirect_uris=[callback.redirect_uri],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    provider = OAuthClientProvider(server_url=url, client_metadata=metadata, storage=storage,
                                   redirect_handler=callback.redirect, callback_handler=callback.wait)

    # Sign-in 1: consent in the browser, a call, a refresh by the SDK, another call.
    await call_tools(url, provider, calls=2)
    token_url = str(provider.context.oauth_metadata.token_endpoint)
    client_id = storage.client_info.client_id
    first, current = storage.history[0], storage.history[-1]
    # A replayed refresh token: the whole family dies, the current tokens with it.
    await raw_checks(url, token_url, client_id, current.access_token, first.refresh_token, "replay")
    await raw_checks(url, token_url, client_id, current.access_token, current.refresh_token, "after_replay")

    # Sign-in 2 (same registration): consent again, a call, then the test revokes the grant.
    storage.tokens = None
    provider.context.clear_tokens()
    await call_tools(url, provider, calls=1)
    emit("revoke_now")
    await wait_for_test("revoked")
    latest = storage.history[-1]
    await raw_checks(url, token_url, client_id, latest.access_token, latest.refresh_token, "after_revoke")
    emit("done")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
