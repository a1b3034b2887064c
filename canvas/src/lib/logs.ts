// Reading a step run's logs: whole, or followed while the run goes on (a streamed response).
import { api, apiUrl, authHeaders, unwrap } from './api';

export type Stream = 'stdout' | 'stderr';

/** Read `GET /api/runs/{id}/logs`, calling `onText` with each chunk; stops when `signal` aborts. */
export async function readLog(
  runId: string,
  stream: Stream,
  follow: boolean,
  onText: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const url = apiUrl(`/api/runs/${encodeURIComponent(runId)}/logs`, { stream, follow: follow ? 1 : undefined });
  const response = await fetch(url, { headers: authHeaders(), signal });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { error?: string };
      message = body.error ?? message;
    } catch {
      /* not JSON */
    }
    throw new Error(message);
  }
  const reader = response.body?.getReader();
  if (!reader) return onText(await response.text());
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
  onText(decoder.decode());
}

/** The run id of a step of a pipeline run (a running step's id is not in the events yet). */
export async function runIdOf(pipelineRun: string, step: string): Promise<string | null> {
  const detail = unwrap(await api.GET('/api/pipeline-runs/{id}', { params: { path: { id: pipelineRun } } }));
  const steps = ((detail.pipeline_run as Record<string, unknown>).steps ?? []) as Record<string, unknown>[];
  const found = steps.find((s) => s.step === step);
  return found ? String(found.id) : null;
}
