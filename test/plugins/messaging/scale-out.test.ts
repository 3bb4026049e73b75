// Messaging across processes (PostgreSQL): two `atrium start` processes on one database schema and
// one data folder, as test/scale-out.test.ts runs them. Ada reads the general conversation in
// Chromium on process 2; Sam answers through process 1; the answer appears on her open page,
// without a reload: the live ping published on 1 reaches her event stream on 2 through
// LISTEN/NOTIFY, and her page fetches the new message from 2.
// PostgreSQL only: on SQLite there is one process per data file, so no test is registered.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { cliEnv, freshDatabase, ON_PG, type TestDb } from '../../helpers/app.ts';
import { HttpClient } from '../../helpers/http.ts';
import { startProcess, type Running } from '../../helpers/process.ts';
import { launchChromium } from '../../browser/support.ts';

const run = promisify(execFile);
const test = suite('messaging scale-out (PostgreSQL, two processes): a message posted on 1 appears live on a page open on 2');
const PW = 'messaging-scale-out-pass';
const ANSWER = 'Answered through the first process, read on the second.';

if (ON_PG) {
  let db: TestDb;
  let one: Running;
  let two: Running;
  let browser: Browser | undefined;
  const env = () => {
    const config = join(db.dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ plugins: { enabled: ['files', 'messaging'] } }));
    return cliEnv(db, { PORT: '0', ATRIUM_CONFIG: config, ATRIUM_LOG_LEVEL: 'info' });
  };
  const stop = async (p: Running | undefined) => {
    if (!p || p.child.exitCode !== null) return;
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0, 'drains and exits 0 with a stream open');
  };

  test.before(async () => {
    db = await freshDatabase();
    await run(process.execPath, ['bin/atrium.js', 'migrate'], { env: env() });
    await run(process.execPath, ['bin/atrium.js', 'demo:seed', '--password', PW], { env: env() });
    one = await startProcess(env());
    two = await startProcess(env());
    browser = await launchChromium();
  });
  test.after(async () => {
    try {
      await browser?.close();
      await Promise.all([stop(one), stop(two)]);
    } finally {
      await db.drop();
    }
  });

  test('Sam answers on process 1; the answer appears on Ada’s page open on process 2', async () => {
    assert.is.not(one.url, two.url);
    const adaLogin = new HttpClient(two.url);
    assert.is((await adaLogin.login('ada@northwind.example', PW)).status, 303);
    const ctx = await browser!.newContext({ viewport: { width: 390, height: 844 } });
    await ctx.addCookies([...adaLogin.cookies].map(([name, value]) => ({ name, value, url: two.url })));
    // The htmx SSE extension says when the page's stream is open; the test waits on that mark.
    await ctx.addInitScript("document.addEventListener('htmx:sseOpen', () => { document.documentElement.dataset.sse = 'open'; });");
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${two.url}/w/northwind/messaging/general`);
    await page.waitForURL(/\/messaging\/t\/[0-9a-f-]{36}$/);
    const threadPath = new URL(page.url()).pathname;
    assert.match((await page.textContent('main')) ?? '', 'clause 12', 'the demo conversation');
    // The page's one event stream (on the body, to process 2) is open before anything is posted.
    await page.locator('html[data-sse="open"]').waitFor({ state: 'attached', timeout: 10_000 });
    await page.evaluate("document.body.dataset.kept = 'yes'");

    const sam = new HttpClient(one.url);
    assert.is((await sam.login('sam.staff@firm.example', PW)).status, 303);
    await sam.get(threadPath);
    const res = await sam.postForm(threadPath, { body: ANSWER });
    assert.is(res.status, 303, `posted on process 1: ${res.status} ${res.text.slice(0, 200)}`);

    const answer = page.locator('#messages .ui-message').filter({ hasText: ANSWER });
    await answer.waitFor({ timeout: 15_000 });
    assert.match((await answer.textContent()) ?? '', 'Sam Okafor');
    assert.is(await page.locator('body[data-kept="yes"]').count(), 1, 'no reload: the live fetch added it');
    assert.equal(errors, []);
    await ctx.close();
  });
}

test.run();
