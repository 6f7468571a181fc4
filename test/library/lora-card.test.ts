// What a LoRA's metadata says: A1111-style facts, tag frequency merged over folders, trigger
// words, and the Civitai card; the files the library writes (copy, export, saved grids).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  civitaiCard,
  copyLoraTo,
  exportForCivitai,
  gridImageFile,
  listGrids,
  loraFacts,
  saveGrid,
  tagFrequency,
  triggerWords,
} from '../../core/library/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { solidPng } from '../service/fake-generate.js';
import { TRAINING_METADATA, writeLoraWithMetadata } from './lora-fixture.js';

const dir = makeTempDir('lora-studio-card-');
afterAll(() => removeDir(dir));

describe('metadata', () => {
  it('lists the A1111 facts in order, leaving out absent keys', () => {
    const facts = loraFacts({ ...TRAINING_METADATA, ss_clip_skip: 'None' });
    expect(facts.map((f) => f.label)).toEqual([
      'Base model',
      'Base model version',
      'Network module',
      'Dim (rank)',
      'Alpha',
      'Resolution',
      'Steps',
      'Epochs',
      'Optimizer',
      'Learning rate',
      'LR scheduler',
    ]);
    expect(facts.find((f) => f.key === 'ss_network_alpha')?.value).toBe('8.0');
  });

  it('merges tag counts over folders, most frequent first; junk gives an empty table', () => {
    expect(tagFrequency(TRAINING_METADATA)).toEqual([
      { tag: 'cat', count: 10 },
      { tag: 'sitting', count: 9 },
      { tag: 'orange fur', count: 7 },
      { tag: 'dog', count: 4 },
      { tag: 'grass', count: 1 },
    ]);
    expect(triggerWords(TRAINING_METADATA, 2)).toEqual(['cat', 'sitting']);
    expect(tagFrequency({ ss_tag_frequency: '{not json' })).toEqual([]);
    expect(tagFrequency({})).toEqual([]);
  });

  it('builds a Civitai card with trigger words and training settings', () => {
    const card = civitaiCard({
      name: 'Cats',
      fileName: 'cats.safetensors',
      metadata: TRAINING_METADATA,
    });
    expect(card.json).toMatchObject({ name: 'Cats', type: 'LORA', baseModel: 'SD 1.5' });
    expect(card.json.trainedWords).toEqual(['cat', 'sitting', 'orange fur', 'dog', 'grass']);
    expect(card.markdown).toContain('`cat`, `sitting`');
    expect(card.markdown).toContain('| Dim (rank) | 4 |');
  });
});

describe('files', () => {
  const lora = writeLoraWithMetadata(path.join(dir, 'src', 'cats.safetensors'));

  it('copies into a folder and refuses to replace unless asked', async () => {
    const target = path.join(dir, 'Lora');
    fs.mkdirSync(target);
    const dest = await copyLoraTo(lora, target);
    expect(fs.readFileSync(dest)).toEqual(fs.readFileSync(lora));
    await expect(copyLoraTo(lora, target)).rejects.toThrow(/exists \(pass overwrite/);
    await expect(copyLoraTo(lora, target, { overwrite: true })).resolves.toBe(dest);
    await expect(copyLoraTo(lora, path.join(dir, 'nope'))).rejects.toThrow(/is not a folder/);
  });

  it('exports safetensors, preview, JSON and markdown', async () => {
    const out = path.join(dir, 'civitai');
    const preview = Buffer.from(await solidPng(8, 8));
    const res = await exportForCivitai(
      lora,
      out,
      { name: 'cats', metadata: TRAINING_METADATA },
      { preview },
    );
    expect(fs.readdirSync(out).sort()).toEqual([
      'cats.civitai.json',
      'cats.md',
      'cats.preview.png',
      'cats.safetensors',
    ]);
    expect(JSON.parse(fs.readFileSync(res.json, 'utf8'))).toMatchObject({
      preview: 'cats.preview.png',
      trainedWords: res.triggerWords,
    });
    await expect(exportForCivitai(lora, out, { name: 'cats', metadata: {} })).rejects.toThrow(
      /cats\.safetensors exists/,
    );
  });

  it('saves grids, lists them per LoRA and resolves only valid ids inside the grids folder', async () => {
    const png = Buffer.from(await solidPng(8, 8));
    const cell = { prompt: 'p', strength: 1, seed: 3, image: png };
    const rec = await saveGrid(
      dir,
      { loraModelId: 5, kind: 'strength-sweep', seed: 3, settings: {} },
      { png, width: 8, height: 8, columns: ['strength 1'], cells: [cell] },
    );
    expect((await listGrids(dir, 5)).map((g) => g.id)).toEqual([rec.id]);
    expect(await listGrids(dir, 6)).toEqual([]);
    expect(await gridImageFile(dir, rec.id)).toBe(
      fs.realpathSync(path.join(dir, 'grids', rec.id, 'grid.png')),
    );
    expect(await gridImageFile(dir, rec.id, 0)).toMatch(/cell-0\.png$/);
    expect(await gridImageFile(dir, rec.id, 1)).toBeNull();
    expect(await gridImageFile(dir, '../../etc/passwd')).toBeNull();
    expect(await gridImageFile(dir, `${rec.id}/..`)).toBeNull();
  });
});
