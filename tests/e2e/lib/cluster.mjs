// A real nomad-lite cluster for a test: build/nomad-lite processes on 127.0.0.1 with free
// ports, each with its dashboard, data in a temporary directory, logs under build/e2e/logs;
// optionally with TLS and tokens made by `nomad-lite tls init`. Every process is killed when
// the test ends, and again on exit if a test forgot to.

import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { binary, outDir } from './paths.mjs';
import { http, waitFor } from './wait.mjs';

const running = new Set();
const killAll = () => {
  for (const child of running) child.kill('SIGKILL');
};
process.on('exit', killAll);
// A test run stopped from outside (Ctrl-C, the runner's timeout) takes its nodes with it.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

// Distinct free ports below the kernel's ephemeral range (32768 and up): a port the kernel
// hands out for port 0 may meanwhile become the local end of one of the browser's outgoing
// connections before the node binds it. Ports handed out once in this process are not reused.
const handedOut = new Set();

function bindable(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePorts(count) {
  const ports = [];
  while (ports.length < count) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) ports.push(port);
  }
  return ports;
}

const isRunning = (node) => Boolean(node.process) && node.process.exitCode === null && node.process.signalCode === null;

// The tokens of a file `tls init` wrote, by role: {operator, submit, read}.
function readTokens(file) {
  const tokens = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [role, token] = line.trim().split(/\s+/);
    if (role && token && !role.startsWith('#')) tokens[role] ??= token;
  }
  return tokens;
}

