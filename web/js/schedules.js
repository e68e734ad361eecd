// The periodic jobs (README "Periodic jobs"): each with its schedule, state, next run and a
// strip of its recent ticks coloured by result. Read from GET /api/periodic every few
// seconds (ticks come at most once a second); the section stays hidden while there are none.

import { api } from './api.js';
import { $, el, fill } from './dom.js';
import { formatDuration, parseTime } from './format.js';

const REFRESH_MS = 2000;
const STRIP_TICKS = 40;

// The latest ticks, oldest first: {tick, result} with result a job status, skipped or missed.
function history(p) {
  const marks = [];
  for (const run of p.runs) {
    if (run.tick) marks.push({ tick: parseTime(run.tick), result: run.status, job: run.job_id });
  }
  for (const run of p.not_run) marks.push({ tick: parseTime(run.tick), result: run.result });
  marks.sort((a, b) => a.tick - b.tick);
  return marks.slice(-STRIP_TICKS);
}

function schedule(p) {
  return p.cron ? `${p.cron}${p.tz ? ` (${p.tz})` : ' (UTC)'}` : `every ${p.every}`;
}

function nextRun(p, now) {
  const next = parseTime(p.next_run);
  if (next === null) return p.state === 'active' ? '—' : p.state;
  return next <= now ? 'due' : `in ${formatDuration(next - now).split(' ')[0]}`;
}

function strip(p) {
  const cells = history(p).map((mark) =>
    el('span', {
      class: `tick tick-${mark.result}`,
      title: `${new Date(mark.tick).toISOString()}: ${mark.result}${mark.job ? ` (${mark.job})` : ''}`,
    }));
  return el('span', { class: 'ticks', role: 'img', 'aria-label': 'Recent ticks, oldest first' }, cells);
}

export class SchedulesPanel {
  constructor(section) {
    this.section = section;
    this.body = $('#schedules-body', section);
    this.count = $('#schedules-count', section);
    this.list = [];
    this.refresh();
    setInterval(() => this.refresh(), REFRESH_MS);
    setInterval(() => this.render(), 1000);  // "in 3s" counts down between refreshes
  }

  async refresh() {
    try {
      const answer = await api.listPeriodic();
      this.list = answer.periodic;
    } catch {
      return;  // the connection state and banner say what is wrong; keep the last list
    }
    this.render();
  }

  render() {
    this.section.hidden = this.list.length === 0;
    fill(this.count, `${this.list.length}`);
    const now = Date.now();
    fill(this.body, this.list.map((p) => el('tr', { dataset: { id: p.id, state: p.state } },
      el('td', { class: 'mono', text: p.id }),
      el('td', { class: 'mono', text: p.job.command, title: p.job.command }),
      el('td', { class: 'mono', text: schedule(p) }),
      el('td', { text: nextRun(p, now), title: p.next_run || '' }),
      el('td', {}, strip(p)),
      el('td', {
        class: 'num',
        text: `${p.counts.completed} / ${p.counts.failed} / ${p.counts.skipped + p.counts.missed}`,
        title: `completed ${p.counts.completed}, failed ${p.counts.failed}, cancelled ${p.counts.cancelled}, skipped ${p.counts.skipped}, missed ${p.counts.missed}`,
      }),
    )));
  }
}
