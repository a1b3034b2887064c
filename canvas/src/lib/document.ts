// The pipeline document (docs/pipelines.md, `wfc schema pipeline`) as the editor handles it.
// Unknown fields are kept as they are: the editor changes only what the user edits.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Params = Record<string, Json>;

export interface InputNodeDoc {
  id: string;
  samples?: string[];
  select?: Record<string, string | string[]>;
  mode?: 'each' | 'all';
  description?: string;
  [extra: string]: Json | undefined;
}

export interface MethodNodeDoc {
  id: string;
  method: string;
  params?: Params;
  variants?: Record<string, Params>;
  sweep?: Record<string, Json[]>;
  overrides?: Record<string, Params>;
  description?: string;
  [extra: string]: Json | undefined;
}

export type NodeDoc = InputNodeDoc | MethodNodeDoc;

export interface LinkDoc {
  from: string;
  to: string;
  gather?: boolean;
  [extra: string]: Json | undefined;
}

export interface VariableDoc {
  type?: 'str' | 'int' | 'float' | 'bool' | 'list' | 'dict';
  default?: Json;
  description?: string;
}

export interface Layout {
  nodes: Record<string, { x: number; y: number }>;
}

export interface PipelineDoc {
  version: 1;
  name: string;
  description?: string;
  nodes: NodeDoc[];
  links: LinkDoc[];
  variables?: Record<string, VariableDoc>;
  layout?: Layout;
  [extra: string]: Json | undefined | NodeDoc[] | LinkDoc[] | Record<string, VariableDoc> | Layout;
}

/** The one output slot of an input node (wfc.model.pipeline.InputNode). */
export const INPUT_SLOT = 'data';

export function isMethodNode(node: NodeDoc): node is MethodNodeDoc {
  return typeof (node as MethodNodeDoc).method === 'string';
}

export interface Endpoint {
  node: string;
  slot: string | null;
}

/** `node` or `node.slot`, as wfc parses link ends. */
export function parseEndpoint(text: string): Endpoint {
  const dot = text.indexOf('.');
  return dot < 0 ? { node: text, slot: null } : { node: text.slice(0, dot), slot: text.slice(dot + 1) || null };
}

export function emptyDocument(name = 'untitled'): PipelineDoc {
  return { version: 1, name, nodes: [], links: [] };
}

/** A fresh document from any JSON the server returned (missing lists filled in). */
export function normalise(raw: unknown): PipelineDoc {
  const doc = structuredClone(raw) as PipelineDoc;
  doc.version ??= 1;
  doc.name ??= 'untitled';
  doc.nodes ??= [];
  doc.links ??= [];
  return doc;
}

/** The document to save or send: `layout` last, empty optional sections left out. */
export function serialise(doc: PipelineDoc): PipelineDoc {
  const { layout, ...rest } = doc;
  const out = structuredClone(rest) as PipelineDoc;
  for (const node of out.nodes) {
    if (!isMethodNode(node)) continue;
    for (const key of ['params', 'variants', 'sweep', 'overrides'] as const) {
      const value = node[key];
      if (value && Object.keys(value).length === 0) delete node[key];
    }
  }
  if (out.variables && Object.keys(out.variables).length === 0) delete out.variables;
  if (layout && Object.keys(layout.nodes).length > 0) {
    const nodes: Layout['nodes'] = {};
    for (const n of out.nodes) {
      const p = layout.nodes[n.id];
      if (p) nodes[n.id] = { x: Math.round(p.x), y: Math.round(p.y) };
    }
    out.layout = { nodes };
  }
  return out;
}

/** A node id not used yet, from a stem (`clean`, `clean-2`, …). */
export function freshId(doc: PipelineDoc, stem: string): string {
  const base = stem.replace(/[^\p{L}\p{N}_-]+/gu, '_') || 'node';
  const used = new Set(doc.nodes.map((n) => n.id));
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Where a problem path such as `nodes[2].params.k` or `links[0].to` points in the document. */
export interface ProblemTarget {
  node?: string; // node id
  link?: number; // link index
  field?: string; // what follows, e.g. `params.k`
}

export function problemTarget(doc: PipelineDoc, path: string): ProblemTarget {
  const m = /^(nodes|links)\[(\d+)\]\.?(.*)$/.exec(path);
  if (!m) return {};
  const index = Number(m[2]);
  if (m[1] === 'nodes') return { node: doc.nodes[index]?.id, field: m[3] || undefined };
  return { link: index, field: m[3] || undefined };
}

/** A short label for a param value shown in a node (`{"$var": "t"}` as `$t`). */
export function showValue(value: Json | undefined): string {
  if (value && typeof value === 'object' && !Array.isArray(value) && typeof value.$var === 'string') {
    return `$${value.$var}`;
  }
  return JSON.stringify(value);
}
