// The dashboard: wires the panels to the REST API and the event stream, and routes between
// the overview (#/) and a job's detail (#/jobs/ID); asks for a token when the node wants one.

import { api } from './js/api.js';
import { forgetToken, onUnauthorized, storedToken } from './js/auth.js';
import { $, fill, el } from './js/dom.js';
import { EventStream } from './js/events.js';
import { ClusterPanel } from './js/cluster.js';
import { RateChart, StatsRates } from './js/chart.js';
import { JobsList } from './js/jobs.js';
import { SchedulesPanel } from './js/schedules.js';
import { JobDetail } from './js/detail.js';
import { SubmitForm } from './js/submit.js';
import { SecurityView } from './js/security.js';
import { TokenDialog } from './js/token.js';
import { formatAgo, formatDuration, formatRate } from './js/format.js';

// A quiet stream sends no `cluster` events: refresh the panel this often so "last contact"
// stays true on an idle cluster.
const CLUSTER_REFRESH_MS = 5000;

const cluster = new ClusterPanel($('#cluster'));
const jobs = new JobsList($('#jobs'));
new SchedulesPanel($('#schedules'));
const detail = new JobDetail($('#view-detail'));
new SubmitForm($('#submit-form'));
const security = new SecurityView($('#security'), $('#security-banner'));

const jobsChart = new RateChart($('#chart-jobs'), [
  { key: 'submitted', colorVar: '--series-submitted' },
  { key: 'finished', colorVar: '--series-finished' },
]);
const commitChart = new RateChart($('#chart-commits'), [{ key: 'commits', colorVar: '--series-commits' }]);
const rates = new StatsRates();

// --- connection state ---------------------------------------------------------------------

const conn = $('#conn');
const banner = $('#banner');
let lastClusterAt = 0;
let downSince = null;
let retryAt = 0;
let nodeLabel = 'this node';

// A stream that ends once is reopened quietly (the server ends a stream that fell too far
// behind, and a node may restart its listener); only when reopening fails too is the node
// reported down.
function setConnection(state, info) {
  if (state === 'down' && info.attempt < 2) state = 'connecting';
  conn.dataset.state = state;
  document.body.classList.toggle('is-offline', state === 'down');
  cluster.setStale(state === 'down');
  if (state === 'open') {
    fill($('#conn-text'), 'Live · ', nodeLabel);
    if (downSince !== null) {
      showBanner('ok', `Reconnected to ${nodeLabel} after ${formatDuration(Date.now() - downSince)}.`);
      setTimeout(() => banner.dataset.kind === 'ok' && hideBanner(), 4000);
    }
    downSince = null;
    // Changes are only sent while the stream is open: fetch the state once it is.
    resync();
  } else if (state === 'down') {
    downSince ??= Date.now();
    retryAt = info.retryAt;
    fill($('#conn-text'), 'Disconnected');
    renderDownBanner();
  } else if (downSince === null) {
    fill($('#conn-text'), info.everOpened ? 'Reconnecting…' : 'Connecting…');
  }
}

function retryText() {
  const wait = Math.max(0, retryAt - Date.now());
  return wait > 0 ? `Retrying in ${Math.ceil(wait / 1000)}s…` : 'Retrying…';
}

function renderDownBanner() {
  const retry = el('button', { class: 'btn btn-small', type: 'button', text: 'Retry now' });
  retry.addEventListener('click', () => stream.retryNow());
  showBanner('error',
    el('strong', { text: `Lost the connection to ${nodeLabel}.` }),
    ` The node serving this page may be down; what you see may be out of date. `,
    el('span', { class: 'retry-in', text: retryText() }),
    ' ', retry);
}

function showBanner(kind, ...content) {
  banner.dataset.kind = kind;
  banner.className = `banner banner-${kind}`;
  fill(banner, content);
  banner.hidden = false;
}

function hideBanner() {
  banner.hidden = true;
  delete banner.dataset.kind;
}

// After a reconnect, events may have been missed: fetch the current state again.
function resync() {
  jobs.reload();
  detail.refresh();
  rates.reset();
  refreshCluster();
}

