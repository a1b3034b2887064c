// Live run status: one EventSource on /api/events for the whole page, events applied in batches
// once per animation frame so a thousand step events cost one render, not a thousand.
import { api, apiUrl, describe, unwrap } from './api';
import { asStatus, nodeStates, type Status } from './status';

export interface StepState {
  step: string;
  node: string;
  sample: string | null;
  variant: string | null;
  status: Status;
  seconds: number | null;
  runId: string | null;
  why: string;
  stderrTail: string[];
  startedAt: number | null;
}

/** A run event as it comes off the wire: `kind` plus its fields (wfc.pipeline.events) and `job`. */
export type WireEvent = Record<string, unknown> & { kind: string; job?: string };

type Listener = (event: WireEvent) => void;

const MAX_LOG_LINES = 5000;

function kindOf(event: WireEvent): string {
  return String(event.kind).replaceAll('-', '_');
}

class Live {
  /** The job this page watches (the run it started, or one found running on reload). */
  job = $state<string | null>(null);
  jobStatus = $state<Status | 'idle'>('idle');
  pipeline = $state<string | null>(null);
  pipelineRun = $state<string | null>(null);
  steps = $state.raw<Record<string, StepState>>({});
  order = $state.raw<string[]>([]);
  notes = $state.raw<{ level: string; message: string }[]>([]);
  counts = $state.raw<Record<string, number>>({});
  totalSeconds = $state<number | null>(null);
  connected = $state(false);
  /** Bumped when log lines arrive; read `logLines(step)` after it. */
  logRevision = $state(0);

  nodes = $derived(nodeStates(Object.values(this.steps)));

  #logs = new Map<string, string[]>();
  /** Sequence numbers of the watched job's events already applied (replays come twice). */
  #applied = new Set<number>();
  #queue: WireEvent[] = [];
  #scheduled = false;
  #source: EventSource | null = null;
  #listeners = new Set<Listener>();

  /** Open the page's event stream (once). */
  connect(): void {
    if (this.#source) return;
    const source = new EventSource(apiUrl('/api/events'));
    this.#source = source;
    source.onopen = () => (this.connected = true);
    source.onerror = () => (this.connected = false);
    source.addEventListener('batch', (e) => {
      try {
        const events = JSON.parse((e as MessageEvent<string>).data) as WireEvent[];
        this.ingest(Array.isArray(events) ? events : [events]);
      } catch {
        /* a malformed batch is skipped */
      }
    });
    source.addEventListener('runs', () => this.#emit({ kind: 'runs_changed' }));
  }

  /** Called for every event (any job): the Project view listens for environment builds. */
  listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: WireEvent): void {
    for (const l of this.#listeners) l(event);
  }

  /** Watch a job from its start (a run this page started); its first events may have passed
   * already, so they are fetched again (duplicates are dropped by their sequence number). */
  watch(job: string, pipeline: string | null = null): void {
    this.#reset(job, pipeline);
    void this.#replay(job);
  }

  async #replay(job: string): Promise<void> {
    try {
      const replay = unwrap(await api.GET('/api/jobs/{job}/events', { params: { path: { job }, query: { since: 0 } } }));
      if (this.job !== job) return;
      this.ingest((replay.events as WireEvent[]).map((e) => ({ ...e, job })));
      if (replay.status !== 'running' && this.jobStatus === 'running') this.jobStatus = asStatus(replay.status);
    } catch (err) {
      console.warn('could not replay the events of', job, describe(err));
    }
  }

  #reset(job: string, pipeline: string | null): void {
    this.#applied.clear();
    this.job = job;
    this.jobStatus = 'running';
    this.pipeline = pipeline;
    this.pipelineRun = null;
    this.steps = {};
    this.order = [];
    this.notes = [];
    this.counts = {};
    this.totalSeconds = null;
    this.#logs.clear();
    this.logRevision++;
  }

  /** Forget the watched job (a different document was opened). */
  clear(): void {
    this.#applied.clear();
    this.job = null;
    this.jobStatus = 'idle';
    this.pipeline = null;
    this.pipelineRun = null;
    this.steps = {};
    this.order = [];
    this.notes = [];
    this.counts = {};
    this.#logs.clear();
  }

  /** After a reload: pick up the newest running job and replay its events so far. */
  async resume(): Promise<string | null> {
    try {
      const { jobs } = unwrap(await api.GET('/api/jobs'));
      const running = jobs
        .filter((j) => j.status === 'running' && (j.kind ?? 'run') === 'run')
        .sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
      const job = running[0];
      if (!job) return null;
      this.#reset(job.job, job.pipeline);
      await this.#replay(job.job);
      return job.document_path ?? null;
    } catch (err) {
      console.warn('could not resume a running job:', describe(err));
      return null;
    }
  }

