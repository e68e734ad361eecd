// The job detail view (#/jobs/ID): everything known about one job, its attempts, and its
// output, followed live (fetch + ReadableStream) while an attempt runs; a cancel button.

import { api, streamLogs } from './api.js';
import { el, fill, $ } from './dom.js';
import { isFinal, parseTime, formatClock, formatAgo, formatDuration, formatBytes, jobDuration, signalName, failureText, errorDetail, isNotOlder } from './format.js';
import { statusBadge } from './jobs.js';
import { OutputPane } from './output.js';

const STREAMS = ['stdout', 'stderr'];
const RESUME_TRIES = 3;

export class JobDetail {
  constructor(root) {
    this.root = root;
    this.id = null;
    this.job = null;
    this.controller = null;  // aborts everything of the job shown
    this.logs = null;        // {attempt, mode: 'following'|'loading'|'complete'|'error', abort, retried}
    this.pickedAttempt = null;
    this.early = null;       // the latest event for the job that came before the job itself
    this.panes = STREAMS.map((name) => new OutputPane(name));
  }

  open(id) {
    if (id === this.id) return;
    this.close();
    this.id = id;
    this.controller = new AbortController();
    this.pickedAttempt = null;
    this.early = null;
    this.renderShell();
    this.load();
  }

  close() {
    this.controller?.abort();
    this.stopLogs();
    this.id = null;
    this.job = null;
  }

  async load() {
    const id = this.id;
    try {
      const job = await api.job(id, this.controller.signal);
      if (id !== this.id) return;
      // A load that failed before (the node was down, or wanted a token) is no longer a problem.
      if (this.problem.dataset.source === 'load') this.showProblem('');
      const early = this.early;
      this.early = null;
      const current = this.job && !isNotOlder(job, this.job) ? this.job : job;
      this.setJob(early && isNotOlder(early, current) ? { ...current, ...early } : current);
    } catch (error) {
      if (error.name === 'AbortError' || id !== this.id) return;
      this.status.replaceChildren();
      this.showProblem(error.status === 404 ? `There is no job ${id}. It may have been removed by retention.` : `Could not load the job: ${error.message}`, 'load');
    }
  }

  // A `job` event (a summary, without output tails) or an answer from the server.
  update(job) {
    if (job.id !== this.id) return;
    if (!this.job) {
      this.early = job;
      return;
    }
    if (!isNotOlder(job, this.job)) return;
    const wasFinal = isFinal(this.job.status);
    this.setJob({ ...this.job, ...job });
    // The final record carries the replicated output tails: fetch it once for the fallback.
    if (!wasFinal && isFinal(job.status) && !('stdout_tail' in job)) this.load();
  }

  // After a reconnect: whatever changed meanwhile.
  refresh() {
    if (this.id) this.load();
  }

  setJob(job) {
    this.job = job;
    this.render();
    this.syncLogs();
  }

  renderShell() {
    this.title = el('code', { class: 'job-id', text: this.id });
    this.status = el('span', { class: 'detail-status' });
    this.cancelButton = el('button', { class: 'btn btn-danger', type: 'button', text: 'Cancel job', hidden: true });
    this.cancelButton.addEventListener('click', () => this.cancel());
    this.problem = el('p', { class: 'alert alert-error', role: 'alert', hidden: true });
    this.callout = el('p', { class: 'callout', hidden: true });
    this.command = el('pre', { class: 'command mono', text: '…' });
    this.facts = el('dl', { class: 'facts facts-grid' });
    this.attempts = el('tbody');
    this.attemptPicker = el('div', { class: 'attempt-picker', role: 'group', 'aria-label': 'Attempt shown' });
    fill(this.root,
      el('a', { class: 'back', href: '#/', text: '← All jobs' }),
      el('div', { class: 'detail-head' },
        el('h2', {}, 'Job ', this.title),
        this.status,
        el('div', { class: 'spacer' }),
        this.cancelButton),
      this.problem,
      this.callout,
      el('section', { class: 'card' },
        el('h3', { text: 'Command' }),
        this.command,
        this.facts),
      el('section', { class: 'card' },
        el('h3', { text: 'Attempts' }),
        el('div', { class: 'table-wrap' },
          el('table', { class: 'table attempts' },
            el('thead', {}, el('tr', {}, ['#', 'Node', 'Status', 'Outcome', 'Assigned', 'Started', 'Finished', 'Took', 'Peak memory', 'CPU time']
              .map((h) => el('th', { text: h })))),
            this.attempts))),
      el('section', { class: 'card output-card' },
        el('div', { class: 'card-head' }, el('h3', { text: 'Output' }), this.attemptPicker),
        el('div', { class: 'panes' }, this.panes.map((p) => p.element))));
    for (const pane of this.panes) pane.setPlaceholder('Loading…');
  }

