// The command line: the same core as the app, from a terminal. Each command lives in its own
// file under core/cli/; adding one is that file plus one `addCommand` line here.
import { Command } from 'commander';
import { appVersion } from './service/index.js';
import {
  demoCommand,
  evalCommand,
  generateCommand,
  infoCommand,
  loraCommand,
  serveCommand,
  trainCommand,
} from './cli/index.js';

export function buildProgram(): Command {
  return new Command('lora-studio')
    .description('Train, export and use Stable Diffusion LoRAs on your own GPU.')
    .version(appVersion(), '-v, --version')
    .showHelpAfterError()
    .addCommand(serveCommand())
    .addCommand(infoCommand())
    .addCommand(evalCommand())
    .addCommand(loraCommand())
    .addCommand(generateCommand())
    .addCommand(trainCommand())
    .addCommand(demoCommand());
}

export async function runCli(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
