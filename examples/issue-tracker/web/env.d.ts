/** zcache's URL, set by the demo runner (Vite `define`). */
declare const __ZERO_SERVER__: string;

declare module '*.css';
