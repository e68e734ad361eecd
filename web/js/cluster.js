// The cluster panel: who leads, the Raft term and indexes of the node this page talks to, and
// a card per node. Fed by `cluster` events; a quiet stream gets a fetch every few seconds so
// "last contact" does not go stale on an idle cluster.

import { api } from './api.js';
import { el, fill, $ } from './dom.js';
import { formatCount, formatDuration } from './format.js';

const ROLE_LABELS = { leader: 'Leader', follower: 'Follower', candidate: 'Candidate', precandidate: 'Pre-candidate', 'pre-candidate': 'Pre-candidate' };
const roleLabel = (role) => ROLE_LABELS[role] || (role ? role[0].toUpperCase() + role.slice(1) : 'Unknown');

// "3 voters · 1 learner": a learner receives the log but does not vote until the leader
// promotes it (cluster add-server, server --join).
const membersText = (nodes) => {
  const learners = nodes.filter((n) => n.role === 'learner').length;
  const agents = nodes.filter((n) => n.agent).length;
  const voters = nodes.length - learners - agents;
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return [plural(voters, 'voter'), learners ? plural(learners, 'learner') : null,
    agents ? plural(agents, 'agent') : null].filter(Boolean).join(' · ');
};

// 268435456 -> "256 MiB": the sizes of a node's memory.
const formatBytes = (bytes) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  const digits = unit === 0 || value >= 100 || Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
};
const formatCores = (cores) => String(Math.round((Number(cores) || 0) * 1000) / 1000);

// CPU and memory the attempts placed on the node asked for, and what is left of what its
// worker offers ("0.5 used · 1.5 free of 2"); null before its worker reported.
const usageText = (used, total, format) => total
  ? `${format(used)} used · ${format(Math.max(0, total - used))} free of ${format(total)}` : null;

export class ClusterPanel {
  constructor(root) {
    this.root = root;
    this.leaderLine = $('#leader-line', root);
    this.facts = $('#cluster-facts', root);
    this.nodes = $('#nodes', root);
    this.cluster = null;
    this.receivedAt = 0;
    this.operator = false;  // the page's token may move leadership (GET /api/cluster says)
    this.transferring = false;
    this.transferNote = null;
  }

  update(cluster) {
    if (typeof cluster.operator === 'boolean') this.operator = cluster.operator;
    this.cluster = cluster;
    this.receivedAt = Date.now();
    this.render();
  }

  setOperator(operator) {
    if (typeof operator !== 'boolean' || operator === this.operator) return;
    this.operator = operator;
    this.render();
  }

  setStale(stale) {
    this.root.classList.toggle('is-stale', stale);
  }

  render() {
    const c = this.cluster;
    if (!c) return;
    const leader = c.leader_id ?? null;
    this.root.dataset.leaderId = leader ?? '';
    this.leaderLine.className = leader ? 'leader-line' : 'leader-line is-warning';
    fill(this.leaderLine, leader
      ? ['Leader: ', el('strong', { text: `node ${leader}` }), c.leader_address ? ` · ${c.leader_address}` : '',
        this.operator ? this.transferButton(null, 'Transfer leadership',
          'Hand leadership to the most up-to-date follower (e.g. before maintenance)') : null,
        this.transferNote ? el('span', { class: 'transfer-note', text: this.transferNote }) : null]
      : [el('strong', { text: 'No leader' }), ' · election in progress']);

    const fact = (label, value, extra = {}) => el('div', { class: 'fact' },
      el('dt', { text: label }), el('dd', { text: value, ...extra }));
    fill(this.facts,
      fact('Term', formatCount(c.term), { class: 'num', dataset: { fact: 'term' } }),
      fact('Commit index', formatCount(c.commit_index), { class: 'num', dataset: { fact: 'commit' } }),
      fact('Applied index', formatCount(c.applied_index), { class: 'num', dataset: { fact: 'applied' } }),
      fact('Answered by', `node ${c.node_id} (${roleLabel(c.role).toLowerCase()})`),
      fact('Members', membersText(c.nodes || []), { dataset: { fact: 'members' } }));

    // Only the leader knows how far each node's log matches its own: a follower's page
    // leaves the line out rather than show a number it does not have.
    const matchKnown = c.role === 'leader';
    fill(this.nodes, (c.nodes || []).map((n) => this.nodeCard(n, c, leader, matchKnown)));
  }

