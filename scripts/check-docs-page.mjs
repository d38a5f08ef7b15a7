// Drives headless Chromium through seed_tour's /docs; see check-docs-page.
import { chromium } from "playwright-core";

const base = `http://127.0.0.1:${process.env.PORT}`;
const out = process.env.CHECK_OUT;

async function waitForApp() {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("seed_tour did not start; see seed_tour.log");
}

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

await waitForApp();
const doc = await (await fetch(`${base}/openapi.json`)).json();
const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const offsite = [];
const problems = [];
// Anything not addressed to the app is refused and reported.
await page.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith(base) || url.startsWith("data:")) return route.continue();
  offsite.push(url);
  return route.abort();
});
page.on("console", (m) => {
  if (m.type() === "error") problems.push(m.text());
});
page.on("pageerror", (e) => problems.push(e.message));

await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
await page.waitForSelector(".opblock", { timeout: 15000 });
const rendered = await page.locator(".opblock").count();
const title = await page.locator(".info .title").innerText();
await page.screenshot({ path: `${out}/docs.png`, fullPage: false });
console.log(`rendered "${title.split("\n")[0]}": ${rendered} of ${operations} operations`);
if (rendered !== operations) fail(`${rendered} operations shown, ${operations} documented`);
if (await page.locator("text=Failed to load API definition").count()) fail("the document did not load");

// Authorize: the OAuth2 password form posts to the document's tokenUrl.
await page.click("button.btn.authorize");
const oauth = page.locator(".modal-ux .auth-container", { hasText: "OAuth2" });
await oauth.locator("#oauth_username").fill(process.env.ADMIN_EMAIL);
await oauth.locator("#oauth_password").fill(process.env.ADMIN_PASSWORD);
const login = page.waitForResponse((r) => r.url().endsWith(doc.components.securitySchemes.oauth2.flows.password.tokenUrl));
await oauth.locator("button.authorize").click();
const answer = await login;
if (answer.status() !== 200) {
  await page.screenshot({ path: `${out}/authorize-failed.png` });
  fail(`the Authorize dialog's login answered ${answer.status()}: ${await answer.text()} (request: ${answer.request().postData()})`);
}
await oauth.locator("button", { hasText: "Logout" }).waitFor({ timeout: 10000 });
await page.locator(".modal-ux button.btn-done, .modal-ux .close-modal").first().click();
console.log("signed in through the Authorize dialog");

// Try it out on GET /auth/me, which needs the token.
const me = page.locator("#operations-auth-auth_me");
await me.locator(".opblock-summary").first().click();
await me.locator("button.try-out__btn").click();
await me.locator("button.execute").click();
const status = me.locator(".live-responses-table .response .response-col_status").first();
await status.waitFor({ timeout: 10000 });
const code = (await status.innerText()).trim();
const body = await me.locator(".live-responses-table .microlight").first().innerText();
await me.scrollIntoViewIfNeeded();
await page.screenshot({ path: `${out}/authorized.png`, fullPage: false });
console.log(`GET /auth/me from the page: ${code}`);
if (!code.startsWith("200")) fail(`GET /auth/me answered ${code}: ${body}`);
if (!body.includes(process.env.ADMIN_EMAIL)) fail(`unexpected /auth/me body: ${body}`);

await browser.close();
if (offsite.length) fail(`the page asked for resources outside the app: ${offsite.join(", ")}`);
if (problems.length) fail(`errors in the page: ${problems.join(" | ")}`);
console.log("OK: /docs works offline, and its Authorize flow signs in");
