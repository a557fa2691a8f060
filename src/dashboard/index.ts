// GET /dashboard: the operator's page, served whole from this process. The
// client is plain ES modules (src/dashboard/client/) on Preact and htm, read
// from node_modules like /docs reads swagger-ui-dist: no build step, no CDN,
// works with no network. The page holds no secret and needs no token; the API
// calls it makes carry the bearer token the operator types in.
//
//   mountDashboard(app);
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { secureHeaders } from "hono/secure-headers";
import { machineGraphs } from "./machine-graphs.ts";
import { CONTENT_SECURITY_POLICY, PAGE } from "./page.ts";

const CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), "client");

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  map: "application/json",
};

const require = createRequire(import.meta.url);
const preactDir = () => dirname(require.resolve("preact/package.json"));
// htm exports no package.json; its CommonJS entry is dist/htm.js.
const htmDir = () => dirname(dirname(require.resolve("htm")));

/** What /dashboard/vendor/<name> serves: the packages' own ES module builds. */
const VENDOR: Record<string, () => string> = {
  "preact.mjs": () => join(preactDir(), "dist/preact.mjs"),
  "preact.mjs.map": () => join(preactDir(), "dist/preact.mjs.map"),
  "hooks.mjs": () => join(preactDir(), "hooks/dist/hooks.mjs"),
  "hooks.mjs.map": () => join(preactDir(), "hooks/dist/hooks.mjs.map"),
  "htm.mjs": () => join(htmDir(), "dist/htm.mjs"),
  "htm-preact.mjs": () => join(htmDir(), "preact/index.mjs"),
};

const vendorCache = new Map<string, Promise<Uint8Array>>();

function vendorFile(name: string): Promise<Uint8Array> {
  let bytes = vendorCache.get(name);
  if (!bytes) {
    bytes = readFile(VENDOR[name]());
    vendorCache.set(name, bytes);
    bytes.catch(() => vendorCache.delete(name));
  }
  return bytes;
}

const typeOf = (name: string) => TYPES[name.slice(name.lastIndexOf(".") + 1)];

/** Adds /dashboard, its modules, its vendored libraries and /dashboard/machines.json to `app`. */
export function mountDashboard(app: OpenAPIHono): void {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/dashboard",
    operationId: "dashboard",
    summary: "The operator's dashboard (asks for the API token in the page)",
    tags: ["operations"],
    responses: { 200: { description: "HTML" } },
  });
  app.use("/dashboard", secureHeaders({ contentSecurityPolicy: CONTENT_SECURITY_POLICY }));
  app.use("/dashboard/*", secureHeaders({ contentSecurityPolicy: CONTENT_SECURITY_POLICY }));

  app.get("/dashboard", (c) => c.html(PAGE, 200, { "cache-control": "no-store" }));
  app.get("/dashboard/", (c) => c.redirect("/dashboard", 301));

  let graphs: string | undefined;
  app.get("/dashboard/machines.json", (c) => {
    graphs ??= JSON.stringify({ machines: machineGraphs() });
    return c.body(graphs, 200, { "content-type": "application/json" });
  });

  // The client changes with the code, so it is always revalidated; names are
  // one path segment of plain characters, so nothing outside the folder is reachable.
  app.get("/dashboard/app/:name{[a-z][a-z0-9-]*\\.(?:js|css|svg)}", async (c) => {
    const name = c.req.param("name");
    const bytes = await readFile(join(CLIENT_DIR, name)).catch(() => undefined);
    if (!bytes) return c.json({ error: { code: "not_found", message: `no dashboard file ${name}` } }, 404);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { "content-type": typeOf(name), "cache-control": "no-cache" });
  });

  app.get("/dashboard/vendor/:name", async (c) => {
    const name = c.req.param("name");
    if (!Object.hasOwn(VENDOR, name)) {
      return c.json({ error: { code: "not_found", message: `no dashboard library ${name}` } }, 404);
    }
    const bytes = await vendorFile(name);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": typeOf(name),
      "cache-control": "public, max-age=86400",
    });
  });
}