// An answer to a fetch that was sent before the latest `cluster` event is older than what the
// panel shows (the event may be the leader change): it is dropped, or the panel would go back
// to the old leader until the next refresh.
let clusterEventSeq = 0;

async function refreshCluster() {
  const seqAtRequest = clusterEventSeq;
  try {
    const data = await api.cluster();
    security.update(data.security);
    if (seqAtRequest === clusterEventSeq) onCluster(data);
    // Events do not say whether this page's token may move leadership; only this answer does.
    else cluster.setOperator(data.operator);
  } catch {
    // The stream's own error handling reports an unreachable node.
  }
}

function onClusterEvent(data) {
  clusterEventSeq += 1;
  onCluster(data);
}

function onCluster(data) {
  lastClusterAt = Date.now();
  nodeLabel = `node ${data.node_id}`;
  if (conn.dataset.state === 'open') fill($('#conn-text'), 'Live · ', nodeLabel);
  cluster.update(data);
}

function onStats(stats) {
  jobs.setCounts(stats.by_status || {});
  const r = rates.next(stats);
  if (!r) return;
  jobsChart.push(stats.at, r);
  commitChart.push(stats.at, r);
  $('#rate-submitted').textContent = formatRate(r.submitted);
  $('#rate-finished').textContent = formatRate(r.finished);
  $('#rate-commits').textContent = formatRate(r.commits);
}

const stream = new EventStream('/api/events', {
  state: setConnection,
  cluster: onClusterEvent,
  job: (job) => {
    jobs.upsert(job);
    detail.update(job);
  },
  job_removed: ({ id }) => jobs.remove(id),
  resync: () => {
    jobs.reload();
    detail.refresh();
  },
  stats: onStats,
});

// --- token ---------------------------------------------------------------------------------

// A node started with --token-file answers 401 to a request without a valid token: the
// dialog asks for one, and once one is accepted everything is fetched again with it.
const forgetButton = $('#forget-token');
forgetButton.hidden = !storedToken();
forgetButton.addEventListener('click', () => {
  forgetToken();
  location.reload();
});

const tokenDialog = new TokenDialog($('#token-dialog'), {
  onAccepted(data) {
    forgetButton.hidden = false;
    security.update(data.security);
    onCluster(data);
    stream.reconnect();
    resync();
  },
});

onUnauthorized((message) => {
  conn.dataset.state = 'locked';
  fill($('#conn-text'), 'Token needed');
  tokenDialog.open({ refused: Boolean(storedToken()), message });
});

// --- routing ------------------------------------------------------------------------------

function route() {
  const match = /^#\/jobs\/([^/?#]+)/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  $('#view-overview').hidden = Boolean(id);
  $('#view-detail').hidden = !id;
  if (id) {
    detail.open(id);
    document.title = `Job ${id.slice(0, 8)} · nomad-lite`;
  } else {
    detail.close();
    document.title = 'nomad-lite';
  }
  window.scrollTo(0, 0);
}
window.addEventListener('hashchange', route);

// --- clocks -------------------------------------------------------------------------------

// Relative times ("12s ago") and running durations tick once a second.
setInterval(() => {
  const now = Date.now();
  for (const node of document.querySelectorAll('[data-ago]')) node.textContent = formatAgo(Number(node.dataset.ago), now);
  for (const node of document.querySelectorAll('[data-ago-paren]')) node.textContent = `(${formatAgo(Number(node.dataset.agoParen), now)})`;
  for (const node of document.querySelectorAll('[data-since]')) node.textContent = formatDuration(now - Number(node.dataset.since));
  const retryIn = banner.dataset.kind === 'error' ? $('.retry-in', banner) : null;
  if (retryIn) retryIn.textContent = retryText();
  if (conn.dataset.state === 'open' && now - lastClusterAt > CLUSTER_REFRESH_MS) {
    lastClusterAt = now;
    refreshCluster();
  }
}, 1000);

route();
stream.start();
// Should the stream not open soon (a node at its limit of streams answers 503), show what
// can be fetched anyway.
setTimeout(() => {
  if (tokenDialog.isOpen) return;
  if (!jobs.loaded && !jobs.reloading) jobs.reload();
  if (!lastClusterAt) refreshCluster();
}, 2000);
