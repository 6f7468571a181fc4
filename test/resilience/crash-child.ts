// Child process of the crash-kill harness: continue (or start) training run 1 of a data dir.
// argv: <dataDir> <config.json>. Prints `@@resume <step>` once it knows where it starts and
// `@@progress <step>` / `@@checkpoint <step>` after each step / checkpoint (stderr, synchronously, so a kill never loses a line).
import { writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { openStore } from '../../core/store/index.js';
import { latestTrainState, runDirOf, trainLora } from '../../core/train/index.js';

const [dataDir, configPath] = process.argv.slice(2);
const config = JSON.parse(await readFile(configPath, 'utf8')) as unknown;
const store = openStore(dataDir);
const row = store.runs.get(1);
const state = row ? await latestTrainState(runDirOf(dataDir, 1)) : undefined;
writeSync(2, `@@resume ${state?.step ?? 0}\n`);
await trainLora(state ? undefined : config, {
  store,
  dataDir,
  ...(state ? { resume: 1 } : row ? { runId: 1 } : {}),
  onEvent: (e) => {
    if (e.type === 'progress') writeSync(2, `@@progress ${e.step}\n`);
    if (e.type === 'checkpoint') writeSync(2, `@@checkpoint ${e.step}\n`);
    if (e.type === 'done') writeSync(2, `@@done ${e.outputPath}\n`);
  },
});
store.close();
