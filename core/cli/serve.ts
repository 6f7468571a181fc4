// `lora-studio serve`: the API and web UI on a loopback port, until SIGINT/SIGTERM.
import { Command } from 'commander';
import { startServer } from '../server/index.js';
import { createApiService } from '../service/index.js';
import { resolveDataDir } from '../store/index.js';
import { openBrowser } from './open-browser.js';
import { dataDirOption, parsePort } from './options.js';

interface ServeFlags {
  port: number;
  dataDir?: string;
  open?: boolean;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the app on 127.0.0.1 for a browser (headless machines, tests)')
    .option('-p, --port <n>', 'port to listen on (0 picks a free one)', parsePort, 0)
    .addOption(dataDirOption())
    .option('--open', 'open the page in the default browser')
    .action(async (flags: ServeFlags) => {
      const dataDir = resolveDataDir({ flag: flags.dataDir });
      const service = createApiService({ dataDir });
      let server;
      try {
        server = await startServer({ service, port: flags.port });
      } catch (err) {
        service.close();
        throw err;
      }
      const running = server;
      process.stdout.write(
        `LoRA Studio is serving on loopback only.\n` +
          `  open:     ${running.url}\n` +
          `  data dir: ${dataDir}\n` +
          `Press Ctrl+C to stop.\n`,
      );
      if (flags.open && !(await openBrowser(running.url))) {
        process.stderr.write('could not open a browser; open the URL above by hand\n');
      }

      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          // A second Ctrl+C means "now".
          process.exit(130);
        }
        stopping = true;
        process.stderr.write(`\n${signal}: shutting down\n`);
        void running.close().then(() => {
          service.close();
          process.exit(0);
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
