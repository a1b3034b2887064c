// The document being edited: one store for the graph (document + layout), undo/redo, selection,
// clipboard, live validation and the plan preview. Components change the document only through
// `change()`, so every edit is undoable and revalidated.
import { api, describe, unwrap, type Problem, type Schemas } from './api';
import {
  emptyDocument,
  freshId,
  isMethodNode,
  normalise,
  parseEndpoint,
  problemTarget,
  serialise,
  type LinkDoc,
  type NodeDoc,
  type PipelineDoc,
} from './document';

const HISTORY = 200;
const VALIDATE_DELAY = 400;

export interface PlanStep {
  step: string;
  node: string;
  status: string;
  why: string[];
}

class Editor {
  doc = $state<PipelineDoc>(emptyDocument());
  /** Project-relative path the document was opened from or saved to; null for a new one. */
  path = $state<string | null>(null);
  dirty = $state(false);
  /** Bumped on every structural change, so the canvas rebuilds its nodes. */
  revision = $state(0);
  /** Bumped when a document is opened, so the canvas fits it into view. */
  loads = $state(0);
  selectedNodes = $state<string[]>([]);
  selectedLinks = $state<number[]>([]);
  problems = $state.raw<Problem[]>([]);
  validating = $state(false);
  plan = $state.raw<PlanStep[] | null>(null);
  planError = $state<string | null>(null);
  notice = $state<{ text: string; kind: 'info' | 'error' } | null>(null);
  variables = $state<Record<string, string>>({});

  #undo: string[] = [];
  #redo: string[] = [];
  canUndo = $state(false);
  canRedo = $state(false);
  #clipboard: { nodes: NodeDoc[]; links: LinkDoc[] } | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #validation = 0;

  /** Problems by node id (for badges and the inspector). */
  problemsByNode = $derived.by(() => {
    const map = new Map<string, Problem[]>();
    for (const p of this.problems) {
      const target = problemTarget(this.doc, p.path);
      let id = target.node;
      if (target.link !== undefined) {
        const link = this.doc.links[target.link];
        id = link ? parseEndpoint(link.to).node : undefined;
      }
      if (id) map.set(id, [...(map.get(id) ?? []), p]);
    }
    return map;
  });

  planByNode = $derived.by(() => {
    const map = new Map<string, PlanStep[]>();
    for (const s of this.plan ?? []) map.set(s.node, [...(map.get(s.node) ?? []), s]);
    return map;
  });

  /** Replace the document (open, new, a past run's pipeline): history starts again. */
  load(raw: unknown, path: string | null): void {
    this.doc = normalise(raw);
    this.path = path;
    this.dirty = false;
    this.#undo = [];
    this.#redo = [];
    this.canUndo = this.canRedo = false;
    this.selectedNodes = [];
    this.selectedLinks = [];
    this.plan = null;
    this.variables = {};
    this.revision++;
    this.loads++;
    this.scheduleValidation(0);
  }

  /** Apply an edit as one undoable step. */
  change(edit: (doc: PipelineDoc) => void, structural = true): void {
    const before = JSON.stringify(this.doc);
    edit(this.doc);
    if (JSON.stringify(this.doc) === before) return;
    this.#undo.push(before);
    if (this.#undo.length > HISTORY) this.#undo.shift();
    this.#redo = [];
    this.canUndo = true;
    this.canRedo = false;
    this.dirty = true;
    this.plan = null;
    if (structural) this.revision++;
    this.scheduleValidation();
  }

  undo(): void {
    const previous = this.#undo.pop();
    if (previous === undefined) return;
    this.#redo.push(JSON.stringify(this.doc));
    this.#restore(previous);
  }

  redo(): void {
    const next = this.#redo.pop();
    if (next === undefined) return;
    this.#undo.push(JSON.stringify(this.doc));
    this.#restore(next);
  }

  #restore(text: string): void {
    this.doc = JSON.parse(text) as PipelineDoc;
    this.canUndo = this.#undo.length > 0;
    this.canRedo = this.#redo.length > 0;
    this.dirty = true;
    this.plan = null;
    const ids = new Set(this.doc.nodes.map((n) => n.id));
    this.selectedNodes = this.selectedNodes.filter((id) => ids.has(id));
    this.selectedLinks = this.selectedLinks.filter((i) => i < this.doc.links.length);
    this.revision++;
    this.scheduleValidation();
  }

