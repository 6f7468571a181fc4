// PEFT / diffusers LoRA naming → modules. Keys are module paths with a component prefix
// (`unet.`, `text_encoder.`, or PEFT's `base_model.model.`) and a role suffix:
//   `<module>.lora_A.weight` / `.lora_B.weight` (PEFT; A = down, B = up; optional adapter name
//   before `.weight`), `<module>.lora.down.weight` / `.lora.up.weight` (diffusers LoRACompatible
//   layers), `<attn>.processor.to_q_lora.down.weight` (diffusers attention processors), and
//   `<module>.alpha`. PEFT files usually hold no alpha: then alpha comes from diffusers'
//   `lora_adapter_metadata` (lora_alpha / alpha_pattern), else alpha = rank (scale 1).
import {
  moduleWeights,
  scalarValue,
  unsupportedAlgorithm,
  type ConvertedLora,
  type KnownModules,
  type LoraComponent,
  type LoraIssue,
  type LoraModuleWeights,
  type RawLoraTensors,
} from './types.js';

type Role = 'down' | 'up' | 'alpha';

interface Parsed {
  readonly path: string;
  readonly role: Role;
  readonly adapter?: string;
}

const ROLE_RULES: readonly [RegExp, (m: RegExpMatchArray) => Parsed][] = [
  [
    /^(.+)\.lora_(A|B)(?:\.([^.]+))?\.weight$/,
    (m) => ({ path: m[1], role: m[2] === 'A' ? 'down' : 'up', adapter: m[3] }),
  ],
  [/^(.+)\.lora\.(down|up)\.weight$/, (m) => ({ path: m[1], role: m[2] as Role })],
  [
    /^(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/,
    (m) => ({ path: `${m[1]}.${m[2] === 'to_out' ? 'to_out.0' : m[2]}`, role: m[3] as Role }),
  ],
  [/^(.+)\.alpha$/, (m) => ({ path: m[1], role: 'alpha' })],
];

/** Does this key look like a PEFT/diffusers LoRA key (for format detection)? */
export function isPeftLoraKey(key: string): boolean {
  return ROLE_RULES.slice(0, 3).some(([re]) => re.test(key));
}

const PREFIXES: readonly [string, LoraComponent | undefined, string?][] = [
  ['unet.', 'unet'],
  ['text_encoder.', 'text_encoder'],
  ['text_encoder_2.', undefined, 'SDXL second text encoder (text_encoder_2); this model is SD1.x'],
  ['transformer.', undefined, 'a DiT transformer (Flux/SD3/…); this model is SD1.x'],
  ['base_model.model.', undefined],
];

/** Component and module of a key path, matched against the known module lists. */
function locate(
  path: string,
  known: Readonly<Record<LoraComponent, ReadonlySet<string>>>,
): { component: LoraComponent; module: string } | { reason: string } {
  let rest = path;
  for (const [prefix, component, refusal] of PREFIXES) {
    if (!path.startsWith(prefix)) continue;
    if (refusal) return { reason: refusal };
    rest = path.slice(prefix.length);
    if (component) {
      return known[component].has(rest)
        ? { component, module: rest }
        : {
            reason: `the ${component === 'unet' ? 'UNet' : 'text encoder'} has no module '${rest}'`,
          };
    }
    break;
  }
  // No component prefix (a bare PEFT state dict): the module name itself says which model.
  for (const component of ['unet', 'text_encoder'] as const)
    if (known[component].has(rest)) return { component, module: rest };
  return { reason: `no UNet or text-encoder module is named '${rest}'` };
}

/** Alphas from diffusers' `lora_adapter_metadata` (a JSON of LoraConfig fields per component). */
function metadataAlpha(
  metadata: Readonly<Record<string, string>>,
): (component: LoraComponent, module: string) => number | undefined {
  const raw = metadata.lora_adapter_metadata;
  if (!raw) return () => undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return () => undefined;
  }
  return (component, module) => {
    const patterns = json[`${component}.alpha_pattern`];
    if (patterns && typeof patterns === 'object') {
      for (const [p, v] of Object.entries(patterns as Record<string, unknown>)) {
        // PEFT matches a pattern against the end of the module path, on a '.' boundary.
        if (typeof v === 'number' && (module === p || module.endsWith(`.${p}`))) return v;
      }
    }
    const alpha = json[`${component}.lora_alpha`];
    return typeof alpha === 'number' ? alpha : undefined;
  };
}