  // source: 'load' for a problem that the next successful load resolves.
  showProblem(message, source = '') {
    this.problem.textContent = message;
    this.problem.hidden = !message;
    this.problem.dataset.source = source;
  }

  render() {
    const job = this.job;
    this.root.dataset.status = job.status;
    fill(this.status, statusBadge(job));
    this.command.textContent = job.command;
    this.cancelButton.hidden = isFinal(job.status);

    // One line that says what is going on, for the statuses that need explaining.
    let callout = '';
    let kind = 'info';
    if (job.status === 'pending') callout = job.pending_reason ? `Waiting: ${job.pending_reason}` : 'Waiting to be placed on a node.';
    else if (job.status === 'failed') {
      kind = 'error';
      const detail = errorDetail(job);
      callout = `Failed${job.reason ? `: ${failureText(job)}` : ''}${detail ? ` (${detail})` : ''}.`;
    } else if (job.status === 'cancelled') {
      kind = 'muted';
      callout = 'Cancelled.';
    }
    this.callout.textContent = callout;
    this.callout.className = `callout callout-${kind}`;
    this.callout.hidden = !callout;

    const created = parseTime(job.created_at), started = parseTime(job.started_at), finished = parseTime(job.finished_at);
    // Absolute time, then a relative one that the page's clock keeps current.
    const when = (ms) => (ms === null ? '—'
      : [`${formatClock(ms)} `, el('span', { class: 'muted', text: `(${formatAgo(ms)})`, dataset: { agoParen: ms } })]);
    const fact = (label, value, key) => el('div', { class: 'fact', dataset: { fact: key } },
      el('dt', { text: label }),
      el('dd', {}, value === null || value === undefined || value === '' ? '—' : value));
    // Facts that only mean something in some states are left out in the others.
    fill(this.facts,
      fact('Status', job.status, 'status'),
      job.reason ? fact('Reason', job.reason, 'reason') : null,
      fact('Exit code', job.exit_code === null || job.exit_code === undefined ? null : String(job.exit_code), 'exit_code'),
      job.signal ? fact('Signal', signalName(job.signal), 'signal') : null,
      fact('Node', job.node_id ? `node ${job.node_id}` : null, 'node'),
      fact('Attempt', job.attempt ? `${job.attempt} of ${1 + (job.retries || 0)}` : null, 'attempt'),
      fact('Timeout', job.timeout || 'none', 'timeout'),
      fact('Priority', String(job.priority ?? 0), 'priority'),
      fact('Created', when(created), 'created'),
      fact('Started', when(started), 'started'),
      fact('Finished', when(finished), 'finished'),
      fact('Ran for', started === null ? null
        : el('span', { text: formatDuration(jobDuration(job)), dataset: isFinal(job.status) ? {} : { since: started } }), 'duration'),
      errorDetail(job) ? fact('Error', job.error, 'error') : null,
      Object.keys(job.env || {}).length
        ? fact('Environment', Object.entries(job.env).map(([k, v]) => `${k}=${v}`).join(' '), 'env') : null);

    const attempts = job.attempts || [];
    fill(this.attempts, attempts.length ? attempts.map((a) => this.attemptRow(a))
      : el('tr', {}, el('td', { class: 'muted', colspan: '10', text: 'None yet: the job has not been placed on a node.' })));

    const picked = this.shownAttempt();
    fill(this.attemptPicker, attempts.length > 1 ? attempts.map((a) => {
      const button = el('button', { type: 'button', class: 'chip', text: `Attempt ${a.number}`, 'aria-pressed': String(a.number === picked) });
      button.addEventListener('click', () => {
        this.pickedAttempt = a.number === attempts[attempts.length - 1].number ? null : a.number;
        this.render();
        this.syncLogs();
      });
      return button;
    }) : null);
  }

  attemptRow(a) {
    const assigned = parseTime(a.assigned_at), started = parseTime(a.started_at), finished = parseTime(a.finished_at);
    const ended = a.status === 'failed' ? failureText(a)
      : a.signal ? `signal ${signalName(a.signal)}`
        : a.exit_code !== null && a.exit_code !== undefined ? `exit ${a.exit_code}` : '';
    const outcome = [ended, errorDetail(a)].filter(Boolean).join(': ');
    const at = (ms) => el('td', { text: ms === null ? '—' : formatClock(ms), title: ms === null ? '' : formatAgo(ms) });
    return el('tr', { dataset: { attempt: a.number } },
      el('td', { class: 'num', text: String(a.number) }),
      el('td', { text: a.node_id ? `node ${a.node_id}` : '—' }),
      el('td', {}, statusBadge(a)),
      el('td', { text: outcome || '—' }),
      at(assigned), at(started), at(finished),
      // A running attempt's time ticks with the page's clock (data-since), as "Ran for" does.
      el('td', {
        class: 'num',
        text: started === null ? '—' : formatDuration((finished ?? Date.now()) - started),
        dataset: started !== null && finished === null ? { since: started } : {},
      }),
      // Measured by its node when it ended (its cgroup, else the kernel's rusage).
      el('td', { class: 'num', text: formatBytes(a.peak_memory_bytes), dataset: { usage: 'peak' } }),
      el('td', {
        class: 'num',
        text: a.cpu_time_ms === null || a.cpu_time_ms === undefined ? '—' : formatDuration(a.cpu_time_ms),
        dataset: { usage: 'cpu' },
      }));
  }

