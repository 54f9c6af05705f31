/**
 * zql/: the AST, the IVM operators and the pipeline builder. No I/O except through `Source`.
 * (Not built yet: see the ZQL engine issue.)
 */
export {};
