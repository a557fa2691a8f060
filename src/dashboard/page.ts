// The dashboard's one HTML page and the Content-Security-Policy it is served
// with. Everything the page loads comes from this origin: its modules from
// /dashboard/app/, Preact and htm from /dashboard/vendor/ (served from
// node_modules), and the API it calls. The only inline script is the import
// map, allowed by its hash, so the policy can refuse every other inline
// script and every other origin.
import { createHash } from "node:crypto";

/** Bare specifiers the client modules import, mapped to the files /dashboard/vendor/ serves. */
export const IMPORT_MAP = {
  imports: {
    "preact": "/dashboard/vendor/preact.mjs",
    "preact/hooks": "/dashboard/vendor/hooks.mjs",
    "htm": "/dashboard/vendor/htm.mjs",
    "htm/preact": "/dashboard/vendor/htm-preact.mjs",
  },
};

const importMap = JSON.stringify(IMPORT_MAP);
const importMapHash = `'sha256-${createHash("sha256").update(importMap).digest("base64")}'`;

/** For Hono's secureHeaders: nothing from any other origin, no inline script but the import map. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'", importMapHash],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

export const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>statehook dashboard</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" type="image/svg+xml" href="/dashboard/app/icon.svg">
  <link rel="stylesheet" href="/dashboard/app/style.css">
  <script type="importmap">${importMap}</script>
  <script type="module" src="/dashboard/app/main.js"></script>
</head>
<body>
  <div id="app"><noscript>The dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;
