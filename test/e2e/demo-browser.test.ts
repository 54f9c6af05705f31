import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium, type Browser, type Page} from 'playwright-core';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {chromiumLaunchOptions} from '../support/chromium.js';
import {createTestDatabase, type TestDatabase} from '../support/pg.js';
import {freePort} from '../support/ports.js';
import {spawnZcache, type ZcacheProcess} from '../support/zcache-process.js';

/**
 * The demo as a person uses it: `examples/issue-tracker/run.ts` (what `npm run demo` runs) starts
 * the API server, zcache and the Vite front end on a test database, and headless Chromium opens it
 * in two pages signed in as two users. What one creates and edits, the other sees, and Postgres
 * holds it as the API server wrote it. A screenshot is kept in test-artifacts/. The Chromium is
 * the one `npm ci` installs, or CHROMIUM_PATH's (test/support/chromium.ts).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

let db: TestDatabase;
let demo: ZcacheProcess;
let dataDir: string;
let url: string;
let browser: Browser;

beforeAll(async () => {
  const launchOptions = await chromiumLaunchOptions();
  db = await createTestDatabase('e2e_demo');
  dataDir = mkdtempSync(path.join(tmpdir(), 'zcache-demo-'));
  const zcachePort = await freePort();
  demo = spawnZcache({
    entry: path.join(ROOT, 'examples/issue-tracker/run.ts'),
    cwd: ROOT,
    env: {
      DEMO_UPSTREAM_DB: db.url,
      DEMO_DATA_DIR: dataDir,
      DEMO_ZCACHE_PORT: String(zcachePort),
      DEMO_API_PORT: String(await freePort()),
      DEMO_WEB_PORT: String(await freePort()),
    },
  });
  const line = await demo.waitForLine(/The demo is running\. Open (\S+)/, {timeoutMs: 90_000});
  url = /Open (\S+) /.exec(line)![1]!;
  browser = await chromium.launch(launchOptions);
}, 150_000);

afterAll(async () => {
  await browser?.close();
  if (demo && !demo.exit) {
    demo.signal('SIGTERM');
    await demo.waitForExit(20_000).catch(() => demo.kill());
  }
  await db?.drop();
  if (dataDir) rmSync(dataDir, {recursive: true, force: true});
});

/** A page of its own browser context (own storage), signed in as `user`, with the list synced. */
async function openAs(user: string): Promise<Page> {
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  const page = await context.newPage();
  await page.goto(`${url}?user=${user}`);
  await page.getByTestId('connection').getByText('connected', {exact: true}).waitFor();
  await page.getByRole('list', {name: 'Issues'}).getByRole('listitem').first().waitFor();
  return page;
}

const issueNamed = (page: Page, title: string) =>
  page.getByRole('list', {name: 'Issues'}).getByRole('listitem').filter({hasText: title});

test('an issue created and edited in one page shows up, edited, in another', async () => {
  const ada = await openAs('ada');
  const grace = await openAs('grace');
  const title = `Browser-made issue ${Date.now()}`;

  await ada.getByLabel('New issue title').fill(title);
  await ada.getByRole('button', {name: 'Create issue'}).click();
  await issueNamed(ada, title).waitFor({timeout: 2_000}); // optimistic: no round trip needed
  await issueNamed(grace, title).waitFor({timeout: 20_000});

  // Ada's new issue is open in her detail pane: rename it and comment on it.
  const edited = `${title} (edited)`;
  await ada.getByLabel('Title', {exact: true}).fill(edited);
  await ada.getByRole('button', {name: 'Save title'}).click();
  await issueNamed(grace, edited).waitFor({timeout: 20_000});
  await issueNamed(grace, edited).click();
  await ada.getByLabel('Comment', {exact: true}).fill('Seen from the other tab?');
  await ada.getByRole('button', {name: 'Comment', exact: true}).click();
  await grace
    .getByRole('list', {name: 'Comments'})
    .getByText('Seen from the other tab?')
    .waitFor({timeout: 20_000});

  // The API server ran the mutators against Postgres, as the signed-in user.
  const rows = await db.sql`SELECT title, "creatorID" FROM issue WHERE title = ${edited}`;
  expect(rows).toEqual([{title: edited, creatorID: 'ada'}]);
  expect(await grace.getByLabel('Title', {exact: true}).inputValue()).toBe(edited);

  mkdirSync(ARTIFACTS, {recursive: true});
  await grace.screenshot({path: path.join(ARTIFACTS, 'demo-issue-tracker.png')});
}, 90_000);
