#!/usr/bin/env node
/**
 * The `keyslice` command line. Each subcommand parses its flags, calls the library, prints results on stdout
 * and progress on stderr. Errors print one line naming the file and the problem, and exit non-zero.
 */
import { EXIT_CODES, KeysliceError } from '../util/errors.js';
import { capturedMessages } from '../util/quiet.js';
import { USAGE, VERSION } from './args.js';
import { commandHelp } from './help.js';

type Command = (args: string[]) => Promise<void>;

/**
 * The subcommands, by name. Each is loaded when it runs, so a command pays only for the modules it uses (and
 * `keyslice --help` for none).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  segment: async () => (await import('./segment.js')).cmdSegment,
  score: async () => (await import('./score.js')).cmdScore,
  demo: async () => (await import('./demo.js')).cmdDemo,
  bench: async () => (await import('./bench.js')).cmdBench,
  train: async () => (await import('./train.js')).cmdTrain,
  analyze: async () => (await import('./analysis.js')).cmdAnalyze,
  suggest: async () => (await import('./analysis.js')).cmdSuggest,
  info: async () => (await import('./info.js')).cmdInfo,
  batch: async () => (await import('./batch.js')).cmdBatch,
  mesh: async () => (await import('./mesh.js')).cmdMesh,
  serve: async () => (await import('./serve.js')).cmdServe,
  app: async () => (await import('./serve.js')).cmdApp,
};

/** With --verbose: what third-party libraries printed during the run, after the command's own output. */
function showCaptured(verbose: boolean): void {
  if (!verbose) return;
  for (const line of capturedMessages()) process.stderr.write(`[library] ${line}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [cmd, ...rest] = argv.filter((a) => a !== '--verbose');
  try {
    const load = cmd === undefined ? undefined : COMMANDS[cmd];
    if (load && (rest.includes('--help') || rest.includes('-h'))) {
      console.log(commandHelp(cmd as string) ?? USAGE);
      return 0;
    }
    if (load) {
      await (await load())(rest);
      showCaptured(verbose);
      return 0;
    }
    switch (cmd) {
      case '--version':
        console.log(VERSION);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new KeysliceError('USAGE', `unknown command "${cmd}"\n\n${USAGE}`);
    }
  } catch (err) {
    showCaptured(verbose);
    if (err instanceof KeysliceError) {
      process.stderr.write(`keyslice: error: ${err.message}\n`);
      return EXIT_CODES[err.code];
    }
    process.stderr.write(`keyslice: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // WebAssembly runtimes still finishing set process.exitCode when they exit: the command's status wins.
  process.on('exit', () => {
    process.exitCode = code;
  });
});
