// Writes assets/demo-dataset (the demo's sample LoRA dataset): npx tsx scripts/build-demo-dataset.ts [dir]
import { writeSampleDataset } from '../core/demo/index.js';

const dir = process.argv[2] ?? 'assets/demo-dataset';
console.log(`${await writeSampleDataset(dir)} images written to ${dir}`);