interface Group {
  component: LoraComponent;
  module: string;
  source: string;
  keys: Partial<Record<Role, string>>;
  all: string[];
}

/**
 * Convert a PEFT/diffusers LoRA. Every key is consumed: applicable modules go to `modules`;
 * DoRA and other variants, modules the model does not have and broken pairs go to
 * `unsupported` by name; keys matching no rule go to `unknownKeys`.
 */
export function convertPeftLora(
  tensors: RawLoraTensors,
  known: KnownModules,
  metadata: Readonly<Record<string, string>> = {},
): ConvertedLora {
  const sets = {
    unet: new Set(known.unet),
    text_encoder: new Set(known.text_encoder),
  };
  const left = new Set(tensors.keys());
  const unsupported: LoraIssue[] = [];
  const refuse = (name: string, reason: string, keys: readonly string[]) => {
    keys.forEach((k) => left.delete(k));
    unsupported.push({ name, reason, keys });
  };
  const groups = new Map<string, Group>();
  const adapters = new Set<string>();
  const byAlgorithm = new Map<string, string[]>();

  for (const key of tensors.keys()) {
    const algorithm = unsupportedAlgorithm(key);
    if (algorithm) {
      const list = byAlgorithm.get(algorithm) ?? [];
      byAlgorithm.set(algorithm, [...list, key]);
      continue;
    }
    const rule = ROLE_RULES.find(([re]) => re.test(key));
    if (!rule) continue; // stays in `left`
    const parsed = rule[1](key.match(rule[0])!);
    if (parsed.adapter) adapters.add(parsed.adapter);
    const where = locate(parsed.path, sets);
    if ('reason' in where) {
      refuse(parsed.path, where.reason, [key]);
      continue;
    }
    const id = `${where.component}:${where.module}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { ...where, source: parsed.path, keys: {}, all: [] }));
    if (g.keys[parsed.role]) {
      refuse(parsed.path, `two '${parsed.role}' tensors: ${g.keys[parsed.role]} and ${key}`, [key]);
      continue;
    }
    g.keys[parsed.role] = key;
    g.all.push(key);
  }
  for (const [algorithm, keys] of byAlgorithm) {
    // DoRA & co. change what lora_A/lora_B mean: refuse their modules whole.
    const paths = new Set(keys.map((k) => k.replace(/\.[^.]+(\.weight)?$/, '')));
    for (const g of groups.values()) {
      if (paths.has(g.source)) {
        groups.delete(`${g.component}:${g.module}`);
        keys.push(...g.all);
      }
    }
    refuse(`${paths.size} module(s)`, `${algorithm} is not supported yet`, keys);
  }
  if (adapters.size > 1)
    throw new Error(
      `the file holds several PEFT adapters (${[...adapters].join(', ')}); save one adapter per file`,
    );

  const alphaFor = metadataAlpha(metadata);
  const modules: LoraModuleWeights[] = [];
  for (const g of groups.values()) {
    const { down, up, alpha } = g.keys;
    if (!down || !up) {
      refuse(g.source, `incomplete LoRA module: needs both lora_A (down) and lora_B (up)`, g.all);
      continue;
    }
    try {
      const a = alpha ? scalarValue(alpha, tensors.get(alpha)!) : alphaFor(g.component, g.module);
      const m = moduleWeights(
        g.component,
        g.module,
        g.source,
        { name: down, t: tensors.get(down)! },
        { name: up, t: tensors.get(up)! },
        a,
      );
      if (typeof m === 'string') refuse(g.source, m, g.all);
      else {
        modules.push(m);
        g.all.forEach((k) => left.delete(k));
      }
    } catch (e) {
      refuse(g.source, (e as Error).message, g.all);
    }
  }
  return { format: 'peft', modules, unsupported, unknownKeys: [...left], metadata };
}
