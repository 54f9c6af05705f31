/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** zcache's URL, set by the demo runner (a Vite `define`; an app sets it in `.env`). */
  readonly VITE_PUBLIC_ZERO_CACHE_URL: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
