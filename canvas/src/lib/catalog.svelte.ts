// What the project offers the editor: methods (the palette) and registered samples.
import { api, describe, unwrap, type Schemas } from './api';

export type MethodInfo = Schemas['MethodInfo'];
export type SampleInfo = Schemas['Sample'];

class Catalog {
  methods = $state.raw<MethodInfo[]>([]);
  /** Methods whose method.yaml does not load (shown in the palette with the reason). */
  broken = $state.raw<Schemas['MethodError'][]>([]);
  samples = $state.raw<SampleInfo[]>([]);
  project = $state.raw<Schemas['ProjectInfo'] | null>(null);
  error = $state<string | null>(null);

  byRef = $derived(new Map(this.methods.map((m) => [m.ref, m])));
  /** Newest version of each sample, by name. */
  sampleNames = $derived([...new Set(this.samples.map((s) => s.name))].sort());

  async load(): Promise<void> {
    try {
      const [project, methods, samples] = await Promise.all([
        api.GET('/api/project').then(unwrap),
        api.GET('/api/methods').then(unwrap),
        api.GET('/api/samples').then(unwrap),
      ]);
      this.project = project;
      this.methods = [...methods.methods].sort((a, b) => a.ref.localeCompare(b.ref));
      this.broken = methods.errors ?? [];
      this.samples = samples.samples;
      this.error = null;
    } catch (err) {
      this.error = describe(err);
    }
  }

  async reloadSamples(): Promise<void> {
    this.samples = unwrap(await api.GET('/api/samples')).samples;
  }
}

export const catalog = new Catalog();

/** The type an output slot carries: the extension of its file name (outputs declare no type). */
export function outputType(slot: Schemas['SlotOut'] | undefined): string | null {
  if (!slot) return null;
  const file = slot.file ?? null;
  const ext = file && file.includes('.') ? file.slice(file.lastIndexOf('.') + 1).toLowerCase() : null;
  return ext;
}
