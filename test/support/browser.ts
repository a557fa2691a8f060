// A real browser for the dashboard tests: Debian's Chromium, driven by
// playwright-core (npm's browser downloads are not used). `watch(page, origin)`
// collects every console error, uncaught exception and request to another
// origin, so a test can insist there were none.
import { existsSync } from "node:fs";
import type { Browser, Page } from "playwright-core";

export const CHROMIUM = process.env.STATEHOOK_CHROMIUM ?? "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export type Launched = { browser: Browser } | { skip: string };

/** The browser, or why the browser tests skip under this runtime (printed by the caller). */
export async function launchBrowser(): Promise<Launched> {
  if (!existsSync(CHROMIUM)) {
    return { skip: `no Chromium at ${CHROMIUM} (apt-get install chromium, or set STATEHOOK_CHROMIUM)` };
  }
  try {
    const { chromium } = await import("playwright-core");
    return { browser: await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 }) };
  } catch (error) {
    const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "Bun" : "Deno";
    return { skip: `playwright-core could not start Chromium under ${runtime}: ${String(error).split("\n")[0]}` };
  }
}

export type Watch = {
  /** Console errors, uncaught exceptions and other-origin requests seen so far. */
  problems: string[];
  /**
   * Runs `step`, during which exactly `count` console errors matching `pattern`
   * are expected (Chromium logs a refused token's 401), and waits for them.
   */
  expecting<T>(pattern: RegExp, count: number, step: () => Promise<T>): Promise<T>;
};

export function watch(page: Page, origin: string): Watch {
  const problems: string[] = [];
  let expected: { pattern: RegExp; left: number } | undefined;
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    if (expected && expected.left > 0 && expected.pattern.test(message.text())) {
      expected.left--;
      return;
    }
    problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith("data:") || url === "about:blank") return;
    if (new URL(url).origin !== origin) problems.push(`request to another origin: ${url}`);
  });
  return {
    problems,
    async expecting(pattern, count, step) {
      const mine = { pattern, left: count };
      expected = mine;
      try {
        const result = await step();
        const deadline = Date.now() + 5000;
        while (mine.left > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        if (mine.left > 0) problems.push(`expected ${count} console errors like ${pattern}, saw ${count - mine.left}`);
        return result;
      } finally {
        expected = undefined;
      }
    },
  };
}
