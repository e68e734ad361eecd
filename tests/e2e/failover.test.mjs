// Nodes dying under an open dashboard: the leader (the page shows the new one), and the node
// serving the page (the page says so, and comes back when the node does).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, openPage, screenshot } from './lib/browser.mjs';
import { Cluster } from './lib/cluster.mjs';

describe('dashboard during failures', () => {
  let cluster, browser, page, problems, viewer;

  before(async () => {
    cluster = await Cluster.start('failover');
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser));
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  test('killing the leader shows the new leader on a surviving node\'s dashboard', () => cluster.explained(async () => {
    // Any node can serve the page; should the first leader lose its place before the page
    // shows it, the page is checked against the leader after it.
    viewer = cluster.node(3);
    await page.goto(`${viewer.url}/`);
    await page.locator('#conn[data-state="open"]').waitFor();
    let leader = await cluster.leaderShownOn(page);
    if (leader === viewer.id) {
      viewer = cluster.node(leader === 1 ? 2 : 1);
      await page.goto(`${viewer.url}/`);
      await page.locator('#conn[data-state="open"]').waitFor();
      leader = await cluster.leaderShownOn(page);
    }
    assert.notEqual(leader, viewer.id, 'the leader moved to the node serving the page twice');

    const killedAt = Date.now();
    await cluster.kill(leader, 'SIGKILL');
    await page.waitForFunction((old) => {
      const id = document.querySelector('#cluster')?.dataset.leaderId;
      return id && id !== String(old);
    }, leader, { timeout: 10_000, polling: 50 });
    const seenAfterMs = Date.now() - killedAt;
    const shown = Number(await page.locator('#cluster').getAttribute('data-leader-id'));
    console.log(`new leader node ${shown} shown ${seenAfterMs} ms after node ${leader} was killed`);

    assert.ok(seenAfterMs < 3000, `the new leader took ${seenAfterMs} ms to show`);
    // What the page shows is what the survivors agree on (normally node `shown` itself).
    const survivorsLeader = await cluster.leaderShownOn(page, { not: leader });
    assert.equal(await page.locator('#nodes .node.is-leader').count(), 1);
    assert.equal(await page.locator('#nodes .node.is-leader').getAttribute('data-node-id'), String(survivorsLeader));
    // The dead node is marked unreachable once the survivors stop hearing from it.
    await page.locator(`#nodes .node.is-down[data-node-id="${leader}"]`).waitFor();
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'open');
    await screenshot(page, 'failover-new-leader', { fullPage: true });

    await cluster.restart(leader);
    await page.locator(`#nodes .node[data-node-id="${leader}"][data-alive="true"]`).waitFor({ timeout: 15_000 });
  }));

  test('when the node serving the page dies the page says so, and recovers with it', () => cluster.explained(async () => {
    // Two nodes stay up, so the cluster keeps a leader while this one is down.
    await cluster.kill(viewer.id, 'SIGKILL');
    await page.locator('#conn[data-state="down"]').waitFor();
    await page.locator('#banner.banner-error').getByText(`Lost the connection to node ${viewer.id}`).waitFor();
    assert.ok(await page.locator('#cluster.is-stale').isVisible());
    await screenshot(page, 'connection-lost');

    await cluster.restart(viewer.id);
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('#banner.banner-ok').getByText(`Reconnected to node ${viewer.id}`).waitFor();
    await page.locator('#cluster:not(.is-stale)').waitFor();
    // The cluster panel is fed again: every node alive, one leader.
    await page.waitForFunction(() => document.querySelectorAll('#nodes .node[data-alive="true"]').length === 3
      && document.querySelectorAll('#nodes .node.is-leader').length === 1, null, { timeout: 15_000, polling: 100 });

    // And the page works as before: a job submitted elsewhere shows up.
    const job = await cluster.submit('echo back', cluster.nodes.find((n) => n.id !== viewer.id).id);
    await page.locator(`#jobs-body tr[data-id="${job.id}"]`).waitFor();
  }));

  test('no script errors or dialogs', () => {
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.dialogs, []);
  });
});
