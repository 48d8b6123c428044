/**
 * pino root logger + one child per component. JSON in production, pretty on a TTY.
 * Secrets are redacted twice: by path (known config fields) and by value (the configured token, API keys
 * and database passwords are scrubbed from every serialized line), so a secret that ends up inside an error
 * message or a URL still never reaches the output.
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerSetup {
  /** @default 'info' */
  level?: string;
  /** Pretty, human-readable output (for a TTY). @default false */
  pretty?: boolean;
  /** Literal secret values to scrub from every line (tokens, API keys, passwords). */
  secrets?: readonly string[];
  /** Where lines go. @default stdout */
  destination?: DestinationStream;
}

const REDACTED = '[REDACTED]';

/** Replaces every occurrence of each secret (≥ 4 chars) in `text`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** Masks the password of a connection URL: postgres://u:pw@h/db → postgres://u:[REDACTED]@h/db. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, `$1${REDACTED}@`);
}

export function createLogger({ level = 'info', pretty = false, secrets = [], destination }: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    level,
    redact: {
      paths: [
        'token',
        'accessToken',
        '*.accessToken',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'req.headers.authorization',
        'apiKey',
        '*.apiKey',
        'apiKeys',
        '*.apiKeys',
      ],
      censor: REDACTED,
    },
  };
  const live = secrets.filter((s) => s.length >= 4);
  // Synchronous writes: we never log per tick, and a line written just before exit must not be lost.
  let target: DestinationStream = destination ?? pino.destination({ dest: 1, sync: true });
  if (pretty && !destination) {
    target = pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } });
  }
  if (live.length > 0) {
    const inner = target;
    target = { write: (line: string) => inner.write(scrubSecrets(line, live)) };
  }
  return pino(options, target);
}

/** A logger that writes nothing: the default for components built in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
