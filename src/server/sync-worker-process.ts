import {setSyncConnectionHandlerFactory} from './sync-connection-handler.js';
import {runSyncWorker} from './sync-worker.js';
import {createViewSyncerHandler} from './view-syncer-handler.js';

/**
 * Entry point of a sync worker child (forked by the supervisor with its index as the only
 * argument). The connection handler is whatever factory is registered when the worker starts: to
 * plug in the view-syncer, call `setSyncConnectionHandlerFactory(...)` here (or import a module
 * that does) before `runSyncWorker`.
 */
const index = Number(process.argv[2]);
if (!Number.isInteger(index) || index < 0) {
  process.stderr.write(`sync worker: expected a worker index argument, got ${process.argv[2]}\n`);
  process.exit(1);
}
setSyncConnectionHandlerFactory(createViewSyncerHandler);
runSyncWorker(index);
