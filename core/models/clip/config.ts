// CLIP text-transformer configuration, read from a transformers `config.json`.

export type ClipActivation = 'quick_gelu' | 'gelu';
const ACTIVATIONS: readonly ClipActivation[] = ['quick_gelu', 'gelu'];

export interface ClipTextConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly maxPositions: number;
  readonly hiddenAct: ClipActivation;
  readonly layerNormEps: number;
}

/** openai/clip-vit-large-patch14 text model: the SD1.x text encoder. */
export const SD15_TEXT_ENCODER_CONFIG: ClipTextConfig = Object.freeze({
  vocabSize: 49408,
  hiddenSize: 768,
  intermediateSize: 3072,
  numLayers: 12,
  numHeads: 12,
  maxPositions: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
});

function positiveInt(json: Record<string, unknown>, key: string, fallback?: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(
      `CLIP text config: '${key}' must be a positive integer, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Map a transformers CLIPTextConfig (config.json) to ours; unsupported values throw. */
export function clipTextConfigFromJson(json: Record<string, unknown>): ClipTextConfig {
  // A full CLIPModel config nests the text part.
  const src = (
    typeof json.text_config === 'object' && json.text_config ? json.text_config : json
  ) as Record<string, unknown>;
  const act = src.hidden_act ?? 'quick_gelu';
  if (!ACTIVATIONS.includes(act as ClipActivation)) {
    throw new Error(
      `CLIP text config: hidden_act '${String(act)}' is not supported; valid: ${ACTIVATIONS.join(', ')}`,
    );
  }
  const eps = src.layer_norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) {
    throw new Error(
      `CLIP text config: 'layer_norm_eps' must be a positive number, got ${JSON.stringify(eps)}`,
    );
  }
  const cfg: ClipTextConfig = {
    vocabSize: positiveInt(src, 'vocab_size'),
    hiddenSize: positiveInt(src, 'hidden_size'),
    intermediateSize: positiveInt(src, 'intermediate_size'),
    numLayers: positiveInt(src, 'num_hidden_layers'),
    numHeads: positiveInt(src, 'num_attention_heads'),
    maxPositions: positiveInt(src, 'max_position_embeddings', 77),
    hiddenAct: act as ClipActivation,
    layerNormEps: eps,
  };
  if (cfg.hiddenSize % cfg.numHeads !== 0) {
    throw new Error(
      `CLIP text config: hidden_size ${cfg.hiddenSize} does not split into ${cfg.numHeads} heads`,
    );
  }
  return cfg;
}
