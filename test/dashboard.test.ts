// The dashboard in a real browser (Debian's Chromium, driven by
// playwright-core) against the real service and a real receiver: sign in,
// see a webhook appear, watch its breaker trip live, read a delivery's
// attempts, retry, recover, rotate a secret, create and edit a webhook, and
// follow the machines. Every test fails on a console error or a request to
// another origin. The steps build on each other, in order, on one page.
//
// DASHBOARD_SCREENSHOTS=1 also writes docs/dashboard-*.png (the README's tour).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { launchBrowser, type Watch, watch } from "./support/browser.ts";
import { testDatabase } from "./support/database.ts";
import { type Received, type Receiver, respond, startReceiver } from "./support/receiver.ts";
import { ROOT, type Service, startService, until } from "./support/service.ts";
import { verify } from "./support/verify.ts";

const TOKEN = "dashboard-test-token-0123456789";
const THRESHOLD = 3;
const USER = "6a1f0c2e-0000-4000-8000-00000000da5b";
const SCREENSHOTS = process.env.DASHBOARD_SCREENSHOTS === "1";

const launched = await launchBrowser();
const skip = "skip" in launched ? launched.skip : undefined;
if (skip) console.log(`test/dashboard.test.ts: the browser tests skip: ${skip}`);

type World = {
  browser: Browser;
  page: Page;
  watched: Watch;
  service: Service;
  receiver: Receiver;
  close(): Promise<void>;
};

// Set up at load time: bun's node:test ignores a hook's timeout option.
const world: World | undefined = "browser" in launched ? await setUp(launched.browser) : undefined;
after(() => world?.close());

async function setUp(browser: Browser): Promise<World> {
  const db = await testDatabase();
  const receiver = await startReceiver(respond(200, "ok"));
  const service = await startService({
    env: {
      DATABASE_URL: db.url,
      STATEHOOK_API_TOKEN: TOKEN,
      STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
      STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: String(THRESHOLD),
      // One attempt each: a failure is exhausted at once, so retry and recover have work.
      STATEHOOK_RETRY_SCHEDULE: "0",
    },
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const watched = watch(page, new URL(service.url).origin);
  return {
    browser,
    page,
    watched,
    service,
    receiver,
    async close() {
      await browser.close().catch(() => {});
      await service.stop();
      await receiver.close();
      await db.close();
    },
  };
}

// ---------------------------------------------------------------------------
// Helpers

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${world!.service.url}/admin/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const publish = (n: number) => api("POST", "/events", { event_type: "order.created", data: { n }, user_id: USER });

/** Waits until the locator's text satisfies `check` (a string: contains it). */
async function text(locator: Locator, check: string | ((text: string) => boolean), timeoutMs = 20_000) {
  const ok = typeof check === "string" ? (t: string) => t.includes(check) : check;
  return await until(
    async () => {
      const t = await locator.first().textContent({ timeout: 1000 }).catch(() => null);
      return t !== null && ok(t) ? t : undefined;
    },
    timeoutMs,
    `${locator} to read ${typeof check === "string" ? JSON.stringify(check) : "as expected"}`,
  );
}

/** The page has not been reloaded since `markLoaded()`: what changed, changed live. */
const markLoaded = () => world!.page.evaluate(() => ((globalThis as Record<string, unknown>).__sameDocument = true));
const stillSameDocument = () =>
  world!.page.evaluate(() => (globalThis as Record<string, unknown>).__sameDocument === true);

function clean() {
  assert.deepEqual(world!.watched.problems.splice(0), [], "console errors or requests to other origins");
}

async function screenshot(name: string, fullPage = false) {
  if (SCREENSHOTS) await world!.page.screenshot({ path: join(ROOT, "docs", `dashboard-${name}.png`), fullPage });
}

const row = (webhookId: string) => world!.page.locator(`tr[data-webhook-id="${webhookId}"]`);
const field = (scope: Locator, name: string) => scope.locator(`[data-field="${name}"]`);

let webhookId = "";
let deliveryId = "";
let eventIds: string[] = [];

// ---------------------------------------------------------------------------
// The steps

test("a wrong token is refused; the right one signs in, kept for the tab and never as a cookie", { skip }, async () => {
  const { page, service, watched } = world!;
  await page.goto(`${service.url}/dashboard`);
  await screenshot("login");
  const password = page.locator('input[type="password"]');
  await password.fill("not-the-token-0123456789");
  await watched.expecting(/status of 401/, 1, async () => {
    await page.getByRole("button", { name: "Sign in" }).click();
    await text(page.getByTestId("login-error"), "Wrong token");
  });
  await password.fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('nav a[data-view="endpoints"]').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("statehook.api-token")), TOKEN);
  assert.equal(await page.evaluate(() => document.cookie), "");
  await page.reload();
  await page.locator('nav a[data-view="endpoints"]').waitFor();
  await text(page.getByTestId("live-status"), "live");
  clean();
});

