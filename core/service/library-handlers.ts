// System, settings, models, datasets and images.
import { collectSystemInfo } from './system-info.js';
import { conflict, notFound } from './errors.js';
import type { Handlers, ServiceContext } from './context.js';

type LibraryMethods =
  | 'system.info'
  | 'models.list'
  | 'datasets.list'
  | 'datasets.create'
  | 'datasets.get'
  | 'datasets.remove'
  | 'images.list'
  | 'images.update';

function requireDataset(ctx: ServiceContext, id: number) {
  const dataset = ctx.store.datasets.get(id);
  if (!dataset) throw notFound(`dataset #${id} does not exist`);
  return dataset;
}

export const libraryHandlers: Pick<Handlers, LibraryMethods> = {
  'system.info': (_input, ctx) =>
    collectSystemInfo({
      dataDir: ctx.dataDir,
      appVersion: ctx.appVersion,
      electronVersion: ctx.electronVersion,
    }),

  'models.list': (input, ctx) => ctx.store.models.list(input),

  'datasets.list': (_input, ctx) => ctx.store.datasets.list(),

  'datasets.create': (input, ctx) => {
    const existing = ctx.store.datasets.getByName(input.name);
    if (existing) throw conflict(`name: a dataset named "${input.name}" exists (#${existing.id})`);
    const dataset = ctx.store.datasets.create(input);
    ctx.changed('datasets', [dataset.id]);
    return dataset;
  },

  'datasets.get': (input, ctx) => requireDataset(ctx, input.id),

  'datasets.remove': (input, ctx) => {
    if (!ctx.store.datasets.remove(input.id)) {
      throw notFound(`dataset #${input.id} does not exist`);
    }
    ctx.changed('datasets', [input.id]);
    return { id: input.id };
  },

  'images.list': (input, ctx) => {
    requireDataset(ctx, input.datasetId);
    return ctx.store.images.list(input.datasetId, input);
  },

  'images.update': (input, ctx) => {
    const image = ctx.store.images.update(input.id, { caption: input.caption, flags: input.flags });
    if (!image) throw notFound(`image #${input.id} does not exist`);
    ctx.changed('images', [image.id]);
    return image;
  },
};
