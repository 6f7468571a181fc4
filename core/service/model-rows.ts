// Model rows from file headers: what models.add, models.scan and models.download store.
import type { Model } from '../api.js';
import type { ModelFileInfo } from '../hub/index.js';
import type { ServiceContext } from './context.js';

/** What the row keeps of a header: its metadata plus the facts the details pane shows. */
export function rowMetadata(info: ModelFileInfo): Record<string, unknown> {
  return {
    ...info.metadata,
    'studio.familyReason': info.familyReason,
    ...(info.dtype && { 'studio.dtype': info.dtype }),
    ...(info.tensorCount !== undefined && { 'studio.tensorCount': info.tensorCount }),
    ...(info.parameterCount !== undefined && { 'studio.parameterCount': info.parameterCount }),
    ...(info.loraFormat && { 'studio.loraFormat': info.loraFormat }),
  };
}

/** The row fields a header decides (kind, family, size, metadata, preview, support). */
export function rowFromInfo(info: ModelFileInfo) {
  if (!info.store) throw new Error(`${info.path} is not registrable: ${info.reason ?? info.kind}`);
  return {
    kind: info.store.kind,
    family: info.store.family,
    sizeBytes: info.sizeBytes,
    metadata: rowMetadata(info),
    preview: info.preview ?? null,
    supported: info.supported,
    reason: info.supported ? null : (info.reason ?? null),
  };
}

/** Registers `file` from its header, or refreshes the row that has its path. */
export function upsertFromInfo(ctx: ServiceContext, info: ModelFileInfo): Model {
  const fields = rowFromInfo(info);
  const existing = ctx.store.models.getByPath(info.path);
  if (!existing) return ctx.store.models.add({ ...fields, name: info.name, path: info.path });
  return ctx.store.models.update(existing.id, {
    ...fields,
    missing: false,
    // Another file now: its hashes must be computed again.
    hashes: existing.sizeBytes === fields.sizeBytes ? existing.hashes : {},
  })!;
}