test("a webhook created through the API appears without a reload", { skip }, async () => {
  const { receiver } = world!;
  await markLoaded();
  const created = await api("POST", `/users/${USER}/webhooks`, { url: `${receiver.url}/a`, description: "orders" });
  webhookId = created.id;
  const r = row(webhookId);
  await text(field(r, "url"), `${receiver.url}/a`);
  assert.equal(await field(r, "scope").textContent(), "own");
  assert.equal(await field(r, "event_types").textContent(), "all");
  assert.equal(await field(r, "enabled").textContent(), "yes");
  assert.equal(await field(r, "breaker").textContent(), "closed");
  assert.ok(await stillSameDocument());
  clean();
});

test("a breaker trips live: the row turns open while the page stays put", { skip }, async () => {
  const { receiver } = world!;
  // One delivery first, so the endpoint has a webhook actor the stream reports.
  await publish(0);
  await receiver.waitFor(1);
  const r = row(webhookId);
  await until(async () => (await field(r, "breaker").getAttribute("data-live")) === "true", 20_000, "the live row");

  receiver.setHandler(respond(500, "receiver down"));
  const published = [];
  for (let n = 1; n <= THRESHOLD; n++) published.push(await publish(n));
  eventIds = published.map((p) => p.event_id);
  await text(field(r, "breaker"), "open");
  assert.equal(await field(r, "breaker").getAttribute("data-live"), "true", "the state came from the live stream");
  await text(field(r, "failures"), String(THRESHOLD));
  await text(field(r, "last_status"), "500");
  await text(field(r, "enabled"), "no");
  assert.ok(await stillSameDocument());
  await screenshot("endpoints");
  clean();
});

test(
  "deliveries filter by webhook, status, event type and time; one shows its attempts, payload and headers",
  { skip },
  async () => {
    const { page } = world!;
    await row(webhookId).locator('[data-action="deliveries"]').click();
    const rows = page.locator("tr[data-delivery-id]");
    await until(async () => (await rows.count()) === THRESHOLD + 1, 20_000, "the webhook's deliveries");

    const form = page.locator("form.filters");
    await form.locator('select[name="status"]').selectOption("exhausted");
    await form.locator('input[name="event_type"]').fill("order.created");
    await form.locator('input[name="since"]').fill(localInput(Date.now() - 3600_000));
    await form.getByRole("button", { name: "Filter" }).click();
    await until(async () => (await rows.count()) === THRESHOLD, 20_000, "the exhausted ones");
    for (const status of await rows.locator('[data-field="status"]').allTextContents()) {
      assert.equal(
        status,
        "exhausted",
      );
    }
    assert.match(page.url(), new RegExp(`webhook_id=${webhookId}.*status=exhausted.*event_type=order.created.*since=`));
    await screenshot("deliveries");

    await form.locator('input[name="until"]').fill(localInput(Date.now() - 1800_000));
    await form.getByRole("button", { name: "Filter" }).click();
    await text(page.locator("td.empty"), "No deliveries match");

    await page.goBack();
    await until(async () => (await rows.count()) === THRESHOLD, 20_000, "the exhausted ones again");
    deliveryId = (await rows.first().getAttribute("data-delivery-id"))!;
    await rows.first().click();
    const attempt = page.locator('tr[data-attempt-row="1"]');
    await text(field(attempt, "status_code"), "500");
    await text(field(attempt, "response_body"), "receiver down");
    assert.match((await field(attempt, "duration").textContent())!, /^\d+ ms$/);
    assert.equal(await field(attempt, "error").textContent(), "HTTP 500");
    await text(page.getByTestId("payload"), '"type": "order.created"');
    const headers = page.getByTestId("headers");
    await text(headers, "webhook-id");
    const signature = (await headers.locator("tr", { hasText: "webhook-signature" }).locator("td").textContent())!;
    assert.ok(!/v1,[A-Za-z0-9+/]{20,}/.test(signature), `the signature is shown: ${signature}`);
    await screenshot("delivery");
    clean();
  },
);

