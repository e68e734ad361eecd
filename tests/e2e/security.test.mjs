// The dashboard of a cluster with TLS and tokens in headless Chromium: the token dialog (a
// wrong token, a read token that may look but not submit or cancel, a submit token that runs
// a job), "Forget token", a kept token that is refused, the token across a reload, events
// read with the token; the red banner of an insecure node; and the fetch-based reader of the
// event stream.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, openPage, screenshot } from './lib/browser.mjs';
import { Cluster } from './lib/cluster.mjs';
import { waitFor } from './lib/wait.mjs';

const INSECURE_TEXT = 'This node listens beyond this machine without TLS and client tokens (--insecure): '
  + 'anyone who can reach it can run commands on every node.';

describe('dashboard of a cluster with TLS and tokens', () => {
  let cluster, browser, page, problems, tokens;
  let streamRequests = 0;
  let firstStreamAt = null;
  const url = () => cluster.node(1).url;

  before(async () => {
    cluster = await Cluster.start('security', { tls: true, tokens: true });
    tokens = cluster.security.tokens;
    browser = await launchBrowser();
    // The development CA of `tls init` is not one the browser knows.
    ({ page, problems } = await openPage(browser, { ignoreHTTPSErrors: true }));
    page.on('request', (request) => {
      if (new URL(request.url()).pathname !== '/api/events') return;
      streamRequests += 1;
      firstStreamAt ??= Date.now();
    });
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const dialogOpen = () => page.evaluate(() => document.querySelector('#token-dialog').open);
  const storedToken = () => page.evaluate(() => sessionStorage.getItem('nomad-lite-token'));
  const jobRow = (id, status) => page.locator(`#jobs-body tr[data-id="${id}"]${status ? `[data-status="${status}"]` : ''}`);
  const totalJobs = async () => (await cluster.request(`${url()}/api/jobs?limit=1`)).body.total;

  async function enterToken(token) {
    await page.fill('#token-input', token);
    await page.click('#token-dialog button[type=submit]');
  }

  async function submitThroughForm(command) {
    await page.fill('#f-command', command);
    await page.click('#submit-form button[type=submit]');
  }

  test('the page asks for a token, cannot be escaped, and refuses a wrong one', () => cluster.explained(async () => {
    await cluster.submit('echo listed-before');
    assert.match(url(), /^https:/);
    await page.goto(`${url()}/`);
    await page.locator('#token-dialog[open]').waitFor();
    await waitFor('the token field to have focus', () => page.evaluate(() => document.activeElement?.id === 'token-input'));
    const text = await page.locator('#token-dialog').innerText();
    assert.match(text, /requires a token/);
    assert.match(text, /--token-file/);
    assert.match(text, /read token can look; a submit token can also submit and cancel/);
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'locked');
    assert.equal(await page.locator('#forget-token').isVisible(), false);
    await screenshot(page, 'token-dialog');

    // Escape is handled before press() returns: a dialog it closed would be closed now.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    assert.equal(await dialogOpen(), true, 'Escape dismissed the token dialog');

    await enterToken('not-a-token-of-this-cluster');
    await page.locator('#token-error').getByText('That token was refused').waitFor();
    assert.match(await page.locator('#token-error').innerText(), /not valid on this node/);
    assert.equal(await dialogOpen(), true);
    assert.equal(await storedToken(), null);
    assert.equal(await page.locator('#token-input').getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'token-refused');
  }));

  test('a read token shows the cluster and the jobs, but may not submit or cancel', () => cluster.explained(async () => {
    // The stream that met the 401 waits for a token instead of retrying. Not retrying is an
    // absence: it is watched for longer than the first two delays between retries (0.5 s, 1 s).
    const watchedUntil = firstStreamAt + 2000;
    await waitFor('a second stream request or the end of the watch', () => streamRequests > 1 || Date.now() >= watchedUntil);
    assert.equal(streamRequests, 1, 'the event stream was retried without a token');
    await enterToken(tokens.read);
    await page.locator('#token-dialog').waitFor({ state: 'hidden' });
    await page.locator('#conn[data-state="open"]').waitFor();
    assert.equal(await storedToken(), tokens.read);
    await waitFor('three node cards', async () => (await page.locator('#nodes .node').count()) === 3);
    await cluster.leaderShownOn(page);
    await page.locator('#jobs-body .cmd').getByText('echo listed-before').waitFor();
    assert.equal(await page.locator('#security').innerText(), 'TLS · tokens');
    assert.equal(await page.locator('#forget-token').isVisible(), true);
    assert.equal(await page.locator('#security-banner').isVisible(), false);

    const before = await totalJobs();
    await submitThroughForm('echo denied');
    await page.locator('#submit-result.is-error')
      .getByText("the token's role (read) may not do this; it needs the submit role").waitFor();
    assert.equal(await totalJobs(), before, 'a read token submitted a job');
    await screenshot(page, 'read-token-submit-refused');

    const sleeper = await cluster.submit('sleep 30');
    await page.goto(`${url()}/#/jobs/${sleeper.id}`);
    await page.locator('#view-detail[data-status="running"]').waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('#view-detail .alert-error')
      .getByText("Could not cancel: the token's role (read) may not do this; it needs the submit role").waitFor();
    assert.equal((await cluster.request(`${url()}/api/jobs/${sleeper.id}`)).body.status, 'running');
    assert.equal((await cluster.request(`${url()}/api/jobs/${sleeper.id}/cancel`, { method: 'POST' })).status, 200);
    await page.locator('#view-detail[data-status="cancelled"]').waitFor();
    await page.click('#view-detail a.back');
  }));

  test('"Forget token" asks again, and a submit token runs a job from the form', () => cluster.explained(async () => {
    await page.evaluate(() => { window.beforeForget = true; });
    await page.click('#forget-token');
    await page.locator('#token-dialog[open]').waitFor();
    assert.equal(await page.evaluate(() => window.beforeForget), undefined, 'the page was not reloaded');
    assert.equal(await storedToken(), null);
    assert.equal(await page.locator('#forget-token').isVisible(), false);

    await enterToken(tokens.submit);
    await page.locator('#token-dialog').waitFor({ state: 'hidden' });
    await page.locator('#conn[data-state="open"]').waitFor();
    await submitThroughForm('echo secured');
    const link = page.locator('#submit-result.is-ok a[data-job-id]');
    await link.waitFor();
    const id = await link.getAttribute('data-job-id');
    await jobRow(id, 'completed').waitFor();
    await link.click();
    await page.locator('#view-detail[data-status="completed"]').waitFor();
    const stdout = page.locator('#view-detail pre.output[data-stream="stdout"]');
    await waitFor('secured in stdout', async () => (await stdout.innerText()).trim() === 'secured');
    await screenshot(page, 'secured-job', { fullPage: true });
    await page.click('#view-detail a.back');
  }));

  test('a kept token that the node refuses brings the dialog back', () => cluster.explained(async () => {
    // As after the token file changed: the tab still holds a token the nodes no longer know.
    await page.evaluate(() => sessionStorage.setItem('nomad-lite-token', 'revoked-token-0123456789'));
    await page.reload();
    await page.locator('#token-dialog[open]').waitFor();
    await page.locator('#token-error').getByText('That token was refused').waitFor();
    await enterToken(tokens.submit);
    await page.locator('#token-dialog').waitFor({ state: 'hidden' });
    assert.equal(await storedToken(), tokens.submit);
  }));

  test('the token survives a reload, and events keep coming with it', () => cluster.explained(async () => {
    await page.reload();
    await page.locator('#conn[data-state="open"]').waitFor();
    assert.equal(await dialogOpen(), false);
    assert.equal(await storedToken(), tokens.submit);
    assert.equal(await page.locator('#forget-token').isVisible(), true);
    await page.evaluate(() => { window.loadedOnce = true; });

    const job = await cluster.submit('echo from-the-api', 2);
    await jobRow(job.id, 'completed').waitFor();
    assert.equal(await page.evaluate(() => window.loadedOnce), true, 'the page was reloaded');
  }));

  test('no script errors, CSP violations or dialogs', () => {
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.dialogs, []);
  });
});

