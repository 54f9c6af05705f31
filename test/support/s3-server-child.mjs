/* global process, console */
// The test S3 server's own process (see s3-server.ts): s3rver on 127.0.0.1:<port> over <dir>.
// s3rver can throw outside any request handler when an object is deleted while it is being read
// (a backup pruned while a view-syncer downloads it); here that fails the one request instead of
// crashing the test run, as a real S3 would answer that read with an error.
import S3rver from 's3rver';

const [port, dir, bucket] = process.argv.slice(2);
process.on('uncaughtException', (e) => console.error(`s3rver: ${e.message}`));
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: true,
  configureBuckets: [{name: bucket, configs: []}],
});
await server.run();
process.stdout.write('ready\n');
