/**
 * zql/: the query engine. ivm/ holds the operators (Filter, Join, Skip, Take) and their contract;
 * builder/ turns an AST into a pipeline; sqlite/ is the Source over the replica (the only I/O,
 * reached through the Input interface) with the overlay that lets advancement run from one short
 * read transaction at the head; QueryRows turns a pipeline's output into the rows a client needs.
 */
export {buildPipeline, type SourceProvider} from './builder/pipeline-builder.js';
export {checkQueryTypes, QueryRefusedError} from './builder/query-checks.js';
export type {Node, Row, Value} from './ivm/data.js';
export type {Change, Input, Output, SourceSchema} from './ivm/operator.js';
export {QueryRows, type RowPatch} from './query-rows.js';
export {ReplicaSources, type Advancement} from './sqlite/replica-sources.js';