  node(id: string): NodeDoc | undefined {
    return this.doc.nodes.find((n) => n.id === id);
  }

  addMethodNode(ref: string, at: { x: number; y: number }): string {
    let id = '';
    this.change((doc) => {
      id = freshId(doc, ref.split('/').pop() ?? 'node');
      doc.nodes.push({ id, method: ref });
      setPosition(doc, id, at);
    });
    this.select([id]);
    return id;
  }

  addInputNode(samples: string[], mode: 'each' | 'all', at: { x: number; y: number }): string {
    let id = '';
    this.change((doc) => {
      id = freshId(doc, 'samples');
      doc.nodes.push({ id, samples, mode });
      setPosition(doc, id, at);
    });
    this.select([id]);
    return id;
  }

  /** Delete the selected nodes (with their links) and links. */
  deleteSelection(): void {
    const nodes = new Set(this.selectedNodes);
    const links = new Set(this.selectedLinks);
    if (nodes.size === 0 && links.size === 0) return;
    this.change((doc) => {
      doc.nodes = doc.nodes.filter((n) => !nodes.has(n.id));
      doc.links = doc.links.filter(
        (l, i) => !links.has(i) && !nodes.has(parseEndpoint(l.from).node) && !nodes.has(parseEndpoint(l.to).node),
      );
      if (doc.layout) for (const id of nodes) delete doc.layout.nodes[id];
    });
    this.select([]);
  }

  renameNode(from: string, to: string): string | null {
    if (from === to) return null;
    if (!/^[\p{L}\p{N}_-]+$/u.test(to)) return "a node id may use only letters, digits, '_' and '-'";
    if (this.node(to)) return `node id '${to}' is used already`;
    const rename = (end: string) => {
      const e = parseEndpoint(end);
      return e.node === from ? (e.slot ? `${to}.${e.slot}` : to) : end;
    };
    this.change((doc) => {
      const node = doc.nodes.find((n) => n.id === from);
      if (node) node.id = to;
      for (const l of doc.links) {
        l.from = rename(l.from);
        l.to = rename(l.to);
      }
      const pos = doc.layout?.nodes[from];
      if (doc.layout && pos) {
        delete doc.layout.nodes[from];
        doc.layout.nodes[to] = pos;
      }
    });
    this.selectedNodes = this.selectedNodes.map((id) => (id === from ? to : id));
    return null;
  }

  copy(): void {
    const ids = new Set(this.selectedNodes);
    if (ids.size === 0) return;
    const clone = <T,>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
    const nodes = clone(this.doc.nodes.filter((n) => ids.has(n.id)));
    const links = clone(this.doc.links.filter((l) => ids.has(parseEndpoint(l.from).node) && ids.has(parseEndpoint(l.to).node)));
    // Keep positions with the copies.
    for (const n of nodes) {
      const p = this.doc.layout?.nodes[n.id];
      if (p) (n as NodeDoc & { __pos?: { x: number; y: number } }).__pos = { ...p };
    }
    this.#clipboard = { nodes, links };
    this.say(`copied ${nodes.length} node${nodes.length === 1 ? '' : 's'}`);
  }

  paste(): void {
    const clip = this.#clipboard;
    if (!clip) return;
    const renamed = new Map<string, string>();
    const added: string[] = [];
    this.change((doc) => {
      for (const original of clip.nodes) {
        const { __pos, ...node } = structuredClone(original) as NodeDoc & { __pos?: { x: number; y: number } };
        const id = freshId(doc, node.id);
        renamed.set(original.id, id);
        node.id = id;
        doc.nodes.push(node as NodeDoc);
        setPosition(doc, id, { x: (__pos?.x ?? 0) + 40, y: (__pos?.y ?? 0) + 40 });
        added.push(id);
      }
      const move = (end: string) => {
        const e = parseEndpoint(end);
        const id = renamed.get(e.node) ?? e.node;
        return e.slot ? `${id}.${e.slot}` : id;
      };
      for (const l of clip.links) doc.links.push({ ...structuredClone(l), from: move(l.from), to: move(l.to) });
    });
    this.select(added);
  }

