// The document as @xyflow nodes and edges, and the automatic layered layout (dagre) for
// documents without a `layout` section.
import dagre from '@dagrejs/dagre';
import type { Edge, Node } from '@xyflow/svelte';
import { outputType, type MethodInfo } from './catalog.svelte';
import { INPUT_SLOT, isMethodNode, parseEndpoint, type NodeDoc, type PipelineDoc } from './document';

export interface SlotView {
  name: string;
  type: string | null;
  required: boolean;
  multiple: boolean;
  declared: boolean;
  description: string;
}

export interface NodeData extends Record<string, unknown> {
  kind: 'input' | 'method';
  method: string | null;
  known: boolean; // the method exists in the project
  subtitle: string;
  inputs: SlotView[];
  outputs: SlotView[];
}

export type FlowNode = Node<NodeData, 'wfc'>;
export interface EdgeData extends Record<string, unknown> {
  index: number;
  gather: boolean;
}
export type FlowEdge = Edge<EdgeData>;

export const NODE_WIDTH = 200;
const HEADER = 58;
const ROW = 24;

export function nodeHeight(data: NodeData): number {
  return HEADER + ROW * Math.max(1, data.inputs.length, data.outputs.length);
}

/** The slot a link end names, filling in the only slot when it names none. */
export function endSlot(doc: PipelineDoc, text: string, side: 'in' | 'out', methods: Map<string, MethodInfo>): string | null {
  const end = parseEndpoint(text);
  if (end.slot) return end.slot;
  const node = doc.nodes.find((n) => n.id === end.node);
  if (!node) return null;
  if (!isMethodNode(node)) return side === 'out' ? INPUT_SLOT : null;
  const spec = methods.get(node.method);
  const slots = Object.keys((side === 'in' ? spec?.inputs : spec?.outputs) ?? {});
  return slots.length === 1 ? slots[0] : null;
}

function slotsOf(doc: PipelineDoc, node: NodeDoc, methods: Map<string, MethodInfo>): { inputs: SlotView[]; outputs: SlotView[] } {
  if (!isMethodNode(node)) {
    return {
      inputs: [],
      outputs: [{ name: INPUT_SLOT, type: null, required: false, multiple: false, declared: true, description: 'the samples' }],
    };
  }
  const spec = methods.get(node.method);
  const inputs: SlotView[] = Object.entries(spec?.inputs ?? {}).map(([name, s]) => ({
    name,
    type: s.type ?? null,
    required: s.required ?? true,
    multiple: s.multiple ?? false,
    declared: true,
    description: s.description ?? '',
  }));
  const outputs: SlotView[] = Object.entries(spec?.outputs ?? {}).map(([name, s]) => ({
    name,
    type: outputType(s),
    required: false,
    multiple: false,
    declared: true,
    description: s.description ?? s.file ?? s.dir ?? '',
  }));
  // Slots a link names but the method does not declare still get a handle (and a problem).
  for (const link of doc.links) {
    for (const [text, side, list] of [
      [link.to, 'in', inputs],
      [link.from, 'out', outputs],
    ] as const) {
      if (parseEndpoint(text).node !== node.id) continue;
      const slot = endSlot(doc, text, side, methods);
      if (slot && !list.some((s) => s.name === slot)) {
        list.push({ name: slot, type: null, required: false, multiple: false, declared: false, description: 'not declared by the method' });
      }
    }
  }
  return { inputs, outputs };
}

function subtitle(node: NodeDoc): string {
  if (isMethodNode(node)) return node.method;
  if (node.samples) return `${node.samples.length} sample${node.samples.length === 1 ? '' : 's'} · ${node.mode ?? 'each'}`;
  if (node.select) {
    const cols = Object.entries(node.select).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`);
    return `select ${cols.join(', ')} · ${node.mode ?? 'each'}`;
  }
  return 'samples';
}

/** Nodes and edges for a document; positions from `layout`, else from the automatic layout. */
export function toFlow(
  doc: PipelineDoc,
  methods: Map<string, MethodInfo>,
  selected: { nodes: string[]; links: number[] } = { nodes: [], links: [] },
): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const datas = doc.nodes.map((node): [NodeDoc, NodeData] => {
    const slots = slotsOf(doc, node, methods);
    return [
      node,
      {
        kind: isMethodNode(node) ? 'method' : 'input',
        method: isMethodNode(node) ? node.method : null,
        known: !isMethodNode(node) || methods.has(node.method),
        subtitle: subtitle(node),
        ...slots,
      },
    ];
  });
  const placed = doc.layout?.nodes ?? {};
  const missing = datas.some(([n]) => !placed[n.id]);
  const auto = missing ? autoLayout(doc, new Map(datas.map(([n, d]) => [n.id, d]))) : new Map();
  const selectedNodes = new Set(selected.nodes);
  const nodes: FlowNode[] = datas.map(([node, data]) => ({
    id: node.id,
    type: 'wfc',
    position: placed[node.id] ? { ...placed[node.id] } : (auto.get(node.id) ?? { x: 0, y: 0 }),
    data,
    selected: selectedNodes.has(node.id),
    width: NODE_WIDTH,
  }));
  const edges: FlowEdge[] = [];
  const selectedLinks = new Set(selected.links);
  doc.links.forEach((link, index) => {
    const source = parseEndpoint(link.from).node;
    const target = parseEndpoint(link.to).node;
    edges.push({
      id: `link-${index}`,
      source,
      target,
      sourceHandle: endSlot(doc, link.from, 'out', methods) ?? undefined,
      targetHandle: endSlot(doc, link.to, 'in', methods) ?? undefined,
      label: link.gather ? 'gather' : undefined,
      class: link.gather ? 'gather' : undefined,
      selected: selectedLinks.has(index),
      data: { index, gather: !!link.gather },
    });
  });
  return { nodes, edges };
}

/** A left-to-right layered layout of every node. */
export function autoLayout(doc: PipelineDoc, datas: Map<string, NodeData>): Map<string, { x: number; y: number }> {
  const items = doc.nodes.map((node) => {
    const data = datas.get(node.id);
    return { id: node.id, width: NODE_WIDTH, height: data ? nodeHeight(data) : HEADER + ROW };
  });
  const links = doc.links.map((link) => ({ from: parseEndpoint(link.from).node, to: parseEndpoint(link.to).node }));
  return layered(items, links, 30);
}

/** A generic layered layout for other graphs (lineage): ids, sizes and edges in, positions out. */
export function layered(
  items: { id: string; width: number; height: number }[],
  links: { from: string; to: string }[],
  nodesep = 24,
): Map<string, { x: number; y: number }> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep, ranksep: 50, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const it of items) g.setNode(it.id, { width: it.width, height: it.height });
  for (const l of links) if (g.hasNode(l.from) && g.hasNode(l.to)) g.setEdge(l.from, l.to);
  dagre.layout(g);
  const out = new Map<string, { x: number; y: number }>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    out.set(id, { x: Math.round(n.x - n.width / 2), y: Math.round(n.y - n.height / 2) });
  }
  return out;
}
