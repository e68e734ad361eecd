// Members, drain and leadership transfer on the dashboard of a 3-node cluster with TLS and
// tokens, in headless Chromium: the node cards list the voters with the leader marked, a
// learner added with `cluster add-server` and gone after `remove-server`, a member address
// full of markup shown as text, a drained node's card through draining, drained and eligible
// again, the transfer buttons of an operator moving leadership without a reload, no working
// buttons for a read token, and the same cards at phone width. Screenshots go to build/e2e/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, openPage, screenshot } from './lib/browser.mjs';
import { Cluster, freePorts } from './lib/cluster.mjs';
import { waitFor } from './lib/wait.mjs';

// A valid member address (printable ASCII, host:port) that is markup if ever parsed as HTML.
const MARKUP_ADDRESS = '<img/src=x/onerror=alert(1)>:1';
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

describe('members, drain and leadership transfer on the dashboard', () => {
  let cluster, browser, page, problems, phone, gateDir;
  const url = () => cluster.node(1).url;
  const card = (id, p = page) => p.locator(`#nodes .node[data-node-id="${id}"]`);
  const membersFact = (p = page) => p.locator('#cluster-facts [data-fact="members"]');
  const transferButtons = (p = page) => p.locator('#cluster button.transfer-leader');

  // Logs in through the token dialog, as a user does.
  async function logIn(p, token) {
    await p.goto(`${url()}/`);
    await p.locator('#token-dialog[open]').waitFor();
    await p.fill('#token-input', token);
    await p.click('#token-dialog button[type=submit]');
    await p.locator('#token-dialog').waitFor({ state: 'hidden' });
    await p.locator('#conn[data-state="open"]').waitFor();
  }

  // Nothing on a node card is wider than the card (a long state such as "Draining
  // (deadline in 4m 59s)" once pushed the values out of it).
  async function cardsFit(p, name) {
    const wide = await p.locator('#nodes .node').evaluateAll((cards) => cards
      .filter((c) => c.scrollWidth > c.clientWidth)
      .map((c) => `node ${c.dataset.nodeId}: ${c.scrollWidth}px of content in ${c.clientWidth}px`));
    assert.deepEqual(wide, [], `node cards too narrow for their content (${name})`);
  }

  // The phone page shows the same state: nothing on it is wider than the screen.
  async function phoneFits(name) {
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await screenshot(phone.page, name, { fullPage: true });
    assert.ok(overflow <= 0, `the phone page is ${overflow}px wider than the screen (${name})`);
    await cardsFit(phone.page, name);
  }

  const clusterNode = async (id) => (await cluster.request(`${url()}/api/cluster`)).body.nodes.find((n) => n.id === id);

  before(async () => {
    cluster = await Cluster.start('members', { tls: true, tokens: true });
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, { ignoreHTTPSErrors: true }));
    phone = await openPage(browser, { ignoreHTTPSErrors: true, ...PHONE });
    await logIn(page, cluster.security.tokens.operator);
    await logIn(phone.page, cluster.security.tokens.operator);
    // Jobs of the drain test wait for a file here; jobs run as another user when the
    // server is root, so the directory is readable by all.
    gateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nomad-e2e-gate-'));
    fs.chmodSync(gateDir, 0o755);
  });

  after(async () => {
    if (gateDir) fs.writeFileSync(path.join(gateDir, 'release'), '');
    await browser?.close();
    await cluster?.stop();
    if (gateDir) fs.rmSync(gateDir, { recursive: true, force: true });
  });

  test('the node cards list the three voters and mark the leader', () => cluster.explained(async () => {
    await waitFor('three node cards', async () => (await page.locator('#nodes .node').count()) === 3);
    const leader = await cluster.leaderShownOn(page);
    assert.deepEqual(await page.locator('#nodes .node.is-leader').evaluateAll((cards) => cards.map((c) => c.dataset.nodeId)),
      [String(leader)]);
    assert.equal(await page.locator('#nodes .node[data-role="learner"]').count(), 0);
    assert.equal(await membersFact().innerText(), '3 voters');
    assert.match(await page.locator('#leader-line').innerText(), new RegExp(`node ${leader}`));
  }));

  test('a learner added with cluster add-server is shown as one until remove-server', () => cluster.explained(async () => {
    // Nothing listens there: it never catches up, so it stays a learner.
    const [port] = await freePorts(1);
    await cluster.cli(['cluster', 'add-server', '9', `127.0.0.1:${port}`]);
    const learner = card(9);
    await page.locator('#nodes .node[data-node-id="9"][data-role="learner"]').waitFor();
    assert.match(await learner.getAttribute('class'), /\bis-learner\b/);
    assert.equal(await learner.locator('.node-addr').innerText(), `127.0.0.1:${port}`);
    assert.equal(await learner.locator('button.transfer-leader').count(), 0, 'a learner cannot lead');
    await membersFact().getByText('3 voters · 1 learner').waitFor();
    const members = (await cluster.request(`${url()}/api/members`)).body.members;
    assert.equal(members.find((m) => m.id === 9)?.role, 'learner');

    // An address is the operator's text: shown as text, never parsed as markup.
    const added = await cluster.request(`${url()}/api/members`, { method: 'POST', body: { id: 8, address: MARKUP_ADDRESS } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await page.locator('#nodes .node[data-node-id="8"][data-role="learner"]').waitFor();
    assert.equal(await card(8).locator('.node-addr').innerText(), MARKUP_ADDRESS);
    assert.equal(await page.locator('#nodes img').count(), 0);
    await membersFact().getByText('3 voters · 2 learners').waitFor();
    await screenshot(page, 'members-learners', { fullPage: true });
    await cardsFit(page, 'members-learners');
    await card(9, phone.page).waitFor();
    await card(8, phone.page).waitFor();
    await phoneFits('phone-members-learners');

    const removed = await cluster.request(`${url()}/api/members/8`, { method: 'DELETE' });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    await cluster.cli(['cluster', 'remove-server', '9']);
    await waitFor('the learners to leave the page', async () => (await page.locator('#nodes .node').count()) === 3);
    assert.equal(await card(9).count(), 0);
    await membersFact().getByText('3 voters', { exact: true }).waitFor();
    assert.deepEqual(problems.dialogs, []);
  }));

  test('a drained node shows draining, then drained, then eligible again', () => cluster.explained(async () => {
    const leader = await cluster.leaderShownOn(page);
    const drained = cluster.nodes.find((n) => n.id !== leader).id;
    const gate = path.join(gateDir, 'release');
    // Long jobs that end when the test says so (bounded: 60 s at most).
    const command = `for i in $(seq 600); do [ -e ${gate} ] && exit 0; sleep 0.1; done; exit 1`;
    const jobs = [];
    for (let i = 0; i < 6; i += 1) jobs.push(await cluster.submit(command));
    await waitFor(`a job running on node ${drained}`, async () => (await clusterNode(drained)).running_jobs > 0,
      { timeoutMs: 15_000 });

    await cluster.cli(['node', 'drain', String(drained), '--deadline', '5m', '--detach']);
    const drainedCard = card(drained);
    await page.locator(`#nodes .node[data-node-id="${drained}"][data-scheduling="draining"]`).waitFor();
    assert.match(await drainedCard.getAttribute('class'), /\bis-ineligible\b/);
    assert.match(await drainedCard.locator('[data-stat="scheduling"]').innerText(), /Draining/);
    assert.notEqual(Number(await drainedCard.locator('[data-stat="running"]').innerText()), 0);
    await screenshot(page, 'node-draining', { fullPage: true });
    await cardsFit(page, 'node-draining');
    await phone.page.locator(`#nodes .node[data-node-id="${drained}"][data-scheduling="draining"]`).waitFor();
    await phoneFits('phone-node-draining');

    fs.writeFileSync(gate, '');
    await page.locator(`#nodes .node[data-node-id="${drained}"][data-scheduling="drained"]`).waitFor({ timeout: 20_000 });
    assert.match(await drainedCard.getAttribute('class'), /\bis-ineligible\b/);
    assert.match(await drainedCard.locator('[data-stat="scheduling"]').innerText(), /Drained/);
    assert.equal(await drainedCard.locator('[data-stat="running"]').innerText(), '0');
    await screenshot(page, 'node-drained', { fullPage: true });
    await cardsFit(page, 'node-drained');

    await cluster.cli(['node', 'eligibility', String(drained), 'on']);
    await page.locator(`#nodes .node[data-node-id="${drained}"][data-scheduling="eligible"]`).waitFor();
    assert.doesNotMatch(await drainedCard.getAttribute('class'), /\bis-ineligible\b/);
    assert.match(await drainedCard.locator('[data-stat="scheduling"]').innerText(), /Eligible/);
    // Every gated job ended well: the drain let them finish where they ran.
    await waitFor('the gated jobs to complete', async () => {
      const statuses = await Promise.all(jobs.map(async (j) => (await cluster.request(`${url()}/api/jobs/${j.id}`)).body.status));
      return statuses.every((s) => s === 'completed');
    }, { timeoutMs: 15_000 });
  }));

  test('an operator moves leadership with the buttons, without a reload', () => cluster.explained(async () => {
    // With the token kept from the login, a reloaded page offers the buttons as soon as its
    // node answers that the token may use them (events do not say so).
    await page.reload();
    await page.locator('#conn[data-state="open"]').waitFor();
    await transferButtons().first().waitFor({ timeout: 3000 });
    // Set once: a full reload would lose it, so its presence later proves there was none.
    await page.evaluate(() => { window.loadedOnce = true; });

    const before = await cluster.leaderShownOn(page);
    const target = cluster.nodes.find((n) => n.id !== before).id;
    // A follower's card offers "Make leader"; the leader's does not.
    assert.equal(await card(before).locator('button.transfer-leader').count(), 0);
    await card(target).locator(`button.transfer-leader[data-to="${target}"]`).click();
    await page.locator(`#cluster[data-leader-id="${target}"]`).waitFor({ timeout: 15_000 });
    assert.equal(await cluster.waitLeader(), target);
    await page.locator('#leader-line .transfer-note').getByText(`moved from node ${before} to node ${target}`).waitFor();
    assert.match(await card(target).getAttribute('class'), /\bis-leader\b/);
    await screenshot(page, 'leadership-moved', { fullPage: true });
    await cardsFit(page, 'leadership-moved');

    // The leader line's button hands it to the most up-to-date follower.
    await page.locator('#leader-line button.transfer-leader').click();
    const after = await cluster.leaderShownOn(page, { not: target });
    assert.notEqual(after, target);
    assert.equal(await page.evaluate(() => window.loadedOnce), true, 'the page was reloaded');

    await phone.page.locator(`#cluster[data-leader-id="${after}"]`).waitFor({ timeout: 15_000 });
    assert.ok(await transferButtons(phone.page).count() > 0);
    await phoneFits('phone-transfer-buttons');
  }));

  test('a read token gets no transfer buttons, and the API refuses it with a reason', () => cluster.explained(async () => {
    const reader = await openPage(browser, { ignoreHTTPSErrors: true });
    try {
      await logIn(reader.page, cluster.security.tokens.read);
      await waitFor('three node cards', async () => (await reader.page.locator('#nodes .node').count()) === 3);
      await cluster.leaderShownOn(reader.page);
      assert.equal(await transferButtons(reader.page).count(), 0);

      // A page that believes it may (its token lost the role since) is refused in words.
      const leader = await cluster.waitLeader();
      await reader.page.route('**/api/cluster', async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, json: { ...(await response.json()), operator: true } });
      });
      await reader.page.reload();
      await reader.page.locator('#conn[data-state="open"]').waitFor();
      await reader.page.locator('#leader-line button.transfer-leader').click();
      await reader.page.locator('#leader-line .transfer-note')
        .getByText("transfer failed: the token's role (read) may not do this; it needs the operator role").waitFor();
      assert.equal(await cluster.waitLeader(), leader);
      await screenshot(reader.page, 'read-token-transfer-refused');
      await reader.page.unroute('**/api/cluster');

      // Every change to the cluster asks for the operator role, and says so.
      const read = { token: cluster.security.tokens.read };
      for (const [method, where, body] of [['POST', '/api/cluster/transfer-leader', {}],
        ['POST', '/api/members', { id: 7, address: '127.0.0.1:1' }], ['DELETE', '/api/members/2', undefined],
        ['POST', '/api/nodes/2/drain', {}], ['POST', '/api/nodes/2/eligibility', { eligible: false }]]) {
        const answer = await cluster.request(`${url()}${where}`, { method, body, ...read });
        assert.equal(answer.status, 403, `${method} ${where}`);
        assert.equal(answer.body.error, "the token's role (read) may not do this; it needs the operator role");
      }
      assert.equal((await cluster.request(`${url()}/api/members`)).body.members.length, 3);
      assert.ok((await cluster.request(`${url()}/api/cluster`)).body.nodes.every((n) => n.scheduling.state === 'eligible'));
      assert.deepEqual(reader.problems.errors, []);
    } finally {
      await reader.context.close();
    }
  }));

  test('the panel draws any member list as text, with no transfer button on a learner', async () => {
    // The panel of the page's own code, fed a member list no live cluster gives at will: a
    // learner that is alive (catching up), and names and addresses full of markup.
    const drawn = await page.evaluate(async (markup) => {
      const { ClusterPanel } = await import('/js/cluster.js');
      const root = document.createElement('section');
      for (const [tag, id] of [['span', 'leader-line'], ['dl', 'cluster-facts'], ['ul', 'nodes']]) {
        const child = document.createElement(tag);
        child.id = id;
        root.append(child);
      }
      const scheduling = (state) => ({ state, drain_deadline_ms: null });
      const node = (id, role, address, state = 'eligible') => ({
        id, role, address, alive: true, match_index: 5, last_contact_ms: 10, running_jobs: 0, scheduling: scheduling(state),
      });
      const panel = new ClusterPanel(root);
      panel.update({
        operator: true, node_id: 1, role: 'leader', leader_id: 1, leader_address: markup, term: 2, commit_index: 5, applied_index: 5,
        nodes: [node(1, 'leader', '127.0.0.1:1'), node(2, 'follower', markup, 'drained'), node(3, 'learner', markup),
          node(4, markup, '127.0.0.1:4', markup)],
      });
      return {
        buttons: [...root.querySelectorAll('#nodes button.transfer-leader')].map((b) => b.dataset.to),
        leaderLineButtons: root.querySelectorAll('#leader-line button.transfer-leader').length,
        addresses: [...root.querySelectorAll('.node-addr')].map((a) => a.textContent),
        roles: [...root.querySelectorAll('.node')].map((n) => n.dataset.role),
        leaderLine: root.querySelector('#leader-line').textContent,
        members: root.querySelector('[data-fact="members"]').textContent,
        markupElements: root.querySelectorAll('img, script, b').length,
      };
    }, MARKUP_ADDRESS);
    assert.deepEqual(drawn.buttons, ['2', '4'], 'a transfer button on a learner');
    assert.equal(drawn.leaderLineButtons, 1);
    assert.deepEqual(drawn.addresses, ['127.0.0.1:1', MARKUP_ADDRESS, MARKUP_ADDRESS, '127.0.0.1:4']);
    assert.deepEqual(drawn.roles, ['leader', 'follower', 'learner', MARKUP_ADDRESS]);
    assert.match(drawn.leaderLine, new RegExp(`node 1 · ${MARKUP_ADDRESS.replace(/[()]/g, '\\$&')}`));
    assert.equal(drawn.members, '3 voters · 1 learner');
    assert.equal(drawn.markupElements, 0);
    assert.deepEqual(problems.dialogs, []);
  });

  test('no script errors, CSP violations or dialogs', () => {
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.dialogs, []);
    assert.deepEqual(phone.problems.errors, []);
    assert.deepEqual(phone.problems.dialogs, []);
  });
});