describe('the insecure-node banner and the event stream reader', () => {
  let cluster, browser, page, problems;
  const url = () => cluster.node(1).url;

  before(async () => {
    cluster = await Cluster.start('insecure-banner');
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser));
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  test('a node that says it is insecure gets a red banner that stays; others get none', () => cluster.explained(async () => {
    // The real answer: a node on loopback without TLS or tokens.
    await page.goto(`${url()}/`);
    await page.locator('#conn[data-state="open"]').waitFor();
    await page.locator('#security').getByText('loopback only').waitFor();
    assert.equal(await page.locator('#security-banner').isVisible(), false);
    assert.equal(await page.locator('#token-dialog[open]').count(), 0);

    // A node is insecure only when bound beyond loopback, which a test must not do: the
    // node's own answer is changed on its way to the page.
    let answered = 0;
    await page.route('**/api/cluster', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.security = { tls: false, tokens: false, insecure: true };
      answered += 1;
      await route.fulfill({ response, json: body });
    });
    await page.reload();
    const banner = page.locator('#security-banner');
    await banner.waitFor();
    assert.equal((await banner.innerText()).replace(/\s+/g, ' ').trim(), INSECURE_TEXT);
    assert.equal(await banner.locator('button, a').count(), 0, 'the banner can be dismissed');
    assert.equal(await page.locator('#security').innerText(), 'unprotected');
    assert.ok(answered >= 1);
    await screenshot(page, 'insecure-banner');

    // Events keep coming (the job and a `cluster` event for the commit index that moved),
    // and the banner stays.
    const job = await cluster.submit('echo still-warned');
    await page.locator(`#jobs-body tr[data-id="${job.id}"][data-status="completed"]`).waitFor();
    await page.keyboard.press('Escape');
    assert.equal(await banner.isVisible(), true);

    await page.unroute('**/api/cluster');
    await page.reload();
    await page.locator('#conn[data-state="open"]').waitFor();
    await page.locator('#security').getByText('loopback only').waitFor();
    assert.equal(await banner.isVisible(), false);
  }));

  test('the event stream reader parses text/event-stream as the standard says', async () => {
    // Every way of cutting the stream into chunks, down to one character at a time (a CRLF
    // cut in two included), gives the same events.
    const outcomes = await page.evaluate(async () => {
      const { SseParser } = await import('/js/events.js');
      const text = ': a comment\r\nevent: job\r\ndata: {"a":\r\ndata:  1}\r\nid: 7\r\n\r\n'
        + 'data: no type\n\n'
        + 'event: nothing\nretry: 10\n\n'
        + 'data\n\n'
        + 'event: cluster\rdata:cr\r\r'
        + 'data: never ended';
      const all = [];
      for (let size = 1; size <= text.length; size += 1) {
        const events = [];
        const parser = new SseParser((event) => events.push(event));
        for (let at = 0; at < text.length; at += size) parser.push(text.slice(at, at + size));
        all.push(JSON.stringify(events));
      }
      return all;
    });
    assert.equal(new Set(outcomes).size, 1, 'the events depend on how the stream was cut');
    assert.deepEqual(JSON.parse(outcomes[0]), [
      { type: 'job', data: '{"a":\n 1}', lastEventId: '7' },
      { type: 'message', data: 'no type', lastEventId: '7' },
      { type: 'message', data: '', lastEventId: '7' },
      { type: 'cluster', data: 'cr', lastEventId: '7' },
    ]);
  });

  test('no script errors, CSP violations or dialogs', () => {
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.dialogs, []);
  });
});
