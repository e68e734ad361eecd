// The dashboard of a real 3-node cluster in headless Chromium: the cluster panel, submitting
// through the form, live output, cancelling, escaping of job text, validation, filters,
// paging, and a phone-sized screen. Screenshots go to build/e2e/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, openPage, screenshot } from './lib/browser.mjs';
import { Cluster } from './lib/cluster.mjs';
import { http, waitFor } from './lib/wait.mjs';

const MARKUP = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert(2)</script>';

describe('dashboard of a 3-node cluster', () => {
  let cluster, browser, page, problems;
  const url = () => cluster.node(1).url;

  before(async () => {
    cluster = await Cluster.start('dashboard');
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser));
    await page.goto(`${url()}/`);
    // Set once: a full reload would lose it, so its presence later proves there was none.
    await page.evaluate(() => { window.loadedOnce = true; });
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const stillSamePage = async () => assert.equal(await page.evaluate(() => window.loadedOnce), true, 'the page was reloaded');

  async function submitThroughForm(command, { timeout = '', retries = '' } = {}) {
    if (await page.locator('#view-overview').isHidden()) {
      await page.click('#view-detail a.back');
      await page.locator('#view-overview').waitFor();
    }
    await page.fill('#f-command', command);
    await page.fill('#f-timeout', timeout);
    await page.fill('#f-retries', retries);
    const last = page.locator('#submit-result a[data-job-id]');
    const previous = (await last.count()) ? await last.getAttribute('data-job-id') : null;
    await page.click('#submit-form button[type=submit]');
    const link = page.locator('#submit-result.is-ok a[data-job-id]');
    await waitFor('the form to report the new job', async () => {
      const id = await link.getAttribute('data-job-id', { timeout: 500 }).catch(() => null);
      return id && id !== previous;
    });
    return link.getAttribute('data-job-id');
  }

  const detail = (status) => page.locator(`#view-detail[data-status="${status}"]`);
  const output = (stream) => page.locator(`#view-detail pre.output[data-stream="${stream}"]`);

  test('shows the three nodes and highlights the leader', async () => {
    await page.locator('#conn[data-state="open"]').waitFor();
    await waitFor('three node cards', async () => (await page.locator('#nodes .node').count()) === 3);
    const leader = await cluster.leaderShownOn(page);
    assert.equal(await page.locator('#nodes .node.is-leader').count(), 1);
    assert.equal(await page.locator('#nodes .node.is-leader').getAttribute('data-node-id'), String(leader));
    assert.match(await page.locator('#leader-line').innerText(), new RegExp(`node ${leader}`));
    assert.equal(await page.locator('#nodes .node[data-alive="true"]').count(), 3);
    assert.match(await page.locator('#nodes .node.is-self').innerText(), /Node 1/);
    // Without a --token-file every page may move leadership: a button on each follower's card.
    await waitFor('a transfer button on each follower', async () => {
      const shown = await page.locator('#cluster').getAttribute('data-leader-id');
      const followers = cluster.nodes.map((n) => String(n.id)).filter((id) => id !== shown);
      const to = await page.locator('#nodes button.transfer-leader').evaluateAll((bs) => bs.map((b) => b.dataset.to));
      return JSON.stringify(to.sort()) === JSON.stringify(followers);
    });
  });

  test('a job submitted through the form completes and shows its output, without a reload', async () => {
    const id = await submitThroughForm('echo hello');
    // The table learns of it and of its end from the event stream.
    await page.locator(`#jobs-body tr[data-id="${id}"][data-status="completed"]`).waitFor();
    await page.click(`#submit-result a[data-job-id="${id}"]`);
    await detail('completed').waitFor();
    await waitFor('hello in stdout', async () => (await output('stdout').innerText()).includes('hello'));
    assert.equal((await output('stdout').innerText()).trim(), 'hello');
    assert.match(await page.locator('#view-detail [data-fact="exit_code"] dd').innerText(), /^0$/);
    assert.equal(await page.locator('#view-detail .attempts tbody tr').count(), 1);
    // Its node measured it: a peak in bytes (its cgroup, or rusage without one).
    assert.match(await page.locator('#view-detail .attempts td[data-usage="peak"]').innerText(), /[KMG]?i?B$/);
    await stillSamePage();
    await screenshot(page, 'job-detail', { fullPage: true });
    await page.click('#view-detail a.back');
    await page.locator('#view-overview').waitFor();
  });

  test('output of a running job is followed live', async () => {
    const id = await submitThroughForm('echo first; sleep 3; echo second >&2; echo third');
    // The first attempt to follow stdout fails: the page must try again by itself.
    let refused = 0;
    await page.route(`**/api/jobs/${id}/logs?*`, (route) => {
      const query = new URL(route.request().url()).searchParams;
      if (query.get('stream') === 'stdout' && query.get('follow') === '1' && refused === 0) {
        refused += 1;
        return route.abort('connectionreset');
      }
      return route.continue();
    });
    await page.goto(`${url()}/#/jobs/${id}`);
    await detail('running').waitFor();
    await waitFor('the first line while the job runs', async () => (await output('stdout').innerText()).includes('first'));
    assert.equal(await detail('running').count(), 1, 'the job ended before its first line was seen');
    await page.locator('#view-detail .pane-state.is-live').first().waitFor();
    await screenshot(page, 'job-detail-running', { fullPage: true });
    await detail('completed').waitFor();
    await waitFor('the rest of the output', async () =>
      (await output('stdout').innerText()).trim() === 'first\nthird' && (await output('stderr').innerText()).trim() === 'second');
    assert.equal(refused, 1);
    await page.unroute(`**/api/jobs/${id}/logs?*`);
  });

  test('a running sleep 60 is cancelled from its detail view', async () => {
    const id = await submitThroughForm('sleep 60');
    await page.click(`#submit-result a[data-job-id="${id}"]`);
    await detail('running').waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await detail('cancelled').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).isVisible(), false);
    const answer = await http(`${cluster.node(2).url}/api/jobs/${id}`);
    assert.equal(answer.body.status, 'cancelled');
    await page.click('#view-detail a.back');
    await page.locator(`#jobs-body tr[data-id="${id}"][data-status="cancelled"]`).waitFor();
  });

  test('markup printed by a job is shown as text', async () => {
    const id = await submitThroughForm(`printf '%s\\n' '${MARKUP}' '${SCRIPT}'`);
    await page.locator(`#jobs-body tr[data-id="${id}"][data-status="completed"]`).waitFor();
    // The command, with the same markup, is text in the table too.
    assert.match(await page.locator(`#jobs-body tr[data-id="${id}"] .cmd`).innerText(), /<img src=x onerror=alert\(1\)>/);
    await page.click(`#jobs-body tr[data-id="${id}"] .cmd`);
    await detail('completed').waitFor();
    await waitFor('the markup in stdout', async () => (await output('stdout').innerText()).includes(SCRIPT));
    assert.equal((await output('stdout').innerText()).trim(), `${MARKUP}\n${SCRIPT}`);
    assert.equal(await output('stdout').getByText(MARKUP).isVisible(), true);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(await page.locator('#view-detail script, #jobs-body script').count(), 0);
    assert.deepEqual(problems.dialogs, []);
    await page.click('#view-detail a.back');
  });

  test('the submit form explains what is wrong before and after sending', async () => {
    await page.goto(`${url()}/#/`);
    const countBefore = (await http(`${url()}/api/jobs?limit=1`)).body.total;
    await page.fill('#f-command', '   ');
    await page.fill('#f-timeout', '30 seconds');
    await page.fill('#f-retries', 'many');
    await page.click('#submit-form button[type=submit]');
    await page.locator('#e-command').waitFor();
    assert.match(await page.locator('#e-timeout').innerText(), /A duration: 500ms, 30s/);
    assert.match(await page.locator('#e-retries').innerText(), /whole number/);
    assert.equal(await page.locator('#f-timeout').getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'submit-validation');
    assert.equal((await http(`${url()}/api/jobs?limit=1`)).body.total, countBefore, 'an invalid form was sent');

    // Fixing a field clears its message at once.
    await page.fill('#f-timeout', '30s');
    await page.locator('#e-timeout').waitFor({ state: 'hidden' });

    // What only the server can refuse is shown in the server's own words.
    await page.route('**/api/jobs', (route) => (route.request().method() === 'POST'
      ? route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'no leader known: retry in a moment' }) })
      : route.continue()));
    await page.fill('#f-command', 'echo never');
    await page.fill('#f-retries', '');
    await page.click('#submit-form button[type=submit]');
    await page.locator('#submit-result.is-error').getByText('no leader known: retry in a moment').waitFor();
    await page.unroute('**/api/jobs');
    await page.fill('#f-command', '');
    await page.fill('#f-timeout', '');
  });

  test('the jobs table filters by status and searches commands', async () => {
    // A fresh page for the picture: the form as a new visitor sees it.
    await page.goto(`${url()}/#/`);
    await page.reload();
    await waitFor('the jobs so far', async () => (await page.locator('#jobs-body tr').count()) >= 4);
    await screenshot(page, 'overview', { fullPage: true });

    await page.click('#status-filter [data-status="cancelled"]');
    await waitFor('only cancelled jobs', async () => {
      const statuses = await page.locator('#jobs-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.status));
      return statuses.length === 1 && statuses[0] === 'cancelled';
    });
    await page.click('#status-filter [data-status=""]');
    await page.fill('#jobs-search', 'hello');
    await waitFor('only the hello job', async () => {
      const commands = await page.locator('#jobs-body .cmd').allInnerTexts();
      return commands.length === 1 && commands[0] === 'echo hello';
    });
    // A job submitted now appears at the top only if it matches the search.
    const other = await cluster.submit('echo not-matching');
    const matching = await cluster.submit('echo hello again');
    await page.locator(`#jobs-body tr[data-id="${matching.id}"]`).waitFor();
    assert.equal(await page.locator('#jobs-body tr').first().getAttribute('data-id'), matching.id);
    assert.equal(await page.locator(`#jobs-body tr[data-id="${other.id}"]`).count(), 0);
    await page.fill('#jobs-search', '');
  });

  test('is readable on a phone', async () => {
    const phone = await openPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    try {
      await phone.page.goto(`${url()}/`);
      await waitFor('three node cards', async () => (await phone.page.locator('#nodes .node').count()) === 3);
      await waitFor('jobs', async () => (await phone.page.locator('#jobs-body tr').count()) > 0);
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
      await screenshot(phone.page, 'phone', { fullPage: true });
      await phone.page.locator('#jobs-body tr[data-status="completed"] .cmd').first().click();
      await phone.page.locator('#view-detail[data-status="completed"]').waitFor();
      await screenshot(phone.page, 'phone-job-detail', { fullPage: true });
      assert.deepEqual(phone.problems.errors, []);
    } finally {
      await phone.context.close();
    }
  });

  test('long lists are paged', async () => {
    const before = (await http(`${url()}/api/jobs?limit=1`)).body.total;
    await Promise.all(Array.from({ length: 60 }, (_, i) => cluster.submit(`true ${i}`, 1 + (i % 3))));
    // Submitted through all three nodes: node 1 may apply the last of them after answering a
    // first page, and then show them as live additions on top of it (seen on a loaded machine).
    await waitFor('node 1 to have applied the 60 jobs',
      async () => (await http(`${url()}/api/jobs?limit=1`)).body.total >= before + 60);
    // A fresh load, so the table starts from the first page rather than from live additions.
    await page.reload();
    const total = (await http(`${url()}/api/jobs?limit=1`)).body.total;
    assert.ok(total > 60);
    await waitFor('the first page', async () => (await page.locator('#jobs-body tr').count()) === 50);
    await page.locator('#jobs-more').click();
    await waitFor('the second page', async () => (await page.locator('#jobs-body tr').count()) === Math.min(total, 100));
    const ids = await page.locator('#jobs-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
    assert.equal(new Set(ids).size, ids.length, 'a job is listed twice');
  });

  test('periodic jobs show under Schedules with their next run and recent ticks', async () => {
    if (await page.locator('#view-overview').isHidden()) {
      await page.click('#view-detail a.back');
      await page.locator('#view-overview').waitFor();
    }
    const { status, body } = await http(`${url()}/api/periodic`, {
      method: 'POST', body: { command: 'true', every: '1s', overlap: 'skip' },
    });
    assert.equal(status, 201);
    const row = page.locator(`#schedules-body tr[data-id="${body.id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /every 1s/);
    await waitFor('its next run', async () => /^(in \d+|due)/.test(await row.locator('td').nth(3).innerText()));
    await waitFor('two completed ticks in its strip',
      async () => (await row.locator('.tick-completed').count()) >= 2, { timeoutMs: 15_000 });
    await page.locator('#schedules').scrollIntoViewIfNeeded();
    await screenshot(page, 'schedules');
    const cancel = await http(`${url()}/api/periodic/${body.id}/cancel`, { method: 'POST', body: {} });
    assert.equal(cancel.status, 200);
    await page.locator(`#schedules-body tr[data-id="${body.id}"][data-state="cancelled"]`).waitFor();
  });

  test('no script errors, CSP violations or dialogs', () => {
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.dialogs, []);
  });
});
