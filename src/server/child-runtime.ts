import {parseConfig, type ZeroConfig} from '../config/index.js';
import {createLogger, type Logger} from '../shared/log.js';
import {guardClosedSocketWrites} from './closed-socket-write-guard.js';
import {isIpcMessage, type ChildToSupervisor, type SupervisorToWorker} from './ipc-messages.js';

/**
 * What every child process of the supervisor shares: the configuration it was handed through the
 * environment, a logger, messages to and from the supervisor, and the rules for stopping.
 *
 * - Children are stopped by the supervisor only: SIGINT/SIGTERM sent to the whole process group
 *   (Ctrl-C in a terminal) are ignored here, so that the supervisor can drain the workers before
 *   it stops replication.
 * - A `stop` message asks for a graceful stop; a closed IPC channel (the supervisor exited or was
 *   SIGKILLed) asks for a prompt one, bounded by `DISCONNECT_DEADLINE_MS`, so no child outlives its
 *   supervisor for long.
 */

/** After the supervisor has gone, a child gets this long to clean up before it exits anyway. */
export const DISCONNECT_DEADLINE_MS = 5_000;

export interface ChildRuntime {
  readonly config: ZeroConfig;
  readonly log: Logger;
  /** Resolves once the message has been handed to the IPC channel. */
  send(message: ChildToSupervisor): Promise<void>;
  /** Reports a startup failure (one line, printed by the supervisor) and exits 1. */
  failStartup(error: unknown): Promise<never>;
}

/**
 * Sets up a child: checks that it was forked with an IPC channel, reads the config from the
 * environment, and makes `stop` (graceful) or a disconnect run `stop` once, then exit with its code.
 */
export function startChildRuntime(
  context: Record<string, string | number>,
  stop: (why: 'stop-message' | 'disconnect') => Promise<number>,
  onMessage: (message: SupervisorToWorker, handle: unknown) => void = () => {},
): ChildRuntime {
  if (!process.send) {
    throw new Error(
      `${process.argv[1]} is a zcache child process: start zcache with the zero-cache command`,
    );
  }
  // The supervisor let go of this child before it got here (e.g. another child failed to start).
  if (!process.connected) process.exit(0);
  // The supervisor already reported deprecated options; children stay quiet about them.
  const config = parseConfig([], process.env, {warn: () => {}});
  const log = createLogger(config.log.level, config.log.format).withContext(context);
  guardClosedSocketWrites(log);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => log.debug(`${signal} ignored: the supervisor stops this process`));
  }
  let stopping: Promise<void> | undefined;
  const stopOnce = (why: 'stop-message' | 'disconnect') => {
    stopping ??= stop(why).then(
      (code) => process.exit(code),
      (e: unknown) => {
        log.error('stopping failed:', e);
        process.exit(1);
      },
    );
  };
  process.on('message', (message: unknown, handle: unknown) => {
    if (!isIpcMessage(message)) return;
    if (message.type === 'stop') stopOnce('stop-message');
    else onMessage(message as SupervisorToWorker, handle);
  });
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), DISCONNECT_DEADLINE_MS).unref();
    stopOnce('disconnect');
  });
  const send = (message: ChildToSupervisor) =>
    new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      process.send!(message, undefined, undefined, () => resolve());
    });
  return {
    config,
    log,
    send,
    async failStartup(error: unknown): Promise<never> {
      await send({type: 'failed', message: error instanceof Error ? error.message : String(error)});
      process.exit(1);
    },
  };
}
