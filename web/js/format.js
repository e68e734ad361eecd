// How numbers, times and statuses read on screen.

export const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
export const isFinal = (status) => status === 'completed' || status === 'failed' || status === 'cancelled';

// A periodic job's children share their first characters: theirs end with the tick's UTC time
// ("p-2f7f98 10:00:01") or the run-now number ("p-2f7f98 now-1").
export const shortId = (id) => {
  const child = /^(p-[0-9a-f]{6})[0-9a-f]{10}-(\d+|now-\d+)$/.exec(String(id));
  if (!child) return String(id).slice(0, 8);
  const tick = /^\d+$/.test(child[2]) ? new Date(Number(child[2])).toISOString().slice(11, 19) : child[2];
  return `${child[1]} ${tick}`;
};

const SIGNALS = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };
export const signalName = (n) => (SIGNALS[n] ? `${n} (${SIGNALS[n]})` : String(n));

export function parseTime(text) {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

// "850ms", "12s", "3m 5s", "2h 10m", "4d 3h".
// A size for people: "812 B", "64.0 MiB"; '—' when not measured (null or 0).
export function formatBytes(bytes) {
  if (!bytes || !Number.isFinite(bytes)) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024, unit = 0;
  while (value >= 1024 && unit + 1 < units.length) { value /= 1024; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  ms = Math.max(0, ms);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatAgo(ms, now = Date.now()) {
  if (ms === null) return '—';
  const d = now - ms;
  if (d < 1500) return 'just now';
  return `${formatDuration(d).split(' ')[0]} ago`;
}

export function formatClock(ms) {
  if (ms === null) return '—';
  return new Date(ms).toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

export function formatRate(value) {
  if (!Number.isFinite(value)) return '0';
  if (value >= 100) return String(Math.round(value));
  if (value >= 10) return value.toFixed(1).replace(/\.0$/, '');
  return value.toFixed(2).replace(/\.?0+$/, '') || '0';
}

export const formatCount = (n) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '—');

// How long a job ran, or has been running.
export function jobDuration(job, now = Date.now()) {
  const start = parseTime(job.started_at);
  if (start === null) return null;
  const end = parseTime(job.finished_at);
  return (end ?? now) - start;
}

// The one-line outcome of a job or attempt: "exit 0", "signal 9 (SIGKILL)", "timeout".
export function outcome(job) {
  if (job.signal) return `signal ${signalName(job.signal)}`;
  if (job.exit_code !== null && job.exit_code !== undefined) return `exit ${job.exit_code}`;
  return '';
}

// Why a job or attempt failed, in a few words: "exit 1", "timed out", "node lost".
export function failureText(job) {
  switch (job.reason) {
    case 'exit_code': return job.signal ? `signal ${signalName(job.signal)}` : `exit ${job.exit_code ?? '?'}`;
    case 'timeout': return 'timed out';
    case 'lost': return 'node lost';
    case 'spawn_error': return 'could not start';
    case 'oom': return 'out of memory';
    default: return job.reason || '';
  }
}

// Jobs only move forward: attempt by attempt, pending -> running -> an end. An event that was
// overtaken by a fetch (or the other way round) must not turn a job back; this orders states.
const STAGE = { pending: 0, running: 1, completed: 2, failed: 2, cancelled: 2 };
export function isNotOlder(next, current) {
  if (!current) return true;
  if ((next.attempt || 0) !== (current.attempt || 0)) return (next.attempt || 0) > (current.attempt || 0);
  const a = STAGE[next.status] ?? 0, b = STAGE[current.status] ?? 0;
  if (a !== b) return a > b;
  // Same stage: the one that knows more (a start or finish time) wins; otherwise the newer.
  return Boolean(next.finished_at) >= Boolean(current.finished_at) && Boolean(next.started_at) >= Boolean(current.started_at);
}

// The error text of a job or attempt when it says more than failureText (for an exit code the
// server's text only repeats it).
export function errorDetail(job) {
  return job.error && job.reason !== 'exit_code' ? job.error : '';
}
