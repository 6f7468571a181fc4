// kohya / A1111 LoRA naming → modules. Keys are `<name>.lora_down.weight`, `<name>.lora_up.weight`
// and `<name>.alpha`, where name is `lora_unet_` or `lora_te_` + the module path with every `.`
// replaced by `_`. Underscores are ambiguous (`to_out_0`, `transformer_blocks`), so names are
// matched against the model's real module list, never split by guesswork.
import {
  moduleWeights,
  scalarValue,
  unsupportedAlgorithm,
  type ConvertedLora,
  type KnownModules,
  type LoraComponent,
  type LoraIssue,
  type LoraModuleWeights,
  type RawLoraTensor,
  type RawLoraTensors,
} from './types.js';

export const KOHYA_PREFIX: Readonly<Record<LoraComponent, string>> = Object.freeze({
  unet: 'lora_unet_',
  text_encoder: 'lora_te_',
});

const LABEL: Readonly<Record<LoraComponent, string>> = {
  unet: 'UNet',
  text_encoder: 'text encoder',
};

/** The kohya name of a module (without the `.lora_down.weight` suffix). */
export function kohyaName(component: LoraComponent, module: string): string {
  return KOHYA_PREFIX[component] + module.replace(/\./g, '_');
}

/** kohya name → module, for every known module; throws if two modules would share a name. */
export function kohyaNameIndex(
  known: KnownModules,
): Map<string, { component: LoraComponent; module: string }> {
  const index = new Map<string, { component: LoraComponent; module: string }>();
  for (const component of ['unet', 'text_encoder'] as const) {
    for (const module of known[component]) {
      const name = kohyaName(component, module);
      const prev = index.get(name);
      if (prev && prev.module !== module)
        throw new Error(
          `modules '${prev.module}' and '${module}' both have the kohya name '${name}'`,
        );
      index.set(name, { component, module });
    }
  }
  return index;
}

const LORA_SUFFIXES = new Set(['lora_down.weight', 'lora_up.weight', 'alpha']);

/** Keys grouped by module name (the part before the first '.'). */
function groupByName(names: Iterable<string>): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  for (const key of names) {
    const dot = key.indexOf('.');
    if (dot <= 0) continue; // left over: reported as unknown
    const name = key.slice(0, dot);
    let g = groups.get(name);
    if (!g) groups.set(name, (g = new Map()));
    g.set(key.slice(dot + 1), key);
  }
  return groups;
}

/** Why a `lora_*` name is not one of our modules, as specifically as the name allows. */
function whyUnknownModule(name: string): string {
  if (/^lora_te[12]_/.test(name))
    return 'SDXL text encoder (lora_te1_/lora_te2_); this model is SD1.x';
  if (/^lora_unet_(input_blocks|middle_block|output_blocks|label_emb)_/.test(name))
    return 'LDM/SGM-style UNet name (input_blocks/middle_block/output_blocks): an SDXL LoRA or another converter; not supported';
  const component: LoraComponent | undefined = name.startsWith(KOHYA_PREFIX.unet)
    ? 'unet'
    : name.startsWith(KOHYA_PREFIX.text_encoder)
      ? 'text_encoder'
      : undefined;
  if (component) return `the ${LABEL[component]} has no module named like this`;
  return 'not a kohya LoRA module name (expected lora_unet_… or lora_te_…)';
}

const BUNDLED_EMBEDDING = 'bundle_emb';

/**
 * Convert a kohya/A1111 LoRA. Every key is consumed: modules it can apply go to `modules`;
 * LyCORIS variants, unknown modules and inconsistent pairs go to `unsupported` by name; keys no
 * rule matched go to `unknownKeys`.
 */
export function convertKohyaLora(
  tensors: RawLoraTensors,
  known: KnownModules,
  metadata: Readonly<Record<string, string>> = {},
): ConvertedLora {
  const index = kohyaNameIndex(known);
  const left = new Set(tensors.keys());
  const modules: LoraModuleWeights[] = [];
  const unsupported: LoraIssue[] = [];
  const take = (key: string): RawLoraTensor => {
    left.delete(key);
    return tensors.get(key)!;
  };
  const refuse = (name: string, reason: string, keys: Iterable<string>) => {
    const list = [...keys];
    list.forEach((k) => left.delete(k));
    unsupported.push({ name, reason, keys: list });
  };

  for (const [name, group] of groupByName(tensors.keys())) {
    const algorithm = [...group.keys()].map(unsupportedAlgorithm).find((a) => a !== undefined);
    if (algorithm) {
      refuse(name, `${algorithm} is not supported yet`, group.values());
      continue;
    }
    if (name === BUNDLED_EMBEDDING) {
      refuse(name, 'bundled textual-inversion embeddings are not supported yet', group.values());
      continue;
    }
    if (!name.startsWith('lora_')) continue; // not kohya naming: left for unknownKeys
    const target = index.get(name);
    if (!target) {
      refuse(name, whyUnknownModule(name), group.values());
      continue;
    }
    const downKey = group.get('lora_down.weight');
    const upKey = group.get('lora_up.weight');
    const alphaKey = group.get('alpha');
    if (!downKey || !upKey) {
      const extra = [...group.keys()].filter((s) => !LORA_SUFFIXES.has(s));
      refuse(
        name,
        `incomplete LoRA module: has ${[...group.keys()].join(', ')}; needs lora_down.weight and lora_up.weight`,
        [...group.entries()].filter(([s]) => !extra.includes(s)).map(([, k]) => k),
      );
      continue;
    }
    const keys = [downKey, upKey, ...(alphaKey ? [alphaKey] : [])];
    try {
      const alpha = alphaKey ? scalarValue(alphaKey, take(alphaKey)) : undefined;
      const m = moduleWeights(
        target.component,
        target.module,
        name,
        { name: downKey, t: take(downKey) },
        { name: upKey, t: take(upKey) },
        alpha,
      );
      if (typeof m === 'string') refuse(name, m, keys);
      else modules.push(m);
    } catch (e) {
      refuse(name, (e as Error).message, keys);
    }
  }
  return { format: 'kohya', modules, unsupported, unknownKeys: [...left], metadata };
}
