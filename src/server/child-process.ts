import {fork, type ChildProcess} from 'node:child_process';
import type {Socket} from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {configToEnv, type ZeroConfig} from '../config/index.js';
import {isIpcMessage, type ChildToSupervisor} from './ipc-messages.js';

/**
 * One child process of the supervisor, forked from a module beside this one with the same node
 * executable and flags as the supervisor (so `node --import tsx src/...` in development and plain
 * `node dist/...` in production both work), sharing its stdout and stderr, with an IPC channel.
 */

/** How a child ended: its exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How long to wait for an exited child's last IPC messages. */
const CHANNEL_DRAIN_MS = 1_000;

/** `.ts` when running from source (through tsx), `.js` when compiled. */
const MODULE_EXTENSION = path.extname(fileURLToPath(import.meta.url));

/**
 * The environment of a child: the supervisor's, with every ZERO_* variable replaced by the parsed
 * and defaulted config, so that the child's parseConfig yields the supervisor's config (including
 * values given as flags, derived defaults and the embedded Postgres URL).
 */
export function childEnvironment(config: ZeroConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ZERO_')) env[k] = v;
  }
  return {...env, ...configToEnv(config)};
}

export class ChildHandle {
  /** For log lines, e.g. `sync worker 1 (pid 1234)`. */
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves when the child has exited and its IPC messages have all been delivered. */
  readonly exited: Promise<ChildExit>;
  #exit: ChildExit | undefined;

  constructor(
    label: string,
    moduleName: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    onMessage: (message: ChildToSupervisor) => void,
  ) {
    const modulePath = fileURLToPath(
      new URL(`./${moduleName}${MODULE_EXTENSION}`, import.meta.url),
    );
    this.process = fork(modulePath, args, {
      env,
      execPath: process.execPath,
      execArgv: process.execArgv,
      stdio: 'inherit',
      serialization: 'json',
    });
    this.name = `${label} (pid ${this.process.pid})`;
    this.process.on('message', (m: unknown) => {
      if (isIpcMessage(m)) onMessage(m as ChildToSupervisor);
    });
    // A send to a child that just died fails; its exit is handled through `exited`.
    this.process.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        const settle = () => {
          this.#exit ??= {code, signal};
          resolve(this.#exit);
        };
        // Messages the child sent just before exiting may still be in the channel: wait for its
        // end. ('close' would wait too, but never fires once the supervisor has disconnected.)
        if (!this.process.connected) return settle();
        this.process.once('disconnect', settle);
        setTimeout(settle, CHANNEL_DRAIN_MS);
      });
    });
  }

  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  /** Sends a message (and optionally a socket); `done` gets the error if it could not be sent. */
  send(message: object, socket?: Socket, done: (error: Error | null) => void = () => {}): void {
    if (!this.process.connected) {
      done(new Error(`${this.name} is not connected`));
      return;
    }
    this.process.send(message, socket, undefined, done);
  }

  /** Closes the IPC channel: the child stops promptly (see child-runtime.ts). */
  disconnect(): void {
    if (this.process.connected) this.process.disconnect();
  }

  /** Waits up to `timeoutMs` for the child to exit, then SIGKILLs it and waits for that. */
  async waitForExit(timeoutMs: number): Promise<{exit: ChildExit; killed: boolean}> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(
      (r) => (timer = setTimeout(() => r('timeout'), timeoutMs)),
    );
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return {exit: first, killed: false};
    this.process.kill('SIGKILL');
    return {exit: await this.exited, killed: true};
  }
}

/** `code 1` or `signal SIGKILL`. */
export function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
