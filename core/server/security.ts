// The loopback server's gatekeeping: per-launch token, Host/Origin checks (a web page the
// user visits must not reach this server through DNS rebinding or cross-site requests).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const LOOPBACK_HOST = '127.0.0.1';
// Only names that can only ever resolve to this machine.
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost'];

export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** Constant-time comparison; a different length is simply unequal. */
export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function allowedHosts(port: number): string[] {
  return LOOPBACK_NAMES.map((name) => `${name}:${port}`);
}

export function allowedOrigins(port: number): string[] {
  return allowedHosts(port).map((host) => `http://${host}`);
}

/** Why the request's Host/Origin are refused, or null when they are fine. */
export function checkHostAndOrigin(req: IncomingMessage, port: number): string | null {
  const host = req.headers.host?.toLowerCase();
  const hosts = allowedHosts(port);
  if (!host || !hosts.includes(host)) {
    return `Host header ${JSON.stringify(host ?? '')} is not allowed (valid: ${hosts.join(', ')})`;
  }
  const origin = req.headers.origin;
  // Same-origin GETs and non-browser clients send no Origin; a present one must be ours.
  if (origin !== undefined && !allowedOrigins(port).includes(origin.toLowerCase())) {
    return `Origin ${JSON.stringify(origin)} is not allowed (valid: ${allowedOrigins(port).join(', ')})`;
  }
  return null;
}

export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match ? match[1] : null;
}

/** The cookie name carries the port: two servers on one machine must not overwrite each other. */
export function cookieName(port: number): string {
  return `lora_studio_${port}`;
}

export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}