  nodeCard(n, c, leader, matchKnown) {
    const self = n.id === c.node_id;
    const isLeader = n.id === leader;
    // Agents report to the leader only: a follower's page cannot tell whether one is alive.
    const aliveUnknown = n.agent && c.role !== 'leader';
    const classes = ['node'];
    if (isLeader) classes.push('is-leader');
    if (!n.alive && !aliveUnknown) classes.push('is-down');
    if (self) classes.push('is-self');
    // Drain and eligibility (README "Draining a node"): a node that takes no new jobs says so.
    const scheduling = (n.scheduling && n.scheduling.state) || 'eligible';
    if (scheduling !== 'eligible') classes.push('is-ineligible');
    const deadline = n.scheduling && n.scheduling.drain_deadline_ms;
    const schedulingText = {
      eligible: 'Eligible',
      ineligible: 'Ineligible',
      draining: deadline
        ? `Draining (deadline in ${formatDuration(Math.max(0, deadline - Date.now()))})`
        : 'Draining (no deadline)',
      drained: 'Drained',
    }[scheduling] || scheduling;
    if (n.role === 'learner') classes.push('is-learner');
    const contact = self ? 'this node' : aliveUnknown ? 'known to the leader'
      : n.last_contact_ms === null || n.last_contact_ms === undefined
        ? 'never' : `${formatDuration(n.last_contact_ms)} ago`;
    const stat = (label, value, props = {}) => el('div', {}, el('dt', { text: label }), el('dd', { text: value, ...props }));
    return el('li', { class: classes.join(' '), dataset: { nodeId: n.id, role: n.role, alive: n.alive, scheduling } },
      el('div', { class: 'node-head' },
        el('span', { class: 'node-name', text: `Node ${n.id}` }),
        el('span', { class: `role role-${isLeader ? 'leader' : 'other'}`, text: isLeader ? 'Leader' : roleLabel(n.role) }),
        self ? el('span', { class: 'you', text: 'this page', title: 'This page is served by this node' }) : null),
      el('div', { class: 'node-addr mono', text: n.name ? `${n.address} · ${n.name}` : n.address }),
      // Labels are the operator's text: el() puts them in as text, never as markup.
      Object.keys(n.labels || {}).length ? el('div', { class: 'node-labels', dataset: { stat: 'labels' } },
        Object.keys(n.labels).sort().map((key) => el('span', { class: 'label-chip mono', text: `${key}=${n.labels[key]}` }))) : null,
      el('dl', { class: 'node-stats' },
        aliveUnknown
          ? stat('Health', 'On the leader\'s page', { class: 'health', title: 'Agents report to the leader only' })
          : stat('Health', n.alive ? 'Alive' : 'Unreachable', { class: n.alive ? 'health ok' : 'health bad' }),
        matchKnown && !n.agent ? stat('Match index', formatCount(n.match_index), { class: 'num' }) : null,
        stat('Last contact', contact),
        stat('Jobs running', formatCount(n.running_jobs || 0), { class: 'num', dataset: { stat: 'running' } }),
        n.slots ? stat('Slots', formatCount(n.slots), { class: 'num', dataset: { stat: 'slots' } }) : null,
        n.cpu ? stat('CPU', usageText(n.cpu_used || 0, n.cpu, formatCores), { dataset: { stat: 'cpu' } }) : null,
        n.memory ? stat('Memory', usageText(n.memory_used || 0, n.memory, formatBytes), { dataset: { stat: 'memory' } }) : null,
        stat('Scheduling', schedulingText, {
          class: `scheduling scheduling-${scheduling}`,
          dataset: { stat: 'scheduling' },
          title: scheduling === 'eligible' ? 'The leader places new jobs here'
            : 'The leader places no new jobs here (nomad-lite node eligibility ' + n.id + ' on)',
        })),
      // A learner cannot lead (it does not vote) until the leader promotes it.
      this.operator && leader && !isLeader && n.alive && n.role !== 'learner' && !n.agent
        ? this.transferButton(n.id, 'Make leader', `Hand leadership to node ${n.id}`) : null);
  }

  transferButton(to, label, title) {
    const button = el('button', { class: 'btn btn-small transfer-leader', type: 'button', text: this.transferring ? 'Transferring…' : label, title });
    if (to) button.dataset.to = to;
    button.disabled = this.transferring;
    button.addEventListener('click', () => this.transfer(to));
    return button;
  }

  // Answers once the new leader is known; its `cluster` event then redraws the panel.
  async transfer(to) {
    this.transferring = true;
    this.transferNote = null;
    this.render();
    try {
      const r = await api.transferLeader(to);
      this.transferNote = `moved from node ${r.previous_leader_id} to node ${r.leader_id}`;
    } catch (error) {
      this.transferNote = `transfer failed: ${error.message}`;
    } finally {
      this.transferring = false;
      this.render();
    }
  }
}
