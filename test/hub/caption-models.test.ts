// Captioning models from the hub: the registry entries, a download of a tagger's files from a
// loopback Hub (with a cut connection resumed), no second download, and the offline error.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WdTagger } from '../../core/dataset/index.js';
import {
  CAPTION_MODELS,
  captionModelDir,
  captionModelEntry,
  DownloadError,
  ensureCaptionModel,
  localCaptionModel,
} from '../../core/hub/index.js';
import { TINY_TAGS_CSV, writeTinyTagger } from '../dataset/caption-models.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { startCdn, startHub, type TestServer } from './hub-server.js';

let dir: string;
let servers: TestServer[] = [];
beforeAll(() => {
  dir = makeTempDir('caption-models-');
});
afterAll(() => removeDir(dir));
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('CAPTION_MODELS', () => {
  it('lists the WD14 taggers and BLIP with the files each loader needs', () => {
    expect(CAPTION_MODELS.map((m) => m.id)).toEqual([
      'wd-swinv2-tagger-v3',
      'wd-v1-4-moat-tagger-v2',
      'blip-image-captioning-base',
    ]);
    for (const m of CAPTION_MODELS) {
      const roles = m.files.map((f) => f.role).sort();
      expect(roles).toEqual(
        m.kind === 'tagger' ? ['model', 'tags'] : ['decoder', 'tokenizer', 'vision'],
      );
    }
    expect(() => captionModelEntry('gpt-4')).toThrow(
      /unknown caption model "gpt-4"; known: wd-swinv2/,
    );
  });
});

describe('ensureCaptionModel', () => {
  it('downloads a tagger (retrying a cut transfer), then finds it locally', async () => {
    const entry = captionModelEntry('wd-swinv2-tagger-v3');
    const modelFile = writeTinyTagger(dir, 11);
    const files = new Map([
      ['model.onnx', readFileSync(modelFile)],
      ['selected_tags.csv', Buffer.from(TINY_TAGS_CSV)],
    ]);
    const cdn = await startCdn(files, { cutAfter: 20_000, cutTimes: 1 });
    const hub = await startHub(entry.repo, files, cdn.url);
    servers.push(cdn, hub);
    const root = join(dir, 'models');
    expect((await localCaptionModel(root, entry)).missing).toHaveLength(2);
    const seen: string[] = [];
    const paths = await ensureCaptionModel(root, entry, {
      endpoint: hub.url,
      onEvent: (e, i, n) => e.status === 'done' && seen.push(`${i + 1}/${n} ${e.file}`),
    });
    expect(seen).toEqual(['1/2 model.onnx', '2/2 selected_tags.csv']);
    expect(paths.model).toBe(join(captionModelDir(root, entry), 'model.onnx'));
    expect(readFileSync(paths.tags!, 'utf8')).toBe(TINY_TAGS_CSV);
    // The cut transfer was retried (resumed from the .part where bytes had arrived).
    expect(cdn.requests.filter((r) => r.url === '/files/model.onnx')).toHaveLength(2);
    const tagger = await WdTagger.create({ modelPath: paths.model!, tagsPath: paths.tags });
    expect(tagger.labels).toHaveLength(11);
    await tagger.release();
    const before = hub.requests.length;
    await ensureCaptionModel(root, entry, { endpoint: hub.url });
    expect(hub.requests.length).toBe(before);
  });

  it('says offline when the Hub cannot be reached, leaving nothing behind', async () => {
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const root = join(dir, 'offline');
    const entry = captionModelEntry('blip-image-captioning-base');
    const err = await ensureCaptionModel(root, entry, {
      endpoint: `http://127.0.0.1:${port}`,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('offline');
    expect((await localCaptionModel(root, entry)).missing).toHaveLength(3);
  });
});