  ingest(events: WireEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) this.#queue.push(e);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // One flush per frame; a hidden tab has no frames, so a timer stands in.
    let done = false;
    const flush = () => {
      if (done) return;
      done = true;
      this.#flush();
    };
    requestAnimationFrame(flush);
    setTimeout(flush, 250);
  }

  logLines(step: string): string[] {
    return this.#logs.get(step) ?? [];
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    let steps: Record<string, StepState> | null = null;
    let order: string[] | null = null;
    let ordered: Set<string> | null = null;
    const place = (name: string) => {
      order ??= [...this.order];
      ordered ??= new Set(order);
      if (!ordered.has(name)) {
        ordered.add(name);
        order.push(name);
      }
    };
    let logs = false;
    const mine = (e: WireEvent) => this.job !== null && e.job === this.job;
    for (const e of queue) {
      const kind = kindOf(e);
      this.#emit({ ...e, kind });
      if (!mine(e)) continue;
      if (typeof e.seq === 'number') {
        if (this.#applied.has(e.seq)) continue;
        this.#applied.add(e.seq);
      }
      switch (kind) {
        case 'pipeline_started': {
          this.pipelineRun = String(e.pipeline_run ?? '') || null;
          this.pipeline = String(e.pipeline ?? this.pipeline ?? '');
          steps ??= { ...this.steps };
          for (const name of (e.steps as string[] | undefined) ?? []) place(name);
          break;
        }
        case 'step_queued':
        case 'step_started':
        case 'step_finished': {
          steps ??= { ...this.steps };
          const name = String(e.step);
          const prev = steps[name];
          if (!prev) place(name);
          const next: StepState = prev
            ? { ...prev }
            : {
                step: name,
                node: String(e.node ?? name.replace(/\[.*$/, '')),
                sample: (e.sample as string | null) ?? null,
                variant: (e.variant as string | null) ?? null,
                status: 'queued',
                seconds: null,
                runId: null,
                why: '',
                stderrTail: [],
                startedAt: null,
              };
          if (kind === 'step_started') {
            if (next.status === 'queued') next.status = 'running';
            next.startedAt = Date.now();
          } else if (kind === 'step_finished') {
            next.status = asStatus(e.status);
            next.seconds = typeof e.seconds === 'number' ? e.seconds : null;
            next.runId = (e.run_id as string | null) ?? null;
            next.why = String(e.why ?? '');
            next.stderrTail = (e.stderr_tail as string[] | undefined) ?? [];
          }
          steps[name] = next;
          break;
        }
        case 'step_log': {
          const name = String(e.step);
          const lines = this.#logs.get(name) ?? [];
          lines.push(`${e.stream === 'stderr' ? '! ' : ''}${String(e.line ?? '')}`);
          if (lines.length > MAX_LOG_LINES) lines.splice(0, lines.length - MAX_LOG_LINES);
          this.#logs.set(name, lines);
          logs = true;
          break;
        }
        case 'pipeline_note':
          this.notes = [...this.notes, { level: String(e.level ?? 'info'), message: String(e.message ?? '') }];
          break;
        case 'pipeline_finished':
          this.jobStatus = asStatus(e.status);
          this.pipelineRun = String(e.pipeline_run ?? this.pipelineRun ?? '') || null;
          this.counts = (e.counts as Record<string, number> | undefined) ?? {};
          this.totalSeconds = typeof e.seconds === 'number' ? e.seconds : null;
          break;
        case 'job_finished':
        case 'job_failed': {
          // A job that ended without pipeline_finished (refused document, crash).
          if (this.jobStatus === 'running') this.jobStatus = asStatus(e.status ?? 'failed');
          if (e.error) this.notes = [...this.notes, { level: 'warning', message: String(e.error) }];
          break;
        }
      }
    }
    if (steps) this.steps = steps;
    if (order) this.order = order;
    if (logs) this.logRevision++;
  }

  /** Ask the server to stop the watched job. */
  async cancel(): Promise<void> {
    if (!this.job) return;
    unwrap(await api.POST('/api/jobs/{job}/cancel', { params: { path: { job: this.job } } }));
    this.notes = [...this.notes, { level: 'info', message: 'cancelling…' }];
  }
}

export const live = new Live();
