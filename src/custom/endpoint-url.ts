import {URLPattern} from 'urlpattern-polyfill';

/**
 * Which URL of the app's API server a client group's calls go to (fact sheet §7.1): the URL the
 * client asked for (`userPushURL` / `userQueryURL`) if it gave one, else the first configured
 * value; either way it must match one of the configured URLPattern patterns (the query string and
 * fragment are not matched). A configured value that is not a valid pattern is reported as such.
 * Messages (which reach clients) show a URL as origin and path only: its query string may hold a
 * key, and its userinfo a password.
 */
export type EndpointChoice = {ok: true; url: string} | {ok: false; message: string};

export class EndpointAllowList {
  readonly #option: string;
  readonly #configured: readonly string[];
  readonly #patterns: URLPattern[];

  /** `option` names the setting in messages, e.g. ZERO_MUTATE_URL. */
  constructor(option: string, configured: readonly string[]) {
    this.#option = option;
    this.#configured = configured;
    this.#patterns = configured.map((p) => {
      try {
        return new URLPattern(p);
      } catch (e) {
        throw new Error(`${option}: "${p}" is not a valid URL pattern: ${(e as Error).message}`);
      }
    });
  }

  get configured(): boolean {
    return this.#configured.length > 0;
  }

  choose(userURL: string | undefined): EndpointChoice {
    if (!this.configured)
      return {
        ok: false,
        message: `No ${this.#option} is configured: set it to your API server's endpoint.`,
      };
    const url = userURL ?? this.#configured[0]!;
    let bare: string;
    try {
      const u = new URL(url);
      bare = `${u.origin}${u.pathname}`;
    } catch {
      const which = userURL === undefined ? `The first ${this.#option} value` : 'The client URL';
      return {ok: false, message: `${which} is not a valid URL.`};
    }
    if (!this.#patterns.some((p) => p.test(bare)))
      return {
        ok: false,
        message: `URL ${bare} is not allowed by the ${this.#option} configuration`,
      };
    return {ok: true, url};
  }
}