  async cancel() {
    const id = this.id;
    this.cancelButton.disabled = true;
    this.cancelButton.textContent = 'Cancelling…';
    this.showProblem('');
    try {
      const job = await api.cancel(id);
      if (id === this.id) this.update(job);
    } catch (error) {
      if (id === this.id) this.showProblem(`Could not cancel: ${error.message}`);
    } finally {
      this.cancelButton.disabled = false;
      this.cancelButton.textContent = 'Cancel job';
    }
  }

  // --- output ---------------------------------------------------------------------------

  shownAttempt() {
    const attempts = this.job?.attempts || [];
    if (this.pickedAttempt !== null) return this.pickedAttempt;
    return attempts.length ? attempts[attempts.length - 1].number : null;
  }

  stopLogs() {
    this.logs?.abort.abort();
    this.logs = null;
  }

  // Decides, after every change, whether the shown attempt's output must be (re)loaded:
  // followed while the attempt runs, read once when it has ended.
  syncLogs() {
    const job = this.job;
    const number = this.shownAttempt();
    const attempt = (job.attempts || []).find((a) => a.number === number);
    if (!attempt || (!attempt.started_at && !isFinal(attempt.status))) {
      this.stopLogs();
      const message = job.status === 'cancelled' ? 'The job was cancelled before it started.' : 'No output yet: the job has not started.';
      for (const pane of this.panes) {
        pane.setPlaceholder(message);
        pane.setState('');
      }
      return;
    }
    const running = !isFinal(attempt.status);
    const logs = this.logs;
    if (logs && logs.attempt === number) {
      if (logs.mode === 'following' || logs.mode === 'loading' || logs.mode === 'complete') return;
      // A stream that broke is read once more when the attempt has ended; after that the
      // replicated tail is what is left.
      if (logs.mode === 'error' && (running || logs.retried)) {
        if (!running) this.showTails(number);
        return;
      }
    }
    this.loadLogs(number, running, Boolean(logs && logs.attempt === number));
  }

  loadLogs(number, follow, retried) {
    this.stopLogs();
    const id = this.id;
    const logs = { attempt: number, mode: follow ? 'following' : 'loading', abort: new AbortController(), retried };
    this.logs = logs;
    const results = this.panes.map(async (pane) => {
      pane.setPlaceholder(follow ? 'Waiting for output…' : 'Loading…');
      pane.setState(follow ? 'live' : '', follow ? 'live' : '');
      // A followed stream that breaks while the attempt runs is picked up where it broke,
      // a few times, a second apart.
      for (let tries = 1; ; tries += 1) {
        try {
          await streamLogs({
            id, stream: pane.name, attempt: number, follow, offset: pane.bytes,
            signal: logs.abort.signal, onText: (text, bytes) => pane.append(text, bytes),
          });
          break;
        } catch (error) {
          const running = this.job && !isFinal(this.job.status);
          if (error.name === 'AbortError' || !follow || !running || tries >= RESUME_TRIES) throw error;
          pane.setState('reconnecting…', 'warning');
          await new Promise((resolve) => setTimeout(resolve, 1000));
          if (logs.abort.signal.aborted) throw error;
          pane.setState('live', 'live');
        }
      }
      pane.finish('(no output)');
      pane.setState('');
    });
    Promise.allSettled(results).then((outcomes) => {
      if (this.logs !== logs) return;
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (!failed) {
        logs.mode = 'complete';
        return;
      }
      logs.mode = 'error';
      this.panes.forEach((pane, i) => {
        if (outcomes[i].status === 'rejected') pane.setState(`could not read: ${outcomes[i].reason.message}`, 'error');
      });
      if (this.job && isFinal(this.job.status)) this.syncLogs();
    });
  }

  // The last 64 KiB that were replicated with the job's end, when the node that ran it
  // cannot be read from.
  showTails(number) {
    const job = this.job;
    const latest = job.attempts?.[job.attempts.length - 1]?.number;
    if (number !== latest || !('stdout_tail' in job)) return;
    this.panes.forEach((pane) => {
      const tail = job[`${pane.name}_tail`] || '';
      pane.setPlaceholder('');
      pane.append(tail);
      pane.finish('(no output)');
      pane.setState('last 64 KiB, replicated', 'warning');
    });
  }
}