test("retry one delivery from the page", { skip }, async () => {
  const { page, receiver } = world!;
  // Re-enable first: a disabled webhook's deliveries are not retried.
  await page.locator('nav a[data-view="endpoints"]').click();
  const r = row(webhookId);
  await r.locator('[data-action="toggle"]').click();
  await text(field(r, "enabled"), "yes");
  await text(field(r, "breaker"), "closed");
  receiver.setHandler(respond(200, "ok"));

  await page.evaluate((id) => (location.hash = `#/deliveries/${id}`), deliveryId);
  const retry = page.locator('button[data-action="retry"]');
  await until(() => retry.isEnabled(), 20_000, "the retry button");
  const before = receiver.received.length;
  await retry.click();
  await text(page.getByTestId("delivery-message"), "Queued again");
  await text(page.locator('[data-field="status"]'), "delivered");
  await text(field(page.locator('tr[data-attempt-row="2"]'), "status_code"), "200");
  const detail = await api("GET", `/deliveries/${deliveryId}`);
  await receiver.waitFor(before + 1);
  assert.ok(receiver.received.slice(before).some((req) => req.headers["webhook-id"] === detail.event_id));
  assert.ok(await stillSameDocument());
  clean();
});

test("recover a webhook's failed and exhausted deliveries since a time", { skip }, async () => {
  const { page, receiver } = world!;
  await page.locator('nav a[data-view="endpoints"]').click();
  await row(webhookId).locator('[data-action="recover"]').click();
  const dialog = page.getByTestId("recover-dialog");
  await dialog.locator('input[name="since"]').fill(localInput(Date.now() - 3600_000));
  const before = receiver.received.length;
  await dialog.getByRole("button", { name: "Recover" }).click();
  await text(page.getByTestId("endpoints-message"), `Requeued ${THRESHOLD - 1} deliveries`);
  const got = await receiver.waitFor(before + THRESHOLD - 1);
  const ids = new Set(got.slice(before).map((req: Received) => req.headers["webhook-id"]));
  assert.equal(eventIds.filter((id) => ids.has(id)).length, THRESHOLD - 1);
  clean();
});

test(
  "rotate the secret: shown once with a copy button, and the next delivery is signed with it",
  { skip },
  async () => {
    const { page, receiver } = world!;
    await row(webhookId).locator('[data-action="rotate"]').click();
    await page.getByTestId("rotate-dialog").getByRole("button", { name: "Rotate" }).click();
    const shown = page.getByTestId("secret");
    await shown.waitFor();
    const secret = await shown.inputValue();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    await page.locator('button[data-action="copy"]').click();
    await text(page.getByTestId("secret-dialog").getByRole("status"), (t) => /Copied|copy it by hand/.test(t));
    await screenshot("rotate");
    await page.getByRole("button", { name: "Done" }).click();
    await until(async () => (await page.getByTestId("secret").count()) === 0, 5000, "the secret to be gone");
    assert.ok(!(await page.content()).includes(secret), "the secret stays on the page");

    const before = receiver.received.length;
    const { event_id } = await publish(99);
    const [req] = (await receiver.waitFor(before + 1)).slice(before).filter((r) =>
      r.headers["webhook-id"] === event_id
    );
    assert.ok(req, "the delivery after the rotation");
    assert.deepEqual(await verify(secret, req.headers, req.body), { ok: true });
    clean();
  },
);

test("create and edit a webhook from the page", { skip }, async () => {
  const { page, receiver } = world!;
  await page.getByRole("button", { name: "New webhook" }).click();
  const create = page.getByTestId("create-dialog");
  await create.locator('input[name="url"]').fill(`${receiver.url}/b`);
  await create.locator('input[name="event_types"]').fill("order.created, order.paid");
  await create.locator('input[name="description"]').fill("made on the page");
  // A form's complaint shows in its dialog, which stays open to be corrected.
  await create.locator('input[name="user_id"]').fill("not-a-uuid");
  await create.getByRole("button", { name: "Create" }).click();
  await text(create.getByRole("alert"), "user id must be a UUID");
  await create.locator('input[name="user_id"]').fill(USER);
  await create.getByRole("button", { name: "Create" }).click();
  const secret = await page.getByTestId("secret");
  await secret.waitFor();
  assert.match(await secret.inputValue(), /^whsec_/);
  await page.getByRole("button", { name: "Done" }).click();

  const made = page.locator("tr[data-webhook-id]", { hasText: `${receiver.url}/b` });
  await text(field(made, "event_types"), "order.created, order.paid");
  const id = (await made.getAttribute("data-webhook-id"))!;
  await made.locator('[data-action="edit"]').click();
  const edit = page.getByTestId("edit-dialog");
  await edit.locator('input[name="event_types"]').fill("order.paid");
  await edit.locator('input[name="description"]').fill("edited on the page");
  await edit.getByRole("button", { name: "Save" }).click();
  await text(field(row(id), "event_types"), (t) => t === "order.paid");
  await text(row(id), "edited on the page");
  const stored = await api("GET", `/users/${USER}/webhooks/${id}`);
  assert.deepEqual([stored.event_types, stored.description], [["order.paid"], "edited on the page"]);
  clean();
});