  select(nodes: string[], links: number[] = []): void {
    this.selectedNodes = nodes;
    this.selectedLinks = links;
  }

  say(text: string, kind: 'info' | 'error' = 'info'): void {
    this.notice = { text, kind };
  }

  scheduleValidation(delay = VALIDATE_DELAY): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.validate(), delay);
  }

  /** `POST /api/validate`; the problems land on their nodes and fields. */
  async validate(): Promise<boolean> {
    clearTimeout(this.#timer);
    const ticket = ++this.#validation;
    this.validating = true;
    try {
      const result = unwrap(
        await api.POST('/api/validate', {
          body: { document: this.document() as unknown as Record<string, unknown>, variables: this.setVariables() },
        }),
      );
      if (ticket === this.#validation) this.problems = result.problems;
      return result.valid;
    } catch (err) {
      if (ticket === this.#validation) {
        this.problems = [{ path: '', message: describe(err), hint: '', severity: 'error' }];
      }
      return false;
    } finally {
      if (ticket === this.#validation) this.validating = false;
    }
  }

  /** `POST /api/plan` with explain: per node, how many steps run and how many are cached. */
  async loadPlan(): Promise<void> {
    this.planError = null;
    try {
      const plan = unwrap(
        await api.POST('/api/plan', {
          body: {
            document: this.document() as unknown as Record<string, unknown>,
            variables: this.setVariables(),
            explain: true,
          },
        }),
      );
      this.plan = (plan.steps as Record<string, unknown>[]).map(planStep);
    } catch (err) {
      this.plan = null;
      this.planError = describe(err);
    }
  }

  /** The document as saved and sent: layout last, empty sections out. */
  document(): PipelineDoc {
    return serialise(JSON.parse(JSON.stringify(this.doc)) as PipelineDoc);
  }

  /** Variables the user set for validation, plan and run (empty ones fall back to defaults). */
  setVariables(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.variables).filter(([, v]) => v !== ''));
  }

  async save(path: string): Promise<boolean> {
    try {
      const saved: Schemas['Saved'] = unwrap(
        await api.PUT('/api/pipelines/{path}', {
          params: { path: { path } },
          body: { document: this.document() as unknown as Record<string, unknown> },
        }),
      );
      this.path = saved.path;
      this.dirty = false;
      this.problems = saved.problems;
      const errors = saved.problems.filter((p) => p.severity === 'error').length;
      this.say(`saved ${saved.path}` + (errors ? ` (${errors} problem${errors === 1 ? '' : 's'} to fix)` : ''));
      return true;
    } catch (err) {
      this.say(`could not save ${path}: ${describe(err)}`, 'error');
      return false;
    }
  }
}

function setPosition(doc: PipelineDoc, id: string, at: { x: number; y: number }): void {
  doc.layout ??= { nodes: {} };
  doc.layout.nodes[id] = { x: Math.round(at.x), y: Math.round(at.y) };
}

/** One plan step, from either the plan or the explained (`why`) form. */
function planStep(raw: Record<string, unknown>): PlanStep {
  const reasons = Array.isArray(raw.reasons)
    ? (raw.reasons as string[])
    : typeof raw.reason === 'string'
      ? [raw.reason]
      : typeof raw.why === 'string'
        ? [raw.why]
        : Array.isArray(raw.why)
          ? (raw.why as string[])
          : [];
  return {
    step: String(raw.step ?? raw.name ?? ''),
    node: String(raw.node ?? ''),
    status: String(raw.status ?? ''),
    why: reasons,
  };
}

export function isCachedPlan(step: PlanStep): boolean {
  return step.status.includes('cached');
}

export const editor = new Editor();
export { isMethodNode };
