// The API reference: /openapi.json is generated from the route definitions,
// and /docs is Swagger UI served from the swagger-ui-dist package on disk,
// so the page works offline and loads nothing from a CDN.
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { describeOutboundRequest } from "./outbound-request.ts";

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>statehook API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    // validatorUrl: null keeps the page from calling validator.swagger.io.
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null });
  </script>
</body>
</html>
`;

const assetDir = () => dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const cache = new Map<string, Promise<Uint8Array>>();

function asset(name: string): Promise<Uint8Array> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = readFile(join(assetDir(), name));
    cache.set(name, bytes);
    bytes.catch(() => cache.delete(name));
  }
  return bytes;
}

/** Adds /openapi.json, /docs and the docs' two assets to `app`. */
export function mountDocs(app: OpenAPIHono, version: string): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "STATEHOOK_API_TOKEN, or the token statehook generated and printed at its first start",
  });
  describeOutboundRequest(app.openAPIRegistry);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "statehook",
      version,
      description:
        "Outbound webhook delivery from Postgres: dwctl's webhook API, plus publishing, inspection and replay.",
    },
  });
  app.get("/docs", (c) => c.html(PAGE));
  app.get("/docs/:asset", async (c) => {
    const name = c.req.param("asset");
    const type = ASSETS[name];
    if (!type) return c.json({ error: { code: "not_found", message: `no docs asset ${name}` } }, 404);
    const bytes = await asset(name);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": type,
      "cache-control": "public, max-age=86400",
    });
  });
}
