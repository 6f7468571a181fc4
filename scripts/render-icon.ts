// Renders assets/icon.svg to the 512 px assets/icon.png that electron-builder turns into
// the Windows .ico, the macOS .icns and the Linux icons. Run after editing the SVG:
//   npx tsx scripts/render-icon.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const assets = fileURLToPath(new URL('../assets/', import.meta.url));
const SIZE = 512;

const info = await sharp(path.join(assets, 'icon.svg'), { density: 144 })
  .resize(SIZE, SIZE)
  .png()
  .toFile(path.join(assets, 'icon.png'));
console.log(`assets/icon.png: ${info.width}×${info.height}, ${info.size} bytes`);