test("endpoints filter by user and by state, a page at a time", { skip }, async () => {
  const { page, receiver } = world!;
  const other = "6a1f0c2e-0000-4000-8000-0000000000b2";
  const ids: string[] = [];
  for (let n = 0; n < 26; n++) {
    ids.push((await api("POST", `/users/${other}/webhooks`, { url: `${receiver.url}/other/${n}` })).id);
  }
  const form = page.locator("form.filters");
  // A filter known to be wrong is not applied: Filter is off and says why.
  await form.locator('input[name="user_id"]').fill("not-a-uuid");
  await text(form.locator(".error"), "user id must be a UUID");
  assert.ok(await form.getByRole("button", { name: "Filter" }).isDisabled());
  await form.locator('input[name="user_id"]').fill(other);
  await form.getByRole("button", { name: "Filter" }).click();
  const rows = page.locator("tr[data-webhook-id]");
  await until(async () => (await rows.count()) === 25, 20_000, "a full first page");
  const first = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-webhook-id")!));
  await page.getByRole("button", { name: "Next →" }).click();
  await until(async () => (await rows.count()) === 1, 20_000, "the second page");
  const second = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-webhook-id")!));
  assert.deepEqual([...first, ...second].sort(), [...ids].sort(), "every webhook of the user once, none of another");
  assert.ok(await page.getByRole("button", { name: "Next →" }).isDisabled());
  await page.getByRole("button", { name: "← Previous" }).click();
  await until(async () => (await rows.count()) === 25, 20_000, "the first page again");

  await form.locator('select[name="enabled"]').selectOption("false");
  await form.getByRole("button", { name: "Filter" }).click();
  await text(page.locator("td.empty"), "No webhooks for this user");
  // Back to the first user's endpoints: with 28 webhooks, the first is no longer on the first page of all.
  await page.evaluate((user) => (location.hash = `#/endpoints?user_id=${user}`), USER);
  await row(webhookId).waitFor();
  clean();
});

test(
  "the machines, drawn from their definitions, count live actors and follow this endpoint's breaker",
  { skip },
  async () => {
    const { page, receiver, service } = world!;
    await row(webhookId).locator('[data-action="machine"]').click();
    const graphs = (await (await fetch(`${service.url}/dashboard/machines.json`)).json()).machines as {
      name: string;
      states: { id: string }[];
    }[];
    for (const graph of graphs) {
      const drawn = page.locator(`[data-machine="${graph.name}"] [data-state]`);
      await until(async () => (await drawn.count()) === graph.states.length, 20_000, `${graph.name}'s states`);
      assert.deepEqual(
        await drawn.evaluateAll((els) => els.map((e) => e.getAttribute("data-state"))),
        graph.states.map((s) => s.id),
      );
    }
    const webhookMachine = page.locator('[data-machine="webhook"]');
    await webhookMachine.locator('[data-state="webhook.breaker.closed"].current').waitFor();
    await webhookMachine.locator('[data-state="webhook.pace.flowing"].current').waitFor();
    await text(webhookMachine.locator('[data-count="webhook.breaker.closed"]'), (t) => Number(t) >= 1);
    assert.ok(
      (await page.locator('[data-machine="dispatcher"] .state.active').count()) >= 3,
      "the dispatcher's states",
    );
    // The result writer's regions: what the intake asks of it, and its writing.
    const writer = page.locator('[data-machine="result-writer"]');
    await writer.locator('[data-state="resultWriter.writing.idle"].active').waitFor();
    await writer.locator('[data-state="resultWriter.intake.open"].active').waitFor();
    await text(writer.locator('[data-testid="result-writer-note"]'), (t) => t === "unwritten: 0");

    receiver.setHandler(respond(500, "receiver down"));
    for (let n = 0; n < THRESHOLD; n++) await publish(200 + n);
    await webhookMachine.locator('[data-state="webhook.breaker.open"].current').waitFor();
    await text(webhookMachine.locator('[data-count="webhook.breaker.open"]'), (t) => Number(t) >= 1);
    assert.ok(await stillSameDocument());
    await screenshot("machines", true);
    clean();
  },
);

/** The value a datetime-local input takes for `ms`, in the browser's zone (the same machine's). */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${
    pad(d.getSeconds())
  }`;
}
