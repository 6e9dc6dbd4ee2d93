// /gui in a real browser (Debian's chromium driven by playwright-core) against a real control-plane process during a
// CA rotation with real meshcp-dp agents: the page shows the progress moving and names the laggard, live (no reload).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { freePort, Proc } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.MESHCP_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Where the screenshots go: a temp dir unless MESHCP_GUI_SCREENSHOTS names one (the README's image came from it). */
const SHOTS = process.env.MESHCP_GUI_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'meshcp-gui-shots-'));

let cp: CpProcess;
let work: string;
let browser: Browser;
const agents: Proc[] = [];

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(`${cp.baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response;
}

const builtin = (name: string) => ({ name, type: 'builtin', dpCert: { rotation: { expiration: '1h' } } });
const meshWith = (enabled: string, names: string[]) => ({
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: enabled, backends: names.map(builtin) },
});

async function startAgent(name: string): Promise<Proc> {
  const token = await api('POST', '/tokens/dataplane', {
    name,
    mesh: 'default',
    tags: { 'kuma.io/service': [name] },
    validFor: '1h',
  });
  assert.equal(token.status, 200);
  const tokenFile = join(work, `${name}.token`);
  writeFileSync(tokenFile, await token.text());
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/meshcp-dp.js'),
      '--cp-address',
      cp.baseUrl,
      '--name',
      name,
      '--mesh',
      'default',
      '--address',
      '127.0.0.1',
      '--inbound',
      `${port}:8080:${name}`,
      '--token-file',
      tokenFile,
      '--output-dir',
      join(work, name),
      '--reissue-delay',
      '200ms',
    ],
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const agent = new Proc(name, child);
  agents.push(agent);
  return agent;
}

async function progressText(page: Page, label: string): Promise<string> {
  return (await page.locator(`[data-mesh="default"] [data-progress="${label}"] .mono`).textContent()) ?? '';
}

async function waitForProgress(page: Page, label: string, expected: string): Promise<void> {
  await page.waitForFunction(
    ([l, e]) => document.querySelector(`[data-mesh="default"] [data-progress="${l}"] .mono`)?.textContent === e,
    [label, expected] as const,
    { timeout: 20_000 },
  );
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshcp-gui-e2e-'));
  mkdirSync(SHOTS, { recursive: true });
  cp = await startCpProcess({ MESHCP_DP_ONLINE_WINDOW: '1h' });
  // playwright-core never downloads a browser; launch() gives chromium a fresh temporary profile (user data dir).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  for (const agent of agents) {
    agent.child.kill('SIGCONT');
    await agent.stop();
  }
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('/gui in chromium', { timeout: 90_000 }, () => {
  test('shows a rotation moving live and names the dataplane it waits for', async () => {
    assert.equal((await api('PUT', '/meshes/default', meshWith('ca-1', ['ca-1']))).status, 200);
    const [web1, web2, web3] = await Promise.all(['web-1', 'web-2', 'web-3'].map(startAgent));
    const issued = (l: Record<string, unknown>) => l.event === 'files-written';
    await Promise.all([web1, web2, web3].map((a) => a.waitFor('first certificate', issued, 30_000)));

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${cp.baseUrl}/gui`);
    await page.waitForSelector('[data-mesh="default"] [data-dataplane="web-3"]');
    assert.equal(await page.locator('#login').isHidden(), true, 'a loopback admin sees the page without a token');

    // web-3 stops answering (SIGSTOP) before ca-2 is added: it never acknowledges the new bundle.
    web3.child.kill('SIGSTOP');
    assert.equal((await api('PUT', '/meshes/default', meshWith('ca-1', ['ca-1', 'ca-2']))).status, 200);
    await waitForProgress(page, 'trust ca-2', '2 / 3');
    const waiting = page.locator('[data-mesh="default"] [data-waiting-for]');
    assert.match((await waiting.textContent()) ?? '', /waiting for: web-3$/);
    assert.match(
      (await page.locator('[data-next-step="enable"]').textContent()) ?? '',
      /Next step: enable ca-2\s*waiting/,
    );
    await page.screenshot({ path: join(SHOTS, 'gui-rotation-waiting.png'), fullPage: true });

    // web-3 comes back: its long-poll picks up the bundle and the page moves to 3 / 3 without a reload.
    web3.child.kill('SIGCONT');
    await waitForProgress(page, 'trust ca-2', '3 / 3');
    assert.match((await page.locator('[data-next-step="enable"]').textContent()) ?? '', /ready/);

    // step 2: the agents re-issue from ca-2, and the page counts them.
    assert.equal((await api('PUT', '/meshes/default', meshWith('ca-2', ['ca-1', 'ca-2']))).status, 200);
    await waitForProgress(page, 're-issued by ca-2', '3 / 3');
    assert.match(
      (await page.locator('[data-next-step="remove"]').textContent()) ?? '',
      /Next step: remove ca-1\s*ready/,
    );
    assert.equal(await progressText(page, 're-issued by ca-1'), '0 / 3');
    await page.screenshot({ path: join(SHOTS, 'gui-rotation.png'), fullPage: true });
    await page.close();
  });

  test('away from loopback the page asks for the admin token once and keeps it for the tab', async () => {
    // A forwarding header makes the request non-local (a proxy in front), so the admin token is needed.
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': '203.0.113.7' } });
    const page = await context.newPage();
    await page.goto(`${cp.baseUrl}/gui`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#token', 'not-the-token');
    await page.click('#login button');
    await page.waitForSelector('#login-error:not([hidden])');
    await page.fill('#token', readFileSync(join(cp.dataDir, 'admin-token'), 'utf8').trim());
    await page.click('#login button');
    await page.waitForSelector('[data-mesh="default"]');
    await page.reload();
    await page.waitForSelector('[data-mesh="default"]');
    assert.equal(await page.locator('#login').isHidden(), true, 'the token is kept for the tab');
    await context.close();
  });
});
