export { serveCommand } from './serve.js';
export { infoCommand, formatSystemInfo } from './info.js';
export { dataDirOption, parsePort, formatBytes } from './options.js';
export { openBrowser } from './open-browser.js';
