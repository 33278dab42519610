// A small stdio MCP server that Keygate's integration tests launch as a child, to drive the
// gateway through failures a real server only shows by accident: crashes, hangs, slow calls
// with progress, tool-list changes, stderr output, grandchildren, and what environment and
// arguments the child was given. Run: node tests/mcp-servers/fixture.mjs [args...]
// Tools and switches are listed in README.md beside this file.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
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
} else {
  await serve();
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
    "pid",
    { description: "This server's pid", inputSchema: {} },
    async () => text(process.pid),
  );

  await server.connect(new StdioServerTransport());
}
