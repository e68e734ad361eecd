// The jobs table: the first page from GET /api/jobs, then kept current by `job` events
// (newest first), with a status filter, a command search and "Load more" paging.

import { api } from './api.js';
import { el, fill, $, batched } from './dom.js';
import { STATUSES, shortId, parseTime, formatAgo, formatClock, formatDuration, jobDuration, formatCount, isFinal, failureText, isNotOlder } from './format.js';

const PAGE_SIZE = 50;
// Live inserts past this many rows reload the first page instead, so the table stays small
// however many jobs a busy cluster creates.
const MAX_ROWS = 1000;
const ABORTED = Symbol('aborted');

// Newest first; ties (same millisecond) by id so the order is stable.
function newerFirst(a, b) {
  if (a.created_at !== b.created_at) return (a.created_at || '') < (b.created_at || '') ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function statusBadge(job) {
  return el('span', { class: `status status-${job.status}`, text: job.status });
}

export class JobsList {
  constructor(root) {
    this.root = root;
    this.body = $('#jobs-body', root);
    this.countLine = $('#jobs-count', root);
    this.more = $('#jobs-more', root);
    this.empty = $('#jobs-empty', root);
    this.error = $('#jobs-error', root);
    this.search = $('#jobs-search', root);
    this.chips = [...root.querySelectorAll('#status-filter [data-status]')];
    this.status = '';
    this.q = '';
    this.jobs = new Map();
    this.order = [];        // ids, newest first
    this.rows = new Map();  // id -> <tr>
    this.dirty = new Set();
    this.fresh = new Set(); // ids that arrived live: highlighted once
    this.nextToken = null;
    this.total = 0;
    this.loaded = false;
    this.request = null;
    this.reloading = false;
    this.queued = [];       // events that arrived while the first page was loading
    this.scheduleRender = batched(() => this.render());
    this.scheduleReload = debounce(() => this.reload(), 1000);

    for (const chip of this.chips) {
      chip.addEventListener('click', () => this.setStatus(chip.dataset.status));
    }
    const searchChanged = debounce(() => this.setQuery(this.search.value), 250);
    this.search.addEventListener('input', searchChanged);
    this.search.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.search.value) {
        this.search.value = '';
        this.setQuery('');
      }
    });
    this.more.addEventListener('click', () => this.loadMore());
    // A click anywhere on a row opens the job; the id cell is a real link for the keyboard.
    this.body.addEventListener('click', (event) => {
      const row = event.target.closest('tr[data-id]');
      if (row && !event.target.closest('a')) location.hash = `#/jobs/${row.dataset.id}`;
    });
  }

  matches(job) {
    return (!this.status || job.status === this.status) && (!this.q || job.command.includes(this.q));
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    for (const chip of this.chips) chip.setAttribute('aria-pressed', String(chip.dataset.status === status));
    this.reload();
  }

  setQuery(q) {
    if (q === this.q) return;
    this.q = q;
    this.reload();
  }

  // The first page again, for the current filter (also after a `resync` or a reconnect).
  async reload() {
    this.reloading = true;
    const page = await this.fetchPage(null);
    if (page === ABORTED) return;  // a newer request took over
    this.reloading = false;
    if (!page) {
      this.queued = [];
      return;
    }
    this.jobs.clear();
    this.order = [];
    this.fresh.clear();
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    this.dirty.clear();
    this.addPage(page);
    // What changed while the page was on its way; stale events are ignored by upsert.
    const queued = this.queued;
    this.queued = [];
    for (const job of queued) this.upsert(job);
  }

  async loadMore() {
    if (!this.nextToken || this.reloading) return;
    this.more.disabled = true;
    const page = await this.fetchPage(this.nextToken);
    this.more.disabled = false;
    if (page && page !== ABORTED) this.addPage(page);
  }

  async fetchPage(token) {
    this.request?.abort();
    const request = new AbortController();
    this.request = request;
    this.root.classList.add('is-loading');
    try {
      return await api.listJobs({ status: this.status, q: this.q, limit: PAGE_SIZE, page_token: token }, request.signal);
    } catch (error) {
      if (error.name === 'AbortError') return ABORTED;
      this.showError(`Could not load jobs: ${error.message}`);
      return null;
    } finally {
      if (this.request === request) {
        this.request = null;
        this.root.classList.remove('is-loading');
      }
    }
  }

  addPage(page) {
    this.showError('');
    this.loaded = true;
    for (const job of page.jobs || []) {
      if (!this.jobs.has(job.id)) this.order.push(job.id);
      this.jobs.set(job.id, job);
      this.dirty.add(job.id);
    }
    this.order.sort((a, b) => newerFirst(this.jobs.get(a), this.jobs.get(b)));
    this.nextToken = page.next_page_token || null;
    this.total = Number.isFinite(page.total) ? page.total : this.order.length;
    this.scheduleRender();
  }

  // A `job` event: a new job, or a change to one.
  upsert(job) {
    if (!this.loaded || this.reloading) {
      // Bounded: the page being fetched is newer than what would be dropped.
      if (this.queued.length >= MAX_ROWS) this.queued.shift();
      this.queued.push(job);
      return;
    }
    const known = this.jobs.has(job.id);
    if (known && !isNotOlder(job, this.jobs.get(job.id))) return;
    if (!this.matches(job)) {
      if (known) this.remove(job.id);
      return;
    }
    if (!known) {
      // A job older than the last row loaded belongs to a page not fetched yet.
      const last = this.jobs.get(this.order[this.order.length - 1]);
      if (this.nextToken && last && newerFirst(job, last) > 0) return;
      let at = 0;
      while (at < this.order.length && newerFirst(this.jobs.get(this.order[at]), job) < 0) at += 1;
      this.order.splice(at, 0, job.id);
      this.total += 1;
      this.fresh.add(job.id);
      if (this.order.length > MAX_ROWS) this.scheduleReload();
    }
    this.jobs.set(job.id, job);
    this.dirty.add(job.id);
    this.scheduleRender();
  }

  remove(id) {
    if (!this.jobs.has(id)) return;
    this.jobs.delete(id);
    this.order = this.order.filter((other) => other !== id);
    this.rows.get(id)?.remove();
    this.rows.delete(id);
    this.total = Math.max(0, this.total - 1);
    this.scheduleRender();
  }

  // Cluster-wide counts from `stats`, shown on the filter chips.
  setCounts(byStatus) {
    let all = 0;
    for (const status of STATUSES) all += byStatus[status] || 0;
    for (const chip of this.chips) {
      const count = chip.dataset.status ? byStatus[chip.dataset.status] || 0 : all;
      const badge = $('.count', chip);
      if (badge) badge.textContent = formatCount(count);
    }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  render() {
    for (const id of this.dirty) {
      const job = this.jobs.get(id);
      if (!job) continue;
      const row = this.buildRow(job);
      this.rows.get(id)?.replaceWith(row);
      this.rows.set(id, row);
    }
    this.dirty.clear();
    // Put rows in order, moving only when something is out of place.
    let child = this.body.firstElementChild;
    let inOrder = true;
    for (const id of this.order) {
      if (child !== this.rows.get(id)) {
        inOrder = false;
        break;
      }
      child = child.nextElementSibling;
    }
    if (!inOrder || child) fill(this.body, this.order.map((id) => this.rows.get(id)));

    const shown = this.order.length;
    this.empty.hidden = shown > 0 || !this.loaded;
    this.empty.textContent = this.status || this.q ? 'No jobs match this filter.' : 'No jobs yet. Submit one above.';
    this.more.hidden = !this.nextToken;
    this.more.textContent = `Load more (${formatCount(Math.max(0, this.total - shown))} more)`;
    this.countLine.textContent = this.total > shown
      ? `${formatCount(shown)} of ${formatCount(this.total)}`
      : `${formatCount(shown)} ${shown === 1 ? 'job' : 'jobs'}`;
  }

  buildRow(job) {
    const created = parseTime(job.created_at);
    const started = parseTime(job.started_at);
    const duration = jobDuration(job);
    const fresh = this.fresh.delete(job.id);
    const detail = job.status === 'failed' ? failureText(job) : '';
    return el('tr', { class: fresh ? 'job-row is-new' : 'job-row', dataset: { id: job.id, status: job.status } },
      el('td', { class: 'col-id' }, el('a', { class: 'mono', href: `#/jobs/${job.id}`, text: shortId(job.id), title: job.id })),
      el('td', { class: 'col-cmd' }, el('span', { class: 'cmd mono', text: job.command, title: job.command })),
      el('td', { class: 'col-status' }, statusBadge(job), detail ? el('span', { class: 'reason', text: detail }) : null),
      el('td', { class: 'col-node', text: job.node_id ? `node ${job.node_id}` : '—' }),
      el('td', { class: 'col-attempt num', text: job.attempt ? String(job.attempt) : '—' }),
      el('td', { class: 'col-created' },
        el('span', { text: formatAgo(created), title: formatClock(created), dataset: created === null ? {} : { ago: created } })),
      el('td', { class: 'col-duration num' },
        el('span', {
          text: formatDuration(duration),
          dataset: !isFinal(job.status) && started !== null ? { since: started } : {},
        })));
  }
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
