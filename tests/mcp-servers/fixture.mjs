// A small stdio MCP server that Keygate's integration tests launch as a child, to drive the
// gateway through failures a real server only shows by accident: crashes, hangs, slow calls
// with progress, tool-list changes, stderr output, grandchildren, and what environment and
// arguments the child was given. Run: node tests/mcp-servers/fixture.mjs [args...]
// Tools and switches are listed in README.md beside this file.
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const mode = process.env.FIXTURE_MODE ?? "";

if (mode === "exit_at_start") {
  process.stderr.write("fixture: refusing to start\n");
  process.exit(2);
}
if (mode === "garbage") {
  // Not MCP: one non-JSON line at start and one for each line read; exits at stdin EOF.
  process.stdout.write("fixture: this is not JSON-RPC\n");
  const lines = createInterface({ input: process.stdin });
  lines.on("line", () => process.stdout.write("garbage {{{ not json\n"));
} else if (mode === "hang_init") {
  // Reads stdin, never answers, and stays alive after stdin EOF until killed.
  process.stdin.resume();
  setInterval(() => {}, 1 << 30);
} else if (mode === "sse") {
  listen(legacySse());
} else if (mode === "http") {
  listen(streamableHttp());
} else {
  await (await serve()).connect(new StdioServerTransport());
}

// Serve HTTP on 127.0.0.1 ($PORT, or any free port) and print "listening PORT" on stdout.
function listen(handler) {
  const http = createServer((req, res) => handler(req, res).catch((e) => res.writeHead(500).end(String(e))));
  http.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
    process.stdout.write(`listening ${http.address().port}\n`);
  });
}

// The 2024-11-05 HTTP+SSE transport: GET /sse opens a session, POST /message carries messages.
function legacySse() {
  const sessions = new Map();
  return async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (req.method === "GET" && url.pathname === "/sse") {
      const transport = new SSEServerTransport("/message", res);
      sessions.set(transport.sessionId, transport);
      res.on("close", () => sessions.delete(transport.sessionId));
      await (await serve()).connect(transport);
    } else if (req.method === "POST" && url.pathname === "/message") {
      const transport = sessions.get(url.searchParams.get("sessionId"));
      if (transport) await transport.handlePostMessage(req, res);
      else res.writeHead(404).end("no such session");
    } else {
      res.writeHead(404).end("not found");
    }
  };
}

// Streamable HTTP at /mcp, one session per initialize.
function streamableHttp() {
  const sessions = new Map();
  return async (req, res) => {
    if (new URL(req.url, "http://127.0.0.1").pathname !== "/mcp") return res.writeHead(404).end("not found");
    let transport = sessions.get(req.headers["mcp-session-id"]);
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, transport),
      });
      await (await serve()).connect(transport);
    }
    await transport.handleRequest(req, res);
  };
}

async function serve() {
  // Coalesce the list_changed notifications of one change_tools call into one.
  const server = new McpServer(
    { name: "keygate-fixture", version: "1.0.0" },
    { debouncedNotificationMethods: ["notifications/tools/list_changed"] },
  );
  const text = (t) => ({ content: [{ type: "text", text: String(t) }] });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  let extraTool; // registered by change_tools
  const echo = server.registerTool(
    "echo",
    {
      description: process.env.FIXTURE_DESCRIPTION ?? "Echo the text back",
      inputSchema: { text: z.string() },
    },
    async ({ text: t }) => text(t),
  );
  server.registerTool(
    "env",
    {
      description: "Value of an environment variable, or <unset>",
      inputSchema: { name: z.string() },
    },
    async ({ name }) => text(process.env[name] ?? "<unset>"),
  );
  server.registerTool(
    "env_names",
    { description: "Sorted names of all environment variables, comma-separated", inputSchema: {} },
    async () => text(Object.keys(process.env).sort().join(",")),
  );
  server.registerTool(
    "argv",
    { description: "JSON of process.argv", inputSchema: {} },
    async () => text(JSON.stringify(process.argv)),
  );
  server.registerTool(
    "crash",
    { description: "Exit with code 3 without answering", inputSchema: {} },
    async () => process.exit(3),
  );
  server.registerTool(
    "hang",
    { description: "Never answer (and keep the process alive after stdin EOF)", inputSchema: {} },
    () => new Promise(() => setInterval(() => {}, 1 << 30)),
  );
  server.registerTool(
    "slow",
    {
      description: "Wait ms, with a progress notification every 50 ms if asked, then answer done",
      inputSchema: { ms: z.number() },
    },
    async ({ ms }, extra) => {
      const token = extra._meta?.progressToken;
      for (let waited = 0; waited < ms; waited += 50) {
        await sleep(Math.min(50, ms - waited));
        if (token !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: Math.min(waited + 50, ms), total: ms },
          });
        }
      }
      return text("done");
    },
  );
  server.registerTool(
    "change_tools",
    {
      description: "Change echo's description, add tool extra, send tools/list_changed",
      inputSchema: {},
    },
    async () => {
      echo.update({ description: echo.description + " (changed)" });
      extraTool ??= server.registerTool(
        "extra",
        { description: "Added by change_tools", inputSchema: {} },
        async () => text("extra"),
      );
      server.sendToolListChanged();
      // Let the (debounced) notification go out before the answer.
      await new Promise((resolve) => setImmediate(resolve));
      return text("changed");
    },
  );
  server.registerTool(
    "stderr",
    { description: "Write text and a newline to stderr", inputSchema: { text: z.string() } },
    async ({ text: t }) => {
      process.stderr.write(t + "\n");
      return text("ok");
    },
  );
  server.registerTool(
    "grandchild",
    {
      description: "Start `sleep 1000` in this process group (not detached), answer its pid",
      inputSchema: {},
    },
    async () => {
      const child = spawn("sleep", ["1000"], { stdio: "ignore" });
      child.unref(); // the fixture still exits at stdin EOF; the sleep lives on in its group
      return text(child.pid);
    },
  );
  server.registerTool(
    "auth_sha256",
    { description: "SHA-256 (hex) of the Authorization header that carried this call, or <none>", inputSchema: {} },
    async (_args, extra) => {
      const auth = extra.requestInfo?.headers?.authorization;
      return text(auth ? createHash("sha256").update(auth).digest("hex") : "<none>");
    },
  );
  server.registerTool(
    "pid",
    { description: "This server's pid", inputSchema: {} },
    async () => text(process.pid),
  );
  return server;
}
