// Step statuses (BRIEF §6b) and how a node with several steps shows them.

export type Status = 'idle' | 'queued' | 'running' | 'completed' | 'cached' | 'failed' | 'cancelled';

/** Worst first: a node shows the worst status of its steps. */
const RANK: Status[] = ['failed', 'running', 'queued', 'cancelled', 'completed', 'cached', 'idle'];

export function worst(statuses: Iterable<string>): Status {
  let best = RANK.length - 1;
  for (const s of statuses) {
    const i = RANK.indexOf(s as Status);
    if (i >= 0 && i < best) best = i;
  }
  return RANK[best];
}

/** How a node shows its steps: their worst status and how many are in each. */
export interface NodeState {
  status: Status;
  count: number;
  counts: Partial<Record<Status, number>>;
}

/** The state of each node from the statuses of its steps. */
export function nodeStates(steps: Iterable<{ node: string; status: Status }>): Map<string, NodeState> {
  const map = new Map<string, NodeState>();
  for (const s of steps) {
    const entry = map.get(s.node) ?? { status: 'idle' as Status, count: 0, counts: {} };
    entry.count++;
    entry.counts[s.status] = (entry.counts[s.status] ?? 0) + 1;
    map.set(s.node, entry);
  }
  for (const entry of map.values()) entry.status = worst(Object.keys(entry.counts));
  return map;
}

export function asStatus(value: unknown): Status {
  return RANK.includes(value as Status) ? (value as Status) : 'idle';
}

export const STATUS_LABEL: Record<Status, string> = {
  idle: 'idle',
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  cached: 'cached',
  failed: 'failed',
  cancelled: 'cancelled',
};

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(1)} s`;
  const m = Math.floor(value / 60);
  return `${m} min ${Math.round(value - m * 60)} s`;
}
