// settings.get / settings.set: validation beyond the schema (providers this machine has, ids that
// exist) and the Hugging Face token, which is stored but never handed back in full.
import type { Settings } from '../api.js';
import { listProviders } from '../onnx/index.js';
import { badRequest } from './errors.js';
import type { Handlers, ServiceContext } from './context.js';

type SettingsMethods = 'settings.get' | 'settings.set';

/** Enough of the token to recognise it (`hf_…wxyz`), never enough to use it. */
export function maskToken(token: string): string {
  if (token.length <= 12) return '•'.repeat(8);
  return `${token.slice(0, 3)}…${token.slice(-4)}`;
}

/** The settings as a client may see them: the token masked. */
export function publicSettings(settings: Settings): Settings {
  const token = settings.huggingFaceToken;
  return { ...settings, huggingFaceToken: token ? maskToken(token) : null };
}

function checkProvider(choice: Settings['executionProvider']): void {
  if (choice === 'auto') return;
  const providers = listProviders();
  const wanted = providers.find((p) => p.name === choice);
  if (wanted?.installed) return;
  const usable = ['auto', ...providers.filter((p) => p.installed).map((p) => p.name)];
  throw badRequest(
    `executionProvider: "${choice}" is not available on this machine` +
      (wanted ? ` (it needs ${wanted.requirement})` : '') +
      ` (valid here: ${usable.join(', ')})`,
  );
}

function checkDefaultModel(
  ctx: ServiceContext,
  key: 'defaultCheckpointId' | 'defaultVaeId',
  id: number | null,
): void {
  if (id === null) return;
  const kind = key === 'defaultCheckpointId' ? 'checkpoint' : 'vae';
  const model = ctx.store.models.get(id);
  if (!model) throw badRequest(`${key}: model #${id} does not exist`);
  if (model.kind !== kind) {
    throw badRequest(`${key}: model #${id} is a ${model.kind}, not a ${kind}`);
  }
}

export const settingsHandlers: Pick<Handlers, SettingsMethods> = {
  'settings.get': (_input, ctx) => publicSettings(ctx.store.settings.getAll()),

  'settings.set': (input, ctx) => {
    const patch = { ...input };
    if (patch.executionProvider !== undefined) checkProvider(patch.executionProvider);
    if (patch.defaultCheckpointId !== undefined) {
      checkDefaultModel(ctx, 'defaultCheckpointId', patch.defaultCheckpointId);
    }
    if (patch.defaultVaeId !== undefined)
      checkDefaultModel(ctx, 'defaultVaeId', patch.defaultVaeId);
    if (patch.huggingFaceToken !== undefined) {
      const current = ctx.store.settings.getAll().huggingFaceToken;
      // A form that sends back what settings.get showed (the mask) keeps the stored token.
      if (current && patch.huggingFaceToken === maskToken(current)) delete patch.huggingFaceToken;
      else if (patch.huggingFaceToken === '') patch.huggingFaceToken = null;
      else if (patch.huggingFaceToken !== null && /\s/.test(patch.huggingFaceToken)) {
        throw badRequest('huggingFaceToken: a token has no spaces (got one with whitespace)');
      }
    }
    const settings = ctx.store.settings.update(patch);
    ctx.changed('settings', []);
    return publicSettings(settings);
  },
};
