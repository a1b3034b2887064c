// Which links the editor accepts, and why it refuses the others (shown to the user as said here).
import type { MethodInfo } from './catalog.svelte';
import { outputType } from './catalog.svelte';
import { isMethodNode, parseEndpoint, type PipelineDoc } from './document';
import { endSlot } from './graph';

export interface Wanted {
  source: string;
  sourceHandle: string | null;
  target: string;
  targetHandle: string | null;
}

/** Why the link cannot be drawn, or null when it can. */
export function refusal(doc: PipelineDoc, methods: Map<string, MethodInfo>, c: Wanted): string | null {
  if (!c.targetHandle || !c.sourceHandle) return 'connect an output slot to an input slot';
  if (c.source === c.target) return `node '${c.source}' cannot feed itself`;
  const target = doc.nodes.find((n) => n.id === c.target);
  const source = doc.nodes.find((n) => n.id === c.source);
  if (!target || !source) return 'unknown node';
  if (!isMethodNode(target)) return `input node '${c.target}' takes no inputs`;
  const feeding = doc.links.filter(
    (l) => parseEndpoint(l.to).node === c.target && endSlot(doc, l.to, 'in', methods) === c.targetHandle,
  );
  const same = feeding.find(
    (l) => parseEndpoint(l.from).node === c.source && endSlot(doc, l.from, 'out', methods) === c.sourceHandle,
  );
  if (same) return `${c.source}.${c.sourceHandle} already feeds ${c.target}.${c.targetHandle}`;
  const spec = methods.get(target.method);
  const slot = spec?.inputs[c.targetHandle];
  if (feeding.length > 0 && !slot?.multiple) {
    return `input ${c.target}.${c.targetHandle} is already fed by ${feeding[0].from}; it takes one link (the method does not declare it multiple)`;
  }
  if (slot?.type && isMethodNode(source)) {
    const from = outputType(methods.get(source.method)?.outputs[c.sourceHandle]);
    if (from && from !== slot.type) {
      return `types differ: ${c.source}.${c.sourceHandle} gives ${from}, ${c.target}.${c.targetHandle} takes ${slot.type}`;
    }
  }
  const cycle = pathBetween(doc, c.target, c.source);
  if (cycle) return `this link would make a cycle: ${[c.source, ...cycle].join(' → ')}`;
  return null;
}

/** A path of node ids from `from` to `to` along links, or null. */
function pathBetween(doc: PipelineDoc, from: string, to: string): string[] | null {
  const next = new Map<string, string[]>();
  for (const l of doc.links) {
    const a = parseEndpoint(l.from).node;
    next.set(a, [...(next.get(a) ?? []), parseEndpoint(l.to).node]);
  }
  const seen = new Set<string>();
  const walk = (id: string): string[] | null => {
    if (id === to) return [id];
    if (seen.has(id)) return null;
    seen.add(id);
    for (const n of next.get(id) ?? []) {
      const rest = walk(n);
      if (rest) return [id, ...rest];
    }
    return null;
  };
  return walk(from);
}

/** The link text for a new connection (`regions` for an input node, `node.slot` otherwise). */
export function linkFor(doc: PipelineDoc, c: Wanted): { from: string; to: string } {
  const source = doc.nodes.find((n) => n.id === c.source);
  const from = source && !isMethodNode(source) ? c.source : `${c.source}.${c.sourceHandle}`;
  return { from, to: `${c.target}.${c.targetHandle}` };
}
