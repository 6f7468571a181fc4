export { serveCommand } from './serve.js';
export { infoCommand, formatSystemInfo } from './info.js';
export { dataDirOption, parsePort, formatBytes } from './options.js';
export { openBrowser } from './open-browser.js';
export {
  evalCommand,
  parseLoraArg,
  readEvalInputs,
  parseConfigOverrides,
  type CliIo,
} from './eval.js';
export { loraCommand, inspectLora, formatInspection, type LoraInspection } from './lora.js';
export { generateCommand, loraResolver } from './generate.js';
export { trainCommand, formatTrainEvent, formatDuration } from './train.js';
export { demoCommand, demoProgressPrinter, formatDemoReport } from './demo.js';
