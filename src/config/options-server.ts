import type {OptionSpec} from './option-spec.js';

const PORT_RANGE = {integer: true, min: 1, max: 65535} as const;

export const SERVER_OPTIONS = [
  {
    key: 'port',
    flag: 'port',
    type: 'number',
    ...PORT_RANGE,
    default: 4848,
    help: 'The port for client sync connections (WebSocket) and the HTTP endpoints.',
  },
  {
    key: 'numSyncWorkers',
    flag: 'num-sync-workers',
    type: 'number',
    integer: true,
    min: 0,
    derived: 'max(1, CPU cores - 1)',
    help:
      'Sync worker processes. 0 runs no sync workers: the replication-manager of a multi-node ' +
      'deployment.',
  },
  {
    key: 'taskID',
    flag: 'task-id',
    type: 'string',
    derived: 'a random id',
    help:
      'Globally unique id of this zero-cache instance; a platform task id helps debugging. It ' +
      'owns client groups and the change log, and salts how client groups map to workers.',
  },
  {
    key: 'adminPassword',
    flag: 'admin-password',
    type: 'string',
    secret: true,
    help: 'Password for the admin endpoints (e.g. /statz). Required unless NODE_ENV=development.',
  },
  {
    key: 'autoReset',
    flag: 'auto-reset',
    type: 'boolean',
    default: true,
    help:
      'When replication halts because the replica must be reset (e.g. an upstream schema ' +
      'change where event triggers are not allowed), shut down and, on restart, resync the ' +
      'replica and reset all clients. Heavy; may be slow for users.',
  },
  {
    key: 'websocketCompression',
    flag: 'websocket-compression',
    type: 'boolean',
    default: false,
    help: 'Use per-message deflate on WebSockets: less bandwidth, more CPU on both ends.',
  },
  {
    key: 'websocketMaxPayloadBytes',
    flag: 'websocket-max-payload-bytes',
    type: 'number',
    integer: true,
    min: 1,
    default: 10 * 1024 * 1024,
    help:
      'Largest WebSocket message a client may send, in bytes; a larger one closes its socket ' +
      '(code 1009) before it is parsed.',
  },
  {
    key: 'websocketCompressionOptions',
    flag: 'websocket-compression-options',
    type: 'string',
    help:
      'JSON options of the compression, as the ws package takes them, e.g. ' +
      '{"zlibDeflateOptions":{"level":3},"threshold":1024}. Used with --websocket-compression.',
  },
  {
    key: 'lazyStartup',
    flag: 'lazy-startup',
    type: 'boolean',
    default: false,
    help:
      'Start most of zero-cache (and the replication stream) only when the first request ' +
      'arrives, e.g. for preview deployments. Single-node only.',
  },
  {
    key: 'serverVersion',
    flag: 'server-version',
    type: 'string',
    help: 'The version reported in the startup log. Unset: the package version.',
  },
] as const satisfies readonly OptionSpec[];

export const CHANGE_STREAMER_OPTIONS = [
  {
    key: 'changeStreamer.uri',
    flag: 'change-streamer-uri',
    type: 'string',
    help:
      'Where a view-syncer finds the change-streamer: the replication-manager, which serves it ' +
      'on port 4849. Unset: a local change-streamer runs in this process tree.',
  },
  {
    key: 'changeStreamer.mode',
    flag: 'change-streamer-mode',
    type: 'enum',
    values: ['dedicated', 'discover'],
    default: 'dedicated',
    help:
      '"discover" makes a view-syncer connect to the address the replication-manager ' +
      'registered at startup, which not every network allows; an explicit ' +
      '--change-streamer-uri is recommended. Ignored when --change-streamer-uri is set.',
  },
  {
    key: 'changeStreamer.port',
    flag: 'change-streamer-port',
    type: 'number',
    ...PORT_RANGE,
    derived: '--port + 1',
    help: 'The port of the change-streamer, the internal protocol between the roles.',
  },
  {
    key: 'changeStreamer.startupDelayMs',
    flag: 'change-streamer-startup-delay-ms',
    type: 'number',
    min: 0,
    default: 15_000,
    help:
      'Wait before taking over the replication stream from the previous replication-manager, ' +
      'so that load balancers can see this task healthy. A change-stream request ends the wait.',
  },
  {
    key: 'changeStreamer.address',
    flag: 'change-streamer-address',
    type: 'string',
    deprecated: 'set ZERO_CHANGE_STREAMER_URI on the view-syncers instead',
    help: 'The address the change-streamer advertises for discovery.',
  },
  {
    key: 'changeStreamer.protocol',
    flag: 'change-streamer-protocol',
    type: 'enum',
    values: ['ws', 'wss'],
    default: 'ws',
    deprecated: 'set ZERO_CHANGE_STREAMER_URI on the view-syncers instead',
    help: 'The protocol the change-streamer advertises for discovery.',
  },
  {
    key: 'changeStreamer.discoveryInterfacePreferences',
    flag: 'change-streamer-discovery-interface-preferences',
    type: 'string[]',
    default: ['eth', 'en'],
    hidden: true,
    help:
      'Network interface name prefixes preferred when finding the IP address to advertise, ' +
      'to avoid VPN and other special interfaces.',
  },
] as const satisfies readonly OptionSpec[];

export const SYNC_OPTIONS = [
  {
    key: 'yieldThresholdMs',
    flag: 'yield-threshold-ms',
    type: 'number',
    min: 0,
    default: 10,
    help:
      'Longest time, in ms, a sync worker spends hydrating or advancing queries before ' +
      'yielding to the event loop. Lower: more responsive and fair, less throughput.',
  },
  {
    key: 'enableQueryPlanner',
    flag: 'enable-query-planner',
    type: 'boolean',
    default: true,
    help: 'Plan join strategies of ZQL queries. Turn off if it picks bad plans.',
  },
  {
    key: 'queryHydrationStats',
    flag: 'query-hydration-stats',
    type: 'boolean',
    help: 'Log how many rows hydrations slower than --log-slow-hydrate-threshold read, for tuning.',
  },
  {
    key: 'targetClientRowCount',
    flag: 'target-client-row-count',
    type: 'number',
    integer: true,
    default: 20_000,
    deprecated: 'no longer used; clients expire rows by TTL instead of a row limit',
    help: 'Unused.',
  },
] as const satisfies readonly OptionSpec[];
