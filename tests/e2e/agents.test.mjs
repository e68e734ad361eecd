// Worker-only agents on the dashboard: three servers that run no jobs (--worker-slots 0) and
// one agent with its own CPU, memory and labels. The leader's page shows the agent's card
// with slots, CPU and memory used and free, and its labels, and marks it down once it is
// killed; a follower's page, which does not hear agents, says so rather than calling it
// unreachable.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, openPage, screenshot } from './lib/browser.mjs';
import { Cluster, freePorts } from './lib/cluster.mjs';
import { binary, outDir } from './lib/paths.mjs';
import { http, waitFor } from './lib/wait.mjs';

describe('agents on the dashboard', () => {
  let cluster, browser, agent, agentId;
  const agentLog = path.join(outDir, 'logs', 'agents', 'agent.log');

  before(async () => {
    cluster = await Cluster.start('agents', { workerSlots: 0, serverArgs: ['--worker-timeout', '2s'] });
    const [listen] = await freePorts(1);
    fs.mkdirSync(path.dirname(agentLog), { recursive: true });
    const log = fs.openSync(agentLog, 'w');
    agent = spawn(binary, ['agent', '--servers', `127.0.0.1:${cluster.node(1).grpcPort}`,
      '--listen', `127.0.0.1:${listen}`, '--data-dir', path.join(cluster.dataDir, 'agent'),
      '--slots', '2', '--cpu', '2', '--memory', '1GiB', '--label', 'gpu=true', '--node-name', 'gpu-box'],
    { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    agent.exited = new Promise((resolve) => agent.once('exit', resolve));
    browser = await launchBrowser();
  });

  after(async () => {
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    await browser?.close();
    await cluster?.stop();
  });

  // The agent as the leader reports it, once it has registered and its capacity is applied.
  async function agentOnLeader() {
    return waitFor(`the agent registered and alive on the leader (log: ${agentLog})`, async () => {
      const leader = await cluster.waitLeader({ timeoutMs: 2000 });
      const { status, body } = await http(`${cluster.node(leader).url}/api/cluster`);
      const found = status === 200 && body.nodes.find((n) => n.agent && n.alive && n.cpu === 2);
      return found ? { leader, node: found } : null;
    }, { timeoutMs: 20_000 });
  }

  test('the leader\'s page shows the agent with its slots, CPU, memory and labels', async () => {
    const { leader, node } = await agentOnLeader();
    agentId = node.id;
    assert.equal(node.name, 'gpu-box');
    const submitted = await http(`${cluster.node(leader).url}/api/jobs`, {
      method: 'POST', body: { command: 'sleep 30', cpu: 1, memory: '256MiB' },
    });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));

    const { page, problems } = await openPage(browser);
    await page.goto(`${cluster.node(leader).url}/`);
    const card = page.locator(`#nodes .node[data-node-id="${agentId}"]`);
    await card.waitFor();
    assert.match(await card.locator('.node-addr').innerText(), /gpu-box/);
    assert.equal(await card.locator('.label-chip').innerText(), 'gpu=true');
    assert.equal(await card.locator('[data-stat="slots"]').innerText(), '2');
    await waitFor('the sleep\'s CPU and memory counted on the agent', async () =>
      (await card.locator('[data-stat="cpu"]').innerText()) === '1 used · 1 free of 2'
      && /^256(\.0)? MiB used · 768(\.0)? MiB free of 1(\.0)? GiB$/.test(await card.locator('[data-stat="memory"]').innerText()));
    assert.equal(await card.locator('.health').innerText(), 'Alive');
    // An agent holds no log and cannot lead: no match index, no transfer button; not a voter.
    assert.doesNotMatch(await card.innerText(), /Match index/);
    assert.equal(await card.locator('button.transfer-leader').count(), 0);
    assert.equal(await page.locator('dd[data-fact="members"]').innerText(), '3 voters · 1 agent');
    await screenshot(page, 'agents-leader');
    assert.deepEqual(problems, { dialogs: [], errors: [] });
    await page.close();
  });

  test('a follower\'s page does not call the agent unreachable; the leader\'s marks it down once killed', async () => {
    const { page, problems } = await openPage(browser);
    const card = page.locator(`#nodes .node[data-node-id="${agentId}"]`);
    // A busy machine may elect again meanwhile: read the card from a page whose node still
    // follows the leader every node knows.
    const health = await waitFor('a follower\'s page with the agent\'s card', async () => {
      const leader = await cluster.waitLeader();
      const follower = cluster.nodes.find((n) => n.id !== leader);
      await page.goto(`${follower.url}/`);
      await card.waitFor();
      const text = await card.locator('.health').innerText();
      const shownLeader = await page.locator('#cluster').getAttribute('data-leader-id');
      return shownLeader === String(leader) && (await cluster.waitLeader()) === leader ? text : null;
    }, { timeoutMs: 30_000 });
    assert.equal(health, 'On the leader\'s page');
    assert.equal(await card.evaluate((e) => e.classList.contains('is-down')), false);
    assert.equal(await card.locator('.label-chip').innerText(), 'gpu=true');
    await screenshot(page, 'agents-follower');

    agent.kill('SIGKILL');
    await agent.exited;
    const down = page.locator(`#nodes .node.is-down[data-node-id="${agentId}"]`);
    await waitFor('the leader\'s page to mark the killed agent down', async () => {
      await page.goto(`${cluster.node(await cluster.waitLeader()).url}/`);
      await page.locator(`#nodes .node[data-node-id="${agentId}"]`).waitFor();
      return (await down.count()) === 1 && (await page.locator('#cluster').getAttribute('data-leader-id')) === String(await cluster.waitLeader());
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.equal(await down.locator('.health').innerText(), 'Unreachable');
    assert.deepEqual(problems, { dialogs: [], errors: [] });
    await page.close();
  });
});
