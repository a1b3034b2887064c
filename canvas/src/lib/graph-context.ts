// What a graph node shows besides its document: status, problems, the plan. The editor and the
// run view hand different sources to the same node component through this context.
import { getContext, setContext } from 'svelte';
import type { Problem } from './api';
import type { NodeState } from './status';

export interface NodeOverlay {
  status(id: string): NodeState | undefined;
  problems(id: string): Problem[];
  plan(id: string): { run: number; cached: number; why: string[] } | undefined;
  editable: boolean;
}

const KEY = Symbol('wfc-graph-overlay');

export function setOverlay(overlay: NodeOverlay): void {
  setContext(KEY, overlay);
}

export function getOverlay(): NodeOverlay {
  return getContext<NodeOverlay>(KEY);
}
