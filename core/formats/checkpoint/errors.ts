// Errors a checkpoint loader raises; each says what the file is and what the user can do.

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** A pickled PyTorch file (.ckpt/.pt/.bin/.pth): loading one can run arbitrary code. */
export class PickleRefusedError extends CheckpointError {
  constructor(readonly path: string) {
    super(
      `${path}: refusing to load a pickled PyTorch file. Pickle files (.ckpt, .pt, .pth, .bin) can run ` +
        `arbitrary code when they are loaded, so LoRA Studio never opens them. Download the ` +
        `.safetensors version of this model (most model pages offer one), or convert this file to ` +
        `.safetensors with a tool you trust, on a machine you are willing to expose to the file.`,
    );
    this.name = 'PickleRefusedError';
  }
}

/** A file we recognise but do not (yet) load: SD2.x, SDXL, a LoRA, an embedding, … */
export class UnsupportedCheckpointError extends CheckpointError {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnsupportedCheckpointError';
  }
}

/** A converter met keys it has no rule for: listing them beats silently dropping weights. */
export class UnmappedKeysError extends CheckpointError {
  constructor(
    readonly component: string,
    readonly keys: readonly string[],
  ) {
    const shown = keys.slice(0, 12).join(', ');
    super(
      `${component}: the following ${keys.length} key(s) have not been correctly renamed: ${shown}` +
        (keys.length > 12 ? `, … (${keys.length - 12} more)` : ''),
    );
    this.name = 'UnmappedKeysError';
  }
}
