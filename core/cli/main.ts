// `atrium <command>`: the command-line interface. Every command has --help and exits non-zero
// with a one-line message on bad input (2 for usage errors, 1 for everything else).
import 'reflect-metadata';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AtriumError } from '../errors.ts';
import { COMMANDS, type Command } from './commands.ts';

const GLOBAL_HELP = `atrium — the Atrium client portal

Usage: atrium <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(18)} ${c.summary}`).join('\n')}

Run \`atrium <command> --help\` for a command's options.
Configuration comes from config/default.json, config/local.json (or $ATRIUM_CONFIG) and the
environment (PORT, DATABASE_URL, ATRIUM_*); see .env.example.`;

export function commandHelp(c: Command): string {
  const opts = Object.entries(c.options ?? {}).map(([name, o]) => `  --${name}${o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : ''}`.padEnd(30) + (o.description ?? ''));
  return [`atrium ${c.name}${c.usage ? ` ${c.usage}` : ''}`, '', c.summary, c.details ? `\n${c.details}` : '', '', 'Options:', ...opts, '  --help'.padEnd(30) + 'Show this help'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    console.log(target ? commandHelp(target) : GLOBAL_HELP);
    // Plugin commands are listed after the kernel's; a plugin that cannot load is not fatal here.
    if (!target) {
      const extra = await import('./plugin-commands.ts').then((m) => m.pluginCommands()).catch(() => []);
      if (extra.length) console.log(`\nPlugin commands:\n${extra.map((c) => `  ${c.name.padEnd(18)} ${c.summary}`).join('\n')}`);
    }
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { KERNEL_VERSION } = await import('../version.ts');
    console.log(KERNEL_VERSION);
    return 0;
  }
  // `<plugin-id>:<verb>` that the kernel does not know: load the enabled plugins' commands.
  const command = COMMANDS.find((c) => c.name === name) ?? (name.includes(':') ? (await (await import('./plugin-commands.ts')).pluginCommands()).find((c) => c.name === name) : undefined);
  if (!command) {
    console.error(`atrium: unknown command "${name}". Run \`atrium --help\` for the list.`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
    for (const [k, o] of Object.entries(command.options ?? {})) options[k] = { type: o.type };
    ({ values, positionals } = parseArgs({ args: rest, options, allowPositionals: true, strict: true }) as { values: Record<string, string | boolean | undefined>; positionals: string[] });
  } catch (err) {
    console.error(`atrium ${command.name}: ${(err as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  if (positionals.length > (command.positionals ?? 0)) {
    console.error(`atrium ${command.name}: unexpected argument "${positionals[command.positionals ?? 0]}"\n\n${commandHelp(command)}`);
    return 2;
  }
  try {
    return (await command.run(values, positionals)) ?? 0;
  } catch (err) {
    if (err instanceof AtriumError) {
      console.error(`atrium ${command.name}: ${err.code === 'ATR_CLI_USAGE' ? err.detail : err.message}`);
      return err.code === 'ATR_CLI_USAGE' ? 2 : 1;
    }
    console.error(`atrium ${command.name}: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// `start` keeps the process alive itself; everything else exits with its code.
if (code !== -1) process.exit(code);