export class Cluster {
  // name: used for the log directory (build/e2e/logs/<name>).
  // tls: the nodes get certificates from `nomad-lite tls init` (their dashboards speak HTTPS);
  // tokens: and need the tokens it wrote (--token-file); serverArgs: more flags for every
  // node, or a function of the node that returns them.
  static async start(name, { size = 3, workerSlots = 2, tls = false, tokens = false, serverArgs = [] } = {}) {
    if (tokens && !tls) throw new Error('tokens: the token file comes from tls init, so tls too');
    const ports = await freePorts(2 * size);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `nomad-e2e-${name}-`));
    const logDir = path.join(outDir, 'logs', name);
    fs.rmSync(logDir, { recursive: true, force: true });
    fs.mkdirSync(logDir, { recursive: true });
    const nodes = [];
    for (let i = 0; i < size; i += 1) {
      nodes.push({ id: i + 1, grpcPort: ports[2 * i], httpPort: ports[2 * i + 1] });
    }
    let security = null;
    if (tls) {
      const dir = path.join(dataDir, 'tls');
      execFileSync(binary, ['tls', 'init', dir, '--nodes', String(size)], { stdio: 'pipe' });
      security = {
        dir,
        ca: fs.readFileSync(path.join(dir, 'ca.pem')),
        tokensFile: tokens ? path.join(dir, 'tokens') : null,
        tokens: tokens ? readTokens(path.join(dir, 'tokens')) : {},
      };
    }
    for (const node of nodes) {
      node.url = `${tls ? 'https' : 'http'}://127.0.0.1:${node.httpPort}`;
      node.args = [
        'server',
        '--node-id', String(node.id),
        '--port', String(node.grpcPort),
        '--dashboard-port', String(node.httpPort),
        '--peers', nodes.filter((n) => n !== node).map((n) => `${n.id}:127.0.0.1:${n.grpcPort}`).join(','),
        '--data-dir', path.join(dataDir, `node-${node.id}`),
        '--worker-slots', String(workerSlots),
        ...(tls ? ['--tls-cert', path.join(security.dir, `node-${node.id}.pem`),
          '--tls-key', path.join(security.dir, `node-${node.id}-key.pem`),
          '--tls-ca', path.join(security.dir, 'ca.pem')] : []),
        ...(tokens ? ['--token-file', security.tokensFile] : []),
        ...(typeof serverArgs === 'function' ? serverArgs(node) : serverArgs),
      ];
      node.log = path.join(logDir, `node-${node.id}.log`);
    }
    const cluster = new Cluster(nodes, dataDir, security);
    try {
      for (const node of nodes) cluster.launch(node);
      await cluster.waitReady();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  // security: null, or {dir, ca, tokensFile, tokens: {operator, submit, read}}.
  constructor(nodes, dataDir, security = null) {
    this.nodes = nodes;
    this.dataDir = dataDir;
    this.security = security;
  }

  // http() to a node of this cluster: checks its certificate against the cluster's CA and,
  // unless told otherwise, sends the operator token when the nodes want one.
  request(url, options = {}) {
    return http(url, { ca: this.security?.ca, token: this.security?.tokens.operator, ...options });
  }

  node(id) {
    return this.nodes.find((n) => n.id === id);
  }

  launch(node) {
    const log = fs.openSync(node.log, 'a');
    const child = spawn(binary, node.args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    node.process = child;
    node.exited = new Promise((resolve) => child.once('exit', resolve));
    running.add(child);
    child.once('exit', () => running.delete(child));
    child.once('error', (error) => fs.appendFileSync(node.log, `spawn failed: ${error.message}\n`));
  }

  // Every live node serves its dashboard and one of them knows a leader.
  async waitReady(timeoutMs = 20_000) {
    const live = this.nodes.filter(isRunning);
    await waitFor('every node to serve /health/live', async () => {
      for (const node of live) {
        if (!isRunning(node)) throw new Error(`node ${node.id} exited; see ${node.log}`);
        if ((await this.request(`${node.url}/health/live`, { timeoutMs: 1000 })).status !== 200) return false;
      }
      return true;
    }, { timeoutMs });
    return this.waitLeader({ timeoutMs });
  }

  // The leader's id as a live node reports it, once every live node agrees on it;
  // `not` excludes a leader that is known to be gone.
  async waitLeader({ not = null, timeoutMs = 10_000 } = {}) {
    const live = this.nodes.filter((n) => isRunning(n) && n.id !== not);
    return waitFor(`a leader${not ? ` other than node ${not}` : ''} that every live node knows`, async () => {
      const answers = await Promise.all(live.map((n) => this.request(`${n.url}/api/cluster`, { timeoutMs: 1000 })));
      const leaders = new Set(answers.map((a) => (a.status === 200 ? a.body.leader_id : null)));
      const [leader] = leaders;
      return leaders.size === 1 && leader && leader !== not ? leader : null;
    }, { timeoutMs });
  }

  async kill(id, signal = 'SIGKILL') {
    const node = this.node(id);
    if (isRunning(node)) node.process.kill(signal);
    await node.exited;
  }

  async restart(id) {
    const node = this.node(id);
    if (isRunning(node)) throw new Error(`node ${id} is running`);
    this.launch(node);
    await waitFor(`node ${id} to serve again`, async () => {
      if (!isRunning(node)) throw new Error(`node ${id} exited; see ${node.log}`);
      return (await this.request(`${node.url}/health/live`, { timeoutMs: 1000 })).status === 200;
    }, { timeoutMs: 15_000 });
  }

  // SIGKILL: the data is thrown away, and clean shutdown is not what these tests are about.
  async stop() {
    const alive = this.nodes.filter(isRunning);
    for (const node of alive) node.process.kill('SIGKILL');
    await Promise.all(alive.map((n) => n.exited));
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  // Leadership can move between asking the nodes and the page showing it (a busy machine can
  // miss heartbeats and elect again): waits until the page's cluster panel names the leader
  // every live node knows at that moment, and returns it.
  async leaderShownOn(page, { not = null, timeoutMs = 15_000 } = {}) {
    return waitFor(`the page to show the leader${not ? ` other than node ${not}` : ''} every live node knows`, async () => {
      const leader = await this.waitLeader({ not, timeoutMs: 2000 });
      const shown = await page.locator('#cluster').getAttribute('data-leader-id', { timeout: 1000 });
      return shown === String(leader) ? leader : null;
    }, { timeoutMs });
  }

  // The last lines of every node's log, to add to a failure's message.
  logTails(lines = 25) {
    return this.nodes.map((node) => {
      let text = '';
      try {
        text = fs.readFileSync(node.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch (error) {
        text = `(no log: ${error.message})`;
      }
      return `--- node ${node.id} (${node.log}) ---\n${text}`;
    }).join('\n');
  }

  // Runs fn; a failure's message gets the nodes' log tails, since a CI run keeps nothing else.
  async explained(fn) {
    try {
      return await fn();
    } catch (error) {
      error.message += `\n${this.logTails()}`;
      throw error;
    }
  }

  // Runs `nomad-lite ARGS...` as a client of the given node (with the CA, the client
  // certificate and the operator token when the cluster has them); resolves to its stdout,
  // rejects with its stderr on a non-zero exit.
  cli(args, { nodeId = 1, timeoutMs = 20_000 } = {}) {
    const env = { ...process.env, NOMAD_LITE_ADDR: `127.0.0.1:${this.node(nodeId).grpcPort}` };
    if (this.security) {
      env.NOMAD_LITE_CACERT = path.join(this.security.dir, 'ca.pem');
      env.NOMAD_LITE_CLIENT_CERT = path.join(this.security.dir, 'client.pem');
      env.NOMAD_LITE_CLIENT_KEY = path.join(this.security.dir, 'client-key.pem');
      if (this.security.tokens.operator) env.NOMAD_LITE_TOKEN = this.security.tokens.operator;
    }
    return new Promise((resolve, reject) => {
      execFile(binary, args, { env, timeout: timeoutMs }, (error, stdout, stderr) => {
        if (error) reject(new Error(`nomad-lite ${args.join(' ')}: ${error.message.trim()}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  // Submits through the REST API of the given node (with the operator token, if needed).
  async submit(command, nodeId = 1, extra = {}) {
    const answer = await this.request(`${this.node(nodeId).url}/api/jobs`, { method: 'POST', body: { command, ...extra } });
    if (answer.status !== 201) throw new Error(`POST /api/jobs: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
}
